//! RLIMIT_DATA and RLIMIT_AS at mmap and mprotect, MAP_FIXED over sealed
//! ranges, and what a refused MAP_FIXED leaves behind: the model against
//! this machine's kernel (Linux 6.18), issue 13's "native corners".
//!
//! The kernel side is the test's host worker: its limits are set relative
//! to what the worker already has (VmData / VmSize in its
//! /proc/<pid>/status), the model's relative to its own `data_vm` /
//! `total_vm`, so both sides have the same number of pages left. At each
//! `Layout` op both give the VMA boundaries inside the window.
use super::util::*;

#[derive(Clone, Copy)]
enum Op {
    /// mmap(base + off, len, prot, flags): MAP_FIXED or MAP_FIXED_NOREPLACE.
    Mmap(u64, u64, u64, i32),
    Mprotect(u64, u64, u64),
    Mseal(u64, u64),
    /// setrlimit(resource, soft, hard), each `None` for 0 or
    /// `Some(pages)` over what is in use now (VmData for RLIMIT_DATA,
    /// VmSize for RLIMIT_AS).
    Limit(i32, Option<u64>, Option<u64>),
    Layout,
}

const FIXED: i32 = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED;
const NOREPLACE: i32 = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE;
const SHARED: i32 = libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE;

/// The VMA boundaries inside the window, from the host worker's maps.
fn host_layout(d: &Dual) -> Vec<i64> {
    let mut vals = Vec::new();
    for l in d.host.maps_lines(0).expect("host maps") {
        let Some((a, rest)) = l.split_once('-') else { continue };
        let b = rest.split_whitespace().next().unwrap_or("");
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else { continue };
        if a < d.base + WINDOW && b > d.base {
            vals.push((a - d.base) as i64);
            vals.push((b - d.base) as i64);
        }
    }
    vals
}

/// Run `ops` on both sides; returns the kernel's answers after checking
/// that the model's are the same.
fn run(ops: &[Op]) -> Vec<Vec<i64>> {
    let mut d = Dual::new();
    let base = d.a(0);
    let mut real = Vec::new();
    for op in ops {
        let v = match *op {
            Op::Mmap(o, l, p, f) => {
                vec![ret(d.real(libc::SYS_mmap, &[base.wrapping_add(o), l, p, f as u64, u64::MAX, 0]))]
            }
            Op::Mprotect(o, l, p) => vec![ret(d.real(libc::SYS_mprotect, &[base.wrapping_add(o), l, p]))],
            Op::Mseal(o, l) => vec![ret(d.real(SYS_MSEAL, &[base.wrapping_add(o), l, 0]))],
            Op::Limit(res, cur, max) => {
                // VmData is mm->data_vm, VmSize total_vm
                // (fs/proc/task_mmu.c task_mem).
                let key = if res == libc::RLIMIT_DATA as i32 { "VmData" } else { "VmSize" };
                let used = 1024 * d.host.status_kb(0, key).expect("host status").expect("status field");
                let lim = |x: Option<u64>| x.map_or(0, |p| used + p * P);
                let op = mmsim::oracle::Op::Setrlimit {
                    p: 0,
                    resource: res as u32,
                    cur: mmsim::oracle::Lim::raw(lim(cur)),
                    max: mmsim::oracle::Lim::raw(lim(max)),
                };
                match d.host_op(op) {
                    mmsim::oracle::OpResult::Ret(v) => vec![v],
                    r => panic!("host setrlimit: {r:?}"),
                }
            }
            Op::Layout => host_layout(&d),
        };
        real.push(v);
    }
    let pid = d.pid;
    let mut model = Vec::new();
    for op in ops {
        let v: Vec<i64> = match *op {
            Op::Layout => d.model_vmas().iter().flat_map(|v| [v.0 as i64, v.1 as i64]).collect(),
            _ => {
                let (k, hv) = d.k();
                match *op {
                    Op::Mmap(o, l, p, f) => {
                        vec![ret(k.sys_mmap(hv, pid, base.wrapping_add(o), l, p, f as u64, u64::MAX, 0))]
                    }
                    Op::Mprotect(o, l, p) => vec![ret(k.sys_mprotect(hv, pid, base.wrapping_add(o), l, p))],
                    Op::Mseal(o, l) => vec![ret(k.sys_mseal(hv, pid, base.wrapping_add(o), l, 0))],
                    Op::Limit(res, cur, max) => {
                        let mm = k.mm(pid).expect("mm");
                        let used = if res == libc::RLIMIT_DATA as i32 { mm.data_vm } else { mm.total_vm } * P;
                        let lim = |x: Option<u64>| x.map_or(0, |p| used + p * P);
                        vec![ret(k.sys_setrlimit(pid, res as u64, lim(cur), lim(max)))]
                    }
                    Op::Layout => unreachable!(),
                }
            }
        };
        model.push(v);
    }
    assert_eq!(model, real, "model (left) vs kernel (right)");
    real
}

fn e(x: i32) -> Vec<i64> {
    vec![-(x as i64)]
}

#[test]
fn rlimit_data_soft_zero_and_mprotect() {
    let r = run(&[
        // mm/mmap.c may_expand_vm: soft 0, hard 16 pages over VmData.
        Op::Limit(libc::RLIMIT_DATA as i32, None, Some(16)),
        Op::Mmap(0, 8 * P, RW, NOREPLACE),
        Op::Mmap(0x10_0000, 8 * P, RW, NOREPLACE),
        Op::Mmap(0x20_0000, 8 * P, RO, NOREPLACE),
        Op::Mprotect(0x20_0000, 8 * P, RW),
        Op::Mmap(0x30_0000, P, RW, NOREPLACE),
        Op::Mmap(0x40_0000, P, RW, SHARED),
        Op::Mprotect(0x10_0000, 8 * P, RO),
        Op::Mprotect(0x20_0000, 8 * P, RW),
        // A finite soft limit: exactly what is in use now.
        Op::Limit(libc::RLIMIT_DATA as i32, Some(0), Some(0)),
        Op::Mprotect(0x10_0000, P, RW),
        Op::Mprotect(0x20_0000, P, RO),
        Op::Mprotect(0x10_0000, P, RW),
        Op::Layout,
    ]);
    assert_eq!(r[1], vec![base_of(&r) as i64]);
    assert_eq!(r[2], vec![(base_of(&r) + 0x10_0000) as i64], "soft limit 0: under the hard limit");
    assert_eq!(r[4], e(libc::ENOMEM), "mprotect_fixup: 24 pages of data over a hard limit of 16");
    assert_eq!(r[5], e(libc::ENOMEM));
    assert_eq!(r[8], vec![0], "the exemption again once 8 pages left data");
    assert_eq!(r[10], e(libc::ENOMEM));
    assert_eq!(r[12], vec![0]);
}

/// The window's base, from the first mmap at offset 0.
fn base_of(r: &[Vec<i64>]) -> u64 {
    r[1][0] as u64
}

#[test]
fn map_fixed_seal_before_rlimit_as_and_split_left() {
    let r = run(&[
        Op::Mmap(0, 8 * P, RW, NOREPLACE),
        Op::Mmap(8 * P, 8 * P, RO, NOREPLACE),
        Op::Mseal(8 * P, 8 * P),
        Op::Limit(libc::RLIMIT_AS as i32, Some(0), Some(0)),
        // Sealed first VMA, 4 new pages: -EPERM, not -ENOMEM.
        Op::Mmap(12 * P, 8 * P, RO, FIXED),
        // Split of the first VMA at 2 pages, then the seal: -EPERM.
        Op::Mmap(2 * P, 8 * P, RO, FIXED),
        Op::Layout,
        // 2 new pages below: -ENOMEM after the end split at 4 pages.
        Op::Mmap(0x10_0000 - 2 * P, 4 * P, RO, FIXED),
        Op::Mmap(0x10_0000, 8 * P, RW, NOREPLACE),
        Op::Layout,
        Op::Mmap(0u64.wrapping_sub(2 * P), 6 * P, RO, FIXED),
        Op::Layout,
        // No new page: allowed.
        Op::Mmap(2 * P, 2 * P, RO, FIXED),
        Op::Layout,
    ]);
    assert_eq!(r[4], e(libc::EPERM));
    assert_eq!(r[5], e(libc::EPERM));
    let p = |x: u64| (x * P) as i64;
    assert_eq!(r[6], vec![0, p(2), p(2), p(8), p(8), p(16)], "the split at 2 pages stays");
    assert_eq!(r[7], e(libc::ENOMEM));
    assert_eq!(r[8], e(libc::ENOMEM), "RLIMIT_AS");
    assert_eq!(r[10], e(libc::ENOMEM));
    assert_eq!(r[11], vec![0, p(2), p(2), p(4), p(4), p(8), p(8), p(16)], "split at 4 pages, not merged back");
}
