//! Where the PV backend loop of `benches/xen.rs` spends its time, phase by
//! phase (map ioctl, mmap, O_DIRECT pread, munmap, unmap ioctl, deferred
//! work): `cargo run --release --example xen_phases`.

use mmsim::drivers::gntdev::{IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF};
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::mmap::{MAP_SHARED, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use std::time::Instant;
fn main() {
    const N: u64 = 11;
    let mut w = World::new(65536, Variant::default());
    let dom0 = w.add_xen_domain("dom0", true, 8192, true).expect("setup");
    let domu = w.add_xen_domain("domU", true, 8192, false).expect("setup");
    let disk = w.add_disk("xvda", dom0, 2048).expect("setup");
    w.disk_write(disk, 0, &[0x5a; (N * 4096) as usize]).expect("setup");
    let mut grefs = Vec::new();
    for _ in 0..N {
        let p = w.alloc_page(domu).expect("setup");
        grefs.push(w.gnttab_grant_foreign_access(domu, p, dom0, false).expect("setup"));
    }
    let (k, hv) = w.kh(dom0).expect("setup");
    let q = k.spawn(0, 0x7fff_f7ff_f000, 0x5555_5555_9000).expect("setup");
    let fd = k.sys_open(hv, q, "/dev/xen/gntdev", O_RDWR).expect("setup");
    let d = k.sys_open(hv, q, "/dev/xvda", O_RDWR | O_DIRECT).expect("setup");
    let mut t = [0f64; 6];
    let iters = 100000;
    for _ in 0..iters {
        let (k, hv) = w.kh(dom0).expect("setup");
        let s = Instant::now();
        let off = k
            .sys_ioctl(
                hv,
                q,
                fd,
                IOCTL_GNTDEV_MAP_GRANT_REF,
                &[IoctlArg::Int(domu as u64), IoctlArg::List(grefs.clone())],
            )
            .expect("setup");
        let s1 = Instant::now();
        let a = k.sys_mmap(hv, q, 0, N * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off).expect("setup");
        let s2 = Instant::now();
        k.sys_pread(hv, q, d, a, N * 4096, 0).expect("setup");
        let s3 = Instant::now();
        k.do_munmap(hv, q, a, N * 4096).expect("setup");
        let s4 = Instant::now();
        k.sys_ioctl(hv, q, fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &[IoctlArg::Int(off), IoctlArg::Int(N)]).expect("setup");
        let s5 = Instant::now();
        w.run_deferred_work();
        let s6 = Instant::now();
        for (i, (a, b)) in [(s, s1), (s1, s2), (s2, s3), (s3, s4), (s4, s5), (s5, s6)].iter().enumerate() {
            t[i] += (*b - *a).as_secs_f64();
        }
    }
    for (n, v) in ["map_ioctl", "mmap", "pread", "munmap", "unmap_ioctl", "deferred"].iter().zip(t) {
        println!("{n:12} {:.2} us", v / iters as f64 * 1e6);
    }
}
