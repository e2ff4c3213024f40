//! `struct page` and the page allocator of one guest kernel.
//!
//! Follows `include/linux/mm_types.h`, `include/linux/page-flags.h` and, for
//! allocation, the observable contract of `mm/page_alloc.c`: a free page has
//! refcount 0; `alloc_page()` returns it with refcount 1; `put_page()` to zero
//! frees it. Simplifications: every folio is a single 4 KiB page (no THP, no
//! large folios); the buddy allocator is a LIFO free list, so allocation order
//! is deterministic but not the kernel's.

use crate::errno::{Errno, KResult};
use crate::trace::{Event, Trace};
pub use crate::types::{Mfn, Pfn};
use bitflags::bitflags;

bitflags! {
    /// Page flags and page types the model uses (`enum pageflags`,
    /// `enum pagetype`), by name; bit positions are the model's own.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct PageFlags: u32 {
        const LOCKED     = 1 << 0;
        const REFERENCED = 1 << 1;
        const UPTODATE   = 1 << 2;
        const DIRTY      = 1 << 3;
        const LRU        = 1 << 4;
        const ACTIVE     = 1 << 5;
        const RESERVED   = 1 << 6;
        const PRIVATE    = 1 << 7;
        const SWAPBACKED = 1 << 8;
        const MLOCKED    = 1 << 9;
        const UNEVICTABLE = 1 << 10;
        /// `PG_foreign`, alias of `PG_owner_priv_1` (Xen: grant-mapped page).
        const FOREIGN    = 1 << 11;
        /// `PG_anon_exclusive` (alias of `PG_mappedtodisk`).
        const ANON_EXCLUSIVE = 1 << 12;
        /// Page type `PGTY_table`: a page-table page.
        const TABLE      = 1 << 13;
        /// Page type `PGTY_offline`/balloon: the frame was given back to Xen.
        const BALLOON    = 1 << 14;
        /// Page type `PGTY_buddy`: on the free list.
        const BUDDY      = 1 << 15;
    }
}

/// Names as `show page` prints them (the kernel's `%pGp` spelling).
pub fn page_flag_names(f: PageFlags) -> Vec<&'static str> {
    const N: [(PageFlags, &str); 16] = [
        (PageFlags::LOCKED, "locked"),
        (PageFlags::REFERENCED, "referenced"),
        (PageFlags::UPTODATE, "uptodate"),
        (PageFlags::DIRTY, "dirty"),
        (PageFlags::LRU, "lru"),
        (PageFlags::ACTIVE, "active"),
        (PageFlags::RESERVED, "reserved"),
        (PageFlags::PRIVATE, "private"),
        (PageFlags::SWAPBACKED, "swapbacked"),
        (PageFlags::MLOCKED, "mlocked"),
        (PageFlags::UNEVICTABLE, "unevictable"),
        (PageFlags::FOREIGN, "foreign"),
        (PageFlags::ANON_EXCLUSIVE, "anon_exclusive"),
        (PageFlags::TABLE, "table"),
        (PageFlags::BALLOON, "offline"),
        (PageFlags::BUDDY, "buddy"),
    ];
    N.iter().filter(|(b, _)| f.contains(*b)).map(|(_, n)| *n).collect()
}

/// What `page->mapping` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mapping {
    #[default]
    None,
    /// `PAGE_MAPPING_ANON`: the anon_vma (by id) the page belongs to.
    Anon(u32),
    /// A file's page cache (inode id).
    File(u32),
}

/// `GUP_PIN_COUNTING_BIAS` (include/linux/mm.h): a FOLL_PIN on a small folio
/// adds this to the refcount.
pub const GUP_PIN_COUNTING_BIAS: i32 = 1024;

/// One `struct page`.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub flags: PageFlags,
    /// `_refcount`.
    pub refcount: i32,
    /// `page_mapcount()` = `_mapcount + 1` (the kernel stores it offset by one).
    pub mapcount: i32,
    pub mapping: Mapping,
    /// `page->index`: offset in the file, or linear page index in the anon VMA.
    pub index: u64,
    /// `page->private`: for PG_foreign pages `{domid, gref}` (Xen).
    pub private: u64,
}

/// The inline half of `put_page()`: a reference that is not the last is
/// dropped in place (true); the last one (false) is left for
/// [`MemMap::put_page`], which frees the page. For callers that already
/// hold the `struct page`.
#[inline(always)]
pub fn put_page_not_last(p: &mut Page) -> bool {
    if p.refcount > 1 {
        p.refcount -= 1;
        return true;
    }
    false
}

impl Page {
    pub fn is_anon(&self) -> bool {
        matches!(self.mapping, Mapping::Anon(_))
    }
    /// `folio_maybe_dma_pinned()` for a small folio.
    pub fn maybe_dma_pinned(&self) -> bool {
        self.refcount >= GUP_PIN_COUNTING_BIAS
    }
}

/// The memmap (`mem_map` / vmemmap) of one kernel plus its free list.
///
/// Built lazily so that booting a domain costs nothing per page (model
/// bookkeeping, not a kernel structure): `struct page`s live in chunks of
/// [`MEMMAP_CHUNK`] allocated on the first mutable access, and a page of a
/// chunk never touched reads as boot left it (reserved, free, or
/// ballooned out by its PFN). The free list keeps the never-allocated PFNs
/// as a range below its stack, in the same LIFO order an explicit list
/// pushed highest first would give.
#[derive(Debug)]
pub struct MemMap {
    /// PFNs described: `[0, len)`.
    len: u64,
    /// `[FIRST_FREE_PFN, populated)` have memory behind them at boot.
    populated: u64,
    chunks: Vec<Option<Chunk>>,
    /// The top of the free list: PFNs freed (or handed back) since boot.
    free: Vec<u32>,
    /// The bottom of the free list: `[fresh.0, fresh.1)`, never allocated,
    /// handed out lowest first once `free` is empty.
    fresh: (u32, u32),
    /// Fault injection (`fail_page_alloc`, lib/fault-inject.c
    /// `should_fail_ex` with probability 100): after the budget
    /// [`MemMap::fail_space`] is spent, fail the next N allocations with
    /// ENOMEM (`times`).
    pub fail_next: u32,
    /// The world's event trace (`mm_page_alloc` / `mm_page_free`), and the
    /// domain this memmap belongs to; off unless someone asked for events.
    trace: Trace,
    dom: u16,
    /// `fail_page_alloc/space`: bytes of allocations that still succeed
    /// before failures start ("if (atomic_read(&attr->space) > size) {
    /// atomic_sub(size, &attr->space); return false; }").
    pub fail_space: u64,
    /// The last failed [`MemMap::alloc`] failed by fault injection
    /// (`should_fail_alloc_page`), not for want of a free page: such a
    /// failure never reaches the OOM killer (kernel/oom_kill.rs).
    pub last_fail_injected: bool,
    /// The PFNs whose `struct page` was handed out mutably since the last
    /// [`MemMap::take_touched`]; `None` (the default) records nothing.
    /// Model bookkeeping for the incremental invariant check
    /// (`invariants::Incremental`), not a kernel structure.
    touched: Option<Vec<u32>>,
    /// Recording began at boot ([`MemMap::record_touched_from_boot`]) and
    /// nobody has taken the record yet: every page not in it is as
    /// [`MemMap::new`] made it.
    touched_from_boot: bool,
}

/// `highest_memmap_pfn` is `len - 1`; PFN 0 is reserved (as the first page of
/// x86 RAM is) and PFN 1 is the shared zero page.
pub const ZERO_PFN: Pfn = Pfn(1);
/// Pages at the bottom of the memmap that are never handed out.
pub const FIRST_FREE_PFN: u64 = 2;

/// How far ahead of the entry being handled the per-table loops read the
/// next `struct page` ([`PagesMut::prefetch`]).
pub const PREFETCH_AHEAD: usize = 8;

/// `struct page`s per chunk of a lazily built [`MemMap`].
const MEMMAP_CHUNK: usize = 512;

/// One chunk of the memmap: a fixed-size array, so that indexing it by the
/// low bits of a PFN needs no bounds check (the last chunk of a memmap
/// whose length is not a multiple of [`MEMMAP_CHUNK`] has pages past the
/// end that nothing reads).
type Chunk = Box<[Page; MEMMAP_CHUNK]>;

/// A page as boot leaves it: the reserved ones below [`FIRST_FREE_PFN`]
/// (refcount 1), the free ones (`PGTY_buddy`), the unpopulated ones.
static BOOT_RESERVED: Page = boot(PageFlags::RESERVED, 1);
static BOOT_FREE: Page = boot(PageFlags::BUDDY, 0);
static BOOT_BALLOON: Page = boot(PageFlags::BALLOON, 0);

const fn boot(flags: PageFlags, refcount: i32) -> Page {
    Page { flags, refcount, mapcount: 0, mapping: Mapping::None, index: 0, private: 0 }
}

/// The `struct page` of `pfn` as boot left it, in a memmap whose
/// `[FIRST_FREE_PFN, populated)` had memory behind them.
fn boot_page(pfn: u64, populated: u64) -> &'static Page {
    if pfn < FIRST_FREE_PFN {
        &BOOT_RESERVED
    } else if pfn < populated {
        &BOOT_FREE
    } else {
        &BOOT_BALLOON
    }
}

/// Chunk `c` as boot left it (built on the first mutable access to it),
/// out of line so that [`chunk_page`] stays small enough to inline
/// into the per-page loops.
#[cold]
#[inline(never)]
fn materialise(c: usize, populated: u64) -> Chunk {
    let base = c as u64 * MEMMAP_CHUNK as u64;
    Box::new(std::array::from_fn(|o| boot_page(base + o as u64, populated).clone()))
}

/// The `struct page`s of a [`MemMap`] lent to a loop that changes many of
/// them ([`MemMap::pages_mut`]), the memmap's layout held for the borrow's
/// length so that the loop reads it once (model bookkeeping, not a kernel
/// structure).
pub struct PagesMut<'a> {
    chunks: &'a mut [Option<Chunk>],
    touched: Option<&'a mut Vec<u32>>,
    /// `highest_memmap_pfn`.
    last: u64,
    populated: u64,
}

impl<'a> PagesMut<'a> {
    /// `highest_memmap_pfn`.
    #[inline(always)]
    pub fn highest_pfn(&self) -> Pfn {
        Pfn(self.last)
    }
    /// Read the `struct page` of `pfn` ahead of its turn in a loop that
    /// updates pages one by one (`copy_pte_range()`, `zap_pte_range()`
    /// read [`PREFETCH_AHEAD`] entries ahead): the CPU overlaps the cache
    /// miss with the work on the entries before it, as the kernel's
    /// hardware prefetcher does on its contiguous memmap. Changes nothing;
    /// a PFN outside the memmap, or in a chunk never materialised (a boot
    /// static, already at hand), is ignored.
    #[inline(always)]
    pub fn prefetch(&self, pfn: Pfn) {
        let (c, o) = ((pfn.0 / MEMMAP_CHUNK as u64) as usize, (pfn.0 % MEMMAP_CHUNK as u64) as usize);
        if let Some(Some(ch)) = self.chunks.get(c) {
            let p: *const Page = &ch[o];
            // A hint, not a load: nothing waits for it.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: PREFETCHT0 (SSE, in every x86-64 CPU) never faults
            // and changes nothing; `p` points into a live chunk.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
            };
            #[cfg(not(target_arch = "x86_64"))]
            let _ = p;
        }
    }
    /// The `struct page` of `pfn` to change, recorded as touched, its
    /// chunk materialised. A PFN past the memmap is clamped to the last
    /// page (the invariants flag whatever that does).
    #[inline(always)]
    pub fn page_mut(&mut self, pfn: Pfn) -> &mut Page {
        let i = pfn.0.min(self.last);
        touch(self.touched.as_deref_mut(), i);
        chunk_page(self.chunks, self.populated, i)
    }
}

/// A page handed out to be changed, recorded in `touched` if recording.
#[inline(always)]
fn touch(touched: Option<&mut Vec<u32>>, pfn: u64) {
    // Once per run of changes to one page (a fault loop over the zero
    // page changes it again and again).
    if let Some(t) = touched
        && t.last() != Some(&(pfn as u32))
    {
        t.push(pfn as u32);
    }
}

/// The page of a valid `pfn` among `chunks`, its chunk materialised.
#[inline(always)]
fn chunk_page(chunks: &mut [Option<Chunk>], populated: u64, pfn: u64) -> &mut Page {
    let (c, o) = ((pfn / MEMMAP_CHUNK as u64) as usize, (pfn % MEMMAP_CHUNK as u64) as usize);
    &mut chunks[c].get_or_insert_with(|| materialise(c, populated))[o]
}

impl MemMap {
    /// A memmap of `total` pfns, of which `[FIRST_FREE_PFN, populated)` start on
    /// the free list and `[populated, total)` are unpopulated (ballooned out,
    /// no memory behind them, for Xen's `gnttab_alloc_pages()`). Costs no
    /// work per page: see the type's doc.
    pub fn new(populated: u64, total: u64) -> MemMap {
        let total = total.max(populated).max(FIRST_FREE_PFN);
        let populated = populated.max(FIRST_FREE_PFN);
        MemMap {
            len: total,
            populated,
            chunks: std::iter::repeat_with(|| None).take(total.div_ceil(MEMMAP_CHUNK as u64) as usize).collect(),
            free: Vec::new(),
            fresh: (FIRST_FREE_PFN as u32, populated as u32),
            fail_next: 0,
            fail_space: 0,
            last_fail_injected: false,
            trace: Trace::default(),
            dom: 0,
            touched: None,
            touched_from_boot: false,
        }
    }

    /// The `struct page` of `pfn` as boot left it.
    fn boot_page(&self, pfn: u64) -> &'static Page {
        boot_page(pfn, self.populated)
    }

    /// The page of a valid `pfn`.
    #[inline]
    fn at(&self, pfn: u64) -> &Page {
        let (c, o) = ((pfn / MEMMAP_CHUNK as u64) as usize, (pfn % MEMMAP_CHUNK as u64) as usize);
        match self.chunks.get(c) {
            Some(Some(ch)) => &ch[o],
            _ => self.boot_page(pfn),
        }
    }

    /// The page of a valid `pfn`, its chunk materialised.
    #[inline(always)]
    fn at_mut(&mut self, pfn: u64) -> &mut Page {
        chunk_page(&mut self.chunks, self.populated, pfn)
    }

    /// Pop the free list (the stack, then the never-allocated range).
    fn pop_free(&mut self) -> Option<u32> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        let (lo, hi) = self.fresh;
        if lo < hi {
            self.fresh.0 += 1;
            Some(lo)
        } else {
            None
        }
    }

    /// Record this domain's page allocations and frees in `trace` (a
    /// handle on the world's buffer, `Trace::share`).
    pub fn attach_trace(&mut self, dom: u16, trace: Trace) {
        self.dom = dom;
        self.trace = trace;
    }

    /// `trace_mm_page_alloc()` (mm/page_alloc.c, include/trace/events/kmem.h).
    fn traced_alloc(&mut self, pfn: u64) {
        let dom = self.dom;
        self.trace.emit(|| Event::PageAlloc { dom, pfn });
    }
    /// `trace_mm_page_free()` (mm/page_alloc.c, include/trace/events/kmem.h).
    fn traced_free(&mut self, pfn: u64) {
        let dom = self.dom;
        self.trace.emit(|| Event::PageFree { dom, pfn });
    }

    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// `highest_memmap_pfn`.
    pub fn highest_pfn(&self) -> Pfn {
        Pfn(self.len().saturating_sub(1))
    }
    pub fn nr_free(&self) -> usize {
        self.free.len() + (self.fresh.1 - self.fresh.0) as usize
    }
    /// `pfn_valid()`.
    pub fn valid(&self, pfn: Pfn) -> bool {
        pfn.0 < self.len()
    }
    pub fn get(&self, pfn: Pfn) -> Option<&Page> {
        (pfn.0 < self.len).then(|| self.at(pfn.0))
    }
    pub fn get_mut(&mut self, pfn: Pfn) -> Option<&mut Page> {
        if pfn.0 >= self.len {
            return None;
        }
        if let Some(t) = &mut self.touched {
            t.push(pfn.0 as u32);
        }
        Some(self.at_mut(pfn.0))
    }
    /// Start recording touched PFNs (from now on, and empty).
    pub fn record_touched(&mut self) {
        self.touched = Some(Vec::new());
        self.touched_from_boot = false;
    }
    /// Start recording on a memmap fresh from [`MemMap::new`], nothing
    /// changed yet (`World::add_domain` calls it right after booting).
    pub fn record_touched_from_boot(&mut self) {
        self.touched = Some(Vec::new());
        self.touched_from_boot = true;
    }
    /// The PFNs touched since the last call (unsorted, maybe repeated) and
    /// whether the record began at boot; recording goes on. `None` if
    /// nothing was recording.
    pub fn take_touched(&mut self) -> Option<(Vec<u32>, bool)> {
        let from_boot = std::mem::replace(&mut self.touched_from_boot, false);
        self.touched.as_mut().map(|t| (std::mem::take(t), from_boot))
    }
    /// Direct access for PFNs the caller knows are valid (checked: returns the
    /// reserved PFN 0's page otherwise, which invariants will flag).
    #[inline]
    pub fn page(&self, pfn: Pfn) -> &Page {
        self.at(pfn.0.min(self.len - 1))
    }
    /// The `struct page` of `pfn` to change: see [`PagesMut::page_mut`].
    #[inline(always)]
    pub fn page_mut(&mut self, pfn: Pfn) -> &mut Page {
        let i = pfn.0.min(self.len - 1);
        touch(self.touched.as_mut(), i);
        self.at_mut(i)
    }
    /// The memmap lent to a loop that updates many pages (the native runs
    /// of `copy_pte_range()` and `zap_pte_range()`).
    #[inline(always)]
    pub fn pages_mut(&mut self) -> PagesMut<'_> {
        PagesMut {
            chunks: &mut self.chunks,
            touched: self.touched.as_mut(),
            last: self.len - 1,
            populated: self.populated,
        }
    }
    /// The PFNs whose page has every flag of `flags`, ascending: the same
    /// as filtering [`MemMap::iter`], without visiting the pages of a
    /// chunk never touched one by one.
    pub fn pfns_with(&self, flags: PageFlags) -> Vec<Pfn> {
        let mut out = Vec::new();
        let boot = [(0, FIRST_FREE_PFN, &BOOT_RESERVED), (FIRST_FREE_PFN, self.populated, &BOOT_FREE)];
        let boot = boot.into_iter().chain([(self.populated, self.len, &BOOT_BALLOON)]);
        let boot: Vec<(u64, u64, &Page)> = boot.filter(|b| b.2.flags.contains(flags)).collect();
        for (c, ch) in self.chunks.iter().enumerate() {
            let base = c as u64 * MEMMAP_CHUNK as u64;
            match ch {
                Some(ch) => out.extend(
                    ch.iter()
                        .take((self.len - base) as usize)
                        .enumerate()
                        .filter(|(_, p)| p.flags.contains(flags))
                        .map(|(o, _)| Pfn(base + o as u64)),
                ),
                None => {
                    let end = (base + MEMMAP_CHUNK as u64).min(self.len);
                    for &(lo, hi, _) in &boot {
                        out.extend((lo.max(base)..hi.min(end)).map(Pfn));
                    }
                }
            }
        }
        out
    }
    pub fn iter(&self) -> impl Iterator<Item = (Pfn, &Page)> {
        (0..self.len).map(|i| (Pfn(i), self.at(i)))
    }

    /// `alloc_page(GFP_KERNEL)`: refcount 1, flags clear.
    pub fn alloc(&mut self) -> KResult<Pfn> {
        if self.fail_next > 0 {
            if self.fail_space > 4096 {
                self.fail_space -= 4096;
            } else {
                self.fail_next -= 1;
                self.last_fail_injected = true;
                return Err(Errno::ENOMEM);
            }
        }
        self.last_fail_injected = false;
        let pfn = self.pop_free().ok_or(Errno::ENOMEM)?;
        if let Some(t) = &mut self.touched {
            t.push(pfn);
        }
        let p = self.at_mut(pfn as u64);
        *p = Page { refcount: 1, ..Page::default() };
        self.traced_alloc(pfn as u64);
        Ok(Pfn(pfn as u64))
    }

    /// `get_page()`.
    pub fn get_page(&mut self, pfn: Pfn) {
        self.page_mut(pfn).refcount += 1;
    }

    /// `put_page()`: drop a reference; at zero the page goes back to the
    /// allocator (a page with RESERVED or BALLOON never does). Returns the
    /// problem, if any, as the kernel would report it ("Bad page state").
    #[inline(always)]
    pub fn put_page(&mut self, pfn: Pfn) -> Result<bool, BadPage> {
        // A reference that is not the last one: inline; the rest (the
        // last reference, underflow) out of line.
        if put_page_not_last(self.page_mut(pfn)) {
            return Ok(false);
        }
        self.put_page_last(pfn)
    }

    /// [`MemMap::put_page`] of a page whose refcount is at most 1.
    #[inline(never)]
    fn put_page_last(&mut self, pfn: Pfn) -> Result<bool, BadPage> {
        let p = self.at_mut(pfn.0.min(self.len - 1));
        if p.refcount <= 0 {
            return Err(BadPage { pfn, what: "page refcount underflow (put_page on a free page)" });
        }
        p.refcount -= 1;
        if p.refcount > 0 || p.flags.intersects(PageFlags::RESERVED | PageFlags::BALLOON) {
            return Ok(false);
        }
        if p.mapcount != 0 {
            let pfn2 = pfn;
            return Err(BadPage { pfn: pfn2, what: "freeing a page that is still mapped" });
        }
        *p = Page { flags: PageFlags::BUDDY, ..Page::default() };
        self.free.push(pfn.0 as u32);
        self.traced_free(pfn.0);
        Ok(true)
    }

    /// Take a free page off the free list for a caller that will own it by
    /// other means (balloon out). Returns false if it was not free.
    pub fn take_free(&mut self, pfn: Pfn) -> bool {
        let (lo, hi) = self.fresh;
        if !self.free.iter().any(|&f| f as u64 == pfn.0) && (lo as u64..hi as u64).contains(&pfn.0) {
            // Spell the whole list out: the swap below moves the top of
            // the list into the never-allocated range.
            let mut all: Vec<u32> = (lo..hi).rev().collect();
            all.append(&mut self.free);
            self.free = all;
            self.fresh = (hi, hi);
        }
        if let Some(pos) = self.free.iter().rposition(|&f| f as u64 == pfn.0) {
            self.free.swap_remove(pos);
            self.traced_alloc(pfn.0);
            true
        } else {
            false
        }
    }
    /// Give a page (refcount already 0) back to the free list.
    pub fn release(&mut self, pfn: Pfn) {
        if let Some(p) = self.get_mut(pfn) {
            *p = Page { flags: PageFlags::BUDDY, ..Page::default() };
            self.free.push(pfn.0 as u32);
            self.traced_free(pfn.0);
        }
    }
}

/// A "BUG: Bad page state"/"Bad page map" report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadPage {
    pub pfn: Pfn,
    pub what: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_cycle() {
        let mut m = MemMap::new(8, 8);
        assert_eq!(m.nr_free(), 6);
        let a = m.alloc().expect("test");
        assert_eq!(a, Pfn(2));
        assert_eq!(m.page(a).refcount, 1);
        assert_eq!(m.put_page(a), Ok(true));
        assert!(m.put_page(a).is_err(), "double free is reported");
        assert_eq!(m.nr_free(), 6);
    }

    #[test]
    fn enomem_not_panic() {
        let mut m = MemMap::new(3, 3);
        assert!(m.alloc().is_ok());
        assert_eq!(m.alloc(), Err(Errno::ENOMEM));
        m.fail_next = 1;
        assert_eq!(m.alloc(), Err(Errno::ENOMEM), "injected before the free list is looked at");
        let mut m = MemMap::new(8, 8);
        // space 2 pages + 1 byte: two allocations succeed, the third fails.
        (m.fail_space, m.fail_next) = (2 * 4096 + 1, 1);
        assert!(m.alloc().is_ok() && m.alloc().is_ok());
        assert_eq!(m.alloc(), Err(Errno::ENOMEM));
        assert!(m.alloc().is_ok(), "times 1: one failure");
    }

    /// The lazy free list hands out PFNs in the order an explicit LIFO
    /// list pushed highest first gives (`take_free` swaps the top of the
    /// list into the hole), whatever mix of calls comes.
    #[test]
    fn lazy_free_list_matches_explicit_list() {
        for seed in 0..50u64 {
            let mut m = MemMap::new(40, 48);
            let mut model: Vec<u32> = (2..40).rev().collect();
            let mut held: Vec<Pfn> = Vec::new();
            let mut r = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for _ in 0..200 {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                match r % 3 {
                    0 => {
                        let got = m.alloc().ok();
                        assert_eq!(got, model.pop().map(|p| Pfn(p as u64)));
                        held.extend(got);
                    }
                    1 if !held.is_empty() => {
                        let p = held.swap_remove((r >> 8) as usize % held.len());
                        assert_eq!(m.put_page(p), Ok(true));
                        model.push(p.0 as u32);
                    }
                    _ => {
                        let p = Pfn((r >> 8) % 48);
                        let want = model.iter().rposition(|&f| f as u64 == p.0);
                        assert_eq!(m.take_free(p), want.is_some());
                        if let Some(pos) = want {
                            model.swap_remove(pos);
                            m.page_mut(p).refcount = 1;
                            held.push(p);
                        }
                    }
                }
                assert_eq!(m.nr_free(), model.len());
            }
        }
    }

    #[test]
    fn pfns_with_is_a_filtered_iter() {
        let mut m = MemMap::new(1000, 1700);
        m.page_mut(Pfn(1200)).flags = PageFlags::FOREIGN;
        m.page_mut(Pfn(5)).flags |= PageFlags::BALLOON;
        for f in [PageFlags::BALLOON, PageFlags::BUDDY, PageFlags::RESERVED, PageFlags::FOREIGN] {
            let want: Vec<Pfn> = m.iter().filter(|(_, p)| p.flags.contains(f)).map(|(p, _)| p).collect();
            assert_eq!(m.pfns_with(f), want, "{f:?}");
        }
    }

    /// Reading ahead changes no page and materialises no chunk; a PFN
    /// beyond the memmap is ignored.
    #[test]
    fn prefetch_changes_nothing() {
        let mut m = MemMap::new(2000, 2000);
        let a = m.alloc().expect("test");
        let pages = m.pages_mut();
        pages.prefetch(a);
        pages.prefetch(Pfn(1500));
        pages.prefetch(Pfn(1 << 40));
        assert_eq!(m.page(a).refcount, 1);
        assert_eq!(m.chunks.iter().filter(|c| c.is_some()).count(), 1, "only the allocated page's chunk");
        assert!(m.page(Pfn(1500)).flags.contains(PageFlags::BUDDY));
    }

    /// The pages lent to a loop answer as the memmap does: a change is
    /// recorded as touched, a PFN past the end is the last page's.
    #[test]
    fn pages_lent_record_what_they_touch() {
        let mut m = MemMap::new(2000, 2000);
        m.record_touched_from_boot();
        m.take_touched();
        let mut pages = m.pages_mut();
        assert_eq!(pages.highest_pfn(), Pfn(1999));
        pages.page_mut(Pfn(700)).refcount = 5;
        pages.page_mut(Pfn(1 << 40)).mapcount = 3;
        assert_eq!((m.page(Pfn(700)).refcount, m.page(Pfn(1999)).mapcount), (5, 3));
        assert_eq!(m.take_touched(), Some((vec![700, 1999], false)));
    }

    #[test]
    fn reserved_pages_never_freed() {
        let mut m = MemMap::new(4, 6);
        m.get_page(ZERO_PFN);
        assert_eq!(m.put_page(ZERO_PFN), Ok(false));
        assert!(m.page(Pfn(5)).flags.contains(PageFlags::BALLOON));
    }
}
