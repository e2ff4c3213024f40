//! A bounded exploration campaign per kernel setting: each broken setting
//! yields a violation unaided, with a reproducer of at most 15 actions that
//! fails under that setting and passes under find-special-page; the fixed
//! kernel survives a campaign with no violation and no panic.

use mmsim::explore::{self, Config, Trial};
use mmsim::kernel::variant::Variant;
use mmsim::run::parse_variant;
use std::time::Duration;

fn cfg(variant: Variant, steps: u64) -> Config {
    Config {
        variant,
        seed: 1,
        length: 30,
        max_steps: Some(steps),
        time: Some(Duration::from_secs(60)),
        shard: (0, 1),
        jobs: 1,
        stop_at_first: true,
        reach: false,
        guided: true,
        count_states: false,
    }
}

#[test]
fn broken_settings_are_found_and_shrunk() {
    let fixed = Variant::default();
    for words in ["no-special-pte", "no-find-special-page", "m2p-override", "find-special-page unmap=immediate"] {
        let v = parse_variant(words).expect("variant");
        let s = explore::explore(&cfg(v, 300_000), &|_, _, _| {});
        let f = s.found.first().unwrap_or_else(|| panic!("{words}: nothing found in {} steps", s.steps));
        assert!(f.invariant != "panic", "{words}: the model panicked: {}", f.message);
        assert!(f.ops.len() <= 15, "{words}: reproducer has {} actions", f.ops.len());
        assert!(matches!(explore::run_ops(v, &f.ops), Trial::Violation { .. }), "{words}: reproducer does not fail");
        assert_eq!(explore::run_ops(fixed, &f.ops), Trial::Clean, "{words}: reproducer fails under the fixed kernel");
    }
}

#[test]
fn fixed_kernel_campaign_is_clean() {
    let s = explore::explore(&cfg(Variant::default(), 60_000), &|_, _, _| {});
    assert!(s.steps >= 60_000);
    assert!(s.found.is_empty(), "{:#?}", s.found.iter().map(|f| (&f.invariant, &f.message)).collect::<Vec<_>>());
}

#[test]
fn shards_split_the_work() {
    let mut a = cfg(Variant::default(), 3_000);
    a.shard = (0, 2);
    let mut b = a.clone();
    b.shard = (1, 2);
    let (sa, sb) = (explore::explore(&a, &|_, _, _| {}), explore::explore(&b, &|_, _, _| {}));
    assert!(sa.sequences > 0 && sb.sequences > 0);
    // Sequence seeds differ between shards: different first sequences.
    assert_ne!(explore::sequence_seed(1, 0), explore::sequence_seed(1, 1));
}

#[test]
fn exhaustive_search_is_deterministic() {
    let mut c = cfg(Variant::default(), 20_000);
    c.length = 4;
    let a = explore::explore_exhaustive(&c, &|_, _, _| {});
    let b = explore::explore_exhaustive(&c, &|_, _, _| {});
    assert!(a.sequences >= 20_000 / 4, "the budget was used: {} sequences", a.sequences);
    assert_eq!(a.sequences, b.sequences, "the same enumeration both times");
    assert!(a.found.is_empty(), "the fixed kernel is clean");
    // Consecutive choice vectors give different sequences.
    let mut seen = std::collections::BTreeSet::new();
    let mut next = Some(Vec::new());
    for _ in 0..200 {
        let Some(v) = next else { break };
        let mut ch = explore::chooser::Chooser::replay(v);
        let ops = explore::generate::generate(&mut ch, 4);
        seen.insert(ops.iter().map(|o| o.line.clone()).collect::<Vec<_>>().join("\n"));
        next = ch.next_exhaustive();
    }
    assert!(seen.len() > 100, "only {} distinct sequences in 200", seen.len());
}

/// `--keep-going` keeps one reproducer per cause, not per invariant: the
/// broken setting's GUP bug through pread and through io_submit are two
/// causes of `gup-wrong-page`; no two kept bugs share a signature; each
/// reproducer is shrunk to the declarations it needs, still fails, and
/// replays with the same event stream.
#[test]
fn keep_going_keeps_every_distinct_cause() {
    let v = parse_variant("no-special-pte").expect("variant");
    let mut c = cfg(v, 20_000);
    c.stop_at_first = false;
    let s = explore::explore(&c, &|_, _, _| {});
    let gup: Vec<_> = s.found.iter().filter(|f| f.invariant == "gup-wrong-page").collect();
    assert!(
        gup.len() >= 2,
        "one invariant, several causes: {:#?}",
        s.found.iter().map(|f| &f.signature).collect::<Vec<_>>()
    );
    let mut sigs: Vec<&String> = s.found.iter().map(|f| &f.signature).collect();
    sigs.sort();
    let n = sigs.len();
    sigs.dedup();
    assert_eq!(sigs.len(), n, "two kept bugs with one signature");
    for f in &s.found {
        let text = f.scenario(v);
        assert!(text.contains(&format!("\nkernel {v}\n")), "no kernel line:\n{text}");
        assert!(f.clean_when_fixed && text.contains("passes under find-special-page"), "{text}");
        assert!(!text.contains("+ 0,") && !text.contains("+ 0)"), "unsimplified offset:\n{text}");
        assert!(!text.contains("process app"), "an unused process kept:\n{text}");
        let checked = mmsim::script::parse_and_check("r.mms", &text).expect("the reproducer checks");
        let mut r = mmsim::run::Runner::new(&checked, mmsim::run::effective_variant(&checked, None));
        let o = r.run(&mut |_| {}).expect("the reproducer runs");
        assert!(o.violations > 0, "the saved reproducer does not fail:\n{text}");
        let events = explore::check_deterministic(v, &f.world, &f.ops).expect("deterministic");
        assert!(events > 0);
    }
}

#[test]
fn exhaustive_says_whether_it_covered_the_bound() {
    let mut c = cfg(Variant::default(), 1_000_000);
    c.length = 2;
    let s = explore::explore_exhaustive(&c, &|_, _, _| {});
    assert_eq!(s.covered, Some(true), "{} sequences", s.sequences);
    let again = explore::explore_exhaustive(&c, &|_, _, _| {});
    assert_eq!(again.sequences, s.sequences);
    c.max_steps = Some(s.steps / 2);
    assert_eq!(explore::explore_exhaustive(&c, &|_, _, _| {}).covered, Some(false), "half the budget");
    assert_eq!(explore::explore(&cfg(Variant::default(), 100), &|_, _, _| {}).covered, None);
}

fn mmsim() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_mmsim"))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("explore").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Shards write summaries; `explore merge` adds them up and deduplicates.
fn check_merge(dir: &std::path::Path, shards: usize) {
    let dirs: Vec<_> = (0..shards).map(|i| dir.join(format!("shard{i}"))).collect();
    check_merge_dirs(&dirs);
}

fn check_merge_dirs(dirs: &[std::path::PathBuf]) {
    let shards = dirs.len();
    let mut total = 0u64;
    let mut sigs = std::collections::BTreeSet::new();
    for d in dirs {
        let (_, s) = explore::campaign::read(d).expect("summary.json");
        assert_eq!(s.kernel, "no-special-pte");
        assert_eq!(s.shard[1], shards as u64);
        assert!(s.steps > 0 && s.steps_per_sec > 0.0);
        total += s.sequences;
        for b in &s.bugs {
            assert!(d.join(&b.reproducer).is_file(), "{}: missing reproducer {}", d.display(), b.reproducer);
            sigs.insert(b.signature.clone());
        }
    }
    assert!(!sigs.is_empty(), "the broken setting showed no bug");
    let out = mmsim().args(["explore", "merge"]).args(dirs).output().expect("spawn");
    assert_eq!(out.status.code(), Some(1), "bugs found: exit 1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("explore merge: {shards} shards, kernel no-special-pte: {total} sequences")),
        "{text}"
    );
    assert!(text.contains(&format!("{} distinct bugs", sigs.len())), "{text}");
    for s in &sigs {
        assert_eq!(text.matches(&format!("  cause: {s}\n")).count(), 1, "{s} not exactly once:\n{text}");
    }
}

fn shard_args(i: usize, n: usize, out: &std::path::Path) -> Vec<String> {
    ["explore", "--kernel", "no-special-pte", "--steps", "3000", "--keep-going"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            "--shard".into(),
            format!("{i}/{n}"),
            "--out".into(),
            out.join(format!("shard{i}")).display().to_string(),
        ])
        .collect()
}

#[test]
fn shards_then_merge() {
    let dir = scratch("merge");
    for i in 0..2 {
        let out = mmsim().args(shard_args(i, 2, &dir)).output().expect("spawn");
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    }
    check_merge(&dir, 2);
    let bad = mmsim().args(["explore", "merge"]).arg(dir.join("nope")).output().expect("spawn");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read"));
}

/// The documented GNU parallel campaign (docs/EXPLORE.md): one shard per
/// job, then a merge. Without `parallel` the test says so on stderr and
/// runs the same shards one after another.
#[test]
fn gnu_parallel_campaign() {
    let dir = scratch("parallel");
    let bin = env!("CARGO_BIN_EXE_mmsim");
    let have = std::process::Command::new("parallel").arg("--version").output().is_ok_and(|o| o.status.success());
    if have {
        let out = std::process::Command::new("parallel")
            .args(["--will-cite", "-j", "2", bin, "explore", "--kernel", "no-special-pte", "--steps", "3000"])
            .args(["--keep-going", "--shard", "{}/3", "--out"])
            .arg(format!("{}/shard{{}}", dir.display()))
            .args([":::", "0", "1", "2"])
            .output()
            .expect("spawn parallel");
        // parallel's status: how many jobs failed; each shard exits 1 on a bug.
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    } else {
        use std::io::Write;
        let _ = std::io::stderr().write_all(
            b"note: GNU parallel is not installed; gnu_parallel_campaign ran its 3 shards one after another\n",
        );
        for i in 0..3 {
            let out = mmsim().args(shard_args(i, 3, &dir)).output().expect("spawn");
            assert_eq!(out.status.code(), Some(1));
        }
    }
    check_merge(&dir, 3);
}

#[test]
fn merge_deduplicates_by_signature() {
    use explore::campaign::{BugSummary, ShardSummary, merge};
    let bug = |sig: &str| BugSummary {
        invariant: "gup-wrong-page".into(),
        message: "m".into(),
        signature: sig.into(),
        id: explore::signature_id(sig),
        reproducer: format!("{sig}.mms"),
        actions: 3,
        seed: 1,
        choices: String::new(),
    };
    let shard = |i: u64, bugs: Vec<BugSummary>| ShardSummary {
        schema: 1,
        kernel: "k".into(),
        seed: 1,
        shard: [i, 2],
        length: 30,
        exhaustive: false,
        covered: None,
        sequences: 10,
        steps: 300,
        seconds: 1.0 + i as f64,
        steps_per_sec: 300.0,
        bugs,
    };
    let m =
        merge(&[("a".into(), shard(0, vec![bug("x"), bug("y")])), ("b".into(), shard(1, vec![bug("y"), bug("z")]))]);
    assert_eq!((m.sequences, m.steps, m.seconds), (20, 600, 2.0));
    let names: Vec<(&str, Vec<String>)> = m.bugs.iter().map(|b| (b.bug.signature.as_str(), b.shards.clone())).collect();
    assert_eq!(
        names,
        vec![("x", vec!["0/2".to_string()]), ("y", vec!["0/2".into(), "1/2".into()]), ("z", vec!["1/2".into()])]
    );
    assert_eq!(m.bugs[2].path, std::path::Path::new("b").join("z.mms"));
    assert!(m.duplicate_shards.is_empty());
    let twice = merge(&[("a".into(), shard(0, vec![])), ("a2".into(), shard(0, vec![]))]);
    assert_eq!(twice.duplicate_shards, vec!["0/2".to_string()]);
    // Counts from hostile (hand-edited) summaries saturate rather than
    // wrap (or panic in a debug build).
    let mut huge = shard(1, vec![]);
    (huge.sequences, huge.steps) = (u64::MAX, u64::MAX);
    let m = merge(&[("a".into(), shard(0, vec![])), ("b".into(), huge)]);
    assert_eq!((m.sequences, m.steps), (u64::MAX, u64::MAX));
}

/// The Slurm array job file, run as Slurm would run two of its tasks
/// (`SLURM_ARRAY_TASK_ID`/`_COUNT` set, `mmsim` on the PATH), then merged;
/// the Kubernetes Indexed Job maps its completion index to `--shard`.
#[test]
fn slurm_and_kubernetes_files_map_the_index_to_the_shard() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch("slurm");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_mmsim")).parent().expect("bin dir").to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for i in 0..2 {
        let out = std::process::Command::new("bash")
            .arg(root.join("deploy/explore.sbatch"))
            .current_dir(&dir)
            .env("PATH", &path)
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("KERNEL", "no-special-pte")
            .env("TIME", "0.5")
            .output()
            .expect("spawn bash");
        assert!(out.status.success(), "task {i}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let dirs: Vec<_> = (0..2).map(|i| dir.join(format!("campaign/shard-{i}"))).collect();
    check_merge_dirs(&dirs);
    let k8s = std::fs::read_to_string(root.join("deploy/explore-indexed-job.yaml")).expect("manifest");
    assert!(k8s.contains("completionMode: Indexed"));
    assert!(k8s.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\""));
    let completions = k8s.lines().find_map(|l| l.trim().strip_prefix("completions: ")).expect("completions");
    assert!(
        k8s.contains(&format!("name: SHARDS\n              value: \"{completions}\"")),
        "SHARDS differs from completions"
    );
}

/// `--reach` draws what the plain generator never does: direct pins and
/// their release, syscalls on driver mappings, qemu's exit, memory
/// pressure and copy-on-write in a child, every other call the language has
/// on driver mappings (advice, mlock, msync, mincore, user accesses), the
/// other gntdev ioctls, close, and domU writing and freeing granted pages;
/// every sequence still checks and
/// runs (no generator bug), and a replay of its choices gives it again.
#[test]
fn reach_draws_the_wider_action_set() {
    use explore::chooser::Chooser;
    let mut all = String::new();
    for i in 0..300 {
        let mut c = Chooser::random(explore::sequence_seed(7, i));
        let ops = explore::generate::generate_with(&mut c, 30, true);
        let t = explore::run_ops(Variant::default(), &ops);
        assert!(!matches!(t, Trial::Invalid | Trial::Panic { .. }), "sequence {i}: {t:?}");
        let (again, _) = explore::replay(Variant::default(), c.made(), 30, true);
        assert_eq!(again, ops, "replay of sequence {i}");
        for o in &ops {
            all.push_str(&o.line);
            all.push('\n');
        }
    }
    for needle in [
        "= pin_user_pages(a",
        "app: pins",
        "unpin_user_pages(",
        "qemu: madvise(a",
        "qemu: mprotect(a",
        "qemu: mremap(a",
        "qemu: exit()",
        "MAP_POPULATE, -1, 0)",
        ": touch(big",
        "qemu: madvise(a",
        ", MADV_DOFORK)",
        "lock(a",
        "qemu: msync(a",
        "qemu: mincore(a",
        "IOCTL_GNTDEV_SET_UNMAP_NOTIFY",
        "IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR",
        "qemu: close(",
        "domU: free_page(",
        "domU: write_page(",
        "qemu: store(a",
        "qemu: load(a",
    ] {
        assert!(
            all.contains(needle),
            "never drawn: {needle}\n{}",
            all.lines().filter(|l| l.contains("store(") || l.contains("load(")).take(20).collect::<Vec<_>>().join("\n")
        );
    }
    // The plain generator draws none of it.
    let mut c = Chooser::random(1);
    let plain: String = explore::generate::generate(&mut c, 300).iter().map(|o| o.line.clone() + "\n").collect();
    assert!(!plain.contains("pin_user_pages") && !plain.contains("qemu: exit()"));
}

/// The exhaustive state cache: a prefix that reaches an abstract state
/// another prefix reached at equal or smaller depth is not explored again
/// (at length 3, `domU alloc_page` is drawn by two kinds: the second
/// prefix's subtree is skipped), deterministically.
#[test]
fn exhaustive_skips_states_already_visited() {
    let mut c = cfg(Variant::default(), 6_000);
    c.length = 3;
    let s = explore::explore_exhaustive(&c, &|_, _, _| {});
    assert!(s.pruned > 0, "nothing skipped in {} sequences", s.sequences);
    assert!(s.states > 0);
    let again = explore::explore_exhaustive(&c, &|_, _, _| {});
    assert_eq!((again.sequences, again.pruned, again.states), (s.sequences, s.pruned, s.states), "deterministic");
}

/// The typed actions (`explore::typed`) build exactly the script the
/// parser and checker make of the rendered text: every step, span, line,
/// declaration (fork children included) and the source itself, for plain
/// and `--reach` sequences, random and replayed from mutated choices; and
/// running the typed script gives the same verdict and event stream as
/// running the text.
#[test]
fn typed_actions_are_the_checked_text() {
    use explore::chooser::Chooser;
    use explore::generate::{self, WORLD};
    let fixed = Variant::default();
    let broken = parse_variant("no-special-pte").expect("variant");
    let mut built = 0;
    for i in 0..400u64 {
        let reach = i % 2 == 1;
        let mut c = if i % 3 == 2 {
            // Replayed choices (as mutation and exhaustive search give).
            Chooser::replay((0..60).map(|k| ((i * 7 + k * 13) % 11) as u32).collect())
        } else {
            Chooser::random(explore::sequence_seed(11, i))
        };
        let m = generate::generate_marked(&mut c, if i < 200 { 30 } else { 60 }, reach);
        let text = generate::script_in(WORLD, &m.ops, true);
        let parsed = mmsim::script::parse_and_check("explore", &text).expect("generated text checks");
        let typed = m.checked.as_ref().expect("the builder kept the sequence");
        assert_eq!(typed, &parsed, "sequence {i}:\n{text}");
        built += 1;
        if i % 8 == 0 {
            for v in [fixed, broken] {
                let mut a = Vec::new();
                let ta = explore::run_marked(
                    v,
                    &m,
                    true,
                    &mut |e| a.push(mmsim::run::output::event_text("t", e, mmsim::run::output::Style { color: false })),
                    &mut |_, _| {},
                );
                let mut b = Vec::new();
                let tb = explore::run_observed(
                    v,
                    WORLD,
                    &m.ops,
                    true,
                    None,
                    &mut |e| b.push(mmsim::run::output::event_text("t", e, mmsim::run::output::Style { color: false })),
                    &mut |_, _| {},
                );
                assert_eq!(ta, tb, "sequence {i} under {v}");
                assert_eq!(a, b, "sequence {i} under {v}: event streams");
            }
        }
    }
    assert_eq!(built, 400);
}

/// Where the typed builder cannot vouch for a step it gives up and the
/// text decides: an actor the world does not declare (the checker rejects
/// the line), and a sequence past the language's statement limit
/// (MAX_STATEMENTS, 200,000: the parser rejects the script); the line is
/// rendered in full either way.
#[test]
fn typed_builder_gives_up_where_the_text_must_decide() {
    use explore::chooser::Chooser;
    use explore::generate::{self, Op, WORLD};
    use explore::typed::{Act, Arg, Builder};
    let mut b = Builder::with_capacity(2);
    let ok = b.push(Act::new("domU", "alloc_page", vec![]).bind("p1"));
    let bad = b.push(Act::new("nobody", "munmap", vec![Arg::Var("p1".into()), Arg::Int(4096)]));
    assert_eq!((ok.as_str(), bad.as_str()), ("domU: p1 = alloc_page()", "nobody: munmap(p1, 4096)"));
    assert!(b.finish().is_none());
    let ops = vec![Op { line: ok }, Op { line: bad }];
    assert!(mmsim::script::parse_and_check("explore", &generate::script_in(WORLD, &ops, true)).is_err());
    assert_eq!(explore::run_ops(Variant::default(), &ops), Trial::Invalid);

    let mut c = Chooser::random(5);
    let m = generate::generate_marked(&mut c, 100_100, false);
    assert_eq!(m.ops.len(), 100_100);
    assert!(m.checked.is_none(), "a script of {} actions kept", m.ops.len());
    let errs = mmsim::script::parse_and_check("explore", &generate::script_in(WORLD, &m.ops, true)).unwrap_err();
    assert!(errs.iter().any(|e| e.message.contains("MAX_STATEMENTS")), "{:?}", errs.first());
}

/// An --out directory that cannot be made, or --goldens that cannot be
/// read, stops `explore` before the campaign with status 2 (a long
/// campaign used to learn it only at its end, and a bad --goldens left the
/// status at 0). A one-million-step budget shows it: the run is over long
/// before the campaign could be.
#[test]
fn bad_out_or_goldens_fail_before_the_campaign() {
    let file = scratch("bad-paths").join("not-a-dir");
    std::fs::write(&file, "x").expect("scratch file");
    let under_file = file.join("out");
    let missing = file.with_file_name("no-such-goldens-dir");
    for (flag, path, words) in [("--out", &under_file, "--out "), ("--goldens", &missing, "--goldens ")] {
        let t = std::time::Instant::now();
        let o = mmsim()
            .args(["explore", "--kernel", "no-special-pte", "--keep-going", "--steps", "1000000", flag])
            .arg(path)
            .output()
            .expect("spawn mmsim");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.starts_with(words), "{flag}: {err}");
        assert!(o.stdout.is_empty(), "{flag}: ran a campaign: {}", String::from_utf8_lossy(&o.stdout));
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{flag}: took {:?}", t.elapsed());
    }
}
