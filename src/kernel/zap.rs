//! `zap_pte_range()` (mm/memory.c): the per-table walk that takes a range
//! of a VMA's PTEs away (munmap, exit, MADV_DONTNEED, reclaim), and the
//! walk over one PTE page it shares with fork's `copy_pte_range()`.

use crate::arch::pagetable::{PteSlot, leaf_range};
use crate::arch::x86_64::Pte;
use crate::errno::KResult;
use crate::hv::Hypervisor;
use crate::kernel::memory::{NormalPage, folio_drop_mapcount, is_guard_marker};
use crate::kernel::mm::RssCounter;
use crate::kernel::mm_types::Vma;
use crate::kernel::page::{PREFETCH_AHEAD, Page, PageFlags, PagesMut, Pfn, ZERO_PFN, put_page_not_last};
use crate::kernel::pte::{FreeBatch, pte_present};
use crate::kernel::{Kernel, Pid};
use crate::trace::Event;

impl Kernel {
    /// `zap_pte_range()` over `[start, end)` of `vma`. `drop_markers`: the
    /// VMA itself goes away (munmap/exit), so guard markers go too. The
    /// pages whose last reference goes are gathered and freed once their
    /// table's entries are cleared ([`FreeBatch`]; Linux frees its
    /// mmu_gather batch when the batch fills or at `tlb_finish_mmu()`, the
    /// model at the end of each PTE page).
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
        let mut frees = self.scratch.take_frees();
        for (base, table) in self.pt.leaf_tables(pgd, start, end) {
            let step = |k: &mut Kernel, s| match s {
                PteStep::Run(i, hi) => Ok(k.zap_dense_run(hv, pid, table, base, (i, hi), (&mut rss, &mut frees))),
                PteStep::One(at) => {
                    k.zap_one_pte(hv, pid, vma, at, drop_markers, (&mut rss, &mut frees));
                    Ok(Run::Done)
                }
            };
            // (zap's steps never fail.)
            let _ = self.walk_pte_page((base, table), (start, end), step);
            // The table's entries are clear: its pages go.
            for pfn in frees.take() {
                self.put_page(pfn);
            }
        }
        self.scratch.put_frees(frees);
        if let Ok(mm) = self.mm_mut(pid) {
            for (c, n) in rss.iter().enumerate() {
                mm.rss[c] += n;
            }
        }
    }

    /// One PTE page of `[start, end)` (`table`, whose entry 0 maps
    /// `base`), walked the way fork's `copy_pte_range()` and
    /// `zap_pte_range()` walk it: natively a busy table in place
    /// ([`PteStep::Run`]), each entry the run stops at, and everything in
    /// a short-list table or a PV guest's, one by one ([`PteStep::One`],
    /// read from one copy of the table, taken under its lock in Linux).
    /// `step` says how far a run got; its answer to a `One` is not read.
    /// The first error of a step ends the walk.
    pub(crate) fn walk_pte_page(
        &mut self,
        (base, table): (u64, u64),
        (start, end): (u64, u64),
        mut step: impl FnMut(&mut Kernel, PteStep) -> KResult<Run>,
    ) -> KResult<()> {
        let Some((lo, hi)) = leaf_range(base, start, end) else { return Ok(()) };
        let at = |i: usize, pte| PteStep::One((base + ((i as u64) << 12), PteSlot { table, index: i as u16 }, pte));
        let mut i = lo;
        while self.in_place_runs() && i <= hi {
            match step(self, PteStep::Run(i, hi))? {
                Run::Done => return Ok(()),
                Run::NotDense => break,
                Run::Stopped(j) => {
                    let pte = self.pt.entry(table, j);
                    step(self, at(j, pte))?;
                    i = j + 1;
                }
            }
        }
        if i > hi {
            return Ok(());
        }
        let from = (base + ((i as u64) << 12)).max(start);
        let mut ptes = self.scratch.take();
        let mut r = Ok(());
        if let Some(range) = self.pt.read_leaf_table(base, table, (from, end), &mut ptes) {
            let (lo, hi) = range.into_inner();
            for (i, &pte) in (lo..).zip(&ptes[lo..=hi]).filter(|(_, p)| !p.is_none()) {
                r = step(self, at(i, pte)).map(|_| ());
                if r.is_err() {
                    break;
                }
            }
        }
        self.scratch.put(ptes);
        r
    }

    /// `zap_present_ptes()` natively over a run `[i, hi]` of a busy table
    /// whose entry 0 maps `base`, in place (one PTE page under its lock):
    /// every present entry with a mapped `struct page` whose counts are
    /// consistent (a page whose last reference goes is gathered into
    /// `frees`). The first entry it leaves to [`Kernel::zap_one_pte`]
    /// (anything else: a marker, a special or zero-page entry, a page
    /// whose mapcount or refcount is off) stops the run there, untouched.
    #[inline(never)]
    fn zap_dense_run(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        table: u64,
        base: u64,
        (i, hi): (usize, usize),
        (rss, frees): (&mut [i64; 4], &mut FreeBatch),
    ) -> Run {
        let dom = self.domid;
        let Some(t) = self.pt.dense_mut(table) else { return Run::NotDense };
        let mut mem = self.mem.pages_mut();
        // The pages first, reading the table; then the entries done are
        // cleared together.
        let run = &t[i..=hi];
        let mut stop = None;
        for (k, &pte) in run.iter().enumerate() {
            if pte.is_none() {
                continue;
            }
            let j = i + k;
            let Some(pfn) = native_normal_page(pte, run.get(k + PREFETCH_AHEAD), &mem) else {
                stop = Some(j);
                break;
            };
            let p = mem.page_mut(pfn);
            // A page whose counts are off (the entry-by-entry path logs
            // it) stops the run.
            if p.mapcount < 1 || p.refcount < 1 {
                stop = Some(j);
                break;
            }
            hv.trace.emit(|| Event::Zap { dom, pid, addr: base + ((j as u64) << 12), pte: pte.0, pfn: Some(pfn.0) });
            let (c, _) = zap_page(p, pte);
            rss[c as usize] -= 1;
            if !put_page_not_last(p) {
                frees.push(pfn);
            }
        }
        t[i..stop.unwrap_or(hi + 1)].fill(Pte::NONE);
        stop.map_or(Run::Done, Run::Stopped)
    }

    /// One entry of `zap_pte_range()`. Natively a clear is a plain store;
    /// a PV guest's goes to Xen (`set_pte`).
    fn zap_one_pte(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        (addr, slot, pte): (u64, PteSlot, Pte),
        drop_markers: bool,
        (rss, frees): (&mut [i64; 4], &mut FreeBatch),
    ) {
        if !pte_present(pte) {
            if is_guard_marker(pte) && !drop_markers {
                return;
            }
            self.pt.set(slot, Pte::NONE);
            return;
        }
        // A PV guest does not check the result: if Xen refuses (a live
        // grant PTE), the kernel carries on with its bookkeeping.
        let _ = self.set_pte(hv, slot, Pte::NONE);
        let np = self.vm_normal_page(hv, vma, addr, pte);
        let dom = self.domid;
        hv.trace.emit(|| Event::Zap { dom, pid, addr, pte: pte.0, pfn: np.page().map(|p| p.0) });
        if let NormalPage::Page(pfn) = np {
            // One look at the `struct page` for the dirty bit, the rmap
            // and a reference that is not the last.
            let p = self.mem.page_mut(pfn);
            let (c, mc) = zap_page(p, pte);
            let put = put_page_not_last(p);
            rss[c as usize] -= 1;
            if mc < 0 {
                self.print_bad_mapcount(vma, addr, pfn, mc);
            }
            if !put {
                // The last reference: gathered, freed with the table's.
                frees.push(pfn);
            }
        }
    }
}

/// How far a native in-place run over a busy PTE page got.
pub(crate) enum Run {
    /// Every entry of the run handled.
    Done,
    /// Entry `.0` (untouched) is for the entry-by-entry path.
    Stopped(usize),
    /// The table is a short list: the entry-by-entry path does it all.
    NotDense,
}

/// What [`Kernel::walk_pte_page`] asks of fork's or zap's code for one
/// PTE page.
pub(crate) enum PteStep {
    /// The native in-place run over entries `[i, hi]`.
    Run(usize, usize),
    /// One non-empty entry: its address, slot and value.
    One((u64, PteSlot, Pte)),
}

/// `vm_normal_page()` of a non-empty `pte` for the native in-place runs:
/// the entry's own frame when it is present and neither special nor the
/// zero page nor beyond the memmap, with the `struct page` of `ahead` (the
/// entry [`PREFETCH_AHEAD`] further on in the run, if any) asked for;
/// `None` for anything else, which the entry-by-entry path decides.
#[inline(always)]
pub(crate) fn native_normal_page(pte: Pte, ahead: Option<&Pte>, mem: &PagesMut<'_>) -> Option<Pfn> {
    let pfn = pte.frame();
    if !pte_present(pte) || pte.special() || pfn == ZERO_PFN.0 || pfn > mem.highest_pfn().0 {
        return None;
    }
    if let Some(a) = ahead {
        mem.prefetch(Pfn(a.frame()));
    }
    Some(Pfn(pfn))
}

/// The `struct page` half of zapping a present `pte`: a file folio's
/// dirty bit moves to the folio, then `folio_remove_rmap_pte()`. The RSS
/// counter to take the page off and the new mapcount; the caller drops the
/// reference (`put_page()`).
#[inline(always)]
fn zap_page(p: &mut Page, pte: Pte) -> (RssCounter, i32) {
    if pte.dirty() && !p.is_anon() {
        p.flags |= PageFlags::DIRTY;
    }
    folio_drop_mapcount(p)
}
