//! Every nondeterministic choice of an exploration comes from one
//! [`Chooser`]: random from a seed, a replay of a printed choice string, or
//! the next point of a bounded exhaustive enumeration.

/// SplitMix64: small, fast, and the same on every machine.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[derive(Clone, Debug)]
enum Source {
    Random(SplitMix64),
    /// Replay these choices; past their end, choose 0.
    Replay(Vec<u32>, usize),
    /// Replay these choices (clamped to each choice's arity, so any vector
    /// gives a feasible sequence); past their end, draw at random. The
    /// mutated sequences of novelty guidance ([`super::novelty`]).
    Guided(Vec<u32>, usize, SplitMix64),
}

/// Draws choices and records them, so any run can be replayed.
#[derive(Clone, Debug)]
pub struct Chooser {
    src: Source,
    made: Vec<u32>,
    /// For exhaustive search: how many options each choice had.
    arity: Vec<u32>,
}

impl Chooser {
    pub fn random(seed: u64) -> Chooser {
        Chooser { src: Source::Random(SplitMix64::new(seed)), made: Vec::new(), arity: Vec::new() }
    }
    pub fn replay(choices: Vec<u32>) -> Chooser {
        Chooser { src: Source::Replay(choices, 0), made: Vec::new(), arity: Vec::new() }
    }
    /// Replay `prefix`, then draw from `seed` (see [`Source::Guided`]).
    pub fn guided(prefix: Vec<u32>, seed: u64) -> Chooser {
        Chooser { src: Source::Guided(prefix, 0, SplitMix64::new(seed)), made: Vec::new(), arity: Vec::new() }
    }
    /// A choice among `n` options (`n >= 1`), in `0..n`.
    pub fn choose(&mut self, n: u32) -> u32 {
        let n = n.max(1);
        let c = match &mut self.src {
            Source::Random(r) => (r.next_u64() % n as u64) as u32,
            Source::Replay(v, i) => {
                let c = v.get(*i).copied().unwrap_or(0).min(n - 1);
                *i += 1;
                c
            }
            Source::Guided(v, i, r) => {
                let c = match v.get(*i) {
                    Some(&c) => c % n,
                    None => (r.next_u64() % n as u64) as u32,
                };
                *i += 1;
                c
            }
        };
        self.made.push(c);
        self.arity.push(n);
        c
    }
    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u32, den: u32) -> bool {
        self.choose(den) < num
    }
    /// Pick an element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let i = self.choose(items.len() as u32) as usize;
        items.get(i)
    }
    pub fn made(&self) -> &[u32] {
        &self.made
    }
    /// The choices as a string that `--replay` accepts.
    pub fn encode(&self) -> String {
        encode(&self.made)
    }
    /// The next choice vector in a depth-first enumeration after this run,
    /// or None when the space (as far as this run saw it) is exhausted.
    pub fn next_exhaustive(&self) -> Option<Vec<u32>> {
        self.next_exhaustive_from(self.made.len())
    }
    /// [`Chooser::next_exhaustive`] that skips every run sharing this run's
    /// first `len` choices (the subtree below that prefix).
    pub fn next_exhaustive_from(&self, len: usize) -> Option<Vec<u32>> {
        let mut v = self.made[..len.min(self.made.len())].to_vec();
        while let Some(last) = v.pop() {
            let n = self.arity[v.len()];
            if last + 1 < n {
                v.push(last + 1);
                return Some(v);
            }
        }
        None
    }
}

/// Choices as dot-separated base-36 numbers.
pub fn encode(v: &[u32]) -> String {
    v.iter().map(|&c| to36(c)).collect::<Vec<_>>().join(".")
}

fn to36(mut c: u32) -> String {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if c == 0 {
        return "0".into();
    }
    let mut s = Vec::new();
    while c > 0 {
        s.push(D[(c % 36) as usize]);
        c /= 36;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Parse a choice string; `None` on a malformed one.
pub fn decode(s: &str) -> Option<Vec<u32>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split('.').map(|p| u32::from_str_radix(p, 36).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn replay_reproduces_random() {
        let mut a = Chooser::random(42);
        let xs: Vec<u32> = (0..50).map(|i| a.choose(i % 7 + 1)).collect();
        let s = a.encode();
        let mut b = Chooser::replay(decode(&s).expect("test"));
        let ys: Vec<u32> = (0..50).map(|i| b.choose(i % 7 + 1)).collect();
        assert_eq!(xs, ys);
        assert_eq!(decode("a.10.z"), Some(vec![10, 36, 35]));
        assert_eq!(decode("a.!"), None);
    }

    #[test]
    fn exhaustive_enumerates_all() {
        // Two binary choices then a ternary one: 2*2*3 = 12 runs.
        let mut seen = Vec::new();
        let mut next = Some(Vec::new());
        while let Some(v) = next {
            let mut c = Chooser::replay(v);
            let run = (c.choose(2), c.choose(2), c.choose(3));
            seen.push(run);
            next = c.next_exhaustive();
        }
        assert_eq!(seen.len(), 12);
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 12);
    }
}
