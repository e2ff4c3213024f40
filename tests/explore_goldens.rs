//! Campaigns against what the golden scenarios document: per kernel
//! setting, the invariants `tests/scenarios/*.mms` expect (`expect
//! violation`), and a short guided campaign per broken setting that must
//! find its seed bug unaided. `MMSIM_GOLDEN_SECS=N` runs N seconds per
//! setting instead and then demands every documented invariant (the "done
//! when" of docs/EXPLORE.md; not for CI, it takes minutes).

use mmsim::explore::{self, Config, goldens};
use mmsim::run::parse_variant;
use std::path::Path;
use std::time::Duration;

fn expected() -> goldens::Expected {
    goldens::expected(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")).expect("read tests/scenarios")
}

/// The list the campaigns are checked against, read from the scenarios'
/// own `kernel` and `expect violation` lines.
#[test]
fn goldens_list_the_invariants_each_setting_expects() {
    let exp = expected();
    let names = |s: &str| exp.get(s).map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    for (setting, inv) in &exp {
        for (name, files) in inv {
            eprintln!("{setting}: {name} ({})", files.join(", "));
        }
    }
    assert_eq!(names("no-special-pte"), ["dma-misdirected", "gup-wrong-page"]);
    assert_eq!(names("no-find-special-page"), ["gup-wrong-page"]);
    assert_eq!(names("m2p-override"), ["dma-misdirected", "gup-wrong-page"]);
    assert_eq!(names("find-special-page unmap=immediate"), ["dma-misdirected"]);
    // The fixed kernel's one expected break (MADV_DOFORK of a grant mapping, then fork).
    assert_eq!(names("find-special-page"), ["rss-counter"]);
}

/// Each broken setting, a few seconds of guided search with one worker:
/// its seed bug is found (all four within the 20 s the brief allows).
#[test]
fn campaigns_find_the_seed_bug_of_every_broken_setting() {
    let exp = expected();
    let long = std::env::var("MMSIM_GOLDEN_SECS").ok().and_then(|s| s.parse::<u64>().ok());
    let secs = long.unwrap_or(4);
    let seeds = [
        ("no-special-pte", "gup-wrong-page"),
        ("no-find-special-page", "gup-wrong-page"),
        ("m2p-override", "gup-wrong-page"),
        ("find-special-page unmap=immediate", "dma-misdirected"),
    ];
    let mut failures = Vec::new();
    for (words, seed_bug) in seeds {
        let variant = parse_variant(words).expect("variant");
        let cfg = Config {
            variant,
            seed: 1,
            length: 30,
            max_steps: None,
            time: Some(Duration::from_secs(secs)),
            shard: (0, 1),
            jobs: 1,
            stop_at_first: false,
            reach: false,
            guided: true,
            count_states: false,
        };
        let sum = explore::explore(&cfg, &|_, _, _| {});
        let missed = goldens::missed(&exp, variant, &sum.found);
        eprintln!("{words}: {} s, {} steps, {} causes, missed {:?}", secs, sum.steps, sum.found.len(), missed);
        assert!(sum.found.iter().any(|f| f.invariant == seed_bug), "{words}: {seed_bug} not found in {secs} s");
        if long.is_some() && !missed.is_empty() {
            failures.push(format!("{words}: missed {missed:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
