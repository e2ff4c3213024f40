//! Memory footprint of a sparse address space: map 64 GiB with
//! MAP_NORESERVE, touch one page in every 2 MiB (32768 pages), and report the
//! process's peak resident set (getrusage ru_maxrss). Target: < 100 MB.
//! Run: `cargo bench --bench sparse`.

use mmsim::kernel::mmap::{MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;

fn main() {
    let touched: u64 = 64 << 9; // 64 GiB / 2 MiB
    let mut w = World::new(2 * touched + 8192, Variant::default());
    let d = w.add_domain("host", false, 2 * touched + 4096, false).expect("domain");
    let (k, hv) = w.kh(d).expect("kernel");
    let p = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("process");
    let len = 64u64 << 30;
    let a = k
        .sys_mmap(hv, p, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, u64::MAX, 0)
        .expect("mmap");
    let t = std::time::Instant::now();
    for i in 0..touched {
        k.sys_touch(hv, p, a + (i << 21), 1, true).expect("touch");
    }
    let el = t.elapsed();
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    println!("sparse64g: mapped 64 GiB, touched {touched} pages (one per 2 MiB) in {:.1} ms", el.as_secs_f64() * 1e3);
    println!(
        "sparse64g: rss pages in model {}, page tables {}",
        k.mm(p).map(|m| m.rss[1]).unwrap_or(0),
        k.page_tables().nr_tables()
    );
    println!("sparse64g: peak host RSS {} MB", ru.ru_maxrss / 1024);
}
