//! Golden scenario tests: every `tests/scenarios/*.mms` runs through the
//! same path as `mmsim run`; its exit status must be the one its header
//! declares (`# status: N`), and its full text output must match the
//! reviewed snapshot in `tests/snapshots/`.
//!
//! The expectations inside each scenario (`= VALUE`) carry the real
//! assertions, with values taken from the kernel; the snapshot pins down
//! everything else the run prints.

use mmsim::run::output::{self, Style};
use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use std::path::Path;

/// Runs a scenario as `mmsim run` does; returns (status, text output).
pub fn run_text(name: &str, src: &str, kernel: Option<&str>) -> (i32, String) {
    let checked = match script::parse_and_check(name, src) {
        Ok(c) => c,
        Err(e) => return (2, script::render_errors(name, src, &e, false)),
    };
    let over = kernel.map(|k| script::parse_kernel_override(k).expect("valid --kernel"));
    let variant = effective_variant(&checked, over);
    let st = Style { color: false };
    let mut out = format!("== {name} (kernel {variant})\n");
    let mut r = Runner::new(&checked, variant);
    let res = r.run(&mut |e| out.push_str(&output::event_text(name, e, st)));
    match res {
        Ok(o) => {
            out.push_str(&output::outcome_text(&o, st));
            (o.status(), out)
        }
        Err(e) => (2, out + &script::render_errors(name, src, &[e], false)),
    }
}

fn declared_status(src: &str) -> Option<i32> {
    src.lines().find_map(|l| l.strip_prefix("# status:").and_then(|s| s.trim().parse().ok()))
}

#[test]
fn golden_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scenarios")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mms"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios found");
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let src = std::fs::read_to_string(f).expect("readable scenario");
        let want = declared_status(&src).unwrap_or_else(|| panic!("{name}: no `# status: N` header"));
        let (status, text) = run_text(&name, &src, None);
        if status != want {
            failures.push(format!("{name}: exit status {status}, header says {want}\n{text}"));
        }
        let snap = name.trim_end_matches(".mms").to_string();
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snap, text);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // `mmsim run tests/scenarios/*.mms` passes as a whole: every scenario
    // that breaks an invariant states it.
    for f in &files {
        let src = std::fs::read_to_string(f).expect("readable scenario");
        assert_eq!(declared_status(&src), Some(0), "{}: scenarios state their violations and pass", f.display());
    }
}

/// The header lines of an example: `# Expected: exit N` and any
/// `# With --kernel WORDS: exit N`, as (kernel override, status) pairs.
fn example_header(src: &str) -> Vec<(Option<String>, i32)> {
    let mut out = Vec::new();
    for l in src.lines().take_while(|l| l.starts_with('#')) {
        if let Some(n) = l.strip_prefix("# Expected: exit ") {
            out.push((None, n.trim().parse().expect("a status after `Expected: exit`")));
        } else if let Some(rest) = l.strip_prefix("# With --kernel ") {
            let (k, n) = rest.split_once(": exit ").expect("`# With --kernel WORDS: exit N`");
            out.push((Some(k.trim().to_string()), n.trim().parse().expect("a status")));
        }
    }
    out
}

/// examples/*.mms run as their headers say (examples/README.md): under
/// their own kernel line with the status of `# Expected: exit N`, which
/// is 1 exactly for `*.broken.mms`, and under each `# With --kernel`
/// override with the status it names.
#[test]
fn examples_behave_as_their_headers_say() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mms"))
        .collect();
    files.sort();
    let mut runs = 0;
    for p in &files {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let src = std::fs::read_to_string(p).expect("readable");
        let header = example_header(&src);
        let own: Vec<i32> = header.iter().filter(|(k, _)| k.is_none()).map(|(_, s)| *s).collect();
        let want_own = if name.ends_with(".broken.mms") { 1 } else { 0 };
        assert_eq!(own, [want_own], "{name}: needs one `# Expected: exit {want_own}` header line");
        for (kernel, want) in &header {
            let (status, text) = run_text(&name, &src, kernel.as_deref());
            assert_eq!(status, *want, "{name} (--kernel {kernel:?})\n{text}");
            runs += 1;
        }
    }
    for needed in ["seed.mms", "seed-no-hook.broken.mms", "native.mms"] {
        assert!(files.iter().any(|p| p.ends_with(needed)), "examples/{needed} is missing");
    }
    assert!(runs >= files.len() + 4, "only {runs} runs");
}

/// `mmsim demo` tells the story of examples/seed.mms: its built-in
/// scenario is that file without the header comments.
#[test]
fn demo_runs_the_seed_example() {
    let src = include_str!("../../examples/seed.mms");
    let body: String = src.lines().skip_while(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    assert_eq!(body, mmsim::demo::SEED_SCENARIO);
}

/// Reproducers that `mmsim explore` found (`explore-*.mms`) break the
/// invariants they state under their own kernel line (checked above
/// through `# status:` and the snapshot) and break nothing under the fixed
/// kernel, every expectation holding there too.
#[test]
fn explore_reproducers_pass_under_the_fixed_kernel() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut n = 0;
    for p in std::fs::read_dir(&dir).expect("dir").flatten().map(|e| e.path()) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        if !name.starts_with("explore-") {
            continue;
        }
        let src = std::fs::read_to_string(&p).expect("readable");
        assert!(src.contains("\nexpect violation "), "{name} states the violations it finds");
        let (_, text) = run_text(&name, &src, Some("find-special-page"));
        let checked = script::parse_and_check(&name, &src).expect("checks");
        let mut r = Runner::new(&checked, mmsim::kernel::variant::Variant::default());
        let o = r.run(&mut |_| {}).expect("runs");
        assert_eq!((o.expectations_failed, o.violations), (0, 0), "{name} under find-special-page\n{text}");
        // The stated invariant did not break, so the run says so.
        assert_eq!(o.status(), 1, "{name}: an expected violation that never came fails the run");
        n += 1;
    }
    assert!(n >= 4, "expected the saved reproducers");
}
