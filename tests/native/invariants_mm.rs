//! `invariants::mm::check`: a correct world (native and PV) has no
//! violation after any step; each deliberate corruption is reported under
//! the right invariant name, naming the page or process involved.

use mmsim::arch::x86_64::{Pte, PteFlags};
use mmsim::hv::machine::DomId;
use mmsim::hv::truth::Violation;
use mmsim::invariants::mm::check;
use mmsim::kernel::gup::{FOLL_PIN, FOLL_WRITE};
use mmsim::kernel::mm::RssCounter;
use mmsim::kernel::mmap::*;
use mmsim::kernel::page::{Mapping, Pfn};
use mmsim::kernel::syscalls::O_CREAT;
use mmsim::kernel::variant::Variant;
use mmsim::kernel::{KernelEvent, Pid};
use mmsim::report;
use mmsim::world::World;

const PS: u64 = 4096;
const RW: u64 = PROT_READ | PROT_WRITE;
const ANON: u64 = MAP_PRIVATE | MAP_ANONYMOUS;
const NOFD: u64 = u64::MAX;
const O_RDWR: u64 = 2;

fn world(pv: bool) -> (World, DomId, Pid) {
    let mut w = World::new(65536, Variant::default());
    if pv {
        // A second PV domain: its MFNs differ from its PFNs.
        w.add_domain("dom0", true, 2048, true).unwrap();
    }
    let d = w.add_domain("guest", pv, 4096, false).unwrap();
    let (k, _) = w.kh(d).unwrap();
    let p = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).unwrap();
    (w, d, p)
}

fn names(v: &[Violation]) -> Vec<&'static str> {
    let mut n: Vec<_> = v.iter().map(|v| v.invariant.as_str()).collect();
    n.sort_unstable();
    n.dedup();
    n
}

fn assert_clean(w: &World, d: DomId, p: Pid, step: &str) {
    let v = check(w);
    if !v.is_empty() {
        let pic = w
            .kernel(d)
            .ok()
            .map(|k| report::address_space_picture(k, p, 0x7e00_0000_0000, 0x7e00_4000_0000, 64))
            .unwrap_or_default();
        panic!("after {step}: {v:#?}\n{pic}");
    }
}

fn anon_pfn(w: &World, d: DomId, p: Pid, addr: u64) -> Pfn {
    let k = w.kernel(d).unwrap();
    k.pte_pfn(&w.hv, k.page_tables().pte(k.mm(p).unwrap().pgd, addr))
}

/// A life of a process and its child, checked after every step: anonymous
/// memory, zero page, fork and COW, shared anonymous, memfd and tmpfs
/// (shared, private, COW), mprotect, munmap of a middle part, brk, GUP
/// pins held across exit, then exit of both. Afterwards only the tmpfs
/// file's page cache is left, and releasing the pin frees its page.
fn life(pv: bool) {
    let (mut w, d, p) = world(pv);
    let step = |w: &mut World, name: &str, f: &mut dyn FnMut(&mut World)| {
        f(w);
        assert_clean(w, d, p, name);
    };
    let mut a = 0;
    let mut c: Pid = 0;
    let mut pins = Vec::new();
    step(&mut w, "mmap", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        a = k.sys_mmap(hv, p, 0, 16 * PS, RW, ANON, NOFD, 0).unwrap();
    });
    step(&mut w, "writes and a read", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        for i in 0..8 {
            k.user_write(hv, p, a + i * PS, b"data").unwrap();
        }
        k.user_read(hv, p, a + 9 * PS, 1).unwrap();
    });
    let mut s = 0;
    let mut f = 0;
    let mut t = 0;
    step(&mut w, "shared anon, memfd, tmpfs", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        s = k.sys_mmap(hv, p, 0, 4 * PS, RW, MAP_SHARED | MAP_ANONYMOUS, NOFD, 0).unwrap();
        k.user_write(hv, p, s, b"s").unwrap();
        k.user_read(hv, p, s + PS, 1).unwrap();
        let fd = k.sys_memfd_create(p, "m").unwrap();
        k.sys_ftruncate(hv, p, fd, 4 * PS).unwrap();
        f = k.sys_mmap(hv, p, 0, 4 * PS, RW, MAP_PRIVATE, fd, 0).unwrap();
        k.user_read(hv, p, f, 1).unwrap();
        k.user_write(hv, p, f + PS, b"cow").unwrap();
        k.sys_close(hv, p, fd).unwrap();
        let fd = k.sys_open(hv, p, "/dev/shm/keep", O_CREAT | O_RDWR).unwrap();
        k.sys_ftruncate(hv, p, fd, 2 * PS).unwrap();
        t = k.sys_mmap(hv, p, 0, 2 * PS, RW, MAP_SHARED, fd, 0).unwrap();
        k.user_write(hv, p, t, b"tmpfs").unwrap();
        k.sys_close(hv, p, fd).unwrap();
    });
    step(&mut w, "fork", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        c = k.sys_fork(hv, p).unwrap();
    });
    step(&mut w, "COW in child and parent, child touches shared", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        k.user_write(hv, c, a, b"child").unwrap();
        k.user_write(hv, p, a + PS, b"parent").unwrap();
        k.user_write(hv, c, a + 10 * PS, b"new").unwrap();
        k.user_read(hv, c, s, 1).unwrap();
        k.user_write(hv, c, t + PS, b"t").unwrap();
    });
    step(&mut w, "mprotect and munmap in the middle", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        k.sys_mprotect(hv, p, a + 2 * PS, 2 * PS, PROT_READ).unwrap();
        k.do_munmap(hv, p, a + 4 * PS, 2 * PS).unwrap();
        k.do_munmap(hv, c, f, 4 * PS).unwrap();
    });
    step(&mut w, "brk", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        k.sys_brk(hv, p, 0x5555_0000_4000).unwrap();
        k.user_write(hv, p, 0x5555_0000_1000, b"heap").unwrap();
        k.sys_brk(hv, p, 0x5555_0000_1000).unwrap();
    });
    step(&mut w, "pin pages", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        pins = k.get_user_pages(hv, c, a, 2, FOLL_PIN | FOLL_WRITE).unwrap();
        assert_eq!(pins.len(), 2);
        pins.extend(k.get_user_pages(hv, p, t, 1, FOLL_PIN).unwrap());
    });
    step(&mut w, "child exits with pins held", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        k.sys_exit(hv, c).unwrap();
    });
    step(&mut w, "parent exits", &mut |w| {
        let (k, hv) = w.kh(d).unwrap();
        k.sys_exit(hv, p).unwrap();
    });
    step(&mut w, "unpin", &mut |w| {
        let (k, _) = w.kh(d).unwrap();
        for pg in pins.drain(..) {
            k.gup_release(pg);
        }
    });
    let k = w.kernel(d).unwrap();
    assert!(k.dmesg.is_empty(), "{:?}", k.dmesg);
    // 4096 pages, PFNs 0 and 1 reserved: only the tmpfs file's two cached
    // pages are still in use (the PGD went with the process), and the
    // empty slab page the vm_area_struct cache keeps (kernel/slab.rs,
    // SLUB's min_partial).
    assert_eq!(k.vm_area_cache_pages(), 1);
    assert_eq!(k.memmap().nr_free(), 4096 - 2 - 2 - 1, "only the tmpfs file's pages remain");
}

#[test]
fn correct_native_world_has_no_violation() {
    life(false);
}

#[test]
fn correct_pv_world_has_no_violation() {
    life(true);
}

/// fork and exit of a mapping spanning several leaf tables (1200 pages
/// starting 1 MiB below a 2 MiB boundary: three PMDs), and mprotect splitting
/// every other page then merging back. kernel/fork.c dup_mmap() and
/// mm/memory.c copy_present_ptes(): every page gets a second mapping and
/// reference, both PTEs lose RW, the child's MM_ANONPAGES counts each page
/// once; exit_mmap() gives all of it back. mm/vma.c: each mprotect of one
/// page inside a VMA splits it (map_count + 2, + 1 at the VMA's first
/// page);
/// the same protection over the whole range merges everything into one.
fn fork_exit_and_split_merge(pv: bool) {
    let (mut w, d, p) = world(pv);
    const N: u64 = 1200;
    let (k, hv) = w.kh(d).unwrap();
    let a = k.sys_mmap(hv, p, 0x7e00_0010_0000, N * PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
    k.sys_touch(hv, p, a, N * PS, true).unwrap();
    let c = k.sys_fork(hv, p).unwrap();
    assert_clean(&w, d, p, "fork");
    let k = w.kernel(d).unwrap();
    assert_eq!(k.mm(c).unwrap().get_rss(RssCounter::Anon), N as i64, "child MM_ANONPAGES");
    assert_eq!(k.mm(p).unwrap().get_rss(RssCounter::Anon), N as i64, "parent MM_ANONPAGES");
    for i in [0, 255, 256, 511, 512, 767, 768, N - 1] {
        let addr = a + i * PS;
        let pfn = anon_pfn(&w, d, p, addr);
        assert_eq!(anon_pfn(&w, d, c, addr), pfn, "page {i}: child maps the parent's page");
        let k = w.kernel(d).unwrap();
        for pid in [p, c] {
            assert!(!k.page_tables().pte(k.mm(pid).unwrap().pgd, addr).write(), "page {i} of {pid}: write-protected");
        }
        let pg = k.memmap().page(pfn);
        assert_eq!((pg.refcount, pg.mapcount), (2, 2), "page {i}: two mappings, two references");
    }
    let (k, hv) = w.kh(d).unwrap();
    k.sys_exit(hv, c).unwrap();
    assert_clean(&w, d, p, "exit of the child");
    let k = w.kernel(d).unwrap();
    assert!(!k.dmesg.iter().any(|e| e.message.contains("Bad rss-counter")), "{:?}", k.dmesg);
    let pg = k.memmap().page(anon_pfn(&w, d, p, a + 300 * PS));
    assert_eq!((pg.refcount, pg.mapcount), (1, 1), "the parent's page alone again");
    let (k, hv) = w.kh(d).unwrap();
    let before = k.mm(p).unwrap().map_count();
    for i in (0..64).step_by(2) {
        k.sys_mprotect(hv, p, a + i * PS, PS, PROT_READ).unwrap();
    }
    assert_eq!(k.mm(p).unwrap().map_count(), before + 63, "32 read-only pages split off");
    assert_clean(&w, d, p, "mprotect every other page");
    let (k, hv) = w.kh(d).unwrap();
    k.sys_mprotect(hv, p, a, N * PS, RW).unwrap();
    assert_eq!(k.mm(p).unwrap().map_count(), before, "one protection again: merged back");
    assert_clean(&w, d, p, "mprotect of the whole range");
}

#[test]
fn fork_exit_and_split_merge_native() {
    fork_exit_and_split_merge(false);
}

#[test]
fn fork_exit_and_split_merge_pv() {
    fork_exit_and_split_merge(true);
}

/// One mapped anonymous page in a fresh world.
fn one_page() -> (World, DomId, Pid, u64, Pfn) {
    let (mut w, d, p) = world(false);
    let (k, hv) = w.kh(d).unwrap();
    let a = k.sys_mmap(hv, p, 0, 4 * PS, RW, ANON, NOFD, 0).unwrap();
    k.user_write(hv, p, a, b"x").unwrap();
    let pfn = anon_pfn(&w, d, p, a);
    assert!(check(&w).is_empty());
    (w, d, p, a, pfn)
}

#[test]
fn bumped_refcount_is_reported() {
    let (mut w, d, _p, _a, pfn) = one_page();
    w.kh(d).unwrap().0.internals_mut().mem.page_mut(pfn).refcount += 1;
    let v = check(&w);
    assert_eq!(names(&v), ["page-refcount"], "{v:#?}");
    assert_eq!(v[0].pfns, [pfn.0]);
    assert_eq!(v[0].domains, [d]);
    assert!(
        v[0].message.contains("refcount 2, expected 1 (1 PTEs, 0 page cache, 0 GUP gets, 0 pins)"),
        "{}",
        v[0].message
    );
}

#[test]
fn bumped_mapcount_is_reported() {
    let (mut w, d, _p, _a, pfn) = one_page();
    w.kh(d).unwrap().0.internals_mut().mem.page_mut(pfn).mapcount += 1;
    let v = check(&w);
    assert_eq!(names(&v), ["page-mapcount"], "{v:#?}");
    assert_eq!(v[0].pfns, [pfn.0]);
}

/// A PTE beyond the VMA's end (as a buggy munmap or mremap would leave).
#[test]
fn stray_pte_is_reported() {
    let (mut w, d, p, a, pfn) = one_page();
    let (k, _) = w.kh(d).unwrap();
    let stray = a + 64 * PS;
    assert!(k.mm(p).unwrap().vma_at(stray).is_none());
    let slot = k.pte_alloc(p, stray).unwrap();
    k.internals_mut().pt.set(slot, Pte::new(pfn.0, PteFlags::PRESENT | PteFlags::USER));
    let v = check(&w);
    assert!(names(&v).contains(&"pte-outside-vma"), "{v:#?}");
    let out = v.iter().find(|v| v.invariant == "pte-outside-vma").unwrap();
    assert!(out.message.contains(&format!("at {stray:#x} is outside every VMA")), "{}", out.message);
    // A guard marker outside any VMA is stray too.
    let (k, _) = w.kh(d).unwrap();
    k.internals_mut().pt.set(slot, mmsim::kernel::memory::guard_marker());
    assert_eq!(names(&check(&w)), ["pte-outside-vma"]);
}

/// A missing put_page: the page outlives its process.
#[test]
fn leaked_page_is_reported_after_exit() {
    let (mut w, d, p, _a, pfn) = one_page();
    w.kh(d).unwrap().0.internals_mut().mem.get_page(pfn);
    assert_eq!(names(&check(&w)), ["page-refcount"]);
    let (k, hv) = w.kh(d).unwrap();
    k.sys_exit(hv, p).unwrap();
    let v = check(&w);
    assert_eq!(names(&v), ["page-leak"], "{v:#?}");
    assert_eq!(v[0].pfns, [pfn.0]);
    assert!(v[0].message.contains("leaked"));
}

#[test]
fn wrong_rss_counter_is_reported() {
    let (mut w, d, p, _a, _pfn) = one_page();
    w.kh(d).unwrap().0.mm_mut(p).unwrap().add_rss(RssCounter::Shmem, 1);
    let v = check(&w);
    assert_eq!(names(&v), ["rss-counter"], "{v:#?}");
    assert!(v[0].message.contains("MM_SHMEMPAGES is 1, the page tables map 0"), "{}", v[0].message);
}

/// A PTE inside a VMA naming a free page (a use after free).
#[test]
fn mapped_free_page_is_reported() {
    let (mut w, d, p, a, _pfn) = one_page();
    let (k, _) = w.kh(d).unwrap();
    let free = Pfn(0x800);
    assert!(k.memmap().page(free).flags.contains(mmsim::kernel::page::PageFlags::BUDDY));
    let slot = k.pte_alloc(p, a + PS).unwrap();
    k.internals_mut().pt.set(slot, Pte::new(free.0, PteFlags::PRESENT | PteFlags::USER));
    let v = check(&w);
    assert!(names(&v).contains(&"free-page-mapped"), "{v:#?}");
    assert_eq!(v.iter().find(|v| v.invariant == "free-page-mapped").unwrap().pfns, [free.0]);
}

#[test]
fn free_page_with_references_is_reported() {
    let (mut w, d, _p, _a, _pfn) = one_page();
    let (k, _) = w.kh(d).unwrap();
    k.internals_mut().mem.page_mut(Pfn(0x800)).refcount = 1;
    k.internals_mut().gup_held.get_or_insert_with(0x801, Default::default).gets = 1;
    let v = check(&w);
    assert_eq!(names(&v), ["free-page-referenced", "free-page-state"], "{v:#?}");
}

#[test]
fn kernel_complaints_become_violations() {
    let (mut w, d, _p, _a, _pfn) = one_page();
    let (k, _) = w.kh(d).unwrap();
    k.dmesg
        .push(KernelEvent { pid: None, message: "BUG: Bad page map: addr:0x1000 pte:0x0 vm_flags:0x0 (test)".into() });
    k.dmesg.push(KernelEvent { pid: Some(1), message: "BUG: Bad page state in process: pfn:0x10 test".into() });
    k.dmesg.push(KernelEvent { pid: None, message: "xen_set_pte: mmu_update failed: whatever".into() });
    let v = check(&w);
    assert_eq!(names(&v), ["bad-page-map", "bad-page-state"], "{v:#?}");
    assert!(v.iter().any(|v| v.message == "d0: pid 1: BUG: Bad page state in process: pfn:0x10 test"), "{v:#?}");
}

/// The model's own exit path: a non-zero RSS counter at exit is logged and
/// reported.
#[test]
fn bad_rss_at_exit_is_reported() {
    let (mut w, d, p, _a, _pfn) = one_page();
    let (k, hv) = w.kh(d).unwrap();
    k.mm_mut(p).unwrap().add_rss(RssCounter::File, 1);
    k.sys_exit(hv, p).unwrap();
    assert_eq!(names(&check(&w)), ["bad-rss-counter"]);
}

#[test]
fn page_cache_mismatch_is_reported() {
    let (mut w, d, p) = world(false);
    let (k, hv) = w.kh(d).unwrap();
    let fd = k.sys_memfd_create(p, "m").unwrap();
    k.sys_ftruncate(hv, p, fd, 2 * PS).unwrap();
    let f = k.sys_mmap(hv, p, 0, 2 * PS, RW, MAP_SHARED, fd, 0).unwrap();
    k.user_write(hv, p, f, b"x").unwrap();
    assert!(check(&w).is_empty());
    let pfn = anon_pfn(&w, d, p, f);
    let (k, _) = w.kh(d).unwrap();
    assert!(matches!(k.memmap().page(pfn).mapping, Mapping::File(_)));
    k.internals_mut().mem.page_mut(pfn).index = 7;
    let v = check(&w);
    assert_eq!(names(&v), ["page-cache-mismatch"], "{v:#?}");
    // The page cache reference counts: dropping it from the cache leaves a
    // page with one reference too many, and a mapping naming a live inode.
    let (k, _) = w.kh(d).unwrap();
    k.internals_mut().mem.page_mut(pfn).index = 0;
    for i in k.shmem.inodes.values_mut() {
        i.pages.clear();
    }
    let v = check(&w);
    assert_eq!(names(&v), ["page-cache-mismatch", "page-refcount"], "{v:#?}");
}

#[test]
fn page_table_page_counts_are_checked() {
    let (mut w, d, p, _a, _pfn) = one_page();
    let (k, _) = w.kh(d).unwrap();
    let pgd = k.mm(p).unwrap().pgd;
    let pfn = *k.pt_pages().get(pgd).expect("the pgd's page");
    k.internals_mut().mem.page_mut(pfn).refcount += 1;
    let v = check(&w);
    assert_eq!(names(&v), ["page-refcount"], "{v:#?}");
    assert!(v[0].message.contains("page-table pfn"), "{}", v[0].message);
}

#[test]
fn leaked_page_table_is_reported() {
    let (mut w, d, _p, _a, _pfn) = one_page();
    let (k, _) = w.kh(d).unwrap();
    let frame = k.alloc_pt_page().unwrap();
    let v = check(&w);
    assert_eq!(names(&v), ["pagetable-leak"], "{v:#?}");
    assert!(v[0].message.contains(&format!("page table {frame:#x}")));
}

/// GUP references count: a pinned page's refcount is 1 + 1024 per pin;
/// an unrecorded pin is a refcount violation.
#[test]
fn gup_references_are_counted() {
    let (mut w, d, p, a, pfn) = one_page();
    let (k, hv) = w.kh(d).unwrap();
    let pins = k.get_user_pages(hv, p, a, 1, FOLL_PIN | FOLL_WRITE).unwrap();
    assert_eq!(k.memmap().page(pfn).refcount, 1025);
    assert!(check(&w).is_empty());
    let (k, _) = w.kh(d).unwrap();
    k.internals_mut().gup_held.clear();
    let v = check(&w);
    assert_eq!(names(&v), ["page-refcount"], "{v:#?}");
    assert!(v[0].message.contains("refcount 1025, expected 1"), "{}", v[0].message);
    let _ = pins;
}

/// Cost follows what is populated: a terabyte of reserved address space
/// with a handful of pages and mappings a gigabyte apart check instantly
/// (the test asserts correctness only; there are no timing assertions).
#[test]
fn sparse_huge_address_space() {
    let (mut w, d, p) = world(false);
    let (k, hv) = w.kh(d).unwrap();
    let big = k.sys_mmap(hv, p, 0x1000_0000_0000, 1 << 40, RW, ANON | MAP_FIXED | MAP_NORESERVE, NOFD, 0).unwrap();
    for i in 0..64u64 {
        k.user_write(hv, p, big + i * (1 << 34), b"x").unwrap();
        let a = k.sys_mmap(hv, p, 0x3000_0000_0000 + i * (1 << 30), PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
        k.user_write(hv, p, a, b"y").unwrap();
    }
    for _ in 0..20 {
        assert!(check(&w).is_empty());
    }
    let s = report::smaps(&w, d, p);
    assert!(s.contains(&format!("Size:           {:>8} kB\nKernelPageSize:        4 kB\nMMUPageSize:           4 kB\nRss:                 256 kB\n", (1u64 << 40) >> 10)), "{}", &s[..400]);
}
