//! Memory-management invariants of every guest kernel: what `struct page`
//! counts, RSS counters and the page-table layout must agree on, computed
//! from the page tables, the page cache and the GUP ledger.
//!
//! Rules (each violation carries the invariant's name):
//!
//! - `pte-outside-vma`: every non-empty leaf entry of a process lies inside
//!   one of its VMAs.
//! - `rss-counter`: each of the mm's counters (MM_FILEPAGES, MM_ANONPAGES,
//!   MM_SWAPENTS, MM_SHMEMPAGES) equals the number of present PTEs whose
//!   `vm_normal_page()` is a page of that type (anon; else PG_swapbacked =
//!   shmem; else file). Not counted: PTEs of driver mappings (VMAs of a
//!   device file: gntdev, privcmd), which the driver or Xen writes
//!   (`GNTTABOP_map_grant_ref`, `xen_remap_domain_gfn_range`) without the
//!   core mm's accounting, and PTEs reaching a PG_foreign page. Swap: 0, the
//!   model has no swap.
//! - `page-mapcount`, `page-refcount`, `page-leak`: for every *checked*
//!   page, mapcount == number of PTEs (in every process) reaching it
//!   through `vm_normal_page()` (driver mappings excepted, as for RSS), and
//!   refcount == those PTEs + 1 if it sits in a shmem inode's page cache +
//!   outstanding GUP gets + pins * GUP_PIN_COUNTING_BIAS. A page that is
//!   not free although nothing references it (expected refcount 0) is
//!   reported as `page-leak`; after every process has exited this is the
//!   "nothing leaked" check. Checked pages are those with `page->mapping`
//!   anon or file (shmem). Page-table pages hold exactly the allocation's
//!   reference (refcount 1, mapcount 0). Exempt, explicitly: PG_reserved
//!   (PFN 0, the zero page), ballooned (PGTY_offline) and PG_foreign pages,
//!   and pages without a mapping: those belong to a driver or to a
//!   kernel-level `alloc_page()` and have owners the mm cannot see.
//! - `page-cache-mismatch`: each page in an inode's page cache is a live
//!   page whose `mapping`/`index` name that inode and index; a page whose
//!   mapping names a live inode is in that inode's cache.
//! - `free-page-mapped`, `free-page-referenced`, `free-page-state`: no
//!   PTE, page-cache slot or GUP reference names a free (PGTY_buddy) page,
//!   and a free page has refcount 0 and mapcount 0.
//! - `pagetable-leak`, `pagetable-frame`: every page-table page the kernel
//!   allocated (`pt_pages`, PG_table) is reachable from a live process's PGD,
//!   every table reachable from a PGD is such a page, and every PG_table page
//!   is in `pt_pages`.
//! - `bad-page-map`, `bad-page-state`, `bad-rss-counter`: every kernel log
//!   line "BUG: Bad page map", "Bad page state" or a bad RSS counter at exit
//!   is a violation. The log is not drained here (the check only reads the
//!   world), so such a line is reported by every later check too.
//!
//! Cost: one walk of the populated page tables of each process, one pass
//! over each inode's page cache and the GUP ledger, one linear pass over
//! the memmap (a few comparisons a page). Nothing is proportional to the
//! size of any address space.

use super::Violation;
use super::name::Invariant;
use crate::arch::x86_64::{PAGE_SIZE, TASK_SIZE};
use crate::hv::Hypervisor;
use crate::kernel::Kernel;
use crate::kernel::access::PteEntry;
use crate::kernel::memory::NormalPage;
use crate::kernel::mm::{RssCounter, mm_counter};
use crate::kernel::mm_types::VmaFile;
use crate::kernel::page::{GUP_PIN_COUNTING_BIAS, Mapping, Page, PageFlags, Pfn, ZERO_PFN};
use crate::world::World;
use rustc_hash::{FxHashMap, FxHashSet};

pub fn check(w: &World) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &w.domains {
        check_kernel(&d.kernel, &w.hv, &mut out);
    }
    out
}

/// Check one kernel, every page of its memmap; returns the pages referenced
/// now (PTEs, page cache, GUP, page-table pages), which the next
/// incremental check revisits.
pub fn check_kernel(k: &Kernel, hv: &Hypervisor, out: &mut Vec<Violation>) -> Vec<u32> {
    let mut cx = Ctx { k, out };
    let (exp, live_tables) = expected(&mut cx, hv);
    let table_pfns: FxHashSet<Pfn> = k.pt_pages().values().copied().collect();
    // Unsorted, maybe repeated: the next check only takes the union.
    let referenced: Vec<u32> = exp.keys().chain(table_pfns.iter()).map(|p| p.0 as u32).collect();

    // 4. Every struct page.
    for (pfn, page) in k.memmap().iter() {
        check_page(&mut cx, pfn, page, &exp, &table_pfns);
    }
    tables_and_log(&mut cx, &live_tables);
    referenced
}

/// The incremental form of [`check_kernel`] once the page tables were
/// found clean (`super::ptcache`: no `pte-outside-vma`, `free-page-mapped`,
/// shared table or RSS difference): rules 2-6 with each page's PTE count
/// taken from `ptes` (the cache's count of the PTEs that reach it), the
/// memmap pass over `extra` and the pages the page cache, GUP ledger and
/// `pt_pages` reference now. Returns those (what the next check must
/// revisit).
pub(super) fn check_scoped(
    k: &Kernel,
    live_tables: &FxHashSet<u64>,
    ptes: &FxHashMap<u32, i64>,
    extra: &[u32],
    out: &mut Vec<Violation>,
    scratch: &mut Scratch,
) -> Vec<u32> {
    let mut cx = Ctx { k, out };
    let Scratch { exp, table_pfns, bits, visit } = scratch;
    // A set grown big once would cost its size at every clear: start
    // small again after a large check.
    if exp.capacity() > SCRATCH_KEEP {
        *exp = FxHashMap::default();
    }
    if table_pfns.capacity() > SCRATCH_KEEP {
        *table_pfns = FxHashSet::default();
    }
    exp.clear();
    cache_and_gup(&mut cx, exp);
    table_pfns.clear();
    table_pfns.extend(k.pt_pages().values().copied());
    let referenced: Vec<u32> = exp.keys().chain(table_pfns.iter()).map(|p| p.0 as u32).collect();
    union_ascending_into(extra, &referenced, k.memmap().len(), bits, visit);
    for &p in visit.iter() {
        let pfn = Pfn(u64::from(p));
        if let Some(&n) = ptes.get(&p)
            && n != 0
        {
            exp.entry(pfn).or_default().ptes = n;
        }
        check_page(&mut cx, pfn, k.memmap().page(pfn), exp, table_pfns);
    }
    tables_and_log(&mut cx, live_tables);
    referenced
}

/// The most entries a [`Scratch`] map keeps room for between checks.
const SCRATCH_KEEP: usize = 1 << 16;

/// Buffers [`check_scoped`] fills afresh at every call, kept by the
/// caller so that a check allocates none of them again (model
/// bookkeeping: the expected counts, the page-table pages, the bitmap and
/// list of the pages to visit).
#[derive(Debug, Default)]
pub(super) struct Scratch {
    exp: FxHashMap<Pfn, Expected>,
    table_pfns: FxHashSet<Pfn>,
    bits: Vec<u64>,
    visit: Vec<u32>,
}

/// The PFNs below `len` in `a` or `b` (any order, repeats allowed), once
/// each and ascending, as the full pass visits them: by sorting when they
/// are few, else through a bitmap up to the highest one (sorting thousands
/// of referenced pages after every step cost more than checking them).
#[cfg(test)]
fn union_ascending(a: &[u32], b: &[u32], len: u64) -> Vec<u32> {
    let mut out = Vec::new();
    union_ascending_into(a, b, len, &mut Vec::new(), &mut out);
    out
}

/// [`union_ascending`] into `out` (cleared first), with `bits` as the
/// bitmap's buffer: both are the caller's, reused.
fn union_ascending_into(a: &[u32], b: &[u32], len: u64, bits: &mut Vec<u64>, out: &mut Vec<u32>) {
    out.clear();
    let n = a.len() + b.len();
    let Some(max) = a.iter().chain(b).copied().filter(|&p| u64::from(p) < len).max() else {
        return;
    };
    let words = max as usize / 64 + 1;
    if n * 8 < words {
        out.extend(a.iter().chain(b).copied().filter(|&p| u64::from(p) < len));
        out.sort_unstable();
        out.dedup();
        return;
    }
    bits.clear();
    bits.resize(words, 0);
    for &p in a.iter().chain(b) {
        if u64::from(p) < len {
            bits[p as usize / 64] |= 1 << (p % 64);
        }
    }
    out.reserve(n.min(words * 64));
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            out.push((w * 64) as u32 + word.trailing_zeros());
            word &= word - 1;
        }
    }
}

/// What the rest of the kernel says about one page.
#[derive(Clone, Copy, Default, Debug)]
struct Expected {
    ptes: i64,
    cache: i64,
    gets: i64,
    pins: i64,
}

impl Expected {
    fn refcount(&self) -> i64 {
        self.ptes + self.cache + self.gets + self.pins * GUP_PIN_COUNTING_BIAS as i64
    }
}

/// Pages exempt from the refcount/mapcount rules (see the module comment).
const EXEMPT: PageFlags =
    PageFlags::RESERVED.union(PageFlags::BALLOON).union(PageFlags::FOREIGN).union(PageFlags::TABLE);

struct Ctx<'a> {
    k: &'a Kernel,
    out: &'a mut Vec<Violation>,
}

impl Ctx<'_> {
    fn report(&mut self, invariant: Invariant, pfn: Option<Pfn>, message: String) {
        let k = self.k;
        let pfns: Vec<u64> = pfn.into_iter().map(|p| p.0).collect();
        let mfns: Vec<u64> = pfn.and_then(|p| k.page_to_mfn(p)).into_iter().map(|m| m.0).collect();
        self.out.push(Violation {
            invariant,
            message: format!("d{}: {message}", k.domid),
            domains: vec![k.domid],
            pfns,
            mfns,
        });
    }
}

/// Rules 1-3: walk the page tables, page cache and GUP ledger, reporting
/// what is wrong there, and count what each page should hold.
fn expected(cx: &mut Ctx<'_>, hv: &Hypervisor) -> (FxHashMap<Pfn, Expected>, FxHashSet<u64>) {
    let k = cx.k;
    // Sized for the pages the RSS counters say are mapped: no rehashing
    // while thousands of PTEs are counted (a hint only).
    let hint: i64 = k.procs.values().map(|p| p.mm.rss.iter().sum::<i64>()).sum();
    let mut exp: FxHashMap<Pfn, Expected> =
        FxHashMap::with_capacity_and_hasher(hint.clamp(0, 1 << 20) as usize, Default::default());
    let mut live_tables: FxHashSet<u64> = FxHashSet::default();

    // 1. Page tables of every process: PTEs inside VMAs, RSS, PTE counts.
    for (&pid, p) in &k.procs {
        let mm = &p.mm;
        for t in k.page_tables().all_tables_under(mm.pgd) {
            if !live_tables.insert(t) {
                cx.report(
                    Invariant::PagetableFrame,
                    k.pt_pages().get(t).copied(),
                    format!("pid {pid}: page table {t:#x} is also used by another page table"),
                );
            }
        }
        let mut rss = [0i64; 4];
        for e in k.pte_entries(mm.pgd, 0, TASK_SIZE + PAGE_SIZE) {
            let (addr, pte) = (e.addr, e.pte);
            match pte_verdict(k, hv, mm, &e) {
                PteVerdict::OutsideVma => {
                    let pfn = e.kind.is_present().then(|| k.pte_pfn(hv, pte));
                    cx.report(
                        Invariant::PteOutsideVma,
                        pfn,
                        format!("pid {pid}: PTE {:#x} at {addr:#x} is outside every VMA", pte.0),
                    );
                }
                PteVerdict::FreeMapped(pfn) => cx.report(
                    Invariant::FreePageMapped,
                    Some(pfn),
                    format!("pid {pid}: PTE at {addr:#x} maps free pfn {:#x}", pfn.0),
                ),
                PteVerdict::Ignored | PteVerdict::Uncounted(_) => {}
                PteVerdict::Counted(pfn, c) => {
                    exp.entry(pfn).or_default().ptes += 1;
                    rss[c as usize] += 1;
                }
            }
        }
        const NAMES: [(RssCounter, &str); 4] = [
            (RssCounter::File, "MM_FILEPAGES"),
            (RssCounter::Anon, "MM_ANONPAGES"),
            (RssCounter::Swap, "MM_SWAPENTS"),
            (RssCounter::Shmem, "MM_SHMEMPAGES"),
        ];
        for (c, name) in NAMES {
            let have = mm.get_rss(c);
            let want = rss[c as usize];
            if have != want {
                cx.report(
                    Invariant::RssCounter,
                    None,
                    format!("pid {pid}: {name} is {have}, the page tables map {want}"),
                );
            }
        }
    }

    cache_and_gup(cx, &mut exp);
    (exp, live_tables)
}

/// What one leaf entry contributes to rules 1 (`pte-outside-vma`,
/// `free-page-mapped`, RSS and PTE counts): the one place the full walk
/// and the incremental one (`super::ptcache`) decide it.
pub(super) enum PteVerdict {
    /// Not inside any VMA of the process.
    OutsideVma,
    /// Not present, or not a normal page (`vm_normal_page()`), or beyond
    /// the memmap: no page is read.
    Ignored,
    /// Maps a free (PGTY_buddy) page.
    FreeMapped(Pfn),
    /// Reaches a page not counted: a PG_foreign page, or a driver mapping's
    /// page that is not anonymous.
    Uncounted(Pfn),
    /// Counted in the page's mapcount and in this RSS counter.
    Counted(Pfn, RssCounter),
}

/// The verdict of one leaf entry of `mm` (see [`PteVerdict`]). Reads the
/// entry, the VMA at its address (whether there is one and whether it is a
/// driver mapping; `vm_ops` and `vm_flags` only for a special entry), the
/// guest's translation (`Kernel::pte_pfn`: P2M, M2P, m2p overrides) and the
/// `struct page` reached.
pub(super) fn pte_verdict(k: &Kernel, hv: &Hypervisor, mm: &crate::kernel::mm::Mm, e: &PteEntry) -> PteVerdict {
    let Some(vma) = mm.vma_at(e.addr) else { return PteVerdict::OutsideVma };
    if !e.kind.is_present() {
        return PteVerdict::Ignored;
    }
    let NormalPage::Page(pfn) = k.vm_normal_page_quiet(hv, vma, e.addr, e.pte) else { return PteVerdict::Ignored };
    let Some(page) = k.memmap().get(pfn) else { return PteVerdict::Ignored };
    if page.flags.contains(PageFlags::BUDDY) {
        return PteVerdict::FreeMapped(pfn);
    }
    // Driver mappings (gntdev, privcmd) are written by the driver or
    // by Xen (GNTTABOP_map_grant_ref, xen_remap_domain_gfn_range),
    // never through the core mm's accounting; grant pages neither.
    // An anonymous page there is a COW copy the core mm made
    // (`wp_page_copy`), counted as anywhere else.
    if page.flags.contains(PageFlags::FOREIGN) || (matches!(vma.file, Some(VmaFile::Device { .. })) && !page.is_anon())
    {
        return PteVerdict::Uncounted(pfn);
    }
    PteVerdict::Counted(pfn, mm_counter(page))
}

/// What of a `struct page` [`pte_verdict`] reads: `PG_buddy`,
/// `PG_foreign`, `PG_swapbacked` and whether it is anonymous (`mm_counter`).
/// A page changed with the same fingerprint (its mapcount or refcount, as
/// every page of a process that forks) keeps every entry's verdict that
/// read it: the incremental check (`super::ptcache`) recomputes no table
/// for it. Kept next to `pte_verdict` so that the two read the same fields.
pub(super) fn verdict_fingerprint(page: &Page) -> u64 {
    let flags = page.flags & (PageFlags::BUDDY | PageFlags::FOREIGN | PageFlags::SWAPBACKED);
    u64::from(flags.bits()) | u64::from(page.is_anon()) << 32
}

/// Rules 2-3 (page cache, GUP ledger): report what is wrong there and
/// count each page's references into `exp`.
fn cache_and_gup(cx: &mut Ctx<'_>, exp: &mut FxHashMap<Pfn, Expected>) {
    let k = cx.k;
    // 2. Page cache: one reference a cached page.
    for ino in k.shmem.inodes.values() {
        for (&index, &pfn) in &ino.pages {
            let Some(page) = k.memmap().get(pfn) else {
                cx.report(
                    Invariant::PageCacheMismatch,
                    None,
                    format!("inode {} index {index:#x}: pfn {:#x} beyond the memmap", ino.ino, pfn.0),
                );
                continue;
            };
            if page.flags.contains(PageFlags::BUDDY) {
                cx.report(
                    Invariant::FreePageReferenced,
                    Some(pfn),
                    format!("inode {} index {index:#x}: page cache holds free pfn {:#x}", ino.ino, pfn.0),
                );
                continue;
            }
            if page.mapping != Mapping::File(ino.id) || page.index != index {
                cx.report(
                    Invariant::PageCacheMismatch,
                    Some(pfn),
                    format!(
                        "inode {} index {index:#x}: pfn {:#x} has mapping {:?} index {:#x}",
                        ino.ino, pfn.0, page.mapping, page.index
                    ),
                );
            }
            let e = exp.entry(pfn).or_default();
            e.cache += 1;
            if e.cache > 1 {
                cx.report(
                    Invariant::PageCacheMismatch,
                    Some(pfn),
                    format!("pfn {:#x} is in the page cache twice", pfn.0),
                );
            }
        }
    }

    // 3. Outstanding GUP references.
    // (In ascending PFN order.)
    for (pfn, h) in k.gup_held().iter() {
        let pfn = Pfn(pfn);
        match k.memmap().get(pfn) {
            Some(page) if page.flags.contains(PageFlags::BUDDY) => {
                cx.report(
                    Invariant::FreePageReferenced,
                    Some(pfn),
                    format!("GUP still holds free pfn {:#x} ({} gets, {} pins)", pfn.0, h.gets, h.pins),
                );
            }
            Some(_) => {
                let e = exp.entry(pfn).or_default();
                e.gets += i64::from(h.gets);
                e.pins += i64::from(h.pins);
            }
            None => {
                cx.report(Invariant::FreePageReferenced, None, format!("GUP holds pfn {:#x} beyond the memmap", pfn.0))
            }
        }
    }
}

/// The rules of one `struct page` against what the rest of the kernel says.
fn check_page(cx: &mut Ctx<'_>, pfn: Pfn, page: &Page, exp: &FxHashMap<Pfn, Expected>, table_pfns: &FxHashSet<Pfn>) {
    let k = cx.k;
    {
        let f = page.flags;
        if f.contains(PageFlags::BUDDY) {
            if page.refcount != 0 || page.mapcount != 0 {
                cx.report(
                    Invariant::FreePageState,
                    Some(pfn),
                    format!("free pfn {:#x} has refcount {} mapcount {}", pfn.0, page.refcount, page.mapcount),
                );
            }
            return;
        }
        if f.contains(PageFlags::TABLE) && !table_pfns.contains(&pfn) {
            cx.report(
                Invariant::PagetableLeak,
                Some(pfn),
                format!("pfn {:#x} is a page-table page the kernel no longer knows", pfn.0),
            );
            return;
        }
        if f.intersects(EXEMPT) || pfn == ZERO_PFN {
            return;
        }
        let kind = match page.mapping {
            Mapping::Anon(_) => "anon",
            Mapping::File(_) => "file",
            Mapping::None => return,
        };
        let e = exp.get(&pfn).copied().unwrap_or_default();
        if let Mapping::File(id) = page.mapping
            && e.cache == 0
            && k.shmem.get(id).is_some()
        {
            cx.report(
                Invariant::PageCacheMismatch,
                Some(pfn),
                format!("pfn {:#x} names inode id {id} index {:#x} but is not in its page cache", pfn.0, page.index),
            );
        }
        if i64::from(page.mapcount) != e.ptes {
            cx.report(
                Invariant::PageMapcount,
                Some(pfn),
                format!("{kind} pfn {:#x}: mapcount {}, but {} PTEs map it", pfn.0, page.mapcount, e.ptes),
            );
        }
        let want = e.refcount();
        if i64::from(page.refcount) != want {
            if want == 0 {
                cx.report(
                    Invariant::PageLeak,
                    Some(pfn),
                    format!(
                        "{kind} pfn {:#x}: refcount {} mapcount {}, but nothing maps, caches or pins it (leaked)",
                        pfn.0, page.refcount, page.mapcount
                    ),
                );
            } else {
                cx.report(
                    Invariant::PageRefcount,
                    Some(pfn),
                    format!(
                        "{kind} pfn {:#x}: refcount {}, expected {want} ({} PTEs, {} page cache, {} GUP gets, {} pins)",
                        pfn.0, page.refcount, e.ptes, e.cache, e.gets, e.pins
                    ),
                );
            }
        }
    }
}

/// Rules 5-6: page-table pages and the kernel's own complaints.
fn tables_and_log(cx: &mut Ctx<'_>, live_tables: &FxHashSet<u64>) {
    let k = cx.k;
    // 5. Page-table pages.
    // (In ascending frame order.)
    for (frame, &pfn) in k.pt_pages().iter() {
        match k.memmap().get(pfn) {
            Some(p) if p.flags.contains(PageFlags::TABLE) && !p.flags.contains(PageFlags::BUDDY) => {
                if p.refcount != 1 {
                    cx.report(
                        Invariant::PageRefcount,
                        Some(pfn),
                        format!("page-table pfn {:#x}: refcount {}, expected 1", pfn.0, p.refcount),
                    );
                }
                if p.mapcount != 0 {
                    cx.report(
                        Invariant::PageMapcount,
                        Some(pfn),
                        format!("page-table pfn {:#x}: mapcount {}, expected 0", pfn.0, p.mapcount),
                    );
                }
            }
            _ => cx.report(
                Invariant::PagetableFrame,
                Some(pfn),
                format!("page table {frame:#x} lives in pfn {:#x}, which is not a page-table page", pfn.0),
            ),
        }
        if !live_tables.contains(&frame) {
            cx.report(
                Invariant::PagetableLeak,
                Some(pfn),
                format!("page table {frame:#x} (pfn {:#x}) is not reachable from any process", pfn.0),
            );
        }
    }
    let mut unknown: Vec<u64> = live_tables.iter().copied().filter(|t| !k.pt_pages().contains_key(*t)).collect();
    unknown.sort_unstable();
    for t in unknown {
        cx.report(
            Invariant::PagetableFrame,
            None,
            format!("page table {t:#x} is reachable but was never allocated as one"),
        );
    }

    // 6. What the kernel itself complained about.
    for ev in k.dmesg.iter().skip(k.dmesg_reported) {
        let m = &ev.message;
        let inv = if m.contains("Bad page map") {
            Invariant::BadPageMap
        } else if m.contains("Bad page state") {
            Invariant::BadPageState
        } else if m.contains("rss counter") || m.contains("rss-counter") {
            Invariant::BadRssCounter
        } else {
            continue;
        };
        let who = ev.pid.map_or(String::new(), |p| format!("pid {p}: "));
        cx.report(inv, None, format!("{who}{m}"));
    }
}

#[cfg(test)]
mod tests {
    use super::union_ascending;

    /// Both ways (sort, bitmap) give the sorted, deduplicated union below
    /// the memmap's end.
    #[test]
    fn union_is_sorted_unique_and_bounded() {
        assert_eq!(union_ascending(&[9, 3, 3], &[1000, 3, 7], 500), vec![3, 7, 9]);
        let a: Vec<u32> = (0..300).map(|i| (i * 37) % 640).collect();
        let b: Vec<u32> = (0..300).map(|i| (i * 11) % 700).collect();
        let mut want: Vec<u32> = a.iter().chain(&b).copied().filter(|&p| p < 650).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(union_ascending(&a, &b, 650), want);
        assert!(union_ascending(&[], &[], 10).is_empty());
    }
}
