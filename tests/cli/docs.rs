//! docs/SCENARIO.md is the scenario language's reference: every statement
//! keyword, `show` kind, call, signal code, kernel variant, unmap policy and
//! constant the code knows must be mentioned there. The lists are read from
//! the library's own tables, so a new call or constant without its line in
//! the document fails here.

use mmsim::kernel::variant::{UnmapPolicy, VariantKind};
use mmsim::script::calls::CALLS;
use mmsim::script::consts::families;
use mmsim::script::parser::{KEYWORDS, RESERVED, SHOW_WHAT};
use mmsim::script::{SigCode, Signal};

const DOC: &str = include_str!("../../docs/SCENARIO.md");

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Whether `word` occurs in `text` as a whole word (not inside a longer
/// identifier such as `MAP_SHARED` inside `MAP_SHARED_VALIDATE`).
fn mentions(text: &str, word: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(word).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + word.len()).copied();
        !before.is_some_and(is_word_byte) && !after.is_some_and(is_word_byte)
    })
}

/// Every name in `names` the document does not mention (with `shape`
/// turning a name into the form the document must contain).
fn missing<'a>(names: impl IntoIterator<Item = &'a str>, shape: impl Fn(&str) -> String) -> Vec<String> {
    names.into_iter().map(shape).filter(|w| !DOC.contains(w.as_str())).collect()
}

#[test]
fn the_word_matcher_can_say_no() {
    assert!(mentions("use `MAP_SHARED_VALIDATE` here", "MAP_SHARED_VALIDATE"));
    assert!(!mentions("use `MAP_SHARED_VALIDATE` here", "MAP_SHARED"));
    assert!(!mentions(DOC, "MAP_NOT_A_FLAG"));
    assert_eq!(missing(["no_such_call"], |c| format!("`{c}(")), ["`no_such_call("]);
}

#[test]
fn every_statement_keyword_is_documented() {
    assert!(KEYWORDS.len() >= 8, "{KEYWORDS:?}");
    let gone = missing(KEYWORDS.iter().copied(), |k| format!("\n{k}"));
    assert!(gone.is_empty(), "statements missing from docs/SCENARIO.md (at the start of a line): {gone:?}");
    let gone = missing(RESERVED.iter().copied(), |w| format!("`{w}`"));
    assert!(gone.is_empty(), "reserved words missing from docs/SCENARIO.md: {gone:?}");
}

#[test]
fn every_show_kind_is_documented() {
    assert!(SHOW_WHAT.len() >= 7, "{SHOW_WHAT:?}");
    let gone = missing(SHOW_WHAT.iter().copied(), |w| format!("show {w} "));
    assert!(gone.is_empty(), "show kinds missing from docs/SCENARIO.md: {gone:?}");
}

#[test]
fn every_call_is_documented() {
    assert!(CALLS.len() >= 40, "{}", CALLS.len());
    let gone = missing(CALLS.iter().map(|c| c.name), |c| format!("`{c}("));
    assert!(gone.is_empty(), "calls missing from docs/SCENARIO.md (as `name(`): {gone:?}");
}

#[test]
fn every_signal_code_is_documented() {
    let mut n = 0;
    for sig in [Signal::Segv, Signal::Bus] {
        assert!(mentions(DOC, sig.name()), "{} missing", sig.name());
        for code in sig.codes() {
            assert!(mentions(DOC, code.name()), "{}:{} missing from docs/SCENARIO.md", sig.name(), code.name());
            n += 1;
        }
    }
    assert!(n >= 8);
    assert_eq!(SigCode::for_signal(Signal::Segv, "pkuerr"), Some(SigCode::Pkuerr));
}

#[test]
fn every_kernel_variant_and_unmap_policy_is_documented() {
    let gone = missing(VariantKind::ALL.map(VariantKind::name), |v| format!("`{v}`"));
    assert!(gone.is_empty(), "kernel variants missing from docs/SCENARIO.md: {gone:?}");
    let gone = missing(UnmapPolicy::ALL.map(UnmapPolicy::name), |u| format!("unmap={u}"));
    assert!(gone.is_empty(), "unmap policies missing from docs/SCENARIO.md: {gone:?}");
}

/// Every constant family by its prefix, and every name of every family
/// but errno (whose 130-odd names the document covers by their header
/// files) by name, aliases included.
#[test]
fn every_constant_is_documented() {
    let fams = families();
    assert!(fams.len() >= 17);
    let mut checked = 0;
    let mut gone = Vec::new();
    for fam in fams {
        if fam.prefix == "E" {
            for e in ["EPERM", "EHWPOISON", "EINVAL", "EWOULDBLOCK"] {
                if !mentions(DOC, e) {
                    gone.push(e.to_owned());
                }
            }
            continue;
        }
        if !DOC.contains(&format!("`{}`", fam.prefix)) {
            gone.push(format!("family `{}`", fam.prefix));
        }
        for &(name, _) in fam.names.iter().chain(fam.aliases) {
            checked += 1;
            if !mentions(DOC, name) {
                gone.push(name.to_owned());
            }
        }
    }
    assert!(checked > 150, "only {checked} constants looked at");
    assert!(gone.is_empty(), "constants missing from docs/SCENARIO.md: {gone:?}");
}

/// The pagemap letters `show pagemap` can print are the ones in the table.
#[test]
fn pagemap_letters_are_documented() {
    let src = include_str!("../../src/report/pagemap.rs");
    let mut letters: Vec<char> = Vec::new();
    for (i, _) in src.match_indices("=> '") {
        if let Some(c) = src[i + 4..].chars().next() {
            letters.push(c);
        }
    }
    for (i, _) in src.match_indices("return '") {
        if let Some(c) = src[i + 8..].chars().next() {
            letters.push(c);
        }
    }
    for (i, _) in src.match_indices("    '") {
        let rest = &src[i + 5..];
        if rest.len() > 2 && rest.as_bytes()[1] == b'\'' {
            letters.push(rest.as_bytes()[0] as char);
        }
    }
    letters.sort_unstable();
    letters.dedup();
    assert!(letters.len() >= 10, "found only {letters:?} in pagemap.rs");
    let gone: Vec<char> = letters.into_iter().filter(|c| !DOC.contains(&format!("| `{c}` |"))).collect();
    assert!(gone.is_empty(), "pagemap letters missing from docs/SCENARIO.md's table: {gone:?}");
}

#[test]
fn every_invariant_name_is_documented() {
    use mmsim::script::expect::INVARIANTS;
    assert!(INVARIANTS.len() >= 20, "{INVARIANTS:?}");
    let gone = missing(INVARIANTS.iter().copied(), |n| format!("`{n}`"));
    assert!(gone.is_empty(), "invariants missing from docs/SCENARIO.md: {gone:?}");
}

/// Each integration-test directory (`tests/NAME/main.rs`, one binary) is
/// named in ARCHITECTURE.md's "Tests" section, and every `.rs` file in it
/// is a module its `main.rs` declares: a file dropped in without its `mod`
/// line would never be compiled or run, silently.
#[test]
fn test_directories_declare_every_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = arch.split("\n## Tests\n").nth(1).and_then(|s| s.split("\n## ").next()).expect("a Tests section");
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(root.join("tests")).expect("tests/").flatten() {
        let main = e.path().join("main.rs");
        let Ok(text) = std::fs::read_to_string(&main) else { continue };
        let name = e.file_name().to_string_lossy().to_string();
        assert!(
            section.contains(&format!("`tests/{name}/`")),
            "tests/{name}/ is not in ARCHITECTURE.md's Tests section"
        );
        let mut files: Vec<String> = std::fs::read_dir(e.path())
            .expect("read dir")
            .flatten()
            .map(|f| f.file_name().to_string_lossy().to_string())
            .filter(|f| f.ends_with(".rs") && f != "main.rs")
            .collect();
        files.sort();
        for f in files {
            let m = f.trim_end_matches(".rs");
            assert!(
                text.lines().any(|l| l.trim() == format!("mod {m};")),
                "tests/{name}/{f} has no `mod {m};` in main.rs"
            );
        }
        dirs.push(name);
    }
    dirs.sort();
    assert_eq!(dirs, ["cli", "host", "native", "report", "xen"]);
}
