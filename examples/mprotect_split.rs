//! The model side of `benches/side_by_side.rs`'s mprotect row, alone and
//! repeated, for profiling: mprotect(PROT_READ) of every other page of a
//! 65,536-page private anonymous mapping, the median time of `N` runs
//! (`N` the first argument, 9 by default), the map count reached and the
//! page faults of the last run's loop (its new VMAs' memory).
//! `cargo run --release --example mprotect_split [N]`; profile with
//! `perf record -g target/release/examples/mprotect_split 50`.

use mmsim::kernel::mmap::{MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use std::time::Instant;

/// As the bench and the `mmsim` binary (src/main.rs).
#[global_allocator]
static GLOBAL: mmsim::host_alloc::MiMalloc = mmsim::host_alloc::MiMalloc;

const PAGES: u64 = 65_536;

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(9);
    let mut times = Vec::new();
    let mut maps = 0;
    let mut ok = 0;
    let mut faults = 0;
    for _ in 0..runs.max(1) {
        let frames = PAGES + PAGES / 256 + 8192;
        let mut w = World::new(frames + 4096, Variant::default());
        w.hv.machine.max_assigned = frames + 4096;
        let d = w.add_domain("host", false, frames, false).expect("domain");
        let (k, hv) = w.kh(d).expect("kernel");
        let p = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("process");
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
        let a = k.sys_mmap(hv, p, 0, PAGES << 12, PROT_READ | PROT_WRITE, flags, u64::MAX, 0).expect("mmap");
        ok = 0;
        let f0 = minflt();
        let t = Instant::now();
        for i in (0..PAGES).step_by(2) {
            ok += u64::from(k.sys_mprotect(hv, p, a + (i << 12), 4096, PROT_READ).is_ok());
        }
        times.push(t.elapsed());
        faults = minflt() - f0;
        maps = k.mm(p).expect("mm").map_count();
    }
    times.sort();
    let med = times[times.len() / 2];
    println!(
        "mprotect every other page of {PAGES}: median {:.2} ms of {} runs (min {:.2}), {ok} succeeded, {maps} mappings, {faults} page faults in the last run's loop",
        med.as_secs_f64() * 1e3,
        times.len(),
        times[0].as_secs_f64() * 1e3
    );
}

/// Minor page faults of this process so far (getrusage(2)).
fn minflt() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    r.ru_minflt
}
