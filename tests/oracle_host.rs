//! Tests of the host oracle against the real kernel (Linux 6.18, x86-64,
//! run as root so that pagemap PFNs are visible).
//!
//! Expected values come from the kernel's documented behaviour (man pages,
//! Documentation/admin-guide/mm/pagemap.rst, proc(5)) and its source; the
//! comment on each assertion says which.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mmsim::oracle::*;

const R: u64 = DEFAULT_RANGE_LEN;
const PS: u64 = PAGE_SIZE;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
const PRIV: i32 = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
const EINVAL: i64 = -(libc::EINVAL as i64);
const ENOMEM: i64 = -(libc::ENOMEM as i64);
const EPERM: i64 = -(libc::EPERM as i64);
const SIGSEGV: i32 = libc::SIGSEGV;
const SIGBUS: i32 = libc::SIGBUS;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const BUS_ADRERR: i32 = 2;
const MADV_GUARD_INSTALL: i32 = 102;
const MADV_GUARD_REMOVE: i32 = 103;

/// Tests are serialised: the descriptor and child-process checks below look
/// at the whole test process.
static LOCK: Mutex<()> = Mutex::new(());

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn children() -> String {
    std::fs::read_to_string("/proc/thread-self/children").unwrap_or_default()
}

/// Whether the host shows PFNs (root); says so when it does not.
fn pfns_visible(t: &Transcript, test: &str) -> bool {
    let v = t.host.pfns_visible();
    if !v {
        println!("{test}: {}", t.host.not_compared());
    }
    v
}

/// Run with checks that nothing leaks: no child left (zombie or not) and
/// the same number of open descriptors afterwards.
fn run_cfg(ops: &[Op], cfg: &HostConfig) -> Result<Transcript, OracleError> {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let fds = fd_count();
    let r = run_on_host(ops, cfg);
    assert_eq!(children().trim(), "", "children left behind");
    assert_eq!(fd_count(), fds, "descriptors leaked");
    r
}

fn run(ops: &[Op]) -> Transcript {
    match run_cfg(ops, &HostConfig::default()) {
        Ok(t) => t,
        Err(e) => panic!("run failed: {e}"),
    }
}

fn mmap(p: usize, addr: Addr, len: u64, prot: i32, flags: i32) -> Op {
    Op::Mmap { p, addr, len, prot, flags, fd: FdRef::None, off: 0 }
}

/// A private anonymous read-write mapping at exactly `off` (MAP_FIXED).
fn anon_at(off: u64, pages: u64) -> Op {
    mmap(0, Addr::Off(off), pages * PS, RW, PRIV | libc::MAP_FIXED)
}

fn ret(t: &Transcript, i: usize) -> i64 {
    match &t.steps[i].result {
        OpResult::Ret(v) => *v,
        other => panic!("step {i}: expected Ret, got {other:?}"),
    }
}

fn bytes(t: &Transcript, i: usize) -> &[u8] {
    match &t.steps[i].result {
        OpResult::Bytes(b) => b,
        other => panic!("step {i}: expected Bytes, got {other:?}"),
    }
}

fn snap(t: &Transcript, i: usize, p: usize) -> &ProcSnapshot {
    let s = t.steps[i].snapshot.as_ref().expect("snapshot");
    s.iter().find(|s| s.p == p).expect("process in snapshot")
}

/// The VMA of process `p` after step `i` containing offset `off`.
fn vma(t: &Transcript, i: usize, p: usize, off: u64) -> &VmaSnapshot {
    let a = t.base + off;
    snap(t, i, p).vmas.iter().find(|v| v.start <= a && a < v.end).expect("vma at offset")
}

fn page(t: &Transcript, i: usize, p: usize, off: u64) -> PageInfo {
    let v = vma(t, i, p, off);
    v.pages[((t.base + off - v.start) / PS) as usize]
}

#[test]
fn range_starts_empty_and_unhinted_mmap_lands_at_its_top() {
    let t = run(&[
        Op::Snapshot,
        mmap(0, Addr::NULL, 2 * PS, RW, PRIV),
        mmap(0, Addr::NULL, PS, RW, PRIV),
        // A free hint is used as is (mm/mmap.c: the hint is taken when the
        // gap around it fits).
        mmap(0, Addr::Off(0x10000), PS, RW, PRIV),
        // An occupied hint falls back to the top-down search.
        mmap(0, Addr::Off(0x10000), PS, RW, PRIV),
    ]);
    assert!(t.unhinted_in_range);
    assert_eq!(t.base, DEFAULT_BASE);
    assert!(snap(&t, 0, 0).vmas.is_empty(), "range not empty: {:?}", snap(&t, 0, 0).vmas);
    let top = (t.base + R) as i64;
    assert_eq!(ret(&t, 1), top - 2 * PS as i64);
    assert_eq!(ret(&t, 2), top - 3 * PS as i64);
    assert_eq!(ret(&t, 3), (t.base + 0x10000) as i64);
    assert_eq!(ret(&t, 4), top - 4 * PS as i64);
    // Adjacent anonymous mappings with equal flags merge into one VMA.
    let vmas = &t.final_state[0].vmas;
    assert_eq!(vmas.len(), 2);
    assert_eq!((vmas[0].start, vmas[0].end), (t.base + 0x10000, t.base + 0x11000));
    assert_eq!((vmas[1].start, vmas[1].end), (t.base + R - 4 * PS, t.base + R));
}

#[test]
fn invalid_arguments_are_einval() {
    let t = run(&[
        // mmap(2): EINVAL "length was 0".
        mmap(0, Addr::NULL, 0, RW, PRIV),
        // EINVAL: flags contained none of MAP_PRIVATE, MAP_SHARED.
        mmap(0, Addr::NULL, PS, RW, libc::MAP_ANONYMOUS),
        // EINVAL: offset not page aligned (checked by the kernel, not libc).
        Op::Mmap { p: 0, addr: Addr::NULL, len: PS, prot: RW, flags: PRIV, fd: FdRef::None, off: 1 },
        // munmap(2): EINVAL for an unaligned address and for length 0.
        Op::Munmap { p: 0, addr: Addr::Off(1), len: PS },
        Op::Munmap { p: 0, addr: Addr::Off(0), len: 0 },
        // Unmapping nothing is not an error.
        Op::Munmap { p: 0, addr: Addr::Off(0), len: PS },
        // mprotect(2): EINVAL for an unaligned address; ENOMEM for an
        // unmapped range.
        Op::Mprotect { p: 0, addr: Addr::Off(1), len: PS, prot: libc::PROT_READ },
        Op::Mprotect { p: 0, addr: Addr::Off(0), len: PS, prot: libc::PROT_READ },
        // madvise(2) on an unmapped range: ENOMEM.
        Op::Madvise { p: 0, addr: Addr::Off(0), len: PS, advice: libc::MADV_DONTNEED },
        // mincore(2): EINVAL unaligned, ENOMEM unmapped.
        Op::Mincore { p: 0, addr: Addr::Off(1), len: PS },
        Op::Mincore { p: 0, addr: Addr::Off(0), len: PS },
    ]);
    let expect = [EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, 0, EINVAL, ENOMEM, ENOMEM, EINVAL, ENOMEM];
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(ret(&t, i), *e, "step {i}");
    }
    assert!(t.final_state[0].vmas.is_empty());
}

#[test]
fn anonymous_read_maps_the_zero_page() {
    let t = run(&[
        anon_at(0, 2),
        Op::Load { p: 0, addr: Addr::Off(0), len: 16 },
        Op::Mincore { p: 0, addr: Addr::Off(0), len: 2 * PS },
    ]);
    assert_eq!(ret(&t, 0), t.base as i64);
    assert_eq!(bytes(&t, 1), &[0u8; 16]);
    let pg = page(&t, 1, 0, 0);
    // A read fault on a private anonymous page maps the shared zero page
    // (do_anonymous_page); it is present, not exclusive (vm_normal_page()
    // is NULL for it, so pagemap sets neither PM_MMAP_EXCLUSIVE nor PM_FILE).
    assert!(pg.present && !pg.exclusive && !pg.file_or_shared_anon, "{pg:?}");
    if pfns_visible(&t, "anonymous_read_maps_the_zero_page") {
        assert!(pg.zero_page, "{pg:?}");
        assert_eq!(Some(pg.pfn), t.host.zero_pfn);
        // /proc/kpageflags marks it KPF_ZERO_PAGE (bit 24).
        assert_eq!(pg.kpageflags.map(|f| f >> 24 & 1), Some(1));
    }
    // The untouched page is not present.
    assert!(!page(&t, 1, 0, PS).present);
    // smaps does not count the zero page in Rss (smaps_pte_entry skips
    // pages without a struct page from vm_normal_page).
    let v = vma(&t, 1, 0, 0);
    assert_eq!((v.smaps.size_kb, v.smaps.rss_kb, v.smaps.anonymous_kb), (8, 0, 0));
    // mincore reports the zero-page PTE as resident: [1, 0].
    assert_eq!(bytes(&t, 2), &[1, 0]);
}

#[test]
fn anonymous_write_gives_an_exclusive_private_page() {
    let t = run(&[
        anon_at(0, 1),
        Op::Store { p: 0, addr: Addr::Off(10), bytes: vec![1, 2, 3] },
        Op::Load { p: 0, addr: Addr::Off(8), len: 6 },
    ]);
    assert_eq!(ret(&t, 1), 0);
    assert_eq!(bytes(&t, 2), &[0, 0, 1, 2, 3, 0]);
    let pg = page(&t, 1, 0, 0);
    assert!(pg.present && pg.exclusive && !pg.zero_page && !pg.file_or_shared_anon, "{pg:?}");
    let s = &vma(&t, 1, 0, 0).smaps;
    assert_eq!((s.rss_kb, s.pss_kb, s.private_dirty_kb, s.anonymous_kb, s.shared_dirty_kb), (4, 4, 4, 4, 0));
}

#[test]
fn maps_line_format_and_vm_flags() {
    let t = run(&[
        anon_at(0, 1),
        mmap(0, Addr::Off(0x10000), PS, libc::PROT_NONE, PRIV | libc::MAP_FIXED),
        mmap(0, Addr::Off(0x20000), PS, RW, libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_FIXED),
    ]);
    let b = t.base;
    let v = vma(&t, 2, 0, 0);
    // proc(5): "address perms offset dev inode pathname"; an anonymous
    // mapping has offset 0 (vm_pgoff is the address >> PAGE_SHIFT for anon
    // but maps prints 0 for it), dev 00:00, inode 0 and no path.
    assert_eq!(v.line, format!("{:x}-{:x} rw-p 00000000 00:00 0", b, b + PS));
    assert_eq!((v.perms.as_str(), v.path.as_str(), v.inode), ("rw-p", "", 0));
    // show_smap_vma_flags: rd wr mr mw me ac (VM_ACCOUNT for a writable
    // private mapping).
    assert_eq!(v.smaps.vm_flags, ["rd", "wr", "mr", "mw", "me", "ac"]);
    let n = vma(&t, 2, 0, 0x10000);
    assert_eq!(n.perms, "---p");
    assert_eq!(n.smaps.vm_flags, ["mr", "mw", "me"]);
    // A shared anonymous mapping is backed by a shmem file "/dev/zero".
    let s = vma(&t, 2, 0, 0x20000);
    assert_eq!(s.perms, "rw-s");
    assert_eq!(s.path, "/dev/zero (deleted)");
    assert_eq!(s.smaps.vm_flags, ["rd", "wr", "sh", "mr", "mw", "me", "ms"]);
}

#[test]
fn store_to_read_only_page_is_accerr_and_unmapped_is_maperr() {
    let t = run(&[
        anon_at(0, 2),
        Op::Mprotect { p: 0, addr: Addr::Off(PS), len: PS, prot: libc::PROT_READ },
        Op::Store { p: 0, addr: Addr::Off(PS - 2), bytes: vec![9; 8] },
        Op::Load { p: 0, addr: Addr::Off(PS - 2), len: 8 },
        Op::Load { p: 0, addr: Addr::Off(0x5000), len: 1 },
        Op::Touch { p: 0, addr: Addr::Off(0), len: 4 * PS, write: false },
        Op::Touch { p: 0, addr: Addr::Off(0), len: 2 * PS, write: true },
    ]);
    assert_eq!(ret(&t, 1), 0);
    // The first two bytes land, the third faults: SIGSEGV/SEGV_ACCERR at the
    // first byte of the read-only page (the VMA exists, access not allowed).
    assert_eq!(t.steps[2].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_ACCERR, addr: Addr::Off(PS) });
    assert_eq!(bytes(&t, 3), &[9, 9, 0, 0, 0, 0, 0, 0]);
    // No VMA: SEGV_MAPERR.
    assert_eq!(t.steps[4].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_MAPERR, addr: Addr::Off(0x5000) });
    // A read touch faults at the first page after the mapping.
    assert_eq!(t.steps[5].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_MAPERR, addr: Addr::Off(2 * PS) });
    // A write touch faults on the read-only page.
    assert_eq!(t.steps[6].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_ACCERR, addr: Addr::Off(PS) });
    // mprotect split the VMA in two.
    assert_eq!(snap(&t, 1, 0).vmas.len(), 2);
}

#[test]
fn the_guard_pages_and_odd_addresses() {
    let t = run(&[
        // The page above the range and the one below are PROT_NONE shared
        // guards: SEGV_ACCERR, reported as absolute addresses.
        Op::Load { p: 0, addr: Addr::Off(R), len: 1 },
        Op::Load { p: 0, addr: Addr::Off(0u64.wrapping_sub(1)), len: 1 },
        Op::Load { p: 0, addr: Addr::Abs(0), len: 1 },
        // A kernel address: a user-mode page fault on it is SEGV_MAPERR
        // (arch/x86/mm/fault.c: do_kern_addr_fault -> bad_area_nosemaphore).
        Op::Load { p: 0, addr: Addr::Abs(0xffff_ffff_ffff_f000), len: 1 },
        // A non-canonical address raises #GP: SIGSEGV with si_code SI_KERNEL
        // and si_addr 0 (arch/x86/kernel/traps.c).
        Op::Store { p: 0, addr: Addr::Abs(0x8000_0000_0000_0000), bytes: vec![1] },
    ]);
    let b = t.base;
    assert_eq!(t.steps[0].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_ACCERR, addr: Addr::Abs(b + R) });
    assert_eq!(t.steps[1].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_ACCERR, addr: Addr::Abs(b - 1) });
    assert_eq!(t.steps[2].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_MAPERR, addr: Addr::Abs(0) });
    assert_eq!(
        t.steps[3].result,
        OpResult::Signal { sig: SIGSEGV, code: SEGV_MAPERR, addr: Addr::Abs(0xffff_ffff_ffff_f000) }
    );
    assert_eq!(t.steps[4].result, OpResult::Signal { sig: SIGSEGV, code: libc::SI_KERNEL, addr: Addr::Abs(0) });
}

#[test]
fn fork_shares_pages_until_written() {
    let t = run(&[
        anon_at(0, 1),
        Op::Store { p: 0, addr: Addr::Off(0), bytes: vec![7] },
        Op::Fork { p: 0 },
        Op::Store { p: 1, addr: Addr::Off(0), bytes: vec![8] },
        Op::Load { p: 0, addr: Addr::Off(0), len: 1 },
        Op::Load { p: 1, addr: Addr::Off(0), len: 1 },
    ]);
    assert_eq!(ret(&t, 2), 1, "the child is process 1");
    // After fork the anonymous page is mapped by both (mapcount 2): present,
    // same frame, exclusive in neither; smaps splits it: Shared_Dirty 4 kB,
    // Pss 4/2 = 2 kB each.
    let (a, c) = (page(&t, 2, 0, 0), page(&t, 2, 1, 0));
    assert!(a.present && c.present && !a.exclusive && !c.exclusive, "{a:?} {c:?}");
    assert_eq!(a.pfn, c.pfn);
    for p in [0, 1] {
        let s = &vma(&t, 2, p, 0).smaps;
        assert_eq!((s.rss_kb, s.pss_kb, s.shared_dirty_kb, s.private_dirty_kb), (4, 2, 4, 0), "p{p}");
    }
    // The child's write copies the page (do_wp_page): the child gets a new
    // exclusive frame and the parent's frame is mapped once again, hence
    // exclusive.
    let (a, c) = (page(&t, 3, 0, 0), page(&t, 3, 1, 0));
    assert!(a.exclusive && c.exclusive, "{a:?} {c:?}");
    if pfns_visible(&t, "fork_shares_pages_until_written") {
        assert_ne!(a.pfn, c.pfn, "{a:?} {c:?}");
    }
    assert_eq!(bytes(&t, 4), &[7]);
    assert_eq!(bytes(&t, 5), &[8]);
    assert_eq!(t.final_state.len(), 2);
}

#[test]
fn exit_removes_the_process() {
    let t = run(&[anon_at(0, 1), Op::Fork { p: 0 }, Op::Fork { p: 1 }, Op::Exit { p: 1 }, Op::Snapshot]);
    assert_eq!(ret(&t, 1), 1);
    assert_eq!(ret(&t, 2), 2);
    assert_eq!(ret(&t, 3), 0, "exit status");
    let ps: Vec<usize> = t.final_state.iter().map(|s| s.p).collect();
    assert_eq!(ps, [0, 2]);
    let e = run_cfg(
        &[Op::Fork { p: 0 }, Op::Exit { p: 1 }, Op::Munmap { p: 1, addr: Addr::Off(0), len: PS }],
        &HostConfig::default(),
    );
    assert!(matches!(e, Err(OracleError::NoSuchProcess { step: 2, p: 1 })), "{e:?}");
}

#[test]
fn memfd_shared_mapping_beyond_eof_is_sigbus() {
    let t = run(&[
        Op::MemfdCreate { p: 0, slot: 0, flags: 0 },
        Op::Ftruncate { p: 0, fd: FdRef::Slot(0), len: PS },
        Op::Mmap {
            p: 0,
            addr: Addr::Off(0),
            len: 2 * PS,
            prot: RW,
            flags: libc::MAP_SHARED,
            fd: FdRef::Slot(0),
            off: 0,
        },
        Op::Store { p: 0, addr: Addr::Off(100), bytes: b"hello".to_vec() },
        Op::Load { p: 0, addr: Addr::Off(PS - 1), len: 2 },
        Op::Pread { p: 0, fd: FdRef::Slot(0), off: 100, len: 5 },
        Op::Pwrite { p: 0, fd: FdRef::Slot(0), off: 0, bytes: b"ab".to_vec() },
        Op::Load { p: 0, addr: Addr::Off(0), len: 2 },
        Op::Close { p: 0, fd: FdRef::Slot(0) },
        Op::Load { p: 0, addr: Addr::Off(100), len: 5 },
        Op::Close { p: 0, fd: FdRef::Slot(0) },
    ]);
    assert_eq!(ret(&t, 0), 0);
    assert_eq!(ret(&t, 1), 0);
    assert_eq!(ret(&t, 2), t.base as i64);
    assert_eq!(ret(&t, 3), 0);
    // Page 1 lies wholly beyond EOF: SIGBUS/BUS_ADRERR (mmap(2)).
    assert_eq!(t.steps[4].result, OpResult::Signal { sig: SIGBUS, code: BUS_ADRERR, addr: Addr::Off(PS) });
    assert_eq!(bytes(&t, 5), b"hello");
    assert_eq!(ret(&t, 6), 2);
    assert_eq!(bytes(&t, 7), b"ab");
    // The mapping outlives the descriptor.
    assert_eq!(bytes(&t, 9), b"hello");
    assert_eq!(ret(&t, 10), -(libc::EBADF as i64));
    let v = vma(&t, 3, 0, 0);
    assert_eq!(v.perms, "rw-s");
    assert_eq!(v.path, "/memfd:mmsim (deleted)");
    // A shmem page: pagemap "file-page or shared-anon" bit 61; smaps counts
    // it as Private_Dirty (mapcount 1) and not Anonymous.
    let pg = page(&t, 3, 0, 0);
    assert!(pg.present && pg.file_or_shared_anon && pg.exclusive, "{pg:?}");
    assert_eq!((v.smaps.rss_kb, v.smaps.private_dirty_kb, v.smaps.anonymous_kb), (4, 4, 0));
}

#[test]
fn mincore_after_touching() {
    let t = run(&[
        anon_at(0, 4),
        Op::Touch { p: 0, addr: Addr::Off(0), len: 1, write: true },
        Op::Touch { p: 0, addr: Addr::Off(2 * PS + 5), len: 1, write: false },
        Op::Mincore { p: 0, addr: Addr::Off(0), len: 4 * PS },
        // The length is rounded up to whole pages.
        Op::Mincore { p: 0, addr: Addr::Off(0), len: 2 * PS + 1 },
        Op::Mincore { p: 0, addr: Addr::Off(0), len: 0 },
    ]);
    assert_eq!(bytes(&t, 3), &[1, 0, 1, 0]);
    assert_eq!(bytes(&t, 4), &[1, 0, 1]);
    assert_eq!(bytes(&t, 5), &[] as &[u8]);
    assert!(page(&t, 3, 0, 0).exclusive);
    if pfns_visible(&t, "mincore_after_touching") {
        assert!(page(&t, 3, 0, 2 * PS).zero_page);
    }
}

#[test]
fn madv_dontneed_drops_the_page() {
    let t = run(&[
        anon_at(0, 1),
        Op::Store { p: 0, addr: Addr::Off(0), bytes: vec![0xab] },
        Op::Madvise { p: 0, addr: Addr::Off(0), len: PS, advice: libc::MADV_DONTNEED },
        Op::Load { p: 0, addr: Addr::Off(0), len: 1 },
    ]);
    assert!(page(&t, 1, 0, 0).present);
    assert_eq!(ret(&t, 2), 0);
    // madvise(2): private anonymous pages are zero-fill-on-demand after
    // MADV_DONTNEED.
    assert!(!page(&t, 2, 0, 0).present);
    assert_eq!(vma(&t, 2, 0, 0).smaps.rss_kb, 0);
    assert_eq!(bytes(&t, 3), &[0]);
}

#[test]
fn madv_guard_install_faults_without_splitting_the_vma() {
    let t = run(&[
        anon_at(0, 3),
        Op::Madvise { p: 0, addr: Addr::Off(PS), len: PS, advice: MADV_GUARD_INSTALL },
        Op::Load { p: 0, addr: Addr::Off(PS + 8), len: 1 },
        Op::Store { p: 0, addr: Addr::Off(0), bytes: vec![1] },
        Op::Madvise { p: 0, addr: Addr::Off(PS), len: PS, advice: MADV_GUARD_REMOVE },
        Op::Load { p: 0, addr: Addr::Off(PS + 8), len: 1 },
    ]);
    assert_eq!(ret(&t, 1), 0, "MADV_GUARD_INSTALL (6.13+)");
    // A guard-region PTE makes the fault VM_FAULT_SIGSEGV, reported by x86
    // as a SIGSEGV/SEGV_MAPERR at the address.
    assert_eq!(t.steps[2].result, OpResult::Signal { sig: SIGSEGV, code: SEGV_MAPERR, addr: Addr::Off(PS + 8) });
    // The guard lives in the page table, not in the VMA: one VMA, and
    // pagemap bit 58 (PM_GUARD_REGION, 6.15+) on that page only.
    assert_eq!(snap(&t, 1, 0).vmas.len(), 1);
    assert!(page(&t, 1, 0, PS).guard && !page(&t, 1, 0, PS).present);
    assert!(!page(&t, 1, 0, 0).guard);
    assert_eq!(ret(&t, 3), 0);
    assert_eq!(ret(&t, 4), 0);
    assert!(!page(&t, 4, 0, PS).guard);
    assert_eq!(bytes(&t, 5), &[0]);
}

#[test]
fn mlock_populates_and_counts_locked() {
    let t = run(&[
        anon_at(0, 3),
        Op::Mlock { p: 0, addr: Addr::Off(0), len: 2 * PS },
        Op::Munlock { p: 0, addr: Addr::Off(0), len: 2 * PS },
    ]);
    assert_eq!(ret(&t, 1), 0);
    // mlock splits the VMA, sets VM_LOCKED ("lo") and faults the pages in
    // (write faults: a writable private mapping is populated for write).
    let v = vma(&t, 1, 0, 0);
    assert_eq!((v.start, v.end), (t.base, t.base + 2 * PS));
    assert!(v.has_flag("lo"));
    assert_eq!((v.smaps.locked_kb, v.smaps.rss_kb, v.smaps.anonymous_kb), (8, 8, 8));
    assert!(v.pages.iter().all(|p| p.present && p.exclusive && !p.zero_page));
    // munlock: the VMAs merge again; pages stay.
    assert_eq!(snap(&t, 2, 0).vmas.len(), 1);
    assert_eq!(vma(&t, 2, 0, 0).smaps.locked_kb, 0);
    assert_eq!(vma(&t, 2, 0, 0).smaps.rss_kb, 8);
}

#[test]
fn mseal_makes_munmap_fail_with_eperm() {
    let t = run(&[
        anon_at(0, 1),
        Op::Mseal { p: 0, addr: Addr::Off(0), len: PS, flags: 0 },
        Op::Munmap { p: 0, addr: Addr::Off(0), len: PS },
        Op::Mprotect { p: 0, addr: Addr::Off(0), len: PS, prot: libc::PROT_READ },
        // Flags must be 0.
        Op::Mseal { p: 0, addr: Addr::Off(0), len: PS, flags: 1 },
    ]);
    assert_eq!(ret(&t, 1), 0, "mseal (6.10+)");
    assert_eq!(ret(&t, 2), EPERM);
    assert_eq!(ret(&t, 3), EPERM);
    assert_eq!(ret(&t, 4), EINVAL);
    assert!(vma(&t, 4, 0, 0).has_flag("sl"));
}

#[test]
fn mremap_grows_in_place_and_moves() {
    let t = run(&[
        anon_at(0x10000, 1),
        Op::Store { p: 0, addr: Addr::Off(0x10000), bytes: vec![5] },
        Op::Mremap { p: 0, old: Addr::Off(0x10000), old_len: PS, new_len: 2 * PS, flags: 0, new_addr: Addr::NULL },
        Op::Mremap {
            p: 0,
            old: Addr::Off(0x10000),
            old_len: 2 * PS,
            new_len: 2 * PS,
            flags: libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            new_addr: Addr::Off(0x100000),
        },
        Op::Load { p: 0, addr: Addr::Off(0x100000), len: 1 },
        // Growing without MREMAP_MAYMOVE into an occupied range: ENOMEM.
        anon_at(0x102000, 1),
        Op::Mremap { p: 0, old: Addr::Off(0x100000), old_len: 2 * PS, new_len: 3 * PS, flags: 0, new_addr: Addr::NULL },
    ]);
    assert_eq!(ret(&t, 2), (t.base + 0x10000) as i64);
    assert_eq!(ret(&t, 3), (t.base + 0x100000) as i64);
    assert_eq!(bytes(&t, 4), &[5]);
    assert_eq!(ret(&t, 6), ENOMEM);
    assert_eq!(snap(&t, 3, 0).vmas.len(), 1);
}

#[test]
fn explicit_snapshots_and_serde_round_trip() {
    let cfg = HostConfig { snapshots: SnapshotMode::Explicit, ..Default::default() };
    let t = run_cfg(&[anon_at(0, 1), Op::Snapshot, Op::Store { p: 0, addr: Addr::Off(0), bytes: vec![1] }], &cfg)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(t.steps[0].snapshot.is_none());
    assert!(t.steps[1].snapshot.is_some());
    assert!(t.steps[2].snapshot.is_none());
    assert!(t.final_state[0].vmas[0].pages[0].exclusive);
    let json = serde_json::to_string(&t).unwrap_or_default();
    let back: Transcript = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, t);
}

#[test]
fn oracle_errors() {
    let cfg = HostConfig { range_len: 0, ..Default::default() };
    assert!(matches!(run_cfg(&[], &cfg), Err(OracleError::InvalidConfig(_))));
    // The range must be free: put it over this test binary's code.
    let code = (fd_count as *const () as usize as u64) & !0xfff_ffff;
    let cfg = HostConfig { base: Some(code), range_len: 1 << 28, ..Default::default() };
    let e = run_cfg(&[], &cfg);
    assert!(matches!(e, Err(OracleError::Setup { errno: libc::EEXIST, .. })), "{e:?}");
    let e = run_cfg(&[Op::Load { p: 0, addr: Addr::Off(0), len: 2 << 20 }], &HostConfig::default());
    assert!(matches!(e, Err(OracleError::Limit { step: 0, .. })), "{e:?}");
    let e = run_cfg(&[Op::Munmap { p: 3, addr: Addr::Off(0), len: PS }], &HostConfig::default());
    assert!(matches!(e, Err(OracleError::NoSuchProcess { step: 0, p: 3 })), "{e:?}");
    let cfg = HostConfig { max_procs: 2, ..Default::default() };
    let e = run_cfg(&[Op::Fork { p: 0 }, Op::Fork { p: 0 }], &cfg);
    assert!(matches!(e, Err(OracleError::TooManyProcesses { step: 1, max: 2 })), "{e:?}");
}

#[test]
fn a_hung_worker_is_killed_after_the_timeout() {
    let cfg = HostConfig { op_timeout: Duration::from_millis(100), ..Default::default() };
    // Writing 1 GiB page by page (262144 write faults, each allocating and
    // clearing a page) takes far longer than 100 ms.
    let ops = [
        mmap(0, Addr::Off(0), R, RW, PRIV | libc::MAP_FIXED | libc::MAP_NORESERVE),
        Op::Touch { p: 0, addr: Addr::Off(0), len: R, write: true },
    ];
    let t0 = Instant::now();
    let e = run_cfg(&ops, &cfg);
    assert!(matches!(e, Err(OracleError::Timeout { step: 1, p: 0, .. })), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_worker_that_dies_is_reported() {
    // Unmapping the whole user address space takes the worker's code with
    // it: it dies with SIGSEGV on return from munmap.
    let ops = [Op::Munmap { p: 0, addr: Addr::Abs(PS), len: 0x7fff_ffff_f000 - PS }];
    let e = run_cfg(&ops, &HostConfig::default());
    match e {
        Err(OracleError::WorkerDied { step: 0, p: 0, status, .. }) => assert!(status.contains("signal 11"), "{status}"),
        other => panic!("{other:?}"),
    }
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_op(r: &mut Rng, procs: &mut usize) -> Op {
    let p = r.below(*procs as u64) as usize;
    // Offsets in the top 16 pages of the range (where unhinted mappings go)
    // and, rarely, unaligned.
    let mut off = R - (1 + r.below(16)) * PS;
    if r.below(10) == 0 {
        off += 1 + r.below(PS - 1);
    }
    let addr = Addr::Off(off);
    let len = (1 + r.below(4)) * PS;
    let prot = [libc::PROT_NONE, libc::PROT_READ, RW][r.below(3) as usize];
    match r.below(10) {
        0 | 1 => {
            let (a, f) = match r.below(3) {
                0 => (Addr::NULL, PRIV),
                1 => (addr, PRIV),
                _ => (addr, PRIV | libc::MAP_FIXED),
            };
            mmap(p, a, len, prot, f)
        }
        2 => Op::Munmap { p, addr, len },
        3 => Op::Mprotect { p, addr, len, prot },
        4 => Op::Madvise { p, addr, len, advice: libc::MADV_DONTNEED },
        5 => Op::Load { p, addr, len: 1 + r.below(8) },
        6 => Op::Store { p, addr, bytes: vec![r.below(256) as u8; 1 + r.below(8) as usize] },
        7 => Op::Touch { p, addr, len, write: r.below(2) == 0 },
        8 => Op::Mincore { p, addr, len },
        _ => {
            if *procs < 3 {
                *procs += 1;
                Op::Fork { p }
            } else {
                Op::Mlock { p, addr, len }
            }
        }
    }
}

#[test]
fn two_thousand_tiny_random_sequences() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let n = 2000;
    let t0 = Instant::now();
    let mut total_ops = 0;
    let mut signals = 0;
    for _ in 0..n {
        let mut procs = 1;
        let k = 2 + r.below(4) as usize;
        let mut ops = vec![mmap(0, Addr::NULL, (1 + r.below(8)) * PS, RW, PRIV)];
        for _ in 1..k {
            ops.push(random_op(&mut r, &mut procs));
        }
        total_ops += ops.len();
        let t = run(&ops);
        assert_eq!(t.steps.len(), ops.len());
        signals += t.steps.iter().filter(|s| matches!(s.result, OpResult::Signal { .. })).count();
        // Every snapshot only shows VMAs that meet the range.
        for s in t.steps.iter().filter_map(|s| s.snapshot.as_ref()).flatten() {
            assert!(s.vmas.iter().all(|v| v.end > t.base && v.start < t.base + R));
        }
    }
    let per = t0.elapsed() / n;
    println!(
        "{n} sequences, {total_ops} ops ({signals} signals): {:?} per sequence ({:?} per op incl. snapshot)",
        per,
        t0.elapsed() / total_ops as u32
    );
    // Generous bound (unoptimised build, shared machine); see the report
    // for the measured figure.
    assert!(per < Duration::from_millis(50), "{per:?} per sequence");
}

#[test]
fn unhinted_pmd_multiple_anonymous_mappings_are_thp_aligned() {
    let t = run(&[
        mmap(0, Addr::NULL, PS, RW, PRIV),
        // mm/mmap.c __get_unmapped_area: a private anonymous mapping without
        // hint whose length is a multiple of PMD_SIZE goes through
        // thp_get_unmapped_area_vmflags, so it is 2 MiB aligned.
        mmap(0, Addr::NULL, 2 << 20, RW, PRIV),
        // Not a PMD multiple: plain top-down placement right below.
        mmap(0, Addr::NULL, 3 << 20, RW, PRIV),
        // Shared anonymous mappings use shmem_get_unmapped_area, which only
        // aligns when shmem THP is enabled.
        mmap(0, Addr::NULL, 2 << 20, RW, libc::MAP_SHARED | libc::MAP_ANONYMOUS),
    ]);
    let top = (t.base + R) as i64;
    assert_eq!(ret(&t, 0), top - PS as i64);
    assert_eq!(ret(&t, 1), top - (4 << 20));
    assert_eq!(ret(&t, 2), top - (7 << 20));
    if t.host.thp_shmem_enabled == "never" {
        assert_eq!(ret(&t, 3), top - (9 << 20));
    }
    // The two private mappings are adjacent and merge.
    assert_eq!(vma(&t, 2, 0, R - (5 << 20)).len(), 5 << 20);
}

#[test]
fn mlockall_future_locks_and_populates_new_mappings() {
    let t = run(&[
        Op::Mlockall { p: 0, flags: libc::MCL_CURRENT | libc::MCL_FUTURE },
        mmap(0, Addr::NULL, 2 * PS, RW, PRIV),
        Op::Munlockall { p: 0 },
        mmap(0, Addr::NULL, 2 * PS, RW, PRIV),
    ]);
    if t.host.euid != 0 {
        // Without CAP_IPC_LOCK the worker's own mappings (outside the
        // range) already exceed RLIMIT_MEMLOCK.
        println!("mlockall_future_locks_and_populates_new_mappings: not compared (not root): ret {}", ret(&t, 0));
        return;
    }
    assert_eq!(ret(&t, 0), 0);
    // mlockall(2): MCL_FUTURE locks (and so populates) later mappings.
    let v = vma(&t, 1, 0, R - PS);
    assert!(v.has_flag("lo"));
    assert_eq!((v.smaps.locked_kb, v.smaps.rss_kb), (8, 8));
    assert_eq!(ret(&t, 2), 0);
    // munlockall clears VM_LOCKED (pages stay); the next mapping is not
    // populated and merges with the now-unlocked one.
    let v = vma(&t, 3, 0, R - 3 * PS);
    assert!(!v.has_flag("lo"));
    assert_eq!((v.start, v.end), (t.base + R - 4 * PS, t.base + R));
    assert_eq!((v.smaps.rss_kb, v.smaps.locked_kb), (8, 0));
    assert!(!page(&t, 3, 0, R - 4 * PS).present && !page(&t, 3, 0, R - 3 * PS).present);
}

/// Children of every thread of this process.
fn all_children() -> String {
    let mut out = String::new();
    if let Ok(d) = std::fs::read_dir("/proc/self/task") {
        for t in d.flatten() {
            out += &std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        }
    }
    out
}

#[test]
fn concurrent_runs_from_several_threads() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let fds = fd_count();
    let handles: Vec<_> = (0..4)
        .map(|k| {
            std::thread::spawn(move || {
                for i in 0..50u8 {
                    let ops = [
                        mmap(0, Addr::NULL, PS, RW, PRIV),
                        Op::Store { p: 0, addr: Addr::Off(R - PS), bytes: vec![k, i] },
                        Op::Fork { p: 0 },
                        Op::Load { p: 1, addr: Addr::Off(R - PS), len: 2 },
                    ];
                    let t = run_on_host(&ops, &HostConfig::default()).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(t.steps[3].result, OpResult::Bytes(vec![k, i]));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap_or_else(|_| panic!("thread panicked"));
    }
    assert_eq!(all_children().trim(), "");
    assert_eq!(fd_count(), fds);
}

/// A session runs ops one at a time and reads the worker's /proc files
/// raw: the maps line of an unnamed mapping ends with "0 " (show_map_vma
/// pads with one space when there is no name, fs/proc/task_mmu.c), the
/// smaps block runs from that line to VmFlags, a written page's pagemap
/// entry has PM_PRESENT (bit 63) and an untouched one is 0
/// (Documentation/admin-guide/mm/pagemap.rst); a named memfd shows as
/// "/memfd:NAME (deleted)" (mm/memfd.c prefixes "memfd:"); nothing is left
/// behind when the session is dropped.
#[test]
fn session_step_by_step_with_raw_proc_files() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let fds = fd_count();
    {
        let mut s = HostSession::start(&HostConfig::default()).expect("session");
        let b = s.base();
        assert_eq!(s.exec(&anon_at(0, 2)).unwrap(), OpResult::Ret(b as i64));
        assert_eq!(s.exec(&Op::Store { p: 0, addr: Addr::Off(0), bytes: vec![7] }).unwrap(), OpResult::Ret(0));
        let maps = s.maps_lines(0).unwrap();
        assert_eq!(maps, vec![format!("{:x}-{:x} rw-p 00000000 00:00 0 \n", b, b + 2 * PS)]);
        let blocks = s.smaps_blocks(0).unwrap();
        assert_eq!(blocks.len(), 1);
        assert!(blocks[0].starts_with(&maps[0]), "{}", blocks[0]);
        assert!(blocks[0].contains("\nRss:                   4 kB\n"), "{}", blocks[0]);
        let last = blocks[0].lines().last().unwrap_or("");
        assert!(last.starts_with("VmFlags: rd wr mr mw me ac"), "{last}");
        let pm = s.pagemap_words(0, b, 2).unwrap();
        assert_eq!((pm[0] >> 63, pm[1]), (1, 0), "{pm:#x?}");
        assert_eq!(s.status_kb(0, "VmLck").unwrap(), Some(0));
        // A raw mincore into a vector inside the range.
        assert_eq!(s.syscall(0, libc::SYS_mincore, [b, 2 * PS, b + PS, 0, 0, 0]).unwrap(), 0);
        assert_eq!(s.exec(&Op::Load { p: 0, addr: Addr::Off(PS), len: 2 }).unwrap(), OpResult::Bytes(vec![1, 0]));
        assert_eq!(s.memfd_create_named(0, 3, b"hello").unwrap(), OpResult::Ret(0));
        let fd = FdRef::Slot(3);
        assert_eq!(s.exec(&Op::Ftruncate { p: 0, fd, len: PS }).unwrap(), OpResult::Ret(0));
        let m = Op::Mmap { p: 0, addr: Addr::Off(0x10_0000), len: PS, prot: RW, flags: libc::MAP_SHARED, fd, off: 0 };
        assert_eq!(s.exec(&m).unwrap(), OpResult::Ret((b + 0x10_0000) as i64));
        let maps = s.maps_lines(0).unwrap();
        assert!(maps[1].ends_with(" /memfd:hello (deleted)\n"), "{}", maps[1]);
        assert_eq!(s.exec(&Op::Fork { p: 0 }).unwrap(), OpResult::Ret(1));
        assert_eq!(s.maps_lines(1).unwrap(), maps, "the child has the same mappings");
        assert!(s.snapshot().unwrap().len() == 2);
    }
    assert_eq!(children().trim(), "", "children left behind");
    assert_eq!(fd_count(), fds, "descriptors leaked");
}

/// The Setrlimit and Setuid ops, on the host and in the model. Expected
/// values: kernel/sys.c do_prlimit (`resource >= RLIM_NLIMITS` and
/// `rlim_cur > rlim_max` are -EINVAL, raising the hard limit without
/// CAP_SYS_RESOURCE -EPERM), __sys_setuid (`(uid_t)-1` -EINVAL; without
/// CAP_SETUID only the current uid, else -EPERM), mm/mlock.c do_mlock
/// (over RLIMIT_MEMLOCK without CAP_IPC_LOCK: -ENOMEM).
#[test]
fn setrlimit_and_setuid_ops() {
    let memlock = libc::RLIMIT_MEMLOCK;
    let ops = [
        Op::Setrlimit { p: 0, resource: memlock, cur: Lim::raw(4 * PS), max: Lim::raw(4 * PS) },
        Op::Setuid { p: 0, uid: 65534 },
        anon_at(0, 8),
        Op::Mlock { p: 0, addr: Addr::Off(0), len: 8 * PS },
        Op::Mlock { p: 0, addr: Addr::Off(0), len: 4 * PS },
        Op::Setrlimit { p: 0, resource: memlock, cur: Lim::raw(4 * PS), max: Lim::raw(8 * PS) },
        Op::Setrlimit { p: 0, resource: memlock, cur: Lim::raw(8 * PS), max: Lim::raw(4 * PS) },
        Op::Setrlimit { p: 0, resource: 99, cur: Lim::raw(0), max: Lim::raw(0) },
        Op::Setuid { p: 0, uid: 0 },
        Op::Setuid { p: 0, uid: u32::MAX },
        Op::Setuid { p: 0, uid: 65534 },
    ];
    let t = run(&ops);
    if t.host.euid != 0 {
        println!("setrlimit_and_setuid_ops: not compared (not root): setuid {}", ret(&t, 1));
        return;
    }
    let einval = EINVAL;
    let host: Vec<i64> = (0..ops.len()).map(|i| ret(&t, i)).collect();
    let want = [0, 0, t.base as i64, ENOMEM, 0, EPERM, einval, einval, EPERM, einval, 0];
    assert_eq!(host, want);
    let m = mmsim::oracle::model::run_on_model(&ops, t.base, t.range_len).expect("model run");
    let model: Vec<i64> = (0..ops.len()).map(|i| ret(&m, i)).collect();
    assert_eq!(model, host, "model (left) vs host (right)");
}
