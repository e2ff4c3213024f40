//! The PV backend's hot loop (qemu/blkback style): map 11 grants with one
//! IOCTL_GNTDEV_MAP_GRANT_REF, mmap them, one 44 KiB O_DIRECT read into the
//! mapping, munmap, IOCTL_GNTDEV_UNMAP_GRANT_REF. Throughput in pages/s
//! (11 pages per iteration) is criterion's elements/s; the bench also
//! prints it as pages/s (the median of 7 timed batches), then checks that
//! the data read landed in domU's granted frames and that no invariant
//! broke.
//!
//! Uses mimalloc as the global allocator, as the `mmsim` executable does
//! (src/main.rs).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmsim::drivers::gntdev::{IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF};
use mmsim::kernel::Pid;
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::mmap::{MAP_SHARED, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::types::DomId;
use mmsim::world::World;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mmsim::host_alloc::MiMalloc = mmsim::host_alloc::MiMalloc;

const N: u64 = 11;

/// The byte disk block `i` holds (and domU's page `i` must hold after a read).
fn pattern(i: u64) -> u8 {
    0x11u8.wrapping_mul(i as u8 + 1)
}

struct Backend {
    w: World,
    dom0: DomId,
    domu: DomId,
    pages: Vec<u64>,
    grefs: Vec<u64>,
    qemu: Pid,
    fd: u64,
    disk: u64,
}

impl Backend {
    fn new() -> Backend {
        let mut w = World::new(65536, Variant::default());
        let dom0 = w.add_xen_domain("dom0", true, 8192, true).expect("dom0");
        let domu = w.add_xen_domain("domU", true, 8192, false).expect("domU");
        let disk = w.add_disk("xvda", dom0, 2048).expect("disk");
        for i in 0..N {
            w.disk_write(disk, i * 4096, &[pattern(i); 4096]).expect("disk data");
        }
        let (mut pages, mut grefs) = (Vec::new(), Vec::new());
        for _ in 0..N {
            let p = w.alloc_page(domu).expect("page");
            grefs.push(w.gnttab_grant_foreign_access(domu, p, dom0, false).expect("grant"));
            pages.push(p);
        }
        let (k, hv) = w.kh(dom0).expect("dom0");
        let qemu = k.spawn(0, 0x7fff_f7ff_f000, 0x5555_5555_9000).expect("qemu");
        let fd = k.sys_open(hv, qemu, "/dev/xen/gntdev", O_RDWR).expect("gntdev");
        let d = k.sys_open(hv, qemu, "/dev/xvda", O_RDWR | O_DIRECT).expect("disk");
        Backend { w, dom0, domu, pages, grefs, qemu, fd, disk: d }
    }

    /// One iteration of the backend loop (never inlined: profilers find it
    /// by name).
    #[inline(never)]
    fn iteration(&mut self) -> u64 {
        let (qemu, fd, d) = (self.qemu, self.fd, self.disk);
        let (k, hv) = self.w.kh(self.dom0).expect("dom0");
        let off = k
            .sys_ioctl(
                hv,
                qemu,
                fd,
                IOCTL_GNTDEV_MAP_GRANT_REF,
                &[IoctlArg::Int(self.domu as u64), IoctlArg::List(self.grefs.clone())],
            )
            .expect("map grant ref");
        let a = k.sys_mmap(hv, qemu, 0, N * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off).expect("mmap");
        let n = k.sys_pread(hv, qemu, d, a, N * 4096, 0).expect("pread");
        assert_eq!(n, N * 4096);
        k.do_munmap(hv, qemu, a, N * 4096).expect("munmap");
        k.sys_ioctl(hv, qemu, fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &[IoctlArg::Int(off), IoctlArg::Int(N)])
            .expect("unmap grant ref");
        self.w.run_deferred_work();
        n
    }

    /// domU's granted pages hold what the disk held (the DMA went to the
    /// granted frames), and no invariant broke.
    fn check(&mut self) {
        for (i, &p) in self.pages.iter().enumerate() {
            let got = self.w.read_page(self.domu, p, 0, 4096).expect("read domU page");
            assert!(got.iter().all(|&b| b == pattern(i as u64)), "domU page {i} (pfn {p:#x}) lacks the disk's data");
        }
        let v = mmsim::invariants::check_world(&mut self.w);
        assert!(v.is_empty(), "violations: {v:?}");
    }

    fn clear(&mut self) {
        for &p in &self.pages {
            self.w.write_page(self.domu, p, 0, &[0; 4096]).expect("clear domU page");
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut b = Backend::new();
    let mut g = c.benchmark_group("xen");
    g.throughput(Throughput::Elements(N));
    g.bench_function("backend_map11_read44k_unmap", |bch| bch.iter(|| black_box(b.iteration())));
    g.finish();
    b.check();

    // The same loop timed directly: pages/s as the median of 7 batches,
    // by the wall clock and by the thread's CPU time (steadier on a
    // loaded machine).
    b.clear();
    const ITERS: u32 = 2000;
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..7)
        .map(|_| {
            let (t, c) = (Instant::now(), thread_cpu_secs());
            for _ in 0..ITERS {
                black_box(b.iteration());
            }
            (t.elapsed().as_secs_f64() / ITERS as f64, (thread_cpu_secs() - c) / ITERS as f64)
        })
        .unzip();
    for (what, v) in [("wall", &mut wall), ("cpu", &mut cpu)] {
        v.sort_by(f64::total_cmp);
        let med = v[v.len() / 2];
        println!(
            "xen backend loop ({what}): {:.2} us per {N}-page iteration, {:.2} M pages/s (median of 7 x {ITERS})",
            med * 1e6,
            N as f64 / med / 1e6
        );
    }
    b.check();
}

/// `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` in seconds.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

criterion_group!(benches, bench);
criterion_main!(benches);
