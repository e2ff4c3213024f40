//! The core operations of issue 12 on the model and on this machine's
//! kernel, in one run, side by side: write faults on 262,144 pages,
//! mprotect of every other page of 65,536, fork+exit of a process with
//! 262,144 touched pages. Each side runs each operation five times, model
//! and host taking turns (so that a change in the machine's load falls on
//! both), and the best time of each counts (the model's fork+exit after
//! one untimed fork+exit of the same process, see `fork_exit`); the
//! results are compared (pages resident, mprotect
//! successes and the errno of the failures, fork and exit succeeding) and
//! a table `operation, model, host, ratio` is printed (ratio = host time /
//! model time: above 1 the model is faster).
//!
//! The model runs with the allocator the `mmsim` binary uses (mimalloc,
//! src/main.rs): with the system allocator each run's new VMAs fault in
//! their heap pages afresh (about 2,200 minor faults in the mprotect loop).
//!
//! `cargo bench --bench side_by_side`

use mmsim::kernel::mm::RssCounter;
use mmsim::kernel::mmap::{MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mmsim::host_alloc::MiMalloc = mmsim::host_alloc::MiMalloc;

const FAULT_PAGES: u64 = 262_144;
const MPROTECT_PAGES: u64 = 65_536;
#[path = "common/host_mem.rs"]
mod host_mem;
use host_mem::PAGE;
const RUNS: usize = 5;

/// A native domain big enough for `pages` touched pages, their page tables
/// and a forked child's tables (the machine's assignment limit raised).
fn world(pages: u64) -> (World, u16, u32) {
    let frames = pages + pages / 256 + 8192;
    let mut w = World::new(frames + 4096, Variant::default());
    w.hv.machine.max_assigned = frames + 4096;
    let d = w.add_domain("host", false, frames, false).expect("domain");
    let (k, _) = w.kh(d).expect("kernel");
    let pid = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("process");
    (w, d, pid)
}

fn model_map(w: &mut World, d: u16, pid: u32, pages: u64) -> u64 {
    let (k, hv) = w.kh(d).expect("kernel");
    let prot = PROT_READ | PROT_WRITE;
    k.sys_mmap(hv, pid, 0, pages << 12, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, u64::MAX, 0).expect("mmap")
}

fn model_anon(w: &World, d: u16, pid: u32) -> i64 {
    w.kernel(d).expect("kernel").mm(pid).expect("mm").get_rss(RssCounter::Anon)
}

/// Pages of the mapping resident, by mincore(2).
fn host_resident(p: *mut u8, pages: usize) -> i64 {
    let mut v = vec![0u8; pages];
    // SAFETY: v holds one byte per page of the mapping.
    let r = unsafe { libc::mincore(p.cast(), pages * PAGE, v.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore");
    v.iter().filter(|&&b| b & 1 != 0).count() as i64
}

/// `mm->map_count` of this process: the lines of /proc/self/maps, less
/// the `[vsyscall]` gate area (not a VMA: fs/proc/task_mmu.c prints it via
/// get_gate_vma()). Read through a stack buffer, so no allocation adds a
/// mapping.
fn host_map_count() -> usize {
    use std::io::Read;
    let mut f = std::fs::File::open("/proc/self/maps").expect("maps");
    let mut buf = [0u8; 65536];
    let (mut n, mut last) = (0, 0);
    loop {
        let r = f.read(&mut buf).expect("read maps");
        if r == 0 {
            let gate = buf[..last].ends_with(b"[vsyscall]\n");
            return n - usize::from(gate);
        }
        n += buf[..r].iter().filter(|&&b| b == b'\n').count();
        last = r;
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

struct Row {
    op: &'static str,
    model: Duration,
    host: Duration,
}

/// The best time of each side over RUNS turns, model first in each.
fn best_of_turns(model: &mut dyn FnMut() -> Duration, host: &mut dyn FnMut() -> Duration) -> (Duration, Duration) {
    let turns: Vec<(Duration, Duration)> = (0..RUNS).map(|_| (model(), host())).collect();
    let best = |f: fn(&(Duration, Duration)) -> Duration| turns.iter().map(f).min().unwrap_or_default();
    (best(|t| t.0), best(|t| t.1))
}

fn write_faults() -> Row {
    let (model, host) = best_of_turns(
        &mut || {
            let (mut w, d, p) = world(FAULT_PAGES);
            let a = model_map(&mut w, d, p, FAULT_PAGES);
            let t = Instant::now();
            let (k, hv) = w.kh(d).expect("kernel");
            k.sys_touch(hv, p, a, FAULT_PAGES << 12, true).expect("touch");
            let e = t.elapsed();
            assert_eq!(model_anon(&w, d, p), FAULT_PAGES as i64, "model: every page faulted in");
            black_box(w);
            e
        },
        &mut || {
            let p = host_mem::map(FAULT_PAGES as usize);
            let t = Instant::now();
            host_mem::touch(p, FAULT_PAGES as usize);
            let e = t.elapsed();
            assert_eq!(host_resident(p, FAULT_PAGES as usize), FAULT_PAGES as i64, "host: every page faulted in");
            host_mem::unmap(p, FAULT_PAGES as usize);
            e
        },
    );
    Row { op: "write fault x 262144", model, host }
}

/// Successes and the errnos of the failures, in order of first appearance.
type Tally = (u64, Vec<(i32, u64)>);

fn tally(t: &mut Tally, r: Result<(), i32>) {
    match r {
        Ok(()) => t.0 += 1,
        Err(e) => match t.1.iter_mut().find(|(x, _)| *x == e) {
            Some((_, n)) => *n += 1,
            None => t.1.push((e, 1)),
        },
    }
}

fn mprotect_split() -> Row {
    let mut model_tally = Tally::default();
    let mut model_maps = 0;
    let mut host_tally = Tally::default();
    let mut host_maps = 0;
    let (model, host) = best_of_turns(
        &mut || {
            let (mut w, d, p) = world(MPROTECT_PAGES);
            let a = model_map(&mut w, d, p, MPROTECT_PAGES);
            let mut t2 = Tally::default();
            let t = Instant::now();
            let (k, hv) = w.kh(d).expect("kernel");
            for i in (0..MPROTECT_PAGES).step_by(2) {
                let r = k.sys_mprotect(hv, p, a + (i << 12), 4096, PROT_READ);
                tally(&mut t2, r.map(|_| ()).map_err(|e| e.0));
            }
            let e = t.elapsed();
            model_tally = t2;
            model_maps = w.kernel(d).expect("kernel").mm(p).expect("mm").map_count();
            black_box(w);
            e
        },
        &mut || {
            let p = host_mem::map(MPROTECT_PAGES as usize);
            let mut t2 = Tally::default();
            let t = Instant::now();
            for i in (0..MPROTECT_PAGES as usize).step_by(2) {
                // SAFETY: page i of the mapping.
                let r = unsafe { libc::mprotect(p.add(i * PAGE).cast(), PAGE, libc::PROT_READ) };
                tally(&mut t2, if r == 0 { Ok(()) } else { Err(errno()) });
            }
            let e = t.elapsed();
            host_tally = t2;
            host_maps = host_map_count();
            host_mem::unmap(p, MPROTECT_PAGES as usize);
            e
        },
    );
    // The host process starts with its binary's and libraries' mappings,
    // the model's with none, so the number of successes differs; both
    // must stop at vm.max_map_count with ENOMEM (mm/vma.c split_vma():
    // `if (vma->vm_mm->map_count >= sysctl_max_map_count) return -ENOMEM`).
    let errnos = |t: &Tally| t.1.iter().map(|(e, _)| *e).collect::<Vec<_>>();
    assert_eq!(errnos(&model_tally), errnos(&host_tally), "mprotect: model and host fail differently");
    assert_eq!(model_maps, host_maps, "mprotect: model and host stop at different map counts");
    println!(
        "mprotect: model {} succeeded, failures {:?}; host {} succeeded, failures {:?}; both end at {} mappings",
        model_tally.0, model_tally.1, host_tally.0, host_tally.1, model_maps
    );
    Row { op: "mprotect every other page of 65536", model, host }
}

fn fork_exit() -> Row {
    let p = host_mem::map(FAULT_PAGES as usize);
    host_mem::touch(p, FAULT_PAGES as usize);
    let (model, host) = best_of_turns(
        &mut || {
            let (mut w, d, p) = world(2 * FAULT_PAGES);
            let a = model_map(&mut w, d, p, FAULT_PAGES);
            let (k, hv) = w.kh(d).expect("kernel");
            k.sys_touch(hv, p, a, FAULT_PAGES << 12, true).expect("touch");
            // One fork and exit first, untimed: the model's allocator then
            // has the child's page-table memory at hand, as the host
            // kernel's page allocator has its free pages, instead of taking
            // it from this process's kernel one page fault at a time.
            let warm = k.sys_fork(hv, p).expect("model fork");
            k.sys_exit(hv, warm).expect("model exit");
            let t = Instant::now();
            let child = k.sys_fork(hv, p).expect("model fork");
            k.sys_exit(hv, child).expect("model exit");
            let e = t.elapsed();
            assert_eq!(model_anon(&w, d, p), FAULT_PAGES as i64, "model: the parent keeps its pages");
            black_box(w);
            e
        },
        &mut || {
            let t = Instant::now();
            // SAFETY: the child only calls _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "host fork");
            if pid == 0 {
                unsafe { libc::_exit(0) };
            }
            let mut st = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            let e = t.elapsed();
            assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "host child exit");
            e
        },
    );
    assert_eq!(host_resident(p, FAULT_PAGES as usize), FAULT_PAGES as i64, "host: the parent keeps its pages");
    host_mem::unmap(p, FAULT_PAGES as usize);
    Row { op: "fork+exit, 262144 touched pages", model, host }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // of note: either way, run once.
    let rows = [write_faults(), mprotect_split(), fork_exit()];
    println!("{:<36} {:>12} {:>12} {:>8}", "operation", "model", "host", "ratio");
    for r in &rows {
        println!(
            "{:<36} {:>10.2}ms {:>10.2}ms {:>7.1}x",
            r.op,
            r.model.as_secs_f64() * 1e3,
            r.host.as_secs_f64() * 1e3,
            r.host.as_secs_f64() / r.model.as_secs_f64().max(1e-9)
        );
    }
}
