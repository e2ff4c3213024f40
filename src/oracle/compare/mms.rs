//! The scenario writer: a diverging sequence as a `.mms` scenario.

use super::*;

/// `x"5a" * 4096 ++ x"0102"`: a byte-string expression of the scenario
/// language (runs of 8 or more equal bytes are repeated literals).
pub fn bytes_literal(b: &[u8]) -> String {
    if b.is_empty() {
        return "\"\"".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        while j < b.len() && b[j] == b[i] {
            j += 1;
        }
        if j - i >= 8 {
            if !lit.is_empty() {
                parts.push(format!("x\"{lit}\""));
                lit.clear();
            }
            parts.push(format!("x\"{:02x}\" * {}", b[i], j - i));
        } else {
            for _ in i..j {
                let _ = write!(lit, "{:02x}", b[i]);
            }
        }
        i = j;
    }
    if !lit.is_empty() {
        parts.push(format!("x\"{lit}\""));
    }
    parts.join(" ++ ")
}

/// A length: `8K`, `2M`, or the number.
fn fmt_len(v: u64) -> String {
    if v != 0 && v.is_multiple_of(1 << 20) && v < 1 << 40 {
        format!("{}M", v >> 20)
    } else if v != 0 && v.is_multiple_of(1024) && v < 1 << 40 {
        format!("{}K", v >> 10)
    } else if v < 4096 {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

fn fmt_int(v: i64) -> String {
    if (-4095..0).contains(&v) || (0..=0xffff).contains(&v) { v.to_string() } else { format!("{:#x}", v as u64) }
}

/// Scenario text of one expectation (absolute signal addresses).
fn abs_expectation(r: &OpResult, base: u64) -> String {
    match r {
        OpResult::Ret(v) if *v < 0 => format_return(*v as u64),
        OpResult::Ret(v) if *v > 0xffff => format!("{v:#x}"),
        OpResult::Ret(v) => v.to_string(),
        OpResult::Bytes(b) => bytes_literal(b),
        OpResult::Signal { sig, code, addr } if matches!((sig, code), (11, 1) | (11, 2) | (7, 2)) => {
            format!("{}@{:#x}", signal_word(*sig, *code), addr.resolve(base))
        }
        OpResult::Signal { sig: 7, .. } => "SIGBUS".to_string(),
        OpResult::Signal { .. } => "SIGSEGV".to_string(),
    }
}

/// The scenario for `ops`: a native domain, process `p0` with
/// `mmap_base = base + range_len`, the two guard pages the oracle puts
/// around the range (and the model's I/O scratch buffer when `pread` or
/// `pwrite` is used), then one call per op with the host's result as the
/// expectation (when `host` is given). Ops the language cannot express
/// exactly are written as close as it allows, with a comment.
pub fn to_mms(ops: &[Op], host: Option<&Transcript>, base: u64, range_len: u64, div: Option<&Divergence>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Differential test case: {} ops run on the host kernel and in the model.", ops.len());
    if let Some(d) = div {
        for line in d.to_string().lines() {
            let _ = writeln!(s, "# {line}");
        }
    }
    let _ = writeln!(s, "# Expectations are the host's results. Range: {base:#x}+{}.", fmt_len(range_len));
    let _ = writeln!(s, "domain host native");
    let _ = writeln!(
        s,
        "process p0 in host mmap_base={:#x} brk={:#x}",
        base + range_len,
        base + crate::oracle::op::BRK_OFF
    );
    let _ = writeln!(s, "\n# The oracle's worker closes its standard descriptors (close_range).");
    let _ = writeln!(s, "p0: close(0) = 0\np0: close(1) = 0\np0: close(2) = 0");
    let _ = writeln!(s, "\n# The oracle's guard pages around the range.");
    let guard = "PROT_NONE, MAP_SHARED|MAP_ANONYMOUS|MAP_FIXED, -1, 0";
    let _ = writeln!(s, "p0: mmap({:#x}, 4K, {guard}) = {:#x}", base - PAGE_SIZE, base - PAGE_SIZE);
    let _ = writeln!(s, "p0: mmap({:#x}, 4K, {guard}) = {:#x}", base + range_len, base + range_len);
    // The model's process always has the scratch buffer; it counts in the
    // use that relative rlimits start from.
    let rlimits = if ops.iter().any(|o| matches!(o, Op::Setrlimit { .. })) {
        crate::oracle::model::resolved_rlimits(
            ops,
            &crate::oracle::model::ModelConfig { base, range_len, ..Default::default() },
        )
    } else {
        Vec::new()
    };
    if ops.iter().any(|o| matches!(o, Op::Pread { .. } | Op::Pwrite { .. } | Op::Setrlimit { .. })) {
        let _ = writeln!(
            s,
            "# The I/O buffer of pread/pwrite (outside the range).\np0: mmap({SCRATCH_ADDR:#x}, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED|MAP_NORESERVE, -1, 0) = {SCRATCH_ADDR:#x}"
        );
    }
    let _ = writeln!(s);
    // Process names and memfd variables.
    let mut nprocs = 1usize;
    let mut alive = vec![true];
    let mut slots: Vec<Vec<Option<String>>> = vec![vec![None; 64]];
    let mut nvars = 0usize;
    let a = |x: &Addr| format!("{:#x}", x.resolve(base));
    for (i, op) in ops.iter().enumerate() {
        let res = host.and_then(|t| t.steps.get(i)).map(|st| &st.result);
        let exp = |r: Option<&OpResult>| match r {
            Some(r) => format!(" = {}", abs_expectation(r, base)),
            None => String::new(),
        };
        let Some(p) = op.p() else {
            for (q, live) in alive.iter().enumerate() {
                if *live {
                    let _ = writeln!(s, "show maps p{q}");
                }
            }
            continue;
        };
        let fd = |f: &FdRef, slots: &Vec<Vec<Option<String>>>| -> String {
            match f {
                FdRef::None => "-1".to_string(),
                FdRef::Raw(n) => n.to_string(),
                FdRef::Slot(k) => {
                    slots.get(p).and_then(|v| v.get(*k as usize)).cloned().flatten().unwrap_or_else(|| "-1".to_string())
                }
            }
        };
        let who = format!("p{p}: ");
        let line = match op {
            Op::Mmap { addr, len, prot, flags, fd: f, off, .. } => format!(
                "{who}mmap({}, {}, {}, {}, {}, {}){}",
                if *addr == Addr::NULL { "NULL".to_string() } else { a(addr) },
                fmt_len(*len),
                format_flags("PROT_", *prot as u32 as u64),
                format_flags("MAP_", *flags as u32 as u64),
                fd(f, &slots),
                fmt_len(*off),
                exp(res)
            ),
            Op::Munmap { addr, len, .. } => format!("{who}munmap({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            Op::Mprotect { addr, len, prot, .. } => format!(
                "{who}mprotect({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                format_flags("PROT_", *prot as u32 as u64),
                exp(res)
            ),
            Op::Mremap { old, old_len, new_len, flags, new_addr, .. } => format!(
                "{who}mremap({}, {}, {}, {}, {}){}",
                a(old),
                fmt_len(*old_len),
                fmt_len(*new_len),
                format_flags("MREMAP_", *flags as u32 as u64),
                if *new_addr == Addr::NULL { "NULL".to_string() } else { a(new_addr) },
                exp(res)
            ),
            Op::Madvise { addr, len, advice, .. } => format!(
                "{who}madvise({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                const_name_for("MADV_", *advice as u32 as u64)
                    .map_or_else(|| (*advice as u32).to_string(), str::to_string),
                exp(res)
            ),
            Op::Mlock { addr, len, .. } => format!("{who}mlock({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            Op::Mlock2 { addr, len, flags, .. } => format!(
                "{who}mlock2({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                if *flags == 0 { "0".to_string() } else { format_flags("MLOCK_", *flags as u64) },
                exp(res)
            ),
            Op::Munlock { addr, len, .. } => format!("{who}munlock({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            Op::Mlockall { flags, .. } => format!(
                "{who}mlockall({}){}",
                if *flags == 0 { "0".to_string() } else { format_flags("MCL_", *flags as u32 as u64) },
                exp(res)
            ),
            Op::Munlockall { .. } => format!("{who}munlockall(){}", exp(res)),
            Op::Setuid { uid, .. } => format!("{who}# setuid({uid}){}: not expressible in .mms", exp(res)),
            Op::Mseal { addr, len, flags, .. } => {
                format!("{who}mseal({}, {}, {}){}", a(addr), fmt_len(*len), fmt_int(*flags as i64), exp(res))
            }
            Op::Msync { addr, len, flags, .. } => format!(
                "{who}msync({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                if *flags == 0 { "0".to_string() } else { format_flags("MS_", *flags as u32 as u64) },
                exp(res)
            ),
            // The language's two-argument mincore returns bytes: an error
            // cannot be its expectation (it is printed when run).
            Op::Mincore { addr, len, .. } => match res {
                Some(OpResult::Ret(v)) => {
                    format!("{who}mincore({}, {})  # host: {}", a(addr), fmt_len(*len), format_return(*v as u64))
                }
                _ => format!("{who}mincore({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            },
            Op::MemfdCreate { slot, flags, .. } => {
                let ok = matches!(res, Some(OpResult::Ret(v)) if *v >= 0) || res.is_none();
                if ok {
                    nvars += 1;
                    let var = format!("fd{nvars}");
                    let l = format!(
                        "{who}{var} = memfd_create(\"mmsim\"){}{}",
                        if res.is_some() { " = ok" } else { "" },
                        if *flags != 0 {
                            format!("  # memfd_create flags {flags:#x} not expressible")
                        } else {
                            String::new()
                        }
                    );
                    if let Some(v) = slots.get_mut(p).and_then(|v| v.get_mut(*slot as usize)) {
                        *v = Some(var);
                    }
                    l
                } else {
                    format!("# {who}memfd_create(\"mmsim\") with flags {flags:#x}: host{}", exp(res))
                }
            }
            Op::Ftruncate { fd: f, len, .. } => {
                format!("{who}ftruncate({}, {}){}", fd(f, &slots), fmt_int(*len as i64), exp(res))
            }
            Op::Close { fd: f, .. } => {
                let l = format!("{who}close({}){}", fd(f, &slots), exp(res));
                if let FdRef::Slot(k) = f
                    && let Some(v) = slots.get_mut(p).and_then(|v| v.get_mut(*k as usize))
                {
                    *v = None;
                }
                l
            }
            Op::Pwrite { fd: f, off, bytes, .. } => format!(
                "{who}store({SCRATCH_ADDR:#x}, {})\n{who}pwrite({}, {SCRATCH_ADDR:#x}, {}, {}){}",
                bytes_literal(bytes),
                fd(f, &slots),
                bytes.len(),
                fmt_int(*off as i64),
                exp(res)
            ),
            Op::Pread { fd: f, off, len, .. } => match res {
                Some(OpResult::Bytes(b)) => format!(
                    "{who}pread({}, {SCRATCH_ADDR:#x}, {}, {}) = {}\n{who}load({SCRATCH_ADDR:#x}, {}) = {}",
                    fd(f, &slots),
                    len,
                    fmt_int(*off as i64),
                    b.len(),
                    b.len(),
                    bytes_literal(b)
                ),
                _ => format!(
                    "{who}pread({}, {SCRATCH_ADDR:#x}, {}, {}){}",
                    fd(f, &slots),
                    len,
                    fmt_int(*off as i64),
                    exp(res)
                ),
            },
            Op::Load { addr, len, .. } => format!("{who}load({}, {}){}", a(addr), len, exp(res)),
            Op::Store { addr, bytes, .. } => format!("{who}store({}, {}){}", a(addr), bytes_literal(bytes), exp(res)),
            Op::Touch { addr, len, write: false, .. } => format!("{who}touch({}, {}, r){}", a(addr), len, exp(res)),
            Op::Touch { addr, len, write: true, .. } => touch_write_lines(&who, addr.resolve(base), *len, res, base),
            Op::Fork { .. } => match res {
                Some(OpResult::Ret(v)) if *v < 0 => format!("{who}fork() = {}", format_return(*v as u64)),
                _ => {
                    let n = nprocs;
                    nprocs += 1;
                    alive.push(true);
                    let inherited = slots.get(p).cloned().unwrap_or_else(|| vec![None; 64]);
                    slots.push(inherited);
                    format!("{who}p{n} = fork()")
                }
            },
            Op::Exit { .. } => {
                if let Some(l) = alive.get_mut(p) {
                    *l = false;
                }
                format!("{who}exit()")
            }
            Op::Setrlimit { resource, cur, max, .. } => {
                let name =
                    const_name_for("RLIMIT_", *resource as u64).map_or_else(|| resource.to_string(), str::to_string);
                let lim = |v: u64| if v == u64::MAX { "RLIM_INFINITY".to_string() } else { format!("{v:#x}") };
                match rlimits.get(i).copied().flatten() {
                    Some((c, m)) => format!(
                        "{who}setrlimit({name}, {}, {}){}  # {cur:?}, {max:?} (pages over the use)",
                        lim(c),
                        lim(m),
                        exp(res)
                    ),
                    None => format!("# {who}setrlimit({name}, {cur:?}, {max:?}){}", exp(res)),
                }
            }
            Op::Brk { addr, .. } => format!("{who}brk({}){}", a(addr), exp(res)),
            Op::Snapshot => String::new(),
        };
        let _ = writeln!(s, "{line}");
        if div.is_some_and(|d| d.step == Some(i)) {
            let _ = writeln!(s, "# ^ the divergence shows after this step");
            show_state(&mut s, &alive, host, Some(i), base);
        }
    }
    if div.is_some_and(|d| d.step.is_none()) || div.is_none() {
        show_state(&mut s, &alive, host, None, base);
    }
    s
}

/// `show` statements for every live process: maps, smaps, and the pagemap
/// of each VMA the host had in the range.
fn show_state(s: &mut String, alive: &[bool], host: Option<&Transcript>, step: Option<usize>, base: u64) {
    let snap = host.and_then(|t| match step {
        Some(i) => t.steps.get(i).and_then(|st| st.snapshot.as_ref()),
        None => Some(&t.final_state),
    });
    for (q, live) in alive.iter().enumerate() {
        if !*live {
            continue;
        }
        let _ = writeln!(s, "show maps p{q}\nshow smaps p{q}");
        if let Some(ps) = snap.and_then(|sn| sn.iter().find(|ps| ps.p == q)) {
            for v in &ps.vmas {
                let start = v.start.max(base);
                let len = (v.end - start).min(256 * PAGE_SIZE);
                let letters: String = v.pages.iter().take(256).map(page_letter).collect();
                let _ = writeln!(s, "# host pagemap from {start:#x}: {letters}");
                let _ = writeln!(s, "show pagemap p{q} {start:#x} {}", fmt_len(len));
            }
        }
    }
}

/// The oracle's write touch, page by page: a read access then a write
/// access (the interpreter's `touch(.., w)` is a single write access).
/// Pages up to the one where the host stopped; the expectation goes on
/// the last write.
fn touch_write_lines(who: &str, addr: u64, len: u64, res: Option<&OpResult>, base: u64) -> String {
    if len == 0 {
        return format!(
            "{who}touch({addr:#x}, 0, w){}",
            res.map_or(String::new(), |r| format!(" = {}", abs_expectation(r, base)))
        );
    }
    let end = addr.saturating_add(len);
    let stop = match res {
        Some(OpResult::Signal { addr: fa, .. }) => Some(fa.resolve(base)),
        _ => None,
    };
    let mut pages = Vec::new();
    let mut p = addr;
    loop {
        pages.push(p);
        // A non-canonical address is a general protection fault (SIGSEGV,
        // SI_KERNEL, si_addr 0: arch/x86/kernel/traps.c
        // `exc_general_protection`): the walk stops at the first such page,
        // whatever address the signal reports.
        if stop.is_some_and(|st| st == p) || (stop.is_some() && !canonical(p)) || pages.len() > 16 {
            break;
        }
        match (p & !(PAGE_SIZE - 1)).checked_add(PAGE_SIZE) {
            Some(n) if n < end => p = n,
            _ => break,
        }
    }
    if pages.len() > 16 {
        return format!(
            "{who}touch({addr:#x}, {len}, w){}  # the oracle reads then writes each page",
            res.map_or(String::new(), |r| format!(" = {}", abs_expectation(r, base)))
        );
    }
    let mut out = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let last = i + 1 == pages.len();
        out.push(format!("{who}touch({p:#x}, 1, r){}", if last { "" } else { " = 0" }));
        let e = if last {
            res.map_or(String::new(), |r| format!(" = {}", abs_expectation(r, base)))
        } else {
            " = 0".to_string()
        };
        out.push(format!("{who}touch({p:#x}, 1, w){e}"));
    }
    out.join("\n")
}

/// x86-64 with 4-level paging: is `a` a canonical address?
fn canonical(a: u64) -> bool {
    !(0x0000_8000_0000_0000..0xffff_8000_0000_0000).contains(&a)
}

/// Convenience for tests: the host configuration with snapshots only at
/// [`Op::Snapshot`] (and the end).
pub fn explicit(cfg: &HostConfig) -> HostConfig {
    HostConfig { snapshots: SnapshotMode::Explicit, ..cfg.clone() }
}
