//! Criterion benchmarks of the native core (issue: write faults, mprotect of
//! every other page, fork of a big process). `benches/host.rs` times the
//! same operations on the host kernel for comparison.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mmsim::kernel::mmap::{MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use std::hint::black_box;

const FAULT_PAGES: u64 = 262_144;
const MPROTECT_PAGES: u64 = 65_536;

fn world(pages: u64) -> (World, u16, u32) {
    let mut w = World::new(pages + 4096, Variant::default());
    // The default limit (1 GiB of guest RAM) is below these domains.
    w.hv.machine.max_assigned = pages + 4096;
    let d = w.add_domain("host", false, pages + 2048, false).expect("domain");
    let (k, _) = w.kh(d).expect("kernel");
    let pid = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("process");
    (w, d, pid)
}

fn map(w: &mut World, d: u16, pid: u32, pages: u64) -> u64 {
    let (k, hv) = w.kh(d).expect("kernel");
    k.sys_mmap(
        hv,
        pid,
        0,
        pages << 12,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
        u64::MAX,
        0,
    )
    .expect("mmap")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("core");
    g.sample_size(10);
    g.bench_function("write_fault_262144_pages", |b| {
        b.iter_batched(
            || {
                let (mut w, d, p) = world(FAULT_PAGES);
                let a = map(&mut w, d, p, FAULT_PAGES);
                (w, d, p, a)
            },
            |(mut w, d, p, a)| {
                let (k, hv) = w.kh(d).expect("kernel");
                k.sys_touch(hv, p, a, FAULT_PAGES << 12, true).expect("touch");
                black_box(w)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("mprotect_every_other_page_of_65536", |b| {
        b.iter_batched(
            || {
                let (mut w, d, p) = world(MPROTECT_PAGES);
                let a = map(&mut w, d, p, MPROTECT_PAGES);
                (w, d, p, a)
            },
            |(mut w, d, p, a)| {
                let (k, hv) = w.kh(d).expect("kernel");
                for i in (0..MPROTECT_PAGES).step_by(2) {
                    // The last few fail with ENOMEM on Linux too: 65536 VMAs
                    // exceed vm.max_map_count (65530).
                    let _ = black_box(k.sys_mprotect(hv, p, a + (i << 12), 4096, PROT_READ));
                }
                black_box(w)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("fork_exit_262144_touched_pages", |b| {
        b.iter_batched(
            || {
                let (mut w, d, p) = world(2 * FAULT_PAGES);
                let a = map(&mut w, d, p, FAULT_PAGES);
                let (k, hv) = w.kh(d).expect("kernel");
                k.sys_touch(hv, p, a, FAULT_PAGES << 12, true).expect("touch");
                (w, d, p)
            },
            |(mut w, d, p)| {
                let (k, hv) = w.kh(d).expect("kernel");
                let child = k.sys_fork(hv, p).expect("fork");
                k.sys_exit(hv, child).expect("exit");
                black_box(w)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
