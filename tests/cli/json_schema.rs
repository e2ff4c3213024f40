//! Every line `mmsim run --json`, `mmsim explore --json` and `mmsim demo
//! --json` print validates against the published JSON Schema,
//! docs/mmsim-2.schema.json (docs/JSON.md): every shipped scenario and
//! example under every kernel variant, script errors, a run-time error,
//! an exploration that finds something, the demo.

use serde_json::Value as J;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/mmsim-2.schema.json")).expect("schema file");
    let schema: J = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn mmsim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mmsim")).args(args).current_dir(ROOT).output().expect("runs");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).expect("UTF-8"))
}

fn mms_files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .expect("dir")
        .flatten()
        .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".mms"))
        .collect();
    v.sort();
    v
}

/// Validates each line; returns the records.
fn validate(v: &jsonschema::Validator, what: &str, out: &str) -> Vec<J> {
    let mut recs = Vec::new();
    for (i, line) in out.lines().enumerate() {
        let rec: J =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{what} line {}: not JSON: {e}: {line}", i + 1));
        let errs: Vec<String> = v.iter_errors(&rec).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errs.is_empty(), "{what} line {}: {line}\n{}", i + 1, errs.join("\n"));
        recs.push(rec);
    }
    recs
}

#[test]
fn every_json_line_validates_against_the_published_schema() {
    let v = validator();
    let mut types = std::collections::BTreeMap::<String, usize>::new();
    let mut count = |recs: &[J]| {
        for r in recs {
            *types.entry(r["type"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
    };
    let mut files = mms_files("tests/scenarios");
    files.extend(mms_files("examples"));
    let mut args: Vec<&str> = vec!["run", "--json"];
    args.extend(files.iter().map(String::as_str));
    let (_, out) = mmsim(&args);
    let recs = validate(&v, "run --json", &out);
    assert_eq!(recs.iter().filter(|r| r["type"] == "start").count(), files.len());
    assert_eq!(
        recs.last().map(|r| r["type"].clone()),
        Some(J::from("summary")),
        "a multi-file run ends with its summary"
    );
    count(&recs);
    for kernel in ["find-special-page", "m2p-override", "no-special-pte", "no-find-special-page unmap=deferred"] {
        let mut a = vec!["run", "--json", "--kernel", kernel];
        a.extend(files.iter().map(String::as_str));
        let (_, out) = mmsim(&a);
        count(&validate(&v, &format!("run --json --kernel {kernel}"), &out));
    }
    // Script errors (parse and check) and a run-time error, as records.
    let dir = std::env::temp_dir().join(format!("mmsim-json-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.mms");
    std::fs::write(&bad, "domain d native\nprocess p in d\np: mmap(NULL, 4096, PROT_READ)\nshow mpas p\n")
        .expect("write");
    let rt = dir.join("rt.mms");
    std::fs::write(&rt, "domain d native\nprocess p in d\np: a = load(0, 0)\np: munmap(a, 4096)\n").expect("write");
    let (status, out) = mmsim(&["run", "--json", bad.to_str().expect("path"), rt.to_str().expect("path")]);
    assert_eq!(status, 2);
    let recs = validate(&v, "run --json (errors)", &out);
    let errors: Vec<&J> = recs.iter().filter(|r| r["type"] == "error").collect();
    assert!(errors.len() >= 3, "{out}");
    assert_eq!(
        (errors[0]["line"].as_u64(), errors[0]["column"].as_u64()),
        (Some(3), Some(30)),
        "as the text says: `-:3:30: error: ...`: {out}"
    );
    assert!(errors.iter().any(|e| e["help"] == "did you mean `maps`?"), "{out}");
    count(&recs);
    let _ = std::fs::remove_dir_all(&dir);
    let (status, out) =
        mmsim(&["explore", "--json", "--kernel", "no-special-pte", "--steps", "3000", "--length", "20"]);
    assert_eq!(status, 1, "the broken kernel is found out: {out}");
    let recs = validate(&v, "explore --json", &out);
    assert_eq!(recs.last().map(|r| r["type"].clone()), Some(J::from("explore")));
    count(&recs);
    let (status, out) = mmsim(&["demo", "--json"]);
    assert_eq!(status, 0);
    let recs = validate(&v, "demo --json", &out);
    assert_eq!(recs.len(), 4, "one record per kernel variant");
    count(&recs);
    for t in ["start", "step", "show", "violation", "outcome", "error", "summary", "finding", "explore", "demo"] {
        assert!(types.contains_key(t), "no `{t}` record was produced, so none was checked: {types:?}");
    }
}

/// The schema says no: records that break it are refused (the validator
/// is not vacuous).
#[test]
fn the_schema_refuses_wrong_records() {
    let v = validator();
    let bad = [
        r#"{"schema":1,"type":"start","file":"f","kernel":"k"}"#,
        r#"{"schema":2,"type":"step","file":"f","line":3,"actor":"p","call":"brk(0)","bind":null,"result":{"value":4096},"text":"4096","events":[]}"#,
        r#"{"schema":2,"type":"violation","file":"f","line":3,"invariant":"x","message":"m","domains":[0],"pfns":[16],"mfns":[],"expected":false}"#,
        r#"{"schema":2,"type":"outcome","file":"f"}"#,
        r#"{"schema":2,"type":"nonsense"}"#,
    ];
    for b in bad {
        let rec: J = serde_json::from_str(b).expect("JSON");
        assert!(!v.is_valid(&rec), "accepted: {b}");
    }
}

/// Same input, same bytes.
#[test]
fn json_output_is_deterministic() {
    let a = mmsim(&["run", "--json", "examples/seed.mms", "examples/native.mms"]);
    let b = mmsim(&["run", "--json", "examples/seed.mms", "examples/native.mms"]);
    assert_eq!(a, b);
}
