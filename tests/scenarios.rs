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
    assert!(files.len() >= 1, "no scenarios found");
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
        insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snap, text);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// ../shared/examples/*.mms run as their headers say: `*.broken.mms`
/// exit 1, the others 0.
#[test]
fn shared_examples_behave_as_their_headers_say() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/examples");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} not present", dir.display());
        return;
    };
    let mut n = 0;
    for p in rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "mms")) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let src = std::fs::read_to_string(&p).expect("readable");
        let want = if name.contains(".broken.") { 1 } else { 0 };
        let (status, text) = run_text(&name, &src, None);
        assert_eq!(status, want, "{name}\n{text}");
        n += 1;
    }
    assert!(n >= 2, "expected the shared examples");
}

/// Reproducers that `mmsim explore` found (`explore-*.mms`) fail under
/// their own kernel line (checked above through `# status: 1`) and pass
/// under the fixed kernel.
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
        let (status, text) = run_text(&name, &src, Some("find-special-page"));
        assert_eq!(status, 0, "{name} under find-special-page\n{text}");
        n += 1;
    }
    assert!(n >= 4, "expected the saved reproducers");
}
