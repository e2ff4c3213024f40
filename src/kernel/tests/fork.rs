//! kernel/fork.c `dup_mmap` and mm/memory.c `copy_page_range`: what the
//! child gets, COW, pinned pages, and fork failing for lack of memory.

use super::*;
use crate::errno::Errno;
use crate::kernel::gup::{FOLL_PIN, FOLL_WRITE};
use crate::kernel::madvise::{MADV_DONTFORK, MADV_GUARD_INSTALL};
use crate::kernel::mm::RssCounter;
use crate::kernel::page::{PageFlags, ZERO_PFN};

fn fork(t: &mut T) -> Result<Pid, Errno> {
    let (pid, hv) = (t.pid, &mut t.hv);
    t.k.sys_fork(hv, pid)
}

/// `dup_mmap()` copies every VMA but the VM_DONTCOPY ones
/// (`if (mpnt->vm_flags & VM_DONTCOPY) { ... continue; }`).
#[test]
fn child_layout() {
    let mut t = T::new(256);
    t.anon(0, 2, RW).unwrap();
    t.anon(3, 2, RO).unwrap();
    t.anon(6, 2, RW).unwrap();
    let (pid, hv) = (t.pid, &mut t.hv);
    t.k.sys_madvise(hv, pid, BASE + 6 * P, 2 * P, MADV_DONTFORK as u64).unwrap();
    // parent: AA BB CC     child: AA BB
    let child = fork(&mut t).unwrap();
    assert_eq!(t.picture(t.pid, 8), "AA BB CC");
    assert_eq!(t.picture(child, 8), "AA BB");
    assert_eq!(t.spans(child, 8), t.spans(t.pid, 8)[..2].to_vec());
}

/// `copy_present_pte()`: a private writable page is write-protected in
/// both (`is_cow_mapping(vm_flags) && pte_write(pte)`) and shared (one
/// more reference and mapping); the child's write fault copies it
/// (`wp_page_copy`), after which each has its own.
#[test]
fn cow_after_fork() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    assert!(t.write(t.pid, 0, 0x11));
    let pfn = t.pfn(t.pid, 0).unwrap();
    let child = fork(&mut t).unwrap();
    assert_eq!(t.pfn(child, 0), Some(pfn));
    assert!(!t.pte(t.pid, 0).write() && !t.pte(child, 0).write());
    let page = t.k.mem.get(pfn).unwrap();
    assert_eq!((page.refcount, page.mapcount), (2, 2));

    assert!(t.write(child, 0, 0x22));
    let copy = t.pfn(child, 0).unwrap();
    assert_ne!(copy, pfn);
    assert!(t.pte(child, 0).write());
    let page = t.k.mem.get(pfn).unwrap();
    assert_eq!((page.refcount, page.mapcount), (1, 1));
    assert_eq!(t.read(t.pid, 0), Some(0x11));
    assert_eq!(t.read(child, 0), Some(0x22));
}

/// A page that may be DMA-pinned is copied at fork instead of shared
/// (`copy_present_pte()`: `folio_try_dup_anon_rmap_pte()` fails for a
/// maybe-pinned anon folio -> `copy_present_page()`), and the parent's
/// PTE keeps its write permission so the pin stays coherent.
#[test]
fn pinned_page_copied_at_fork() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    assert!(t.write(t.pid, 0, 0x33));
    let pfn = t.pfn(t.pid, 0).unwrap();
    let (pid, hv) = (t.pid, &mut t.hv);
    let pins = t.k.get_user_pages(hv, pid, BASE, 1, FOLL_PIN | FOLL_WRITE).unwrap();
    let child = fork(&mut t).unwrap();
    let copy = t.pfn(child, 0).unwrap();
    assert_ne!(copy, pfn, "the child gets a copy");
    assert_eq!(t.pfn(t.pid, 0), Some(pfn));
    assert!(t.pte(t.pid, 0).write(), "the parent's PTE is not write-protected");
    assert_eq!(t.read(child, 0), Some(0x33));
    assert_eq!(t.k.mem.get(pfn).unwrap().mapcount, 1);
    for p in pins {
        t.k.gup_release(p);
    }
}

/// Fork runs out of memory in `dup_mmap()` (a page table for the child):
/// -ENOMEM, no child, every page allocated for it freed again
/// (`dup_mm()` -> `mmput()`), and the pid unused (`copy_process()`
/// allocates the pid after `copy_mm()`): the next fork gets it.
#[test]
fn fork_allocation_failure() {
    let mut t = T::new(256);
    t.anon(0, 2, RW).unwrap();
    assert!(t.write(t.pid, 0, 1) && t.write(t.pid, 1, 2));
    let free = t.k.mem.nr_free();
    let procs = t.k.procs.len();
    // The child's pgd gets its page; the next allocation fails.
    t.fail_page_alloc(P + 1, 1);
    assert_eq!(fork(&mut t), Err(Errno::ENOMEM));
    assert_eq!(t.k.procs.len(), procs);
    assert_eq!(t.k.mem.nr_free(), free, "the failed fork's pages came back");
    let pfn = t.pfn(t.pid, 0).unwrap();
    assert_eq!(t.k.mem.get(pfn).unwrap().mapcount, 1);
    // It failed allocating the child's first table, before copying any
    // PTE (copy_pte_range() allocates the destination table first): the
    // parent's PTE was not write-protected.
    assert!(t.pte(t.pid, 0).write());
    let child = fork(&mut t).unwrap();
    assert_eq!(child, t.pid + 1);
    assert_eq!(t.read(child, 1), Some(2));
}

/// A busy page table (more entries than a short list holds: natively fork
/// and exit copy and zap it in place) holding every kind of entry the
/// in-place loops hand to the entry-by-entry path: the zero page, a
/// pinned page, a guard marker, a hole. Each gets what mm/memory.c gives
/// it: `copy_present_ptes()` shares the ordinary pages (write-protected in
/// both, one more reference and mapping, `PG_anon_exclusive` cleared, the
/// child's entry old), maps the zero page without a reference,
/// `copy_present_page()` copies the pinned page, `copy_nonpresent_pte()`
/// copies the marker; the child's exit (`zap_pte_range()`) takes back
/// every reference and mapping and frees the copy and the child's tables.
#[test]
fn fork_and_exit_of_a_busy_table() {
    const N: u64 = 100;
    let (zero, pinned, guard, hole) = (10, 20, 30, 40);
    let mut t = T::new(1024);
    t.anon(0, N, RW).unwrap();
    for i in (0..N).filter(|i| ![zero, guard, hole].contains(i)) {
        assert!(t.write(t.pid, i, i as u8));
    }
    assert_eq!(t.read(t.pid, zero), Some(0));
    assert_eq!(t.pfn(t.pid, zero), Some(ZERO_PFN), "a read fault maps the zero page");
    let (pid, hv) = (t.pid, &mut t.hv);
    t.k.sys_madvise(hv, pid, BASE + guard * P, P, MADV_GUARD_INSTALL as u64).unwrap();
    let pins = t.k.get_user_pages(hv, pid, BASE + pinned * P, 1, FOLL_PIN | FOLL_WRITE).unwrap();
    let before: Vec<Pte> = (0..N).map(|i| t.pte(t.pid, i)).collect();
    let free = t.k.mem.nr_free();

    let child = fork(&mut t).unwrap();
    for i in 0..N {
        let (pp, cp) = (t.pte(t.pid, i), t.pte(child, i));
        match i {
            _ if i == zero => assert_eq!(t.pfn(child, i), Some(ZERO_PFN)),
            _ if i == pinned => {
                assert_ne!(t.pfn(child, i), t.pfn(t.pid, i), "the pinned page is copied");
                assert!(pp.write(), "the parent keeps writing its pinned page");
                assert_eq!(t.read(child, i), Some(i as u8));
            }
            _ if i == guard => assert_eq!((pp, cp), (before[i as usize], before[i as usize]), "the marker is copied"),
            _ if i == hole => assert!(pp.is_none() && cp.is_none()),
            _ => {
                let pfn = t.pfn(t.pid, i).unwrap();
                assert_eq!(t.pfn(child, i), Some(pfn), "page {i} is shared");
                assert!(!pp.write() && !cp.write(), "page {i} is write-protected in both");
                assert!(pp.young() && !cp.young(), "the child's entry for page {i} is old");
                let p = t.k.mem.get(pfn).unwrap();
                assert_eq!((p.refcount, p.mapcount), (2, 2), "page {i}");
                assert!(!p.flags.contains(PageFlags::ANON_EXCLUSIVE), "page {i}");
            }
        }
    }
    // 96 shared pages and the copy; the zero page is not counted.
    assert_eq!(t.k.mm(child).unwrap().get_rss(RssCounter::Anon), 97);

    let hv = &mut t.hv;
    t.k.sys_exit(hv, child).unwrap();
    for i in (0..N).filter(|i| ![zero, pinned, guard, hole].contains(i)) {
        let p = t.k.mem.get(t.pfn(t.pid, i).unwrap()).unwrap();
        assert_eq!((p.refcount, p.mapcount), (1, 1), "page {i} is the parent's alone again");
        assert!(!t.pte(t.pid, i).write(), "the parent's entry stays write-protected");
    }
    assert_eq!(t.k.mem.nr_free(), free, "the copy and the child's tables are free again");
    assert!(t.k.dmesg.iter().all(|e| !e.message.contains("BUG")), "no bad page map or rss counter");
    for p in pins {
        t.k.gup_release(p);
    }
}

/// What a page of the busy table holds before the forks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Written,
    ZeroPage,
    Guard,
    Hole,
    Pinned,
    Dropped,
}

/// Everything fork and exit change, as text: every `struct page`, the
/// entries of `pids` over the first `n` pages, their RSS, the free pages
/// and the log.
fn state(t: &T, pids: &[Pid], n: u64) -> String {
    let mut out = String::new();
    // Every page but the free ones (their count is below).
    for (pfn, p) in t.k.mem.iter().filter(|(_, p)| !p.flags.contains(PageFlags::BUDDY)) {
        out += &format!("{pfn:?} {p:?}\n");
    }
    for &pid in pids {
        let rss = t.k.mm(pid).map(|m| m.rss).unwrap_or_default();
        out += &format!("pid {pid} rss {rss:?}\n");
        for i in 0..n {
            out += &format!("{:#x} ", t.pte(pid, i).0);
        }
        out += "\n";
    }
    let log: Vec<&str> = t.k.dmesg.iter().map(|e| e.message.as_str()).collect();
    out + &format!("free {} log {log:?}\n", t.k.mem.nr_free())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Natively fork and exit copy and zap a busy table in place; the
    /// entry-by-entry path (what a PV guest takes) must decide every entry
    /// the same. Two kernels run the same random table (more entries than
    /// a short list holds, every kind of entry) through two forks, a COW
    /// write in the first child and every exit, one with the in-place runs
    /// and one without, and must agree after each step.
    #[test]
    fn in_place_runs_match_entry_by_entry(
        kinds in proptest::collection::vec(
            proptest::prop_oneof![
                12 => proptest::strategy::Just(Kind::Written),
                1 => proptest::strategy::Just(Kind::ZeroPage),
                1 => proptest::strategy::Just(Kind::Guard),
                1 => proptest::strategy::Just(Kind::Hole),
                1 => proptest::strategy::Just(Kind::Pinned),
                1 => proptest::strategy::Just(Kind::Dropped),
            ],
            60..140,
        ),
        cow in proptest::collection::vec(proptest::prelude::any::<bool>(), 140),
    ) {
        let n = kinds.len() as u64;
        let mut runs = Vec::new();
        for entry_by_entry in [false, true] {
            let mut t = T::new(1024);
            t.k.entry_by_entry = entry_by_entry;
            let mut log = Vec::new();
            t.anon(0, n, RW).unwrap();
            let mut pins = Vec::new();
            for (i, &k) in kinds.iter().enumerate() {
                let (i, pid) = (i as u64, t.pid);
                match k {
                    Kind::Written | Kind::Pinned | Kind::Dropped => assert!(t.write(pid, i, i as u8)),
                    Kind::ZeroPage => assert_eq!(t.read(pid, i), Some(0)),
                    Kind::Guard => {
                        t.k.sys_madvise(&mut t.hv, pid, BASE + i * P, P, MADV_GUARD_INSTALL as u64).unwrap();
                    }
                    Kind::Hole => {}
                }
                if k == Kind::Pinned {
                    pins.extend(t.k.get_user_pages(&mut t.hv, pid, BASE + i * P, 1, FOLL_PIN | FOLL_WRITE).unwrap());
                }
                if k == Kind::Dropped {
                    t.k.sys_madvise(&mut t.hv, pid, BASE + i * P, P, crate::kernel::madvise::MADV_DONTNEED as u64).unwrap();
                }
            }
            let parent = t.pid;
            let c1 = fork(&mut t).unwrap();
            log.push(state(&t, &[parent, c1], n));
            for i in (0..n).filter(|&i| cow[i as usize]) {
                t.write(c1, i, 0xee);
            }
            let c2 = fork(&mut t).unwrap();
            log.push(state(&t, &[parent, c1, c2], n));
            t.k.sys_exit(&mut t.hv, c1).unwrap();
            log.push(state(&t, &[parent, c2], n));
            t.k.sys_exit(&mut t.hv, c2).unwrap();
            for p in pins {
                t.k.gup_release(p);
            }
            t.k.sys_exit(&mut t.hv, parent).unwrap();
            log.push(state(&t, &[], n));
            runs.push(log);
        }
        for (step, (a, b)) in runs[0].iter().zip(&runs[1]).enumerate() {
            proptest::prop_assert_eq!(a, b, "step {}", step);
        }
    }
}
