//! `zap_pte_range()` (mm/memory.c): the per-table walk that takes a range
//! of a VMA's PTEs away (munmap, exit, MADV_DONTNEED, reclaim), and the
//! walk over one PTE page it shares with fork's `copy_pte_range()`.

use crate::arch::pagetable::PteSlot;
use crate::arch::x86_64::{PTRS_PER_TABLE, Pte};
use crate::hv::Hypervisor;
use crate::kernel::memory::{NormalPage, folio_drop_mapcount, is_guard_marker};
use crate::kernel::mm_types::Vma;
use crate::kernel::page::{PREFETCH_AHEAD, PageFlags, Pfn, put_page_not_last};
use crate::kernel::pte::{PteScratch, TableStores, pte_present};
use crate::kernel::{Kernel, Pid};
use crate::trace::Event;

impl Kernel {
    /// `zap_pte_range()` over `[start, end)` of `vma`. `drop_markers`: the
    /// VMA itself goes away (munmap/exit), so guard markers go too.
    pub fn zap_vma_range(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        start: u64,
        end: u64,
        drop_markers: bool,
    ) {
        let Ok(mm) = self.mm(pid) else { return };
        let pgd = mm.pgd;
        // zap_pte_range() counts in a local `rss[]` and adds it once
        // (`add_mm_rss_vec()`); zap_pmd_range() hands it one page table at
        // a time.
        let mut rss = [0i64; 4];
        // Each PTE page is read once (under its lock, in Linux) and then
        // walked by index.
        let PteScratch { mut ptes, mut batch } = self.scratch.take();
        // Natively the clears of one table are plain stores under its PTE
        // lock, written with one lookup of the table; a PV guest's go to
        // Xen one by one (`set_pte`).
        let native = !self.pv;
        for (base, table) in self.pt.leaf_tables(pgd, start, end) {
            let Some(range) = self.pt.read_leaf_table(base, table, (start, end), &mut ptes) else { continue };
            for (i, pte, ahead) in entries_reading_ahead(&ptes, range) {
                if native && let Some(a) = ahead {
                    self.mem.prefetch(a);
                }
                let at = (base + ((i as u64) << 12), PteSlot { table, index: i as u16 }, pte);
                self.zap_one_pte(hv, pid, vma, at, drop_markers, &mut rss, native.then_some(&mut batch.src));
            }
            if native {
                batch.src.flush(&mut self.pt, table);
            }
        }
        self.scratch.put(ptes, batch);
        if let Ok(mm) = self.mm_mut(pid) {
            for (c, n) in rss.iter().enumerate() {
                mm.rss[c] += n;
            }
        }
    }

    /// One entry of `zap_pte_range()`, inlined into the per-table loop.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn zap_one_pte(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        (addr, slot, pte): (u64, PteSlot, Pte),
        drop_markers: bool,
        rss: &mut [i64; 4],
        clears: Option<&mut TableStores>,
    ) {
        {
            if !pte_present(pte) {
                if is_guard_marker(pte) && !drop_markers {
                    return;
                }
                match clears {
                    Some(c) => c.push(slot.index, Pte::NONE),
                    None => self.pt.set(slot, Pte::NONE),
                }
                return;
            }
            // A PV guest does not check the result: if Xen refuses (a live
            // grant PTE), the kernel carries on with its bookkeeping.
            match clears {
                Some(c) => c.push(slot.index, Pte::NONE),
                None => {
                    let _ = self.set_pte(hv, slot, Pte::NONE);
                }
            }
            let np = self.vm_normal_page(hv, vma, addr, pte);
            let dom = self.domid;
            hv.trace.emit(|| Event::Zap { dom, pid, addr, pte: pte.0, pfn: np.page().map(|p| p.0) });
            if let NormalPage::Page(pfn) = np {
                // One look at the `struct page` for the dirty bit, the rmap
                // and a reference that is not the last.
                let p = self.mem.page_mut(pfn);
                if pte.dirty() && !p.is_anon() {
                    // A file folio's dirty bit moves to the folio.
                    p.flags |= PageFlags::DIRTY;
                }
                // folio_remove_rmap_pte(), then put_page().
                let (c, mc) = folio_drop_mapcount(p);
                let put = put_page_not_last(p);
                rss[c as usize] -= 1;
                if mc < 0 {
                    self.print_bad_mapcount(vma, addr, pfn, mc);
                }
                if !put {
                    self.put_page(pfn);
                }
            }
        }
    }
}

/// The non-empty entries among `ptes[range]` (a PTE page read by
/// `read_leaf_table`), each with its index and the frame of the entry
/// `PREFETCH_AHEAD` further on, whose `struct page` a native walk asks the
/// CPU to fetch while it works on this one (`None` past the range's end).
#[inline(always)]
pub(crate) fn entries_reading_ahead(
    ptes: &[Pte; PTRS_PER_TABLE],
    range: std::ops::RangeInclusive<usize>,
) -> impl Iterator<Item = (usize, Pte, Option<Pfn>)> + '_ {
    let (lo, hi) = range.into_inner();
    let ptes = &ptes[..=hi];
    (lo..)
        .zip(&ptes[lo..])
        .filter(|(_, p)| !p.is_none())
        .map(move |(i, &p)| (i, p, ptes.get(i + PREFETCH_AHEAD).map(|e| Pfn(e.frame()))))
}
