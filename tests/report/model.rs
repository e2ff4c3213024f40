//! The report formats on model-only layouts: the pagemap letters of
//! docs/SCENARIO.md, line breaking and range handling, page-table walks
//! (native and PV), `struct page` dumps, the address-space picture, and
//! robustness against any pid, address, length, domain or frame.
//! Exact host comparisons live in report_host.rs.

use mmsim::arch::x86_64::{PteFlags, TASK_SIZE};
use mmsim::hv::machine::DomId;
use mmsim::kernel::memory::guard_marker;
use mmsim::kernel::mm_types::{VmFlags, Vma, VmaFile};
use mmsim::kernel::mmap::*;
use mmsim::kernel::page::{PageFlags, Pfn};
use mmsim::kernel::variant::Variant;
use mmsim::kernel::{Kernel, Pid};
use mmsim::report::{self, ThpEnabled, pagemap::*};
use mmsim::world::World;

const PS: u64 = 4096;
const RW: u64 = PROT_READ | PROT_WRITE;
const ANON: u64 = MAP_PRIVATE | MAP_ANONYMOUS;
const NOFD: u64 = u64::MAX;

fn native() -> (World, DomId, Pid) {
    let mut w = World::new(65536, Variant::default());
    let d = w.add_domain("host", false, 8192, false).unwrap();
    let (k, _) = w.kh(d).unwrap();
    let p = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).unwrap();
    (w, d, p)
}

fn k(w: &World, d: DomId) -> &Kernel {
    w.kernel(d).unwrap()
}

/// docs/SCENARIO.md's native example: `show maps p` and `show pagemap p a 8K`.
#[test]
fn scenario_native_example() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0, 8192, RW, ANON, NOFD, 0).unwrap();
    assert_eq!(a, 0x7e00_3fff_e000);
    kk.sys_mprotect(hv, p, a + PS, PS, PROT_READ).unwrap();
    assert!(kk.user_write(hv, p, a + PS, b"x").is_err());
    assert_eq!(kk.user_read(hv, p, a, 2).unwrap(), vec![0, 0]);
    assert_eq!(
        report::maps(k(&w, d), p),
        "7e003fffe000-7e003ffff000 rw-p 00000000 00:00 0 \n7e003ffff000-7e0040000000 r--p 00000000 00:00 0 \n"
    );
    assert_eq!(report::pagemap_letters(&w, d, p, a, 8192), "0x7e003fffe000: z.\n");
    // The zero page: present, not a normal page, so neither exclusive nor file.
    let e = report::pagemap_entries(&w, d, p, a, 8192);
    assert_eq!(e[0], PM_PRESENT | 1, "PFN 1 is the model's zero page");
    assert_eq!(e[1], 0);
}

/// Every letter of the table, and 64 letters a line.
#[test]
fn letters_kinds_and_lines() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0x7e00_0000_0000, 70 * PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
    kk.user_write(hv, p, a, b"x").unwrap(); // X, later p
    kk.user_write(hv, p, a + PS, b"x").unwrap(); // X
    kk.user_read(hv, p, a + 2 * PS, 1).unwrap(); // z
    kk.user_write(hv, p, a + 65 * PS, b"x").unwrap(); // p on line 2 after fork
    let slot = kk.pte_alloc(p, a + 3 * PS).unwrap();
    kk.internals_mut().pt.set(slot, guard_marker()); // g
    let fd = kk.sys_memfd_create(p, "m").unwrap();
    kk.sys_ftruncate(hv, p, fd, 2 * PS).unwrap();
    let f = kk.sys_mmap(hv, p, 0x7e00_0010_0000, 2 * PS, RW, MAP_SHARED | MAP_FIXED, fd, 0).unwrap();
    kk.user_write(hv, p, f, b"x").unwrap(); // F, later f: the child refaults it
    let child = kk.sys_fork(hv, p).unwrap();
    kk.user_read(hv, child, f, 1).unwrap();
    kk.user_write(hv, p, a + PS, b"y").unwrap(); // COW breaks: X again in p
    let letters = report::pagemap_letters(&w, d, p, a, 70 * PS);
    let line1 = format!("0x7e0000000000: pXzg{}", ".".repeat(60));
    let line2 = "0x7e0000040000: .p....";
    assert_eq!(letters, format!("{line1}\n{line2}\n"));
    assert_eq!(report::pagemap_letters(&w, d, p, f, 2 * PS), "0x7e0000100000: f.\n");
    assert_eq!(report::pagemap_letters(&w, d, child, f, 2 * PS), "0x7e0000100000: f.\n");
    // A range that starts before the VMA and ends after it.
    assert_eq!(report::pagemap_letters(&w, d, p, f - 2 * PS, 5 * PS), "0x7e00000fe000: ..f..\n");
    // Unaligned address and length cover the pages they touch.
    assert_eq!(report::pagemap_letters(&w, d, p, a + PS + 5, 1), "0x7e0000001000: X\n");
    assert_eq!(report::pagemap_letters(&w, d, p, a + PS - 1, 2), "0x7e0000000000: pX\n");
    assert_eq!(report::pagemap_letters(&w, d, p, a, 0), "");
    let e = report::pagemap_entries(&w, d, p, f, PS);
    assert_eq!(e[0] & !PM_PFRAME_MASK, PM_PRESENT | PM_FILE, "mapped twice: not exclusive");
}

/// Special PTEs without a page read `s`, a page with PG_foreign `G`, and a
/// PTE `vm_normal_page()` calls bad `!`: built by hand, as the drivers would.
#[test]
fn letters_for_special_foreign_and_bad() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0x7e00_0000_0000, 4 * PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
    kk.mm_mut(p).unwrap().vma_at_mut(a).unwrap().flags |= VmFlags::PFNMAP | VmFlags::IO;
    let s = kk.pte_alloc(p, a).unwrap();
    kk.internals_mut()
        .pt
        .set(s, mmsim::arch::x86_64::Pte::new(0x100, PteFlags::PRESENT | PteFlags::USER | PteFlags::SPECIAL));
    let b = kk.sys_mmap(hv, p, 0x7e00_0010_0000, 2 * PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
    let s = kk.pte_alloc(p, b).unwrap();
    // Special outside PFNMAP/MIXEDMAP and not the zero page: bad.
    kk.internals_mut()
        .pt
        .set(s, mmsim::arch::x86_64::Pte::new(0x100, PteFlags::PRESENT | PteFlags::USER | PteFlags::SPECIAL));
    let s = kk.pte_alloc(p, b + PS).unwrap();
    let pfn = kk.alloc_page().unwrap();
    kk.internals_mut().mem.page_mut(pfn).flags |= PageFlags::FOREIGN;
    kk.internals_mut().pt.set(s, mmsim::arch::x86_64::Pte::new(pfn.0, PteFlags::PRESENT | PteFlags::USER));
    assert_eq!(report::pagemap_letters(&w, d, p, a, PS), "0x7e0000000000: s\n");
    assert_eq!(report::pagemap_letters(&w, d, p, b, 2 * PS), "0x7e0000100000: !G\n");
    // The report does not log what it looks at.
    assert!(k(&w, d).dmesg.is_empty());
    let walk = report::pagetable_walk(&w, d, p, a);
    assert!(walk.contains("SPECIAL NX") || walk.contains("SPECIAL"), "{walk}");
    assert!(walk.contains("<- special"), "{walk}");
    assert!(walk.contains("vm_normal_page: none (special PTE in a PFNMAP/MIXEDMAP VMA)"), "{walk}");
}

/// Whatever the pid, address or length: no panic, sensible text.
#[test]
fn any_input_is_fine() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0, PS, RW, ANON, NOFD, 0).unwrap();
    kk.user_write(hv, p, a, b"x").unwrap();
    assert_eq!(report::maps(k(&w, d), 999), "");
    assert_eq!(report::smaps(&w, d, 999), "");
    assert_eq!(report::smaps(&w, 42, p), "");
    assert_eq!(report::pagemap_letters(&w, 42, p, a, PS), "no domain 42\n");
    assert_eq!(report::pagemap_letters(&w, d, 999, a, PS), "pid 999: no such process\n");
    assert!(report::pagemap_entries(&w, d, 999, a, PS).is_empty());
    assert!(report::pagemap_entries(&w, 42, p, a, PS).is_empty());
    assert_eq!(report::pagetable_walk(&w, d, 999, a), "pid 999: no such process\n");
    assert!(report::pagetable_walk(&w, d, p, u64::MAX).contains("not a user address"));
    assert_eq!(report::pagetable_walk(&w, 42, p, a), "no domain 42\n");
    assert_eq!(report::page(&w, 42, 5), "no domain 42\n");
    assert!(report::page(&w, d, u64::MAX).contains("invalid (beyond the memmap"));
    // Lengths that overflow or exceed the cap.
    let l = report::pagemap_letters(&w, d, p, a, u64::MAX);
    assert!(l.starts_with(&format!("{a:#014x}: X")), "{}", &l[..80]);
    let lines: Vec<&str> = l.lines().collect();
    assert_eq!(lines.len() as u64, MAX_PAGES / 64 + 1);
    assert!(lines[lines.len() - 1].starts_with("... ") && lines[lines.len() - 1].ends_with(" more pages not shown"));
    assert_eq!(report::pagemap_entries(&w, d, p, a, u64::MAX).len() as u64, MAX_PAGES);
    assert!(report::pagemap_entries(&w, d, p, u64::MAX - 5, 100).is_empty());
    assert_eq!(report::pagemap_entries(&w, d, p, TASK_SIZE - PS, 10 * PS).len(), 1);
    assert!(report::address_space_picture(k(&w, d), p, a, a, 10).contains("empty range"));
    assert!(report::address_space_picture(k(&w, d), 999, a, a + PS, 10).contains("no such process"));
    assert!(!report::address_space_picture(k(&w, d), p, 0, u64::MAX, 0).is_empty());
}

/// The walk of a normal anonymous page, line by line.
#[test]
fn pagetable_walk_native() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0, 2 * PS, RW, ANON, NOFD, 0).unwrap();
    kk.user_write(hv, p, a + PS, b"x").unwrap();
    let walk = report::pagetable_walk(&w, d, p, a + PS + 123);
    let lines: Vec<&str> = walk.lines().collect();
    assert_eq!(lines.len(), 7, "{walk}");
    assert_eq!(lines[0], format!("pid {p} addr {:#x}: vma 7e003fffe000-7e0040000000 rw-p", a + PS + 123));
    // PFN 2 is the PGD, 3 the slab page of the VMA (kernel/slab.rs), 4 the PUD.
    assert!(
        lines[1]
            .starts_with("PGD[252] table pfn 0x2: entry 0x0000000000004067 -> pfn 0x4 PRESENT RW USER ACCESSED DIRTY"),
        "{walk}"
    );
    assert!(lines[2].starts_with("PUD[0] "), "{walk}");
    assert!(lines[3].starts_with("PMD[511] "), "{walk}");
    assert!(lines[4].starts_with("PTE[511] ") && lines[4].ends_with("PRESENT RW USER ACCESSED DIRTY NX"), "{walk}");
    assert!(
        lines[5].starts_with("vm_normal_page: page pfn 0x")
            && lines[5].contains("(anon, refcount 1, mapcount 1, flags"),
        "{walk}"
    );
    assert!(lines[6].starts_with("machine frame 0x") && lines[6].ends_with("owned by d0"), "{walk}");
    // An address without a PTE: the walk stops at the empty entry.
    let walk = report::pagetable_walk(&w, d, p, a);
    assert!(walk.lines().last().unwrap().ends_with("(none)"), "{walk}");
    let walk = report::pagetable_walk(&w, d, p, 0x1000);
    assert!(walk.starts_with(&format!("pid {p} addr 0x1000: no vma\nPGD[0] ")), "{walk}");
}

/// In a PV guest entries hold MFNs: the walk shows each with the PFN the
/// guest makes of it; pagemap reports the guest's PFN.
#[test]
fn pagetable_walk_and_pagemap_pv() {
    let mut w = World::new(65536, Variant::default());
    let _dom0 = w.add_domain("dom0", true, 4096, true).unwrap();
    let d = w.add_domain("domU", true, 4096, false).unwrap();
    let (kk, hv) = w.kh(d).unwrap();
    let p = kk.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).unwrap();
    let a = kk.sys_mmap(hv, p, 0, PS, RW, ANON, NOFD, 0).unwrap();
    kk.user_write(hv, p, a, b"x").unwrap();
    let kk = k(&w, d);
    let pte = kk.page_tables().pte(kk.mm(p).unwrap().pgd, a);
    let mfn = pte.frame();
    let pfn = kk.pte_pfn(&w.hv, pte).0;
    assert_ne!(mfn, pfn, "domU's frames are not identity mapped");
    let walk = report::pagetable_walk(&w, d, p, a);
    assert!(walk.contains(&format!("-> mfn {mfn:#x} (pfn {pfn:#x}) PRESENT RW USER")), "{walk}");
    assert!(walk.contains(&format!("machine frame {mfn:#x} owned by d{d}")), "{walk}");
    assert!(walk.lines().nth(1).unwrap().starts_with("PGD[252] table mfn 0x"), "{walk}");
    let e = report::pagemap_entries(&w, d, p, a, PS);
    assert_eq!(e[0], PM_PRESENT | PM_MMAP_EXCLUSIVE | pfn);
    let pg = report::page(&w, d, pfn);
    assert!(pg.contains(&format!("p2m: {mfn:#x} -> mfn {mfn:#x}, machine owner d{d}, m2p -> pfn {pfn:#x}")), "{pg}");
    assert!(mmsim::invariants::mm::check(&w).is_empty());
}

/// `show page` of an anonymous page, a free one, and the zero page.
#[test]
fn page_dump() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0, PS, RW, ANON, NOFD, 0).unwrap();
    kk.user_write(hv, p, a, b"x").unwrap();
    let pfn = kk.pte_pfn(hv, kk.page_tables().pte(kk.mm(p).unwrap().pgd, a));
    let s = report::page(&w, d, pfn.0);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines[0],
        format!("d{d} pfn {:#x}: refcount 1 mapcount 1 mapping anon_vma 1 index {:#x} private 0x0", pfn.0, a >> 12)
    );
    assert_eq!(lines[1], "flags: uptodate|lru|swapbacked|anon_exclusive");
    assert_eq!(lines[2], format!("p2m: {:#x} -> mfn {:#x}, machine owner d{d}, m2p -> pfn {:#x}", pfn.0, pfn.0, pfn.0));
    assert_eq!(lines[3], "gup: 0 gets, 0 pins");
    assert!(report::page(&w, d, 1).starts_with(
        "d0 pfn 0x1: refcount 1 mapcount 0 mapping none index 0x0 private 0x0 (zero page)\nflags: reserved\n"
    ));
    assert!(report::page(&w, d, 0x1000).contains("flags: buddy"));
}

/// The picture: one column a page, then scaled with `*` where VMAs share a
/// column; the legend names each VMA.
#[test]
fn address_space_picture() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let b = 0x7e00_0000_0000u64;
    kk.sys_mmap(hv, p, b, 4 * PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
    kk.sys_mprotect(hv, p, b + 2 * PS, 2 * PS, PROT_READ).unwrap();
    kk.sys_mmap(hv, p, b + 6 * PS, 2 * PS, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, NOFD, 0).unwrap();
    let pic = report::address_space_picture(k(&w, d), p, b, b + 10 * PS, 80);
    assert_eq!(
        pic,
        "0x7e0000000000-0x7e000000a000, 1 column = 1 page\n\
         AABB  CC  \n\
         A 7e0000000000-7e0000002000 rw-p\n\
         B 7e0000002000-7e0000004000 r--p\n\
         C 7e0000006000-7e0000008000 rw-s /dev/zero (deleted)\n"
    );
    let pic = report::address_space_picture(k(&w, d), p, b, b + 10 * PS, 4);
    // Columns of 3 pages: AAB, B.., CC., . -> "*BC ".
    assert_eq!(pic.lines().nth(1), Some("*BC "), "{pic}");
    assert!(pic.starts_with("0x7e0000000000-0x7e000000a000, 1 column = 3 pages\n"));
}

/// A device mapping shows the device's (major, minor, ino) and its offset;
/// heap naming follows the kernel's rule on start_brk/brk.
#[test]
fn maps_device_and_heap() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let mut v = Vma::anon(
        0x7e00_0000_0000,
        0x7e00_0000_2000,
        VmFlags::READ | VmFlags::WRITE | VmFlags::SHARED | VmFlags::MAYSHARE,
    );
    v.pgoff = 0x10;
    v.file = Some(VmaFile::Device { name: "/dev/xen/gntdev".into(), dev: (10, 0x7c), ino: 1234 });
    kk.mm_mut(p).unwrap().insert(v);
    kk.sys_brk(hv, p, 0x5555_0000_1000).unwrap();
    assert_eq!(
        report::maps(k(&w, d), p),
        format!(
            "{:<73}[heap]\n{:<73}/dev/xen/gntdev\n",
            "555500000000-555500001000 rw-p 00000000 00:00 0", "7e0000000000-7e0000002000 rw-s 00010000 0a:7c 1234"
        )
    );
}

/// LazyFree: an anonymous page without PG_swapbacked, clean in PTE and
/// page (what MADV_FREE leaves). Locked follows VM_LOCKED. THP policies.
#[test]
fn smaps_lazyfree_locked_and_thp_policies() {
    let (mut w, d, p) = native();
    let (kk, hv) = w.kh(d).unwrap();
    let a = kk.sys_mmap(hv, p, 0x7e00_0000_0000, 2 * PS, RW, ANON | MAP_FIXED, NOFD, 0).unwrap();
    kk.user_write(hv, p, a, b"x").unwrap();
    kk.user_write(hv, p, a + PS, b"x").unwrap();
    let slot = kk.page_tables().lookup(kk.mm(p).unwrap().pgd, a).unwrap();
    let pte = kk.page_tables().get(slot);
    kk.internals_mut().pt.set(slot, pte.clear(PteFlags::DIRTY));
    let pfn = kk.pte_pfn(hv, pte);
    kk.internals_mut().mem.page_mut(pfn).flags.remove(PageFlags::SWAPBACKED);
    kk.mm_mut(p).unwrap().vma_at_mut(a).unwrap().flags |= VmFlags::LOCKED;
    let s = report::smaps(&w, d, p);
    for want in [
        "Rss:                   8 kB",
        "Private_Clean:         4 kB",
        "Private_Dirty:         4 kB",
        "Pss_Dirty:             4 kB",
        "LazyFree:              4 kB",
        "Locked:                8 kB",
        "VmFlags: rd wr mr mw me lo ac \n",
    ] {
        assert!(s.contains(want), "{want:?} in\n{s}");
    }
    let mut v = Vma::anon(0x20_0000, 0x60_0000, VmFlags::READ | VmFlags::WRITE);
    assert!(report::thp_eligible(&v, ThpEnabled::Always));
    assert!(!report::thp_eligible(&v, ThpEnabled::Madvise));
    assert!(!report::thp_eligible(&v, ThpEnabled::Never));
    v.flags |= VmFlags::HUGEPAGE;
    assert!(report::thp_eligible(&v, ThpEnabled::Madvise));
    v.flags |= VmFlags::NOHUGEPAGE;
    assert!(!report::thp_eligible(&v, ThpEnabled::Always));
    let v = Vma::anon(0x20_1000, 0x40_1000, VmFlags::READ | VmFlags::HUGEPAGE);
    assert!(!report::thp_eligible(&v, ThpEnabled::Always), "no aligned 2M block inside");
    let _ = Pfn(0);
}
