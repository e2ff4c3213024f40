//! Page reclaim, as far as the model has it: one pass of
//! `shrink_folio_list()` (mm/vmscan.c, 6.12) over the lazy-free anonymous
//! folios that MADV_FREE left (kernel/madvise.rs).
//!
//! Simplifications: there is no swap and no file-backed page cache to
//! write back, so nothing but lazy-free folios is reclaimed; there are no
//! LRU lists or scan priorities, so one pass looks at every lazy-free
//! folio once, in process then address order; nothing runs reclaim by
//! itself (no kswapd, no direct reclaim on allocation failure): a scenario
//! asks for it with the domain call `reclaim()`.

use crate::arch::x86_64::{PAGE_SIZE, PteFlags};
use crate::hv::Hypervisor;
use crate::kernel::access::PteEntry;
use crate::kernel::memory::NormalPage;
use crate::kernel::page::PageFlags;
use crate::kernel::{Kernel, Pid};
use crate::types::Pfn;
use std::collections::BTreeMap;

impl Kernel {
    /// `shrink_folio_list()` over every lazy-free folio (anonymous, mapped,
    /// without PG_swapbacked). Returns the number of pages freed.
    ///
    /// For each folio: `folio_check_references()`: a young PTE (accessed
    /// since MADV_FREE) is cleared and the folio kept (FOLIOREF_KEEP, or
    /// ACTIVATE when PG_referenced was already set or several PTEs were
    /// young), PG_referenced set. Otherwise `try_to_unmap()` walks its
    /// mappings (`try_to_unmap_one()`, mm/rmap.c): a dirty PTE marks the
    /// folio dirty; a clean folio whose only references are its mappings
    /// (`ref_count == 1 + map_count`, the 1 being reclaim's own, which the
    /// model does not take) is discarded from that mapping (MM_ANONPAGES
    /// drops); a redirtied or otherwise referenced one gets PG_swapbacked
    /// back and stays mapped ("If the folio was redirtied, it cannot be
    /// discarded"). A folio with no mapping left is freed.
    pub fn shrink_lazyfree(&mut self, hv: &mut Hypervisor) -> u64 {
        // The rmap: every mapping of every lazy-free folio.
        let mut rmap: BTreeMap<Pfn, Vec<(Pid, u64)>> = BTreeMap::new();
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for &pid in &pids {
            let Ok(mm) = self.mm(pid) else { continue };
            let pgd = mm.pgd;
            let vmas: Vec<_> = mm.vmas.values().filter(|v| v.is_anonymous()).cloned().collect();
            for v in vmas {
                for PteEntry { addr, pte, kind, .. } in self.pte_entries(pgd, v.start, v.end) {
                    if !kind.is_present() {
                        continue;
                    }
                    if let NormalPage::Page(pfn) = self.vm_normal_page(hv, &v, addr, pte) {
                        let p = self.mem.page(pfn);
                        if p.is_anon() && !p.flags.contains(PageFlags::SWAPBACKED) {
                            rmap.entry(pfn).or_default().push((pid, addr));
                        }
                    }
                }
            }
        }
        let mut freed = 0;
        for (pfn, maps) in rmap {
            // folio_check_references(): folio_referenced() tests and clears
            // the young bits of every mapping.
            let mut young = 0;
            for &(pid, addr) in &maps {
                let Ok(pgd) = self.mm(pid).map(|m| m.pgd) else { continue };
                if let Some(slot) = self.pt.lookup(pgd, addr) {
                    let pte = self.pt.get(slot);
                    if pte.young() {
                        young += 1;
                        self.pt.set(slot, pte.clear(PteFlags::ACCESSED));
                    }
                }
            }
            if young > 0 {
                let p = self.mem.page_mut(pfn);
                if p.flags.contains(PageFlags::REFERENCED) || young > 1 {
                    p.flags |= PageFlags::ACTIVE;
                }
                p.flags |= PageFlags::REFERENCED;
                continue;
            }
            // try_to_unmap() -> try_to_unmap_one() per mapping.
            for &(pid, addr) in &maps {
                let Ok(mm) = self.mm(pid) else { continue };
                let (pgd, vma) = (mm.pgd, mm.vma_at(addr).cloned());
                let (Some(slot), Some(vma)) = (self.pt.lookup(pgd, addr), vma) else { continue };
                if self.pt.get(slot).dirty() {
                    self.mem.page_mut(pfn).flags |= PageFlags::DIRTY;
                }
                let p = self.mem.page(pfn);
                if p.refcount == p.mapcount && !p.flags.contains(PageFlags::DIRTY) {
                    let last = p.mapcount == 1;
                    self.zap_vma_range(hv, pid, &vma, addr, addr + PAGE_SIZE, false);
                    if last {
                        freed += 1;
                    }
                } else {
                    self.mem.page_mut(pfn).flags |= PageFlags::SWAPBACKED;
                    break;
                }
            }
        }
        freed
    }
}
