//! Running both sides, shrinking a diverging sequence, reporting it; and
//! the peer tests (ported suites) that run both sides then the original
//! assertion.

use super::*;

/// A divergence found by [`check`], shrunk.
#[derive(Debug, Clone)]
pub struct Report {
    /// The sequence as generated.
    pub original: Vec<Op>,
    /// The shrunk sequence (still diverging).
    pub ops: Vec<Op>,
    /// The divergence of the shrunk sequence.
    pub divergence: Divergence,
    /// Both sides' results for the shrunk sequence.
    pub host_results: Vec<OpResult>,
    pub model_results: Vec<OpResult>,
    pub base: u64,
    /// The shrunk sequence as a scenario (host results as expectations).
    pub mms: String,
    /// Runs of both sides spent shrinking.
    pub shrink_runs: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "host and model diverge ({} ops, shrunk from {} in {} runs)",
            self.ops.len(),
            self.original.len(),
            self.shrink_runs
        )?;
        writeln!(f, "{}", self.divergence)?;
        writeln!(f, "ops (host result | model result):")?;
        for (i, op) in self.ops.iter().enumerate() {
            let h = self.host_results.get(i).map_or("-".to_string(), |r| fmt_result(r, self.base));
            let m = self.model_results.get(i).map_or("-".to_string(), |r| fmt_result(r, self.base));
            let mark = if h == m { " " } else { "*" };
            writeln!(f, "{mark}{i:3} {op:?}\n       host: {h} | model: {m}")?;
        }
        writeln!(f, "----- scenario (.mms) -----\n{}---------------------------", self.mms)
    }
}

/// Run `ops` on both sides and compare. `Err` when either side could not
/// run the sequence (an oracle error: not a divergence).
pub fn run_both(
    ops: &[Op],
    host: &HostConfig,
    model: &ModelConfig,
    cmp: &CompareConfig,
) -> Result<(Transcript, Transcript, Option<Divergence>), OracleError> {
    let h = run_on_host(ops, host)?;
    let mut mcfg = model.clone();
    mcfg.base = h.base;
    let m = run_on_model_cfg(ops, &mcfg)?;
    let d = compare(&h, &m, cmp);
    Ok((h, m, d))
}

/// [`check_with`] with the model configured as the host.
pub fn check(ops: &[Op], host: &HostConfig, cmp: &CompareConfig) -> Result<Option<Report>, OracleError> {
    check_with(ops, host, &ModelConfig::from_host(host), cmp)
}

/// Run `ops` on both sides; on a divergence, shrink and report it.
pub fn check_with(
    ops: &[Op],
    host: &HostConfig,
    model: &ModelConfig,
    cmp: &CompareConfig,
) -> Result<Option<Report>, OracleError> {
    let (_, _, d) = run_both(ops, host, model, cmp)?;
    let Some(d) = d else { return Ok(None) };
    let key = d.key(ops);
    let mut runs = 0usize;
    let shrunk = shrink(ops, d.step, |cand| {
        runs += 1;
        match run_both(cand, host, model, cmp) {
            Ok((_, _, Some(d2))) if d2.key(cand) == key => Some(d2.step),
            _ => None,
        }
    });
    // Re-run the shrunk sequence for the report (and to be sure it still
    // diverges: the host is not always deterministic).
    let (h, m, d2) = run_both(&shrunk, host, model, cmp)?;
    let (ops_final, h, m, d) = match d2 {
        Some(d2) => (shrunk, h, m, d2),
        None => {
            let (h, m, d2) = run_both(ops, host, model, cmp)?;
            (ops.to_vec(), h, m, d2.unwrap_or(d))
        }
    };
    let mms = to_mms(&ops_final, Some(&h), h.base, h.range_len, Some(&d));
    Ok(Some(Report {
        original: ops.to_vec(),
        host_results: h.steps.iter().map(|s| s.result.clone()).collect(),
        model_results: m.steps.iter().map(|s| s.result.clone()).collect(),
        ops: ops_final,
        divergence: d,
        base: h.base,
        mms,
        shrink_runs: runs,
    }))
}

/// Greedy shrinking: drop everything after the diverging step, then try
/// smaller candidates (last op first) as long as `diverges` says the
/// divergence persists (it returns the new diverging step): drop one op (a
/// dropped fork takes its child's ops along and later processes are
/// renumbered), or address an op to process 0. At most 400 attempts.
pub fn shrink(ops: &[Op], step: Option<usize>, diverges: impl FnMut(&[Op]) -> Option<Option<usize>>) -> Vec<Op> {
    let candidate = |cur: &[Op], i: usize, pass: usize| {
        let cand = if pass == 0 {
            remove_op(cur, i)
        } else {
            match cur[i].p() {
                Some(p) if p != 0 && !matches!(cur[i], Op::Exit { .. }) => {
                    let mut c = cur.to_vec();
                    set_p(&mut c[i], 0);
                    c
                }
                _ => return None,
            }
        };
        (!cand.is_empty()).then_some(cand)
    };
    crate::shrink::greedy(ops, step, 2, Some(400), candidate, diverges)
}

/// `ops` without op `i`. Processes are numbered in creation order (every
/// fork of a sequence succeeds), so dropping a fork drops the ops of the
/// child it made (and of that child's children) and renumbers the rest.
pub fn remove_op(ops: &[Op], i: usize) -> Vec<Op> {
    // map[old index] = new index, None for a process that no longer exists.
    let mut map: Vec<Option<usize>> = vec![Some(0)];
    let mut next_new = 1usize;
    let mut out = Vec::with_capacity(ops.len());
    for (j, op) in ops.iter().enumerate() {
        let parent = op.p().map(|p| map.get(p).copied().flatten());
        let is_fork = matches!(op, Op::Fork { .. });
        if j == i || parent == Some(None) {
            if is_fork {
                map.push(None);
            }
            continue;
        }
        let mut op = op.clone();
        if let Some(Some(np)) = parent {
            set_p(&mut op, np);
        }
        if is_fork {
            map.push(Some(next_new));
            next_new += 1;
        }
        out.push(op);
    }
    out
}

/// Readdress `op` to process `np`.
pub fn set_p(op: &mut Op, np: usize) {
    if let Some(p) = op.p_mut() {
        *p = np;
    }
}

// ---------------------------------------------------------------------
// Peer tests (ported test suites): both sides, then the original assertion.

/// What [`peer_check`] found.
#[derive(Debug)]
pub enum Peer {
    /// Both sides agree; the transcripts for the original test's own
    /// assertions (the host's is the reference).
    Agree { host: Box<Transcript>, model: Box<Transcript> },
    /// They diverge (shrunk report).
    Diverge(Box<Report>),
    /// The host cannot run the oracle here (why).
    Unavailable(String),
}

/// Run a ported test's ops on the host and in the model (default
/// configurations) and compare. Availability is probed first with an empty
/// run (not x86-64 Linux, the range taken...); without root both sides
/// hide PFNs (see [`HostInfo::not_compared`]);
/// an oracle error on the ops themselves is `Err` (a bug of the test).
pub fn peer_check(ops: &[Op]) -> Result<Peer, OracleError> {
    peer_check_with(ops, &HostConfig::default(), &CompareConfig::default())
}

/// [`peer_check`] with explicit configurations.
pub fn peer_check_with(ops: &[Op], host: &HostConfig, cmp: &CompareConfig) -> Result<Peer, OracleError> {
    match run_on_host(&[], host) {
        Err(e) => return Ok(Peer::Unavailable(format!("the host oracle cannot run here: {e}"))),
        Ok(t) if !t.unhinted_in_range => {
            return Ok(Peer::Unavailable("unhinted mappings do not land in the range".to_string()));
        }
        Ok(_) => {}
    }
    let model = ModelConfig::from_host(host);
    let (h, m, d) = run_both(ops, host, &model, cmp)?;
    let Some(d) = d else {
        return Ok(Peer::Agree { host: Box::new(h), model: Box::new(m) });
    };
    match check_with(ops, host, &model, cmp)? {
        Some(r) => Ok(Peer::Diverge(Box::new(r))),
        // Diverged once but not on the re-run (the host is not always
        // deterministic): still a divergence, reported unshrunk.
        None => Ok(Peer::Diverge(Box::new(Report {
            original: ops.to_vec(),
            ops: ops.to_vec(),
            mms: to_mms(ops, Some(&h), h.base, h.range_len, Some(&d)),
            divergence: d,
            host_results: h.steps.iter().map(|s| s.result.clone()).collect(),
            model_results: m.steps.iter().map(|s| s.result.clone()).collect(),
            base: h.base,
            shrink_runs: 0,
        }))),
    }
}
