//! Greedy shrinking, one implementation for `mmsim explore`
//! (`explore::shrink`: a sequence of generated actions that breaks an
//! invariant) and the differential tests (`oracle::compare::shrink`: a
//! sequence on which the host kernel and the model diverge).
//!
//! Both cut everything after the failing step, then try smaller
//! candidates, last item first, keeping a candidate whenever the failure
//! persists (cut again after its new failing step), and sweep again until a
//! whole round changes nothing (or the budget of attempts is spent).

/// Shrink `items`, which fail at step `fail_at` (`None`: no step known, no
/// cut). Each round runs `passes` sweeps; sweep `p` offers, for each index
/// `i` from the last down, `candidate(cur, i, p)` (`None`: nothing to try
/// there). `fails(cand)` says whether the same failure still shows and at
/// which step (`Some(None)`: it shows, no step to cut at). With `budget`,
/// at most that many candidates are run.
pub fn greedy<T: Clone>(
    items: &[T],
    fail_at: Option<usize>,
    passes: usize,
    mut budget: Option<usize>,
    mut candidate: impl FnMut(&[T], usize, usize) -> Option<Vec<T>>,
    mut fails: impl FnMut(&[T]) -> Option<Option<usize>>,
) -> Vec<T> {
    let cut = |v: &mut Vec<T>, at: Option<usize>| {
        if let Some(s) = at {
            v.truncate(s + 1);
        }
    };
    let mut cur = items.to_vec();
    cut(&mut cur, fail_at);
    loop {
        let mut progress = false;
        for pass in 0..passes {
            let mut i = cur.len();
            while i > 0 && budget != Some(0) {
                i -= 1;
                if i >= cur.len() {
                    continue;
                }
                let Some(cand) = candidate(&cur, i, pass) else { continue };
                if let Some(b) = &mut budget {
                    *b -= 1;
                }
                if let Some(at) = fails(&cand) {
                    cur = cand;
                    cut(&mut cur, at);
                    progress = true;
                }
            }
        }
        if !progress || budget == Some(0) {
            return cur;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failure needs both 3 and 7, and shows at the later of them.
    #[test]
    fn keeps_only_what_the_failure_needs() {
        let fails = |v: &[u32]| {
            let (a, b) = (v.iter().position(|&x| x == 3)?, v.iter().position(|&x| x == 7)?);
            Some(Some(a.max(b)))
        };
        let drop = |v: &[u32], i: usize, _| {
            let mut c = v.to_vec();
            c.remove(i);
            Some(c)
        };
        let items = [1, 3, 5, 2, 7, 9, 4];
        assert_eq!(greedy(&items, Some(4), 1, None, drop, fails), vec![3, 7]);
        let mut runs = 0;
        let counted = |v: &[u32]| {
            runs += 1;
            fails(v)
        };
        assert_eq!(greedy(&items, Some(4), 1, Some(2), drop, counted), vec![1, 3, 5, 7], "two attempts");
        assert_eq!(runs, 2);
    }
}
