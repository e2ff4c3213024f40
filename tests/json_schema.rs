//! Every line `--json` prints is one object of schema 1 (docs/SCENARIO.md
//! "Running"): checked field by field over several runs, including failing
//! ones and every kind of result.

use mmsim::run::output;
use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use serde_json::Value as J;

fn json_lines(name: &str, src: &str) -> Vec<String> {
    let checked = script::parse_and_check(name, src).expect("scenario checks");
    let variant = effective_variant(&checked, None);
    let mut lines = Vec::new();
    let mut r = Runner::new(&checked, variant);
    let o = r.run(&mut |e| lines.push(output::event_json(name, e).to_string())).expect("runs");
    lines.push(output::outcome_json(name, &o).to_string());
    lines
}

fn is_uint(v: &J) -> bool {
    v.as_u64().is_some()
}

fn check_line(line: &str) -> Result<&'static str, String> {
    let v: J = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}: {line}"))?;
    let o = v.as_object().ok_or("not an object")?;
    if o.get("schema") != Some(&J::from(1)) {
        return Err(format!("schema is not 1: {line}"));
    }
    let ty = o.get("type").and_then(J::as_str).ok_or("no type")?;
    let need_line = || if o.get("line").is_some_and(is_uint) { Ok(()) } else { Err(format!("no line: {line}")) };
    match ty {
        "step" => {
            need_line()?;
            for k in ["actor", "call"] {
                o.get(k).and_then(J::as_str).ok_or(format!("{k} not a string: {line}"))?;
            }
            let r = o.get("result").and_then(J::as_object).ok_or("no result")?;
            let ok = (r.len() == 1 && r.get("value").is_some_and(is_uint))
                || (r.len() == 1 && r.get("errno").and_then(J::as_str).is_some_and(|s| s.starts_with('E')))
                || (r.len() == 1
                    && r.get("bytes")
                        .and_then(J::as_str)
                        .is_some_and(|s| s.len() % 2 == 0 && s.chars().all(|c| c.is_ascii_hexdigit())))
                || (r.len() == 3
                    && r.get("signal").and_then(J::as_str).is_some_and(|s| s == "SIGSEGV" || s == "SIGBUS")
                    && r.get("code").and_then(J::as_str).is_some()
                    && r.get("addr").is_some_and(is_uint));
            if !ok {
                return Err(format!("bad result: {line}"));
            }
            if let Some(e) = o.get("expect") {
                if e != "held" && e != "failed" {
                    return Err(format!("bad expect: {line}"));
                }
            }
            Ok("step")
        }
        "show" => {
            need_line()?;
            o.get("what").and_then(J::as_str).ok_or("no what")?;
            o.get("text").and_then(J::as_str).ok_or("no text")?;
            Ok("show")
        }
        "violation" => {
            need_line()?;
            o.get("invariant").and_then(J::as_str).ok_or("no invariant")?;
            o.get("message").and_then(J::as_str).ok_or("no message")?;
            for k in ["domains", "pfns", "mfns"] {
                let a = o.get(k).and_then(J::as_array).ok_or(format!("no {k}"))?;
                if !a.iter().all(is_uint) {
                    return Err(format!("{k} not numbers: {line}"));
                }
            }
            Ok("violation")
        }
        "outcome" => {
            for k in ["expectations_failed", "violations", "status"] {
                if !o.get(k).is_some_and(is_uint) {
                    return Err(format!("{k} missing: {line}"));
                }
            }
            Ok("outcome")
        }
        other => Err(format!("unknown type {other}")),
    }
}

#[test]
fn every_line_matches_schema_1() {
    let scenarios = [
        (
            "native",
            "domain host native\nprocess p in host mmap_base=0x7e0040000000\np: a = mmap(NULL, 8K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: store(a, \"x\") = SIGSEGV:accerr\np: load(a, 2) = x\"0000\"\np: munmap(a, 0) = -EINVAL\np: munmap(a, 4096) = 1\nshow maps p\ncheck\n",
        ),
        ("seed", include_str!("../examples/seed.mms")),
        ("broken", include_str!("../examples/seed-no-hook.broken.mms")),
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for (name, src) in scenarios {
        for l in json_lines(name, src) {
            match check_line(&l) {
                Ok(k) => {
                    kinds.insert(k);
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }
    for k in ["step", "show", "violation", "outcome"] {
        assert!(kinds.contains(k), "no {k} line was produced, so it was not checked");
    }
}
