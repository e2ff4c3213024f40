//! fork+exit of a process with 262,144 touched pages on the model, timed
//! by the thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`), not the wall
//! clock: on a loaded machine the wall clock of `side_by_side` counts the
//! time other processes run, this counts the model's own work. Forks and
//! exits the same parent N times (default 40, first argument) and prints
//! the median and the minimum of each.
//!
//! `cargo bench --bench fork_cpu [-- N]`

use mmsim::kernel::mm::RssCounter;
use mmsim::kernel::mmap::{MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
/// This thread's CPU time in milliseconds.
fn cpu() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: t is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}
const P: u64 = 262_144;
fn main() {
    // `cargo bench` passes `--bench`: the count is the first number.
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(40).max(1);
    let frames = 2 * P + 2 * P / 256 + 8192;
    let mut w = World::new(frames + 4096, Variant::default());
    w.hv.machine.max_assigned = frames + 4096;
    let d = w.add_domain("host", false, frames, false).expect("domain");
    let (k, hv) = w.kh(d).expect("kernel");
    let pid = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("process");
    let a = k
        .sys_mmap(hv, pid, 0, P << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, u64::MAX, 0)
        .expect("mmap");
    k.sys_touch(hv, pid, a, P << 12, true).expect("touch");
    let mut f = Vec::new();
    let mut e = Vec::new();
    for _ in 0..n {
        let t = cpu();
        let c = k.sys_fork(hv, pid).expect("fork");
        let t1 = cpu();
        assert_eq!(k.mm(c).expect("child").get_rss(RssCounter::Anon), P as i64, "the child maps every page");
        k.sys_exit(hv, c).expect("exit");
        f.push(t1 - t);
        e.push(cpu() - t1);
    }
    assert_eq!(k.mm(pid).expect("parent").get_rss(RssCounter::Anon), P as i64, "the parent keeps its pages");
    f.sort_by(|a, b| a.total_cmp(b));
    e.sort_by(|a, b| a.total_cmp(b));
    println!("fork median {:.2} ms min {:.2}; exit median {:.2} ms min {:.2}", f[n / 2], f[0], e[n / 2], e[0]);
}
