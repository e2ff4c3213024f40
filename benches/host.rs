//! The operations of `benches/core.rs`, timed on the host kernel (real
//! syscalls), so the model's speed can be compared with Linux's.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const FAULT_PAGES: usize = 262_144;
const MPROTECT_PAGES: usize = 65_536;
#[path = "common/host_mem.rs"]
mod host_mem;
use host_mem::{PAGE, map, touch, unmap};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("host");
    g.sample_size(10);
    g.bench_function("write_fault_262144_pages", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let p = map(FAULT_PAGES);
                let t = std::time::Instant::now();
                touch(p, FAULT_PAGES);
                total += t.elapsed();
                unmap(p, FAULT_PAGES);
            }
            total
        })
    });
    g.bench_function("mprotect_every_other_page_of_65536", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let p = map(MPROTECT_PAGES);
                let t = std::time::Instant::now();
                for i in (0..MPROTECT_PAGES).step_by(2) {
                    // SAFETY: page i of the mapping.
                    let r = unsafe { libc::mprotect(p.add(i * PAGE).cast(), PAGE, libc::PROT_READ) };
                    black_box(r);
                }
                total += t.elapsed();
                unmap(p, MPROTECT_PAGES);
            }
            total
        })
    });
    g.bench_function("fork_exit_262144_touched_pages", |b| {
        let p = map(FAULT_PAGES);
        touch(p, FAULT_PAGES);
        b.iter(|| {
            // SAFETY: the child only calls _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                unsafe { libc::_exit(0) };
            }
            let mut st = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
        });
        unmap(p, FAULT_PAGES);
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
