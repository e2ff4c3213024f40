//! Differential tests of `report::{maps, smaps, pagemap_entries}` against
//! the kernel this test runs on (Linux 6.18 x86-64, as root).
//!
//! Each test builds a layout twice: for real in an oracle worker
//! (`mmsim::oracle::HostSession`: fixed addresses with MAP_FIXED_NOREPLACE
//! in the worker's reserved range, far below any randomised `mmap_base`),
//! and in the model at the same addresses. Then it compares the worker's
//! `/proc/<pid>/maps` lines (everything but the inode number of named
//! mappings: the model's inode numbers are its own), whole smaps blocks
//! (same exception), and the flag bits (55-63) of every pagemap entry
//! (PFNs differ by nature; a non-present entry is compared whole). Sharing
//! is made with the worker's fork op: the child worker only waits for
//! commands.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use mmsim::hv::machine::DomId;
use mmsim::kernel::Pid;
use mmsim::kernel::mmap::*;
use mmsim::kernel::variant::Variant;
use mmsim::oracle::{Addr, FdRef, HostConfig, HostSession, Op, OpResult, SnapshotMode};
use mmsim::report;
use mmsim::world::World;

const PS: u64 = 4096;
const NOREPLACE: i32 = 0x100000;
const MADV_HUGEPAGE: i32 = 14;
const MADV_GUARD_INSTALL: i32 = 102;

// ---------------------------------------------------------------- host side

/// The host side: one oracle worker (`mmsim::oracle::HostSession`) whose
/// reserved range holds the test's mappings; forks are further workers,
/// which share every mapping (COW for private ones) until the session
/// ends. The worker is a process of its own, so the tests can run in
/// parallel.
struct Host {
    s: HostSession,
    forks: usize,
}

impl Host {
    /// A worker with a 1 GiB range at `base`.
    fn new(base: u64) -> Host {
        let cfg = HostConfig {
            base: Some(base),
            range_len: 1 << 30,
            snapshots: SnapshotMode::Explicit,
            kpageflags: false,
            fill_above: false,
            ..HostConfig::default()
        };
        Host { s: HostSession::start(&cfg).expect("host worker"), forks: 0 }
    }
    fn exec(&mut self, op: Op) -> OpResult {
        let what = format!("{op:?}");
        self.s.exec(&op).unwrap_or_else(|e| panic!("host {what}: {e}"))
    }
    fn ok(&mut self, op: Op) {
        let what = format!("{op:?}");
        assert_eq!(self.exec(op), OpResult::Ret(0), "host {what}");
    }
    fn mmap(&mut self, addr: u64, len: u64, prot: i32, flags: i32, fd: FdRef, off: i64) {
        let op = Op::Mmap { p: 0, addr: Addr::Abs(addr), len, prot, flags: flags | NOREPLACE, fd, off: off as u64 };
        assert_eq!(self.exec(op), OpResult::Ret(addr as i64), "host mmap at {addr:#x}");
    }
    fn write(&mut self, addr: u64, v: u8) {
        self.ok(Op::Store { p: 0, addr: Addr::Abs(addr), bytes: vec![v] });
    }
    fn read(&mut self, addr: u64) -> u8 {
        match self.exec(Op::Load { p: 0, addr: Addr::Abs(addr), len: 1 }) {
            OpResult::Bytes(b) if b.len() == 1 => b[0],
            r => panic!("host read at {addr:#x}: {r:?}"),
        }
    }
    fn mprotect(&mut self, addr: u64, len: u64, prot: i32) {
        self.ok(Op::Mprotect { p: 0, addr: Addr::Abs(addr), len, prot });
    }
    fn madvise(&mut self, addr: u64, len: u64, advice: i32) {
        self.ok(Op::Madvise { p: 0, addr: Addr::Abs(addr), len, advice });
    }
    /// A memfd of `size` bytes in descriptor slot `slot`.
    fn memfd(&mut self, slot: u32, name: &str, size: i64) -> FdRef {
        let r = self.s.memfd_create_named(0, slot, name.as_bytes()).expect("host memfd_create");
        assert_eq!(r, OpResult::Ret(0), "host memfd_create");
        self.ok(Op::Ftruncate { p: 0, fd: FdRef::Slot(slot), len: size as u64 });
        FdRef::Slot(slot)
    }
    fn close(&mut self, fd: FdRef) {
        self.ok(Op::Close { p: 0, fd });
    }
    /// A child that shares every mapping (COW for private ones) until the
    /// session ends.
    fn fork_holder(&mut self) {
        self.forks += 1;
        assert_eq!(self.exec(Op::Fork { p: 0 }), OpResult::Ret(self.forks as i64), "host fork");
    }
    fn maps(&self) -> Vec<String> {
        self.s.maps_lines(0).expect("host maps")
    }
    fn smaps(&self) -> Vec<Vec<String>> {
        self.s.smaps_blocks(0).expect("host smaps").iter().flat_map(|b| blocks(b)).collect()
    }
    fn pagemap(&self, addr: u64, pages: u64) -> Vec<u64> {
        self.s.pagemap_words(0, addr, pages).expect("host pagemap")
    }
}

/// smaps text split into blocks, each starting with its maps line.
fn blocks(s: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for l in s.lines() {
        let is_header = l
            .split(' ')
            .next()
            .is_some_and(|f| f.contains('-') && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
        if is_header || out.is_empty() {
            out.push(Vec::new());
        }
        if let Some(b) = out.last_mut() {
            b.push(format!("{l}\n"));
        }
    }
    out
}

/// A maps line with the inode number of a named mapping replaced by `#`
/// and the name column recorded, so lines compare across systems.
fn normalise(line: &str) -> String {
    let body = line.trim_end_matches('\n');
    let f: Vec<&str> = body.splitn(6, ' ').collect();
    if f.len() < 6 {
        return line.to_string();
    }
    let (range, perms, off, dev, ino, rest) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    if rest.is_empty() {
        // Anonymous, no name: compared whole (ends with "0 ").
        return line.to_string();
    }
    let name = rest.trim_start_matches(' ');
    let col = body.len() - name.len();
    let ino = if name.starts_with('[') { ino.to_string() } else { "#".to_string() };
    format!("{range} {perms} {off} {dev} {ino} @{col} {name}\n")
}

fn norm_all(v: &[String]) -> Vec<String> {
    v.iter().map(|l| normalise(l)).collect()
}

// ---------------------------------------------------------------- model side

struct Model {
    w: World,
    d: DomId,
    p: Pid,
    /// The test reads pagemap with CAP_SYS_ADMIN.
    show_pfn: bool,
}

impl Model {
    /// A model machine configured like this host (pkeys, THP mode,
    /// sysctls); says once what this host does not let the test compare.
    /// `host_base`: the worker's range when one runs beside the model: the
    /// worker moves its break to `base + BRK_OFF` (oracle/worker/setup.rs),
    /// so the model's process starts its break there too ([heap] is where
    /// the break is, on both sides).
    fn new(host_base: Option<u64>) -> Model {
        let info = mmsim::oracle::host_info().expect("host facts");
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            let m = info.machine_config();
            println!("report_host: model configured as this host: {m}");
            let note = info.not_compared();
            if !note.is_empty() {
                println!("report_host: {note}");
            }
        });
        let machine = mmsim::kernel::config::MachineConfig { frames: 65536, ..info.machine_config() };
        let show_pfn = info.pfns_visible();
        let mut w = World::with_machine(machine, Variant::default());
        let d = w.add_domain("host", false, 8192, false).unwrap();
        let (k, _) = w.kh(d).unwrap();
        let start_brk = host_base.map_or(0x5555_0000_0000, |b| b + mmsim::oracle::BRK_OFF);
        let p = k.spawn(0, 0x7e00_4000_0000, start_brk).unwrap();
        Model { w, d, p, show_pfn }
    }
    fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        let r = k.sys_mmap(hv, self.p, addr, len, prot, flags | MAP_FIXED_NOREPLACE, fd, off);
        assert_eq!(r, Ok(addr));
    }
    fn write(&mut self, addr: u64, v: u8) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        k.user_write(hv, self.p, addr, &[v]).unwrap();
    }
    fn read(&mut self, addr: u64) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        k.user_read(hv, self.p, addr, 1).unwrap();
    }
    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        assert_eq!(k.sys_mprotect(hv, self.p, addr, len, prot), Ok(0));
    }
    fn memfd(&mut self, name: &str, size: u64) -> u64 {
        let (k, hv) = self.w.kh(self.d).unwrap();
        let fd = k.sys_memfd_create(self.p, name).unwrap();
        k.sys_ftruncate(hv, self.p, fd, size).unwrap();
        fd
    }
    fn close(&mut self, fd: u64) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        k.sys_close(hv, self.p, fd).unwrap();
    }
    fn fork(&mut self) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        k.sys_fork(hv, self.p).unwrap();
    }
    fn madvise(&mut self, addr: u64, len: u64, advice: i32) {
        let (k, hv) = self.w.kh(self.d).unwrap();
        assert_eq!(k.sys_madvise(hv, self.p, addr, len, advice as u64), Ok(0));
    }
    fn maps(&self) -> Vec<String> {
        let k = self.w.kernel(self.d).unwrap();
        report::maps(k, self.p).lines().map(|l| format!("{l}\n")).collect()
    }
    fn smaps(&self) -> Vec<Vec<String>> {
        blocks(&report::smaps(&self.w, self.d, self.p))
    }
    fn pagemap(&self, addr: u64, pages: u64) -> Vec<u64> {
        let k = self.w.kernel(self.d).unwrap();
        report::pagemap::pagemap_entries_as(k, &self.w.hv, self.p, addr, pages * PS, self.show_pfn)
    }
    fn picture(&self, start: u64, end: u64) -> String {
        report::address_space_picture(self.w.kernel(self.d).unwrap(), self.p, start, end, 64)
    }
    fn no_violations(&self) {
        let v = mmsim::invariants::mm::check(&self.w);
        assert!(v.is_empty(), "{v:#?}");
    }
}

fn assert_smaps_equal(host: &[Vec<String>], model: &[Vec<String>], picture: &str) {
    assert_eq!(host.len(), model.len(), "VMA count\n{picture}\nhost: {host:#?}\nmodel: {model:#?}");
    for (h, m) in host.iter().zip(model) {
        let (hh, mh) = (normalise(&h[0]), normalise(&m[0]));
        assert_eq!(hh, mh, "header\n{picture}");
        assert_eq!(h[1..].concat(), m[1..].concat(), "smaps block of {hh}\n{picture}");
    }
}

/// Flags of a pagemap entry (bits 55-63); a non-present one whole.
fn pm_flags(e: u64) -> u64 {
    if e >> 63 == 1 { e & !((1 << 55) - 1) } else { e }
}

fn assert_pagemap_equal(host: &[u64], model: &[u64], start: u64, picture: &str) {
    assert_eq!(host.len(), model.len());
    for (i, (h, m)) in host.iter().zip(model).enumerate() {
        assert_eq!(
            pm_flags(*h),
            pm_flags(*m),
            "pagemap at {:#x}: host {h:#018x} model {m:#018x}\n{picture}",
            start + i as u64 * PS
        );
    }
}

const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
const PRIV_ANON: i32 = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
const SHARED_ANON: i32 = libc::MAP_SHARED | libc::MAP_ANONYMOUS;
const MRW: u64 = PROT_READ | PROT_WRITE;

// ---------------------------------------------------------------- tests

/// Anonymous, PROT_NONE-split, shared anonymous and memfd mappings: the
/// maps lines agree (incl. `/dev/zero (deleted)` and `/memfd:NAME
/// (deleted)` with dev 00:01, offsets of file mappings, the name column).
#[test]
fn maps_lines_match_host() {
    let b = 0x7e10_0000_0000u64;
    let mut host = Host::new(b);
    let mut m = Model::new(Some(b));

    host.mmap(b, 3 * PS, RW, PRIV_ANON, FdRef::None, 0);
    m.mmap(b, 3 * PS, MRW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
    host.mprotect(b + PS, PS, libc::PROT_READ);
    m.mprotect(b + PS, PS, PROT_READ);

    host.mmap(b + 0x10_0000, 4 * PS, RW, SHARED_ANON, FdRef::None, 0);
    m.mmap(b + 0x10_0000, 4 * PS, MRW, MAP_SHARED | MAP_ANONYMOUS, u64::MAX, 0);

    let hfd = host.memfd(0, "report-maps", 8 * PS as i64);
    let mfd = m.memfd("report-maps", 8 * PS);
    host.mmap(b + 0x20_0000, 2 * PS, libc::PROT_READ, libc::MAP_PRIVATE, hfd, 3 * PS as i64);
    m.mmap(b + 0x20_0000, 2 * PS, PROT_READ, MAP_PRIVATE, mfd, 3 * PS);
    host.mmap(b + 0x30_0000, 2 * PS, RW | libc::PROT_EXEC, libc::MAP_SHARED, hfd, 0);
    m.mmap(b + 0x30_0000, 2 * PS, MRW | PROT_EXEC, MAP_SHARED, mfd, 0);
    host.close(hfd);
    m.close(mfd);
    // A newline in a name is written as \012 (seq_file_path's escape).
    let hfd = host.memfd(1, "new\nline", PS as i64);
    let mfd = m.memfd("new\nline", PS);
    host.mmap(b + 0x38_0000, PS, RW, libc::MAP_SHARED, hfd, 0);
    m.mmap(b + 0x38_0000, PS, MRW, MAP_SHARED, mfd, 0);
    host.close(hfd);
    m.close(mfd);

    let picture = m.picture(b, b + 0x40_0000);
    let (h, mo) = (host.maps(), m.maps());
    assert_eq!(h.len(), 7, "{h:?}");
    assert!(h[6].ends_with("/memfd:new\\012line (deleted)\n"), "{}", h[6]);
    assert_eq!(norm_all(&h), norm_all(&mo), "\n{picture}");
    // Anonymous lines are identical byte for byte, trailing space included.
    assert_eq!(h[0], format!("{:08x}-{:08x} rw-p 00000000 00:00 0 \n", b, b + PS));
    assert_eq!(h[0], mo[0]);
    m.no_violations();
}

/// The name column of a named anonymous line on the host ([stack] of this
/// process) is where the model puts [heap]: column 73.
#[test]
fn name_column_matches_host() {
    let s = std::fs::read_to_string("/proc/self/maps").unwrap();
    let stack = s.lines().find(|l| l.ends_with("[stack]")).expect("a [stack] line");
    let col = stack.len() - "[stack]".len();
    assert_eq!(col, 73);
    let mut m = Model::new(None);
    let (k, hv) = m.w.kh(m.d).unwrap();
    k.sys_brk(hv, m.p, 0x5555_0000_2000).unwrap();
    let maps = m.maps();
    let heap = maps.iter().find(|l| l.ends_with("[heap]\n")).expect("a [heap] line");
    assert_eq!(heap, &format!("{:<73}[heap]\n", "555500000000-555500002000 rw-p 00000000 00:00 0"));
    m.no_violations();
}

/// Private anonymous pages: exclusive, zero page (not in Rss), then shared
/// with a child after fork (Shared_Dirty, Pss halved), a PROT_NONE page
/// that still counts, and MAP_LOCKED (Locked = Pss).
#[test]
fn smaps_and_pagemap_private_anon_fork_match_host() {
    let b = 0x7e20_0000_0000u64;
    let mut host = Host::new(b);
    let mut m = Model::new(Some(b));

    host.mmap(b, 8 * PS, RW, PRIV_ANON, FdRef::None, 0);
    m.mmap(b, 8 * PS, MRW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
    for (off, write) in [(0, true), (1, false), (2, true), (5, false)] {
        if write {
            host.write(b + off * PS, 1);
            m.write(b + off * PS, 1);
        } else {
            host.read(b + off * PS);
            m.read(b + off * PS);
        }
    }
    // A page that is written, then made PROT_NONE: pte_present() still.
    host.mmap(b + 0x10_0000, 2 * PS, RW, PRIV_ANON, FdRef::None, 0);
    m.mmap(b + 0x10_0000, 2 * PS, MRW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
    host.write(b + 0x10_0000, 7);
    m.write(b + 0x10_0000, 7);
    host.mprotect(b + 0x10_0000, 2 * PS, libc::PROT_NONE);
    m.mprotect(b + 0x10_0000, 2 * PS, 0);
    // MAP_LOCKED populates.
    host.mmap(b + 0x20_0000, 3 * PS, RW, PRIV_ANON | libc::MAP_LOCKED, FdRef::None, 0);
    m.mmap(b + 0x20_0000, 3 * PS, MRW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, u64::MAX, 0);

    let picture = m.picture(b, b + 0x30_0000);
    // Before fork: exclusive.
    assert_smaps_equal(&host.smaps(), &m.smaps(), &picture);
    assert_pagemap_equal(&host.pagemap(b, 8), &m.pagemap(b, 8), b, &picture);
    assert_pagemap_equal(&host.pagemap(b + 0x10_0000, 2), &m.pagemap(b + 0x10_0000, 2), b + 0x10_0000, &picture);
    m.no_violations();

    host.fork_holder();
    m.fork();
    assert_smaps_equal(&host.smaps(), &m.smaps(), &picture);
    for base in [b, b + 0x10_0000, b + 0x20_0000] {
        assert_pagemap_equal(&host.pagemap(base, 8), &m.pagemap(base, 8), base, &picture);
    }
    m.no_violations();
}

/// Pss in PSS_SHIFT fixed point: three pages each mapped by three
/// processes give (3 * ((4096 << 12) / 3)) >> 12 >> 10 = 3 kB, not 4.
#[test]
fn pss_fixed_point_matches_host() {
    let b = 0x7e30_0000_0000u64;
    let mut host = Host::new(b);
    let mut m = Model::new(Some(b));
    host.mmap(b, 3 * PS, RW, PRIV_ANON, FdRef::None, 0);
    m.mmap(b, 3 * PS, MRW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
    for i in 0..3 {
        host.write(b + i * PS, 1);
        m.write(b + i * PS, 1);
    }
    host.fork_holder();
    host.fork_holder();
    m.fork();
    m.fork();
    let (h, mo) = (host.smaps(), m.smaps());
    assert_smaps_equal(&h, &mo, &m.picture(b, b + 3 * PS));
    assert!(mo[0].contains(&"Pss:                   3 kB\n".to_string()), "{mo:?}");
    m.no_violations();
}

/// Shared memory: `/dev/zero (deleted)` and memfd pages are file pages
/// (pagemap bit 61), private while mapped once although the page cache
/// holds a reference (refcount 2); a private read-only memfd mapping at an
/// offset; a private COW copy of a memfd page is anonymous.
#[test]
fn smaps_and_pagemap_shmem_match_host() {
    let b = 0x7e40_0000_0000u64;
    let mut host = Host::new(b);
    let mut m = Model::new(Some(b));

    host.mmap(b, 4 * PS, RW, SHARED_ANON, FdRef::None, 0);
    m.mmap(b, 4 * PS, MRW, MAP_SHARED | MAP_ANONYMOUS, u64::MAX, 0);
    host.write(b, 1);
    m.write(b, 1);
    host.read(b + PS);
    m.read(b + PS);

    let hfd = host.memfd(0, "report-shmem", 8 * PS as i64);
    let mfd = m.memfd("report-shmem", 8 * PS);
    host.mmap(b + 0x10_0000, 4 * PS, libc::PROT_READ, libc::MAP_PRIVATE, hfd, PS as i64);
    m.mmap(b + 0x10_0000, 4 * PS, PROT_READ, MAP_PRIVATE, mfd, PS);
    host.read(b + 0x10_0000);
    m.read(b + 0x10_0000);
    // The same file page mapped a second time, shared and written.
    host.mmap(b + 0x20_0000, 4 * PS, RW, libc::MAP_SHARED, hfd, 0);
    m.mmap(b + 0x20_0000, 4 * PS, MRW, MAP_SHARED, mfd, 0);
    host.write(b + 0x20_0000 + PS, 2);
    m.write(b + 0x20_0000 + PS, 2);
    host.read(b + 0x20_0000 + 2 * PS);
    m.read(b + 0x20_0000 + 2 * PS);
    // A private writable mapping: read, then COW one page.
    host.mmap(b + 0x30_0000, 2 * PS, RW, libc::MAP_PRIVATE, hfd, 0);
    m.mmap(b + 0x30_0000, 2 * PS, MRW, MAP_PRIVATE, mfd, 0);
    host.read(b + 0x30_0000);
    m.read(b + 0x30_0000);
    host.write(b + 0x30_0000 + PS, 3);
    m.write(b + 0x30_0000 + PS, 3);
    host.close(hfd);
    m.close(mfd);

    let picture = m.picture(b, b + 0x40_0000);
    assert_smaps_equal(&host.smaps(), &m.smaps(), &picture);
    for base in [b, b + 0x10_0000, b + 0x20_0000, b + 0x30_0000] {
        assert_pagemap_equal(&host.pagemap(base, 4), &m.pagemap(base, 4), base, &picture);
    }
    m.no_violations();

    // A child shares the shared mappings' VMAs but not their PTEs (shared
    // file mappings are refaulted): nothing changes in the parent's smaps
    // except the private COW page, which becomes shared.
    host.fork_holder();
    m.fork();
    assert_smaps_equal(&host.smaps(), &m.smaps(), &picture);
    for base in [b, b + 0x10_0000, b + 0x20_0000, b + 0x30_0000] {
        assert_pagemap_equal(&host.pagemap(base, 4), &m.pagemap(base, 4), base, &picture);
    }
    m.no_violations();
}

/// THPeligible (THP "madvise" here): an anonymous VMA with VM_HUGEPAGE
/// that holds an aligned 2 MiB block is eligible; without VM_HUGEPAGE, or
/// too small or misaligned, it is not. Nothing is touched, so no huge page
/// is ever allocated.
#[test]
fn thp_eligible_matches_host() {
    let enabled = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    assert!(enabled.contains("[madvise]"), "the model assumes THP 'madvise': {enabled}");
    let b = 0x7e50_0000_0000u64;
    let mut host = Host::new(b);
    let mut m = Model::new(Some(b));
    let mb = 1u64 << 20;
    // (offset, length, MADV_HUGEPAGE?)
    let cases = [
        (0, 6 * mb, true),
        (16 * mb + PS, 2 * mb, true),
        (32 * mb + PS, 4 * mb, true),
        (48 * mb, 4 * mb, false),
        (64 * mb, mb, true),
    ];
    for (off, len, huge) in cases {
        host.mmap(b + off, len, RW, PRIV_ANON, FdRef::None, 0);
        m.mmap(b + off, len, MRW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
        if huge {
            host.madvise(b + off, len, MADV_HUGEPAGE);
            m.madvise(b + off, len, MADV_HUGEPAGE);
        }
    }
    let (h, mo) = (host.smaps(), m.smaps());
    assert_smaps_equal(&h, &mo, &m.picture(b, b + 80 * mb));
    let eligible: Vec<bool> = mo.iter().map(|blk| blk.contains(&format!("THPeligible:    {:>8}\n", 1))).collect();
    assert_eq!(eligible, [true, false, true, false, false]);
}

/// A guard marker reads as PM_SWAP | PM_GUARD_REGION with the marker's
/// swap-entry bits (0x9f) in the frame field, as on the host; smaps shows
/// the VMA's VM_MAYBE_GUARD ("gu") on both sides.
#[test]
fn guard_marker_pagemap_matches_host() {
    let b = 0x7e60_0000_0000u64;
    let mut host = Host::new(b);
    let mut m = Model::new(Some(b));
    host.mmap(b, 4 * PS, RW, PRIV_ANON, FdRef::None, 0);
    m.mmap(b, 4 * PS, MRW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0);
    host.write(b, 1);
    m.write(b, 1);
    host.madvise(b + PS, PS, MADV_GUARD_INSTALL);
    m.madvise(b + PS, PS, MADV_GUARD_INSTALL);
    let picture = m.picture(b, b + 4 * PS);
    assert_smaps_equal(&host.smaps(), &m.smaps(), &picture);
    let (h, mo) = (host.pagemap(b, 4), m.pagemap(b, 4));
    assert_eq!(h[1], mo[1], "guard entry: host {:#x} model {:#x}", h[1], mo[1]);
    let frame = if m.show_pfn { 0x9f } else { 0 };
    assert_eq!(mo[1], (1 << 62) | (1 << 58) | frame);
    assert_pagemap_equal(&h, &mo, b, &picture);
    let letters = report::pagemap_letters(&m.w, m.d, m.p, b, 4 * PS);
    assert_eq!(letters, format!("{b:#014x}: Xg..\n"));
    m.no_violations();
}
