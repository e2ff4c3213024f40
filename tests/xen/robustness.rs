//! No panic on any argument: every Xen-side call of the world and the
//! drivers with extreme values (huge refs and offsets, unknown domids,
//! counts of 0 and 2^32), in every kernel variant, then the invariants.
//! Only "returns something" is asserted; the values are tested elsewhere.

use super::common::*;
use mmsim::drivers::gntdev::*;
use mmsim::drivers::privcmd::{IOCTL_PRIVCMD_MMAPBATCH_V2, PRIVCMD_PATH};
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::mmap::*;
use mmsim::kernel::variant::{UnmapPolicy, Variant};
use mmsim::world::xen::Iocb;

const BIG: [u64; 9] = [0, 1, 7, 8, 511, 512, 1 << 32, 1 << 44, u64::MAX];

/// A small deterministic generator (no external crates in the loop).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 17
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn sweep(v: Variant, seed: u64) {
    let mut x = setup(v);
    let mut r = Lcg(seed);
    let (q, d0, du) = (x.qemu, x.dom0, x.domu);
    for dom in [d0, du, 2, 0xffff] {
        for &n in &BIG {
            let _ = x.w.free_page(dom, n);
            let _ = x.w.write_page(dom, n, r.pick(&BIG), b"xy");
            let _ = x.w.read_page(dom, n, r.pick(&BIG), r.pick(&BIG));
            let _ = x.w.gnttab_grant_foreign_access(dom, n, r.pick(&[0u16, 1, 2, 0x7ff4, 0xffff]), n & 1 == 1);
            let _ = x.w.gnttab_end_foreign_access(dom, n);
            let _ = x.w.pfn_to_mfn(dom, n);
        }
        let _ = x.w.alloc_page(dom);
    }
    let (_p, g) = x.grant_page(0x5a, false);
    let (_p, g_ro) = x.grant_page(0x5a, true);
    let _ = x.w.disk_read(x.disk, u64::MAX - 3, u64::MAX);
    let _ = x.w.disk_write(x.disk, u64::MAX, b"z");
    let gd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let pd = x.open(q, PRIVCMD_PATH, O_RDWR).unwrap();
    let disk = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    let mut offs = Vec::new();
    let refs = [g, g, g, g, g, g, g, g, g_ro, 0, 9, 512, 1 << 32, u64::MAX];
    for i in 0..60 {
        let n = r.pick(&[1usize, 1, 1, 2, 3]);
        let list: Vec<u64> = (0..n).map(|_| r.pick(&refs)).collect();
        let dom = r.pick(&[du as u64, du as u64, du as u64, du as u64, d0 as u64, 77, 0xffff_ffff, u64::MAX]);
        let m = x.ioctl(q, gd, IOCTL_GNTDEV_MAP_GRANT_REF, &[IoctlArg::Int(dom), IoctlArg::List(list)]);
        if let Ok(off) = m {
            offs.push((off, n as u64));
        }
        let (off, cnt) = if i % 4 == 3 { offs.first() } else { offs.last() }.copied().unwrap_or((0, 1));
        let rw = PROT_READ | PROT_WRITE;
        let prot = r.pick(&[rw, rw, rw, PROT_READ, 0]);
        let flags = r.pick(&[MAP_SHARED, MAP_SHARED, MAP_SHARED | MAP_POPULATE, MAP_PRIVATE]);
        let len = r.pick(&[cnt * PS, cnt * PS, cnt * PS, PS, 0, u64::MAX]);
        let mm = x.mmap(q, 0, len, prot, flags, gd, r.pick(&[off, off, off, off + PS, !0xfff]));
        if let Ok(a) = mm {
            let _ = x.pread(q, disk, a, r.pick(&[512, 4096, 8192]), 0);
            let _ = x.pwrite(q, disk, a + r.pick(&[0, 512]), 512, 0);
            if let Ok(req) = x.io_submit(
                q,
                disk,
                r.next() & 1 == 1,
                a,
                r.pick(&[512, 4096, u64::MAX]),
                r.pick(&[0, 512, u64::MAX >> 1]),
            ) {
                match r.next() % 3 {
                    0 => {
                        let _ = x.munmap(q, a + r.pick(&[0, PS]), PS);
                        let _ = x.io_complete(q, req);
                    }
                    1 => {
                        let _ = x.io_complete(q, req);
                    }
                    _ => {}
                }
            }
            let _ = x.ioctl(q, gd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &[IoctlArg::Int(a)]);
            if r.next().is_multiple_of(2) {
                let _ = x.munmap(q, a, r.pick(&[PS, 2 * PS, u64::MAX]));
            }
        }
        let _ = x.ioctl(
            q,
            gd,
            IOCTL_GNTDEV_SET_UNMAP_NOTIFY,
            &[
                IoctlArg::Int(r.pick(&[off, off + 5, u64::MAX])),
                IoctlArg::Int(r.pick(&[0, 1, 2, 3, u64::MAX])),
                IoctlArg::Int(r.pick(&BIG)),
            ],
        );
        let _ = x.ioctl(
            q,
            gd,
            IOCTL_GNTDEV_UNMAP_GRANT_REF,
            &[IoctlArg::Int(r.pick(&[off, u64::MAX])), IoctlArg::Int(r.pick(&[cnt, 0, 1 << 32, u64::MAX]))],
        );
        let _ = x.ioctl(q, gd, r.pick(&[0, u64::MAX, IOCTL_GNTDEV_MAP_GRANT_REF]), &[]);
        x.w.run_deferred_work();
    }
    // privcmd with extremes.
    if let Ok(a) = x.mmap(q, 0, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, pd, 0) {
        for _ in 0..6 {
            let frames: Vec<u64> = (0..r.pick(&[0u64, 1, 2, 3])).map(|_| r.pick(&BIG)).collect();
            let args = [
                IoctlArg::Int(r.pick(&[a, a + PS, 0, u64::MAX])),
                IoctlArg::Int(r.pick(&[du as u64, 0, 77, u64::MAX])),
                IoctlArg::List(frames),
            ];
            let _ = x.ioctl(q, pd, IOCTL_PRIVCMD_MMAPBATCH_V2, &args);
        }
        let _ = x.pread(q, disk, a, 4096, 0);
        let _ = x.load(q, a, 8);
    }
    for &n in &BIG {
        let _ = x.w.io_complete(d0, q, n);
        let _ = x.w.io_submit(d0, q, n, Iocb { write: false, addr: n, len: n, off: n });
        let _ = x.w.io_submit(d0, 999, disk, Iocb { write: false, addr: n, len: n, off: n });
    }
    let c = x.fork(q).unwrap();
    let _ = x.exit(c);
    let _ = x.check();
    let _ = x.w.show_grants(d0);
    let _ = x.w.show_grants(du);
    let _ = x.exit(q);
    for _ in 0..5 {
        x.w.run_deferred_work();
    }
    let _ = x.check();
}

#[test]
fn no_panic_on_any_argument() {
    for kind in Variant::ALL {
        for unmap in [UnmapPolicy::Deferred, UnmapPolicy::Immediate] {
            for seed in 0..6 {
                sweep(variant(kind, Some(unmap)), seed);
            }
        }
    }
}
