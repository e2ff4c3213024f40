//! What a campaign should find: the golden scenarios
//! (`tests/scenarios/*.mms`) that state `expect violation NAME...` name,
//! per kernel setting (their `kernel` line), the invariants a bug of that
//! setting breaks. [`missed`] compares a campaign's findings with them
//! (docs/EXPLORE.md, "Done when"; `tests/explore_goldens.rs`).

use super::{Found, run_observed};
use crate::kernel::variant::Variant;
use crate::run::Event;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Per kernel setting (as `Variant` prints it), the invariants the golden
/// scenarios of that setting expect, with the files that expect each.
pub type Expected = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Read every `*.mms` under `dir` and collect its `kernel` line and its
/// `expect violation` names (files without the statement are skipped).
pub fn expected(dir: &Path) -> std::io::Result<Expected> {
    let mut out = Expected::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mms"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let lines = || text.lines().map(str::trim).filter(|l| !l.starts_with('#'));
        let Some(names) = lines().find_map(|l| l.strip_prefix("expect violation ")) else { continue };
        let kernel = lines().find_map(|l| l.strip_prefix("kernel ")).unwrap_or("");
        let setting = match crate::run::parse_variant(kernel) {
            Ok(v) => v.to_string(),
            Err(_) => Variant::default().to_string(),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for inv in names.split_whitespace() {
            out.entry(setting.clone()).or_default().entry(inv.to_string()).or_default().push(name.clone());
        }
    }
    Ok(out)
}

/// Every invariant a reproducer breaks when run (not only the first, which
/// names the bug): a golden expecting `gup-wrong-page dma-misdirected` is
/// matched by a reproducer that breaks both at one step.
pub fn broken_by(variant: Variant, f: &Found) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    all.insert(f.invariant.clone());
    let _ = run_observed(
        variant,
        &f.world,
        &f.ops,
        false,
        None,
        &mut |e| {
            if let Event::Violation { violation, .. } = e {
                all.insert(violation.invariant.to_string());
            }
        },
        &mut |_, _| {},
    );
    all
}

/// The invariants `expected` names for `variant` that none of `found`
/// breaks.
pub fn missed(expected: &Expected, variant: Variant, found: &[Found]) -> Vec<String> {
    let got: BTreeSet<String> = found.iter().flat_map(|f| broken_by(variant, f)).collect();
    expected
        .get(&variant.to_string())
        .map(|m| m.keys().filter(|k| !got.contains(*k)).cloned().collect())
        .unwrap_or_default()
}
