//! /dev/xen/privcmd: IOCTL_PRIVCMD_MMAPBATCH_V2 in a PV guest
//! (drivers/xen/privcmd.c `privcmd_mmap`, `privcmd_ioctl_mmap_batch`;
//! arch/x86/xen/mmu_pv.c `xen_remap_pfn`; Xen `do_mmu_update`,
//! `get_pg_owner`, `xsm_mmu_update`, `get_page_from_l1e`).

use super::common::*;
use mmsim::drivers::privcmd::{IOCTL_PRIVCMD_MMAPBATCH_V2, PRIVCMD_PATH};
use mmsim::kernel::errno::Errno;
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::memory::VmFault;
use mmsim::kernel::mm_types::VmFlags;
use mmsim::kernel::mmap::*;
use mmsim::kernel::variant::VariantKind;

const DOMU: u64 = 1;

fn batch(x: &mut X, pid: u32, fd: u64, addr: u64, dom: u64, frames: &[u64]) -> Result<u64, Errno> {
    x.ioctl(
        pid,
        fd,
        IOCTL_PRIVCMD_MMAPBATCH_V2,
        &[IoctlArg::Int(addr), IoctlArg::Int(dom), IoctlArg::List(frames.to_vec())],
    )
}

/// domU pages filled 0x21.., their MFNs; qemu opens privcmd and mmaps
/// `n` pages shared.
fn setup_n(n: u64) -> (X, Vec<u64>, Vec<u64>, u64, u64) {
    let mut x = setup(variant(VariantKind::FindSpecialPage, None));
    let ps: Vec<u64> = (0..n).map(|i| x.grant_page(0x21 + i as u8, false).0).collect();
    let mfns: Vec<u64> = ps.iter().map(|&p| x.w.pfn_to_mfn(x.domu, p).unwrap()).collect();
    let q = x.qemu;
    let fd = x.open(q, PRIVCMD_PATH, O_RDWR).unwrap();
    let a = x.mmap_shared(q, n * PS, fd, 0).unwrap();
    (x, ps, mfns, fd, a)
}

#[test]
fn mmapbatch_maps_foreign_frames() {
    let (mut x, ps, mfns, fd, a) = setup_n(2);
    let q = x.qemu;
    let v = x.w.kernel(x.dom0).unwrap().mm(q).unwrap().vma_at(a).unwrap().flags;
    assert!(v.contains(VmFlags::IO | VmFlags::PFNMAP | VmFlags::DONTCOPY | VmFlags::DONTEXPAND | VmFlags::DONTDUMP));
    assert_eq!(x.load(q, a, 1).unwrap_err().fault, VmFault::SigBus, "privcmd_fault: no demand paging");
    assert_eq!(batch(&mut x, q, fd, a, DOMU, &mfns), Ok(0));
    assert_eq!(x.w.privcmd_errors(x.dom0, q, fd), Ok(vec![0, 0]));
    assert_eq!(x.load(q, a + PS, 2).unwrap(), vec![0x22, 0x22]);
    x.store(q, a, b"dom0 was here").unwrap();
    assert_eq!(x.w.read_page(x.domu, ps[0], 0, 4).unwrap(), b"dom0");
    let (k, _) = x.w.kh(x.dom0).unwrap();
    let pte = k.page_tables().pte(k.mm(q).unwrap().pgd, a);
    assert!(pte.special() && pte.frame() == mfns[0]);
    let v = x.check();
    assert!(v.is_empty(), "privileged foreign mappings are allowed: {v:#?}");
    // GUP refuses VM_IO|VM_PFNMAP: O_DIRECT cannot use it (check_vma_flags).
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    assert_eq!(x.pread(q, d, a, 4096, 0), Err(Errno::EFAULT));
    assert_eq!(x.pwrite(q, d, a, 4096, 0), Err(Errno::EFAULT));
    // Fork: VM_DONTCOPY. Munmap: the mapping and its record go.
    let c = x.fork(q).unwrap();
    assert_eq!(x.load(c, a, 1).unwrap_err().fault, VmFault::MapErr);
    assert_eq!(x.munmap(q, a, 2 * PS), Ok(0));
    assert!(x.w.hv.foreign_ptes.is_empty());
    assert!(x.check().is_empty());
}

#[test]
fn mmapbatch_per_frame_errors() {
    let (mut x, _ps, mfns, fd, a) = setup_n(4);
    let q = x.qemu;
    let dom0_frame = x.w.pfn_to_mfn(x.dom0, 100).unwrap();
    // A dom0 frame named as domU's: get_page_from_l1e "could_not_pin" is
    // -EBUSY; past machine memory -EPERM (I/O space).
    let frames = [mfns[0], dom0_frame, 70_000, mfns[3]];
    assert_eq!(batch(&mut x, q, fd, a, DOMU, &frames), Ok(0), "errors are per frame");
    assert_eq!(x.w.privcmd_errors(x.dom0, q, fd), Ok(vec![0, -16, -1, 0]));
    assert_eq!(x.load(q, a + PS, 1).unwrap_err().fault, VmFault::SigBus);
    assert_eq!(x.load(q, a + 3 * PS, 1).unwrap(), vec![0x24]);
    // The VMA is now locked: a later call must lie inside, over holes only.
    assert_eq!(batch(&mut x, q, fd, a, DOMU, &[mfns[1]]), Err(Errno::EINVAL), "already mapped");
    assert_eq!(batch(&mut x, q, fd, a + PS, DOMU, &[mfns[1]]), Ok(0));
    assert_eq!(x.load(q, a + PS, 1).unwrap(), vec![0x22]);
    assert_eq!(batch(&mut x, q, fd, a + 3 * PS, DOMU, &[mfns[1], mfns[1]]), Err(Errno::EINVAL), "past the end");
    assert!(x.check().is_empty());
}

#[test]
fn mmapbatch_range_and_domain_checks() {
    let (mut x, _ps, mfns, fd, a) = setup_n(2);
    let q = x.qemu;
    let d = x.domu as u64;
    assert_eq!(batch(&mut x, q, fd, a, d, &[]), Err(Errno::EINVAL), "num 0");
    assert_eq!(batch(&mut x, q, fd, a, d, &mfns[..1]), Err(Errno::EINVAL), "first call must cover the VMA");
    assert_eq!(batch(&mut x, q, fd, a + PS, d, &mfns), Err(Errno::EINVAL));
    assert_eq!(batch(&mut x, q, fd, 0x1000, d, &mfns), Err(Errno::EINVAL), "not a privcmd VMA");
    assert_eq!(batch(&mut x, q, fd, u64::MAX, d, &mfns), Err(Errno::EINVAL));
    // Unknown domain: get_pg_owner -> -ESRCH per frame.
    assert_eq!(batch(&mut x, q, fd, a, 77, &mfns), Ok(0));
    assert_eq!(x.w.privcmd_errors(x.dom0, q, fd), Ok(vec![-3, -3]));
    assert_eq!(x.ioctl(q, fd, 0x5050, &[]), Err(Errno::ENOTTY));
    assert!(x.check().is_empty());
}

#[test]
fn unprivileged_domain_cannot_map_foreign_frames() {
    let mut x = setup(variant(VariantKind::FindSpecialPage, None));
    let p0 = x.w.alloc_page(x.dom0).unwrap();
    let m0 = x.w.pfn_to_mfn(x.dom0, p0).unwrap();
    let (k, hv) = x.w.kh(x.domu).unwrap();
    let pid = k.spawn(0, DEFAULT_MMAP_BASE, 0x5555_5555_0000).unwrap();
    let fd = k.sys_open(hv, pid, PRIVCMD_PATH, O_RDWR).unwrap();
    let a = k.sys_mmap(hv, pid, 0, PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0).unwrap();
    let r = k.sys_ioctl(
        hv,
        pid,
        fd,
        IOCTL_PRIVCMD_MMAPBATCH_V2,
        &[IoctlArg::Int(a), IoctlArg::Int(0), IoctlArg::List(vec![m0])],
    );
    assert_eq!(r, Ok(0));
    assert_eq!(x.w.privcmd_errors(x.domu, pid, fd), Ok(vec![-1]), "xsm_mmu_update: -EPERM");
    assert!(x.check().is_empty());
}
