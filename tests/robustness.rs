//! No input makes mmsim panic: random and mutated scripts (from the golden
//! set) go through the parser, checker and interpreter; every error has a
//! position inside the source.

use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use proptest::prelude::*;
use std::path::Path;

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Parse, check and (if clean) run; errors must point inside the source.
fn exercise(src: &str) {
    match script::parse_and_check("fuzz.mms", src) {
        Err(errs) => {
            for e in &errs {
                assert!(e.span.start <= src.len() && e.span.end <= src.len(), "error span outside source: {e:?}");
            }
            let _ = script::render_errors("fuzz.mms", src, &errs, false);
        }
        Ok(c) => {
            let mut r = Runner::new(&c, effective_variant(&c, None));
            if let Err(e) = r.run(&mut |_| {}) {
                assert!(e.span.end <= src.len(), "runtime error span outside source: {e:?}");
            }
        }
    }
}

fn mutate(src: &str, ops: &[(u8, usize, char)]) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for &(kind, pos, ch) in ops {
        if chars.is_empty() {
            chars.push(ch);
            continue;
        }
        let i = pos % chars.len();
        match kind % 5 {
            0 => {
                chars.remove(i);
            }
            1 => chars.insert(i, ch),
            2 => chars[i] = ch,
            3 => {
                // duplicate a line
                let s: String = chars.iter().collect();
                let lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let l = lines[i % lines.len()].to_string();
                    let mut out: Vec<String> = lines.iter().map(|x| x.to_string()).collect();
                    out.insert(i % lines.len(), l);
                    chars = out.join("\n").chars().collect();
                }
            }
            _ => {
                // swap two lines
                let s: String = chars.iter().collect();
                let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
                if lines.len() > 1 {
                    let a = i % lines.len();
                    let b = (i / 7 + 1) % lines.len();
                    lines.swap(a, b);
                    chars = lines.join("\n").chars().collect();
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn mutated_golden_scripts_never_panic(pick in 0usize..64, ops in prop::collection::vec((any::<u8>(), any::<usize>(), prop::sample::select(vec!['(', ')', '"', ',', '=', ':', '0', 'x', '\n', ' ', '-', '[', ']', 'K', '9', '|', '#', '@', 'é'])), 1..6)) {
        let c = corpus();
        prop_assume!(!c.is_empty());
        let src = mutate(&c[pick % c.len()], &ops);
        exercise(&src);
    }

    #[test]
    fn random_text_never_panics(s in "[ -~\n]{0,200}") {
        exercise(&s);
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
