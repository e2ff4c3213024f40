//! The built `mmsim` binary under a 1 GiB address-space limit
//! (RLIMIT_AS, set in the child): the golden corpus and each hostile class
//! that fuzzing found end with exit status 0, 1 or 2 and a message, never
//! a signal (an abort from a failed allocation is SIGABRT) or a panic.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const LIMIT_AS: u64 = 1 << 30;

fn mmsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmsim"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: LIMIT_AS, rlim_max: LIMIT_AS };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.stdin(Stdio::null());
    c
}

/// Runs and asserts: no signal, status in 0..=2, no panic message.
fn check(out: &Output, what: &str) -> i32 {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.signal().is_none(), "{what}: killed by signal {:?}\n{err}", out.status.signal());
    let code = out.status.code().unwrap_or(-1);
    assert!((0..=2).contains(&code), "{what}: exit status {code}\n{err}");
    assert!(!err.contains("panicked"), "{what}: panic\n{err}");
    code
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile_cli");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let p = dir.join(name);
    std::fs::File::create(&p).and_then(|mut f| f.write_all(text.as_bytes())).expect("scratch file");
    p
}

/// `mmsim run FILE` under the limit: (status, stdout, stderr).
fn run_script(name: &str, text: &str) -> (i32, String, String) {
    let p = scratch(name, text);
    let out = mmsim().arg("run").arg(&p).output().expect("spawn mmsim");
    let code = check(&out, name);
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn golden_corpus_under_1gib_address_space() {
    let mut files = Vec::new();
    for dir in ["tests/scenarios", "examples"] {
        if let Ok(rd) = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)) {
            files.extend(rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "mms")));
        }
    }
    files.sort();
    assert!(files.len() >= 10, "golden corpus missing");
    for f in &files {
        for json in [false, true] {
            let mut c = mmsim();
            c.arg("run").arg(f);
            if json {
                c.arg("--json");
            }
            let out = c.output().expect("spawn mmsim");
            check(&out, &f.display().to_string());
        }
    }
}

#[test]
fn huge_machine_costs_only_what_is_used() {
    let (code, out, err) = run_script(
        "huge-machine.mms",
        "machine frames=1000000000000\ndomain host native\nprocess p in host\n\
         p: a = mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: store(a, \"x\") = 0\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run_script("huger-machine.mms", "machine frames=100000000000000\n");
    assert_eq!(code, 2);
    assert!(err.contains("huger-machine.mms:1:16:") && err.contains("MAX_MACHINE_FRAMES"), "{err}");
    // A domain asking for more than the model's guest RAM: Xen's ENOMEM.
    let (code, _, err) = run_script("huge-domain.mms", "machine frames=1T\ndomain big native pages=100000000\n");
    assert_eq!(code, 2);
    assert!(err.contains("huge-domain.mms:2:") && err.contains("ENOMEM"), "{err}");
}

#[test]
fn huge_loads_and_reads_are_errors_naming_the_limit() {
    let (code, _, err) = run_script(
        "load64g.mms",
        "domain host native\nprocess p in host\n\
         p: a = mmap(NULL, 64G, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)\np: b = load(a, 64G)\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("load64g.mms:4:16:") && err.contains("MAX_BYTES"), "{err}");
    let mut s = String::from(
        "domain host native\nprocess p in host\np: a = mmap(NULL, 64M, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n",
    );
    for i in 0..5 {
        s.push_str(&format!("p: b{i} = load(a, 64M)\n"));
    }
    let (code, _, err) = run_script("loads.mms", &s);
    assert_eq!(code, 2);
    assert!(err.contains("loads.mms:6:1:") && err.contains("MAX_BOUND_BYTES"), "{err}");
    let (code, _, err) = run_script(
        "disk8g.mms",
        "domain host pv\ndisk d in host sectors=100000000\nd: b = read(0, 1G)\nd: c = read(0, 8G)\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("disk8g.mms:3:") && err.contains("MAX_BYTES"), "{err}");
    let (code, _, err) = run_script(
        "mincore.mms",
        "domain host native\nprocess p in host\np: a = mmap(NULL, 512G, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)\n\
         p: v = mincore(a, 512G)\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("mincore.mms:4:") && err.contains("MAX_BYTES"), "{err}");
    // Over an unmapped range the kernel's answer comes first: -ENOMEM.
    let (code, _, err) = run_script(
        "mincore-unmapped.mms",
        "domain host native\nprocess p in host\np: a = mmap(NULL, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         p: v = mincore(a, 0x7fffffffffff)\n",
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn dev_zero_is_a_size_error() {
    let out = mmsim().args(["run", "/dev/zero"]).output().expect("spawn mmsim");
    assert_eq!(check(&out, "/dev/zero"), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/dev/zero:1:1:") && err.contains("MAX_SOURCE_BYTES"), "{err}");
    assert!(err.len() < 4096, "the diagnostic shows a window of the line, not all of it");
}

#[test]
fn many_declarations_stop_at_the_limit() {
    let mut s = String::from("domain host native\n");
    for i in 0..300_000 {
        s.push_str(&format!("process p{i} in host\n"));
    }
    let (code, _, err) = run_script("decls.mms", &s);
    assert_eq!(code, 2);
    assert!(err.contains("decls.mms:10001:1:") && err.contains("MAX_DECLARATIONS"), "{err}");
}

/// 30 000 VMAs, then forks: every VMA is a `vm_area_struct` in slab pages
/// of the domain (kernel/slab.rs, 21 objects a page), so the copies run the
/// domain out of memory, never the host (bounded RSS under RLIMIT_AS).
/// Out of memory in `vm_area_dup()` (kernel/fork.c 6.12 L702, a GFP_KERNEL
/// order-0 allocation: "too small to fail") invokes the OOM killer.
///
/// The figures: each mm's 30 000 VMAs take ceil(30000 / 21) = 1429 slab
/// pages; the domain has 16 384 (DEFAULT_DOMAIN_PAGES). p and 10 children
/// hold 330 000 objects = 15 715 pages (+ 11 PGDs) and fit; a 12th mm
/// needs 360 000 / 21 = 17 143 pages and does not. So c0..c9 fork without
/// a kill and the fork of c10 runs out. No task has touched a page: every
/// `oom_badness()` is 0 (RSS 0, no PUD/PMD/PTE table; mm/oom_kill.c L232),
/// and `oom_evaluate_task()` skips only `points < oc->chosen_points` (L344),
/// so of equal scores the last in `for_each_process()` order wins: the
/// newest child, never p (the child being forked is not on the task list
/// yet). From then on each fork kills the child forked before it.
#[test]
fn many_vmas_then_forks_oom_kill_the_newest_child() {
    let mut s = String::from("domain host native\nprocess p in host\n");
    for i in 0..30_000 {
        let prot = if i % 2 == 0 { "PROT_READ" } else { "PROT_READ|PROT_WRITE" };
        s.push_str(&format!("p: mmap(NULL, 4K, {prot}, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n"));
    }
    const FORKS: usize = 40;
    for i in 0..FORKS {
        s.push_str(&format!("p: c{i} = fork()\n"));
    }
    for i in 0..FORKS {
        s.push_str(&format!("c{i}: brk(0)\n"));
    }
    s.push_str("p: brk(0)\nshow log host\n");
    let (code, out, err) = run_script("vmas-forks.mms", &s);
    assert_eq!(code, 0, "{err}");
    // Every fork returns a pid: the kernel's rule kills, it does not fail.
    for i in 0..FORKS {
        assert!(out.contains(&format!("c{i} = fork()  -> {}\n", i + 2)), "c{i}: {out:.2000}");
    }
    assert!(!out.contains("-ENOMEM"), "no fork fails");
    // c0..c8 and the last child live; c9..c38 were each killed by the
    // next fork (line of `c{i+1} = fork()` is 30 002 + i + 2).
    for i in 0..FORKS {
        let line = format!("c{i}: brk(0)  -> ");
        let at = out.find(&line).unwrap_or_else(|| panic!("c{i}: {out:.2000}"));
        let rest = &out[at + line.len()..];
        if (9..FORKS - 1).contains(&i) {
            let by = 30_002 + i + 2;
            assert!(
                rest.starts_with(&format!("KILLED (SIGKILL from the OOM killer at line {by})")),
                "c{i}: {rest:.200}"
            );
        } else {
            assert!(rest.starts_with("0x"), "c{i} lives: {rest:.200}");
        }
    }
    assert!(out.contains("p: brk(0)  -> 0x"), "the parent is never chosen");
    // __oom_kill_process(): one line a victim (mm/oom_kill.c L955), each a
    // child with total-vm 30 000 pages = 120 000 kB and nothing resident.
    let kills: Vec<&str> = out.lines().filter(|l| l.contains("Out of memory: Killed process")).collect();
    assert_eq!(kills.len(), FORKS - 1 - 9, "{kills:?}");
    for (n, l) in kills.iter().enumerate() {
        let (pid, name) = (n + 9 + 2, format!("c{}", n + 9));
        assert!(
            l.ends_with(&format!(
                "Out of memory: Killed process {pid} ({name}) total-vm:120000kB, anon-rss:0kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0"
            )),
            "{l}"
        );
    }
    // The allocation that ran out: a slab page, GFP_KERNEL (mm/slub.c
    // allocate_slab's retry with the caller's flags).
    assert!(out.contains("p invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"), "{out:.2000}");
}

#[test]
fn bad_explore_flags_exit_2_with_a_message() {
    for args in [
        &["--time", "nan"][..],
        &["--time", "inf"],
        &["--time", "1e300"],
        &["--time=-1"],
        &["--time", "0"],
        &["--steps", "0"],
        &["--steps", "x"],
        &["--length", "0", "--steps", "1"],
        &["--replay", "", "--length", "100000000"],
        &["--seed", "-3", "--steps", "1"],
        &["-j", "100000", "--steps", "1"],
        &["-j", "0", "--steps", "1"],
        &["--shard", "3/2", "--steps", "1"],
        &["--shard", "1/0", "--steps", "1"],
        &["--shard", "x", "--steps", "1"],
    ] {
        let out = mmsim().arg("explore").args(args).output().expect("spawn mmsim");
        assert_eq!(check(&out, &format!("{args:?}")), 2, "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error"), "{args:?}: {err}");
    }
}

/// Runs `mmsim ARGS`, reads one line of its stdout and closes the pipe.
fn closed_pipe(args: &[&str]) {
    let mut child = mmsim().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn mmsim");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    let _ = std::io::Read::read(&mut stdout, &mut first);
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    check(&out, &format!("{args:?}"));
    assert!(out.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn closed_pipe_ends_quietly() {
    closed_pipe(&["explore", "--replay", "", "--length", "10000"]);
    let mut s = String::from("domain host native\nprocess p in host\n");
    for _ in 0..20_000 {
        s.push_str("p: brk(0)\n");
    }
    let p = scratch("long-output.mms", &s);
    let p = p.to_str().expect("utf-8 path");
    closed_pipe(&["run", p]);
    closed_pipe(&["run", "--json", p]);
    closed_pipe(&["demo"]);
}

/// Finding: 10,000 tiny PV domains each described 4,096 balloon PFNs
/// (~2 GB of bookkeeping). Domain builds now stop with ENOMEM at
/// `MAX_MODEL_PFNS`.
#[test]
fn many_pv_domains_end_in_enomem() {
    let s: String = (0..9_999).map(|i| format!("domain d{i} pv pages=16\n")).collect();
    let (code, _, err) = run_script("pv-domains.mms", &s);
    assert_eq!(code, 2);
    assert!(err.contains("pv-domains.mms:256:1:") && err.contains("ENOMEM"), "{err}");
}

/// `mmsim ARGS` with a stderr whose reader has gone (a pipe with its read
/// end closed): the error messages fail to write, and mmsim must still end
/// with its own status, not the panic of `eprint!` (status 101).
fn closed_stderr(args: &[&str]) -> i32 {
    let mut fds = [0i32; 2];
    // SAFETY: pipe fills two descriptors we own from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: fds[0] is ours; closing it leaves a pipe with no reader.
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is an open descriptor nobody else owns.
    let w = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let out = mmsim().args(args).stdout(Stdio::null()).stderr(Stdio::from(w)).output().expect("spawn mmsim");
    assert!(out.status.signal().is_none(), "{args:?}: killed by signal {:?}", out.status.signal());
    out.status.code().unwrap_or(-1)
}

#[test]
fn closed_stderr_does_not_panic() {
    let bad = scratch("closed-stderr.mms", "domain host native\nprocess p in host\np: nosuchcall()\n");
    let bad = bad.to_str().expect("utf-8 path");
    assert_eq!(closed_stderr(&["run", bad]), 2, "script error");
    assert_eq!(closed_stderr(&["run", "/nonexistent/x.mms"]), 2, "unreadable file");
    assert_eq!(closed_stderr(&["run", "--kernel", "no-such-variant", bad]), 2, "bad --kernel");
    assert_eq!(closed_stderr(&["explore", "--replay", "!"]), 2, "bad choice string");
    assert_eq!(closed_stderr(&["explore"]), 2, "no budget");
}

/// Finding (session 13): a `touch` of 64 GiB of zero pages faults 16 Mi
/// times, and `run --json` recorded an event for each: a 1.7 GB line and
/// 14 GB of memory for a four-line script (4 GiB aborted under this
/// limit). A step now records its first `trace::MAX_STEP_EVENTS` events
/// and counts the rest in one `events_left_out` event, in `--json`,
/// `--trace` and `--html` alike.
#[test]
fn a_step_records_at_most_max_step_events() {
    let src = "domain host native\nprocess p in host\n\
               p: a = mmap(NULL, 4G, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)\n\
               p: touch(a, 4G, r) = 0\n";
    let p = scratch("many-events.mms", src);
    let out = mmsim().args(["run", "--json"]).arg(&p).output().expect("spawn mmsim");
    assert_eq!(check(&out, "run --json"), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.len() < 4 << 20, "{} bytes of JSON", out.stdout.len());
    let text = String::from_utf8_lossy(&out.stdout);
    let touch: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["type"] == "step" && r["line"] == 4)
        .expect("the touch step");
    let events = touch["events"].as_array().expect("events");
    assert_eq!(events.len(), mmsim::trace::MAX_STEP_EVENTS + 1);
    let last = events.last().expect("one");
    assert_eq!(last["kind"], "events_left_out");
    // One read fault per page (the zero page), the first 10,000 recorded.
    let faults = events.iter().filter(|e| e["kind"] == "fault").count() as u64;
    let total = faults + last["count"].as_u64().expect("count");
    assert!(total >= 1 << 20, "{total} events for 1 Mi faults");
    let out = mmsim().args(["run", "--trace"]).arg(&p).output().expect("spawn mmsim");
    assert_eq!(check(&out, "run --trace"), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("more events left out (at most 10000 a step)"),
        "{}",
        &text[text.len().saturating_sub(500)..]
    );
}
