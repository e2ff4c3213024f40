//! No input makes mmsim panic, abort or exhaust the host: the fuzzing
//! campaign. A mutator over the golden scenarios (tests/scenarios/*.mms)
//! and hand-written hostile snippets feeds two targets: the parser and
//! checker (errors must point inside the source and render), and the
//! interpreter (run under a step budget; each run timed). Every case
//! also renders its events as text and JSON, as the CLI would.
//!
//! The normal test suite runs a short campaign (a few seconds). A long one:
//!
//! ```text
//! MMSIM_FUZZ_CASES=100000 cargo test --release --test robustness campaign -- --nocapture
//! ```
//!
//! (`MMSIM_FUZZ_SEED=N` picks another deterministic seed;
//! `MMSIM_FUZZ_FROM=K` skips the first K cases, drawn but not run, to
//! bisect a sub-range; `MMSIM_FUZZ_SLOW_MS=M` prints each case slower than
//! M ms with its index and script.) It reports the
//! cases run, the slowest case, and the peak RSS (VmHWM), and fails on a
//! panic, a case over [`MAX_CASE_SECS`], or a peak RSS over 1 GiB. Findings
//! become regression tests below (`regressions`).

use mmsim::run::output::{self, Style};
use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;
use std::time::{Duration, Instant};

/// Steps the interpreter target runs at most (bigger scripts are checked
/// but not run): the step budget.
const MAX_RUN_STEPS: usize = 5_000;
/// The slowest a single case may be.
const MAX_CASE_SECS: u64 = 30;

fn corpus() -> Vec<String> {
    let mut v = Vec::new();
    for dir in ["tests/scenarios", "examples"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "mms")
                    && let Ok(s) = std::fs::read_to_string(e.path())
                {
                    v.push(s);
                }
            }
        }
    }
    v.sort();
    v.extend(HOSTILE.iter().map(|s| s.to_string()));
    v
}

/// Hand-written hostile scripts: each fuzzing finding's class, and whole
/// scripts the mutator splices lines from.
const HOSTILE: &[&str] = &[
    "machine frames=1000000000000\ndomain host native\nprocess p in host\np: a = mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: store(a, \"x\")\n",
    "machine frames=18446744073709551615\n",
    "machine frames=1T\ndomain big pv pages=100000000\n",
    "domain host native\nprocess p in host\np: a = mmap(NULL, 64G, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)\np: b = load(a, 64G)\np: c = load(a, 64M)\np: d = load(a, 64M)\np: e = load(a, 64M)\np: f = load(a, 64M)\np: g = load(a, 64M)\n",
    "domain host native\nprocess p in host\np: a = mmap(NULL, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: v = mincore(a, 0x7fffffffffff)\np: w = mincore(a, 1T, a)\n",
    "domain host pv\ndisk d in host sectors=100000000000\nd: a = read(0, 8G)\nd: b = read(0, 64M)\nd: write(0, x\"5a\" * 64M)\nd: write(64M, x\"5a\" * 64M)\n",
    "domain host native\nprocess p in host\np: a = mmap(NULL, 1T, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0)\np: mlock(a, 1T)\np: touch(a, 1T, w)\np: c = fork()\np: madvise(a, 1T, MADV_DONTNEED)\np: munmap(a, 1T)\n",
    "domain host native pages=16\nprocess p in host\np: a = mmap(NULL, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: touch(a, 1M, w)\np: c = fork()\nc: touch(a, 1M, w)\n",
    "domain dom0 pv privileged\ndomain domU pv\nprocess q in dom0\ndomU: g = alloc_page()\ndomU: r = gnttab_grant_foreign_access(g, dom0, rw)\nq: fd = open(\"/dev/xen/gntdev\", O_RDWR)\nq: ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, [[domU, 0xffffffff]])\nq: c = fork()\ncheck\n",
    "p: x = \"\" * 18446744073709551615\np: y = x\"ff\" * 67108865\n",
    "domain host native\nprocess p in host\np: b = x\"5a\" * 64M ++ x\"5a\" * 64M\n",
];

/// One mutation, drawn by proptest.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteChar(usize),
    InsertChar(usize, char),
    ReplaceChar(usize, char),
    DuplicateLine(usize, u16),
    SwapLines(usize, usize),
    /// A line from another corpus script, inserted at a line.
    Splice(usize, usize, usize),
    /// A number (or size word) replaced by an interesting one.
    Number(usize, usize),
}

const CHARS: &[char] = &[
    '(', ')', '"', ',', '=', ':', '0', 'x', '\n', ' ', '-', '[', ']', 'K', 'G', 'T', '9', '|', '#', '@', '*', '+', 'é',
    '\t', '\r', '\0',
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "4095",
    "4097",
    "64M",
    "64M+1",
    "1G",
    "64G",
    "1T",
    "0x7fffffffffff",
    "0xffffffffffffffff",
    "18446744073709551616",
    "1000000000000",
    "-4096",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let ch = prop::sample::select(CHARS.to_vec());
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteChar),
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Mutation::InsertChar(i, c)),
        (any::<usize>(), ch).prop_map(|(i, c)| Mutation::ReplaceChar(i, c)),
        (any::<usize>(), prop_oneof![1u16..4, 1u16..2000]).prop_map(|(i, n)| Mutation::DuplicateLine(i, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(a, b, c)| Mutation::Splice(a, b, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Number(a, b)),
    ]
}

fn mutate(corpus: &[String], src: &str, muts: &[Mutation]) -> String {
    let mut s = src.to_string();
    for m in muts {
        let mut chars: Vec<char> = s.chars().collect();
        let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
        match *m {
            Mutation::DeleteChar(i) if !chars.is_empty() => {
                chars.remove(i % chars.len());
                s = chars.into_iter().collect();
            }
            Mutation::InsertChar(i, c) => {
                chars.insert(i % (chars.len() + 1), c);
                s = chars.into_iter().collect();
            }
            Mutation::ReplaceChar(i, c) if !chars.is_empty() => {
                let n = chars.len();
                chars[i % n] = c;
                s = chars.into_iter().collect();
            }
            Mutation::DuplicateLine(i, n) if !lines.is_empty() => {
                let at = i % lines.len();
                let l = lines[at].clone();
                for _ in 0..n {
                    lines.insert(at, l.clone());
                }
                s = lines.join("\n");
            }
            Mutation::SwapLines(a, b) if !lines.is_empty() => {
                let n = lines.len();
                lines.swap(a % n, b % n);
                s = lines.join("\n");
            }
            Mutation::Splice(from, line, at) if !corpus.is_empty() => {
                let other: Vec<&str> = corpus[from % corpus.len()].lines().collect();
                if !other.is_empty() {
                    lines.insert(at % (lines.len() + 1), other[line % other.len()].to_string());
                    s = lines.join("\n");
                }
            }
            Mutation::Number(which, pick) => {
                // The which-th run of digits.
                let b = s.as_bytes();
                let runs: Vec<(usize, usize)> = {
                    let mut v = Vec::new();
                    let mut i = 0;
                    while i < b.len() {
                        if b[i].is_ascii_digit() {
                            let st = i;
                            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                                i += 1;
                            }
                            v.push((st, i));
                        } else {
                            i += 1;
                        }
                    }
                    v
                };
                if !runs.is_empty() {
                    let (st, en) = runs[which % runs.len()];
                    s.replace_range(st..en, NUMBERS[pick % NUMBERS.len()]);
                }
            }
            _ => {}
        }
    }
    s
}

/// What one case did, for the campaign's figures.
#[derive(Default, Debug)]
struct Tally {
    rejected: u64,
    ran: u64,
    run_errors: u64,
    too_long: u64,
}

/// Target 1: parser and checker; target 2: the interpreter under the step
/// budget, rendering every event as text and JSON.
fn exercise(src: &str, tally: &mut Tally) {
    match script::parse_and_check("fuzz.mms", src) {
        Err(errs) => {
            tally.rejected += 1;
            for e in &errs {
                assert!(e.span.start <= src.len() && e.span.end <= src.len(), "error span outside source: {e:?}");
            }
            let text = script::render_errors("fuzz.mms", src, &errs, false);
            assert!(text.starts_with("fuzz.mms:"), "diagnostic without file:line:col: {text}");
        }
        Ok(c) if c.steps.len() > MAX_RUN_STEPS => tally.too_long += 1,
        Ok(c) => {
            tally.ran += 1;
            let mut r = Runner::new(&c, effective_variant(&c, None));
            let mut sink = |e: &mmsim::run::Event| {
                let _ = output::event_text("fuzz.mms", e, Style { color: false });
                let _ = output::event_json("fuzz.mms", e);
            };
            if let Err(e) = r.run(&mut sink) {
                tally.run_errors += 1;
                assert!(e.span.end <= src.len(), "runtime error span outside source: {e:?}");
                let text = script::render_errors("fuzz.mms", src, &[e], false);
                assert!(text.starts_with("fuzz.mms:"), "diagnostic without file:line:col: {text}");
            }
        }
    }
}

/// Peak resident set of this process (VmHWM), in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The campaign: `MMSIM_FUZZ_CASES` cases (default 150, a few seconds in
/// release) from a deterministic seed.
#[test]
fn campaign() {
    let cases = env_u64("MMSIM_FUZZ_CASES", 150);
    let seed = env_u64("MMSIM_FUZZ_SEED", 1);
    let corpus = corpus();
    assert!(corpus.len() > HOSTILE.len(), "the golden corpus is missing");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let cfg = Config { cases: cases as u32, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(cfg, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let strat = (any::<usize>(), prop::collection::vec(mutation(), 0..8));
    let start = Instant::now();
    let tally = std::cell::RefCell::new(Tally::default());
    let slowest = std::cell::Cell::new(Duration::ZERO);
    let done = std::cell::Cell::new(0u64);
    // A sub-range of the same campaign: cases are drawn in order from the
    // seed whatever the test does, so skipped cases cost only their drawing.
    let from = env_u64("MMSIM_FUZZ_FROM", 0);
    let slow_ms = env_u64("MMSIM_FUZZ_SLOW_MS", u64::MAX);
    let result = runner.run(&strat, |(pick, muts)| {
        let index = done.get();
        if index < from {
            done.set(index + 1);
            return Ok(());
        }
        let src = mutate(&corpus, &corpus[pick % corpus.len()], &muts);
        let t = Instant::now();
        exercise(&src, &mut tally.borrow_mut());
        let took = t.elapsed();
        slowest.set(slowest.get().max(took));
        if took.as_millis() >= slow_ms as u128 {
            eprintln!("  case {index}: {took:?}:\n{src}\n  ----");
        }
        done.set(done.get() + 1);
        if done.get().is_multiple_of(10_000) {
            eprintln!("  {} cases, {:.0} s, slowest {:?}", done.get(), start.elapsed().as_secs_f64(), slowest.get());
        }
        prop_assert!(took < Duration::from_secs(MAX_CASE_SECS), "case took {took:?}:\n{src}");
        Ok(())
    });
    let hwm = vm_hwm_kib();
    eprintln!(
        "fuzz campaign: {cases} cases, seed {seed}, {:.1} s; {:?}; slowest case {:?}; peak RSS (VmHWM) {} KiB",
        start.elapsed().as_secs_f64(),
        tally.borrow(),
        slowest.get(),
        hwm.map_or("?".to_string(), |k| k.to_string())
    );
    if let Err(e) = result {
        panic!("fuzzing finding: {e}");
    }
    if let Some(k) = hwm {
        assert!(k < 1 << 20, "peak RSS {k} KiB is over 1 GiB");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, .. ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "[ -~\n]{0,200}") {
        exercise(&s, &mut Tally::default());
    }
}

#[test]
fn hostile_snippets_end_in_errors_not_the_host() {
    for h in HOSTILE {
        exercise(h, &mut Tally::default());
    }
}

#[test]
fn huge_script_runs_in_bounded_memory() {
    let mut s = String::from("domain host native\nprocess p in host\n");
    for i in 0..100_000u64 {
        s.push_str(&format!("p: x{} = mmap(NULL, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n", i % 10));
        if i % 2 == 1 {
            s.push_str(&format!("p: munmap(x{}, 4K) = 0\n", i % 10));
        }
    }
    let c = script::parse_and_check("big.mms", &s).expect("checks");
    let mut steps = 0u64;
    let mut r = Runner::new(&c, effective_variant(&c, None));
    let o = r.run(&mut |_| steps += 1).expect("runs");
    assert_eq!(o.expectations_failed, 0);
    assert_eq!(steps, 150_000);
}

/// Finding (case 12495 of the seed-1 campaign): a golden scenario with one
/// line duplicated 1,659 times, `show pagemap p v 1T`, printed 2.3 GB of
/// page letters in 8 s (each show is capped at a million pages, but the
/// lines are not). The interpreter's time budget (`MAX_RUN_SECS`, 30 s)
/// ends any such run with a positioned error; here with a short budget.
#[test]
fn runs_stop_at_the_time_budget() {
    assert_eq!(mmsim::run::MAX_RUN_SECS, 30);
    let mut s = String::from(
        "domain host native\nprocess p in host\np: a = mmap(NULL, 1T, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)\n",
    );
    for _ in 0..5_000 {
        s.push_str("show pagemap p a 1T\n");
    }
    let c = script::parse_and_check("budget.mms", &s).expect("checks");
    let mut r = Runner::new(&c, effective_variant(&c, None));
    assert_eq!(r.time_limit, Duration::from_secs(30), "the default budget");
    r.time_limit = Duration::from_millis(200);
    let t = Instant::now();
    let e = r.run(&mut |_| {}).expect_err("the run stops at its budget");
    assert!(t.elapsed() < Duration::from_secs(5), "stopped after {:?}", t.elapsed());
    let text = script::render_errors("budget.mms", &s, &[e], false);
    assert!(text.starts_with("budget.mms:") && text.contains("MAX_RUN_SECS"), "{text}");
}

/// Finding (session 13, a mutated golden scenario: `show p2m dom0 0x4ffe
/// 0xffffffffffffffff`): `show p2m` with an explicit count walked every
/// entry of the count to tally the lines it left out, 2^64 steps inside
/// one statement, so the time budget (checked between statements) never
/// ended it. The show now walks only the lines it prints and counts the
/// rest. `show m2p` is bounded the same way.
#[test]
fn a_huge_show_count_costs_the_lines_printed() {
    let s = "domain d pv\nshow p2m d 0x10 0xffffffffffffffff\nshow m2p 0 0xffffffffffffffff\n";
    let c = script::parse_and_check("count.mms", s).expect("checks");
    let mut r = Runner::new(&c, effective_variant(&c, None));
    r.time_limit = Duration::from_secs(5);
    let mut text = String::new();
    let t = Instant::now();
    r.run(&mut |e| text.push_str(&output::event_text("count.mms", e, Style { color: false })))
        .expect("runs within the budget");
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    // 4,096 lines each, and the rest counted: 2^64 - 1 - 4,096 entries.
    let left = format!("... {} more entries left out (at most 4096 lines)", u64::MAX - 0x10 - 4096);
    assert!(text.contains(&left), "p2m tally missing: {}", &text[text.len().saturating_sub(600)..]);
    assert!(text.contains(&format!("... {} more entries left out", u64::MAX - 4096)), "m2p tally missing");
    assert!(text.contains("d0 p2m pfn 0x100f: "), "the 4,096th p2m line is printed");
    assert!(!text.contains("d0 p2m pfn 0x1010: "), "no 4,097th p2m line");
}
