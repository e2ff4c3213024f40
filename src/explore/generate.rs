//! The generator: multi-actor operation sequences over a small world,
//! written directly in the scenario language, so a reproducer is just the
//! sequence that failed.
//!
//! Actors: domU (allocates and grants pages, ends access), qemu in dom0
//! (gntdev and privcmd mappings, O_DIRECT sync and async I/O, munmap,
//! UNMAP_GRANT_REF, fork, exit), a native process (syscalls with valid and
//! invalid arguments). Completion order of async I/O is a choice.

use super::chooser::Chooser;
use super::typed::{Act, Arg, Builder};

/// One action line of a generated scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub line: String,
}

/// The fixed part of every generated scenario.
pub const WORLD: &str = "\
machine frames=16384
domain dom0 pv privileged pages=4096
domain domU pv pages=4096
domain host native pages=4096
process qemu in dom0
process app in host mmap_base=0x7e0040000000
disk xvda in dom0
";

#[derive(Clone, Debug)]
struct Map {
    off: String,
    grants: Vec<usize>,
    addr: Option<String>,
    mapped_pages: Vec<bool>,
}

#[derive(Default)]
struct State {
    n: usize,
    pages: Vec<String>,
    grants: Vec<(String, bool)>,
    gntdev: Option<String>,
    privcmd: Option<String>,
    disk: Option<String>,
    maps: Vec<Map>,
    reqs: Vec<String>,
    children: Vec<String>,
    app_maps: Vec<(String, u64)>,
    mfns: Vec<String>,
    pc_addr: Option<(String, bool)>,
    /// Draw the wider action set (see [`generate_with`]).
    reach: bool,
    /// Live `pin_user_pages` results: (variable, actor).
    pins: Vec<(String, String)>,
    /// qemu has exited: it makes no more calls.
    qemu_dead: bool,
    /// qemu's big populated mappings (memory pressure): (address, bytes).
    qemu_big: Vec<(String, u64)>,
    /// `granted[i]`: domU granted `pages[i]` at least once.
    granted: Vec<bool>,
    /// Scratch for [`feasible`] (no allocation per action).
    kinds: Vec<u32>,
}

impl State {
    /// A hash of the state without variable names (see [`Marked::shapes`]).
    fn shape(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        // FxHash, element by element: no vectors built (this runs after
        // every generated action).
        let mut h = rustc_hash::FxHasher::default();
        self.pages.len().hash(&mut h);
        self.grants.len().hash(&mut h);
        self.grants.iter().for_each(|g| g.1.hash(&mut h));
        (self.gntdev.is_some(), self.privcmd.is_some(), self.disk.is_some()).hash(&mut h);
        for m in &self.maps {
            (&m.grants, m.addr.is_some(), &m.mapped_pages).hash(&mut h);
        }
        (self.reqs.len(), self.children.len(), self.mfns.len()).hash(&mut h);
        self.app_maps.len().hash(&mut h);
        self.app_maps.iter().for_each(|a| a.1.hash(&mut h));
        self.pc_addr.as_ref().map(|p| p.1).hash(&mut h);
        self.pins.len().hash(&mut h);
        self.pins.iter().for_each(|p| p.1.hash(&mut h));
        (self.qemu_dead, self.reach).hash(&mut h);
        self.qemu_big.len().hash(&mut h);
        self.qemu_big.iter().for_each(|b| b.1.hash(&mut h));
        self.granted.iter().for_each(|g| g.hash(&mut h));
        h.finish()
    }

    fn var(&mut self, p: &str) -> String {
        self.n += 1;
        let mut v = String::with_capacity(p.len() + 4);
        v.push_str(p);
        super::typed::push_decimal(&mut v, self.n as u64);
        v
    }
}

const PROTS: [&str; 4] = ["PROT_NONE", "PROT_READ", "PROT_READ|PROT_WRITE", "PROT_READ|PROT_WRITE|PROT_EXEC"];
/// Lengths as written, with their values.
const LENS: [(&str, u64); 6] = [("4K", 4096), ("8K", 8192), ("12K", 12288), ("2M", 2 << 20), ("0", 0), ("4097", 4097)];

/// Generate `steps` action lines.
pub fn generate(c: &mut Chooser, steps: usize) -> Vec<Op> {
    generate_with(c, steps, false)
}

/// Generate `steps` action lines; with `reach`, also draw the actions of
/// `explore --reach`: direct pins (`pin_user_pages`) of driver, privcmd and
/// native pages and their release; munmap, MADV_DONTNEED, mprotect and
/// mremap of gntdev and privcmd mappings; qemu's exit with its driver
/// mappings (and pins) live; memory pressure in dom0 (big populated
/// mappings) before fork and copy-on-write in the child.
pub fn generate_with(c: &mut Chooser, steps: usize, reach: bool) -> Vec<Op> {
    generate_marked(c, steps, reach).ops
}

/// A generated sequence with, for each action, where its choices start in
/// the chooser's record and the generator's state after it.
#[derive(Clone, Debug, Default)]
pub struct Marked {
    pub ops: Vec<Op>,
    /// `starts[i]`: the index in [`Chooser::made`] of the first choice
    /// drawn for `ops[i]` (the first action draws none: it is fixed).
    pub starts: Vec<usize>,
    /// `shapes[i]`: a hash of what the generator knows after `ops[i]`
    /// (live pages, grants, maps, pins, requests, children, ...), without
    /// variable names: with the model's own state (see
    /// [`super::novelty::abstract_state`]) it decides what can follow.
    pub shapes: Vec<u64>,
    /// The checked script of `script_in(WORLD, ops, true)`, built from the
    /// typed actions ([`super::typed`]); `None` when the builder gave up
    /// and the text must be parsed.
    pub checked: Option<crate::script::CheckedScript>,
}

/// [`generate_with`], marking where each action's choices start.
pub fn generate_marked(c: &mut Chooser, steps: usize, reach: bool) -> Marked {
    let mut s = State { reach, ..State::default() };
    let mut m = Marked::default();
    let mut b = Builder::with_capacity(steps);
    let first = Act::new("xvda", "write", vec![Arg::Int(0), Arg::HexTimes(0x5a, 8192)]);
    m.ops.push(Op { line: b.push(first) });
    m.starts.push(0);
    m.shapes.push(s.shape());
    // Every drawn kind is feasible, so a draw that yields nothing is rare;
    // the bound on attempts keeps the enumeration finite regardless.
    let mut attempts = 0usize;
    let mut start = c.made().len();
    while m.ops.len() < steps && attempts < steps.saturating_mul(4) {
        attempts += 1;
        if let Some(act) = one(c, &mut s) {
            m.ops.push(Op { line: b.push(act) });
            m.starts.push(start);
            m.shapes.push(s.shape());
            start = c.made().len();
        }
    }
    m.checked = b.finish();
    m
}

/// The op kinds that can produce an action in this state (each kind keeps
/// its weight), so that no choice is spent on an impossible action: random
/// runs waste less, and exhaustive enumeration does not revisit the same
/// sequence through dead choices.
fn feasible(s: &State, k: &mut Vec<u32>) {
    k.clear();
    let mapped = s.maps.iter().any(|m| m.addr.is_some());
    if s.qemu_dead {
        // Only domU, the native process and qemu's children remain.
        k.extend([0, 1, 15]);
        if !s.pages.is_empty() {
            k.extend([2, 3]);
        }
        if !s.grants.is_empty() && !s.pages.is_empty() {
            k.push(13);
        }
        if s.pins.iter().any(|(_, who)| who != "qemu") {
            k.push(17);
        }
        if !s.children.is_empty() {
            k.push(21);
        }
        if s.reach && !s.pages.is_empty() {
            k.push(25);
        }
        k.sort_unstable();
        return;
    }
    k.extend([0, 1, 4, 14, 15]);
    if s.reach {
        let pc_mapped = matches!(s.pc_addr, Some((_, true)));
        if mapped || pc_mapped || !s.app_maps.is_empty() {
            k.push(16);
        }
        if !s.pins.is_empty() {
            k.push(17);
        }
        if mapped || s.pc_addr.is_some() {
            // Twice the weight: ten calls share this kind.
            k.extend([18, 26]);
        }
        k.extend([19, 20]);
        if !s.children.is_empty() {
            k.push(21);
        }
        if mapped || pc_mapped || !s.qemu_big.is_empty() {
            k.push(22);
        }
        if s.gntdev.is_some() && !s.maps.is_empty() {
            k.push(23);
        }
        if s.gntdev.is_some() || s.privcmd.is_some() || s.disk.is_some() {
            k.push(24);
        }
        if !s.pages.is_empty() {
            k.push(25);
        }
    }
    if !s.pages.is_empty() {
        k.extend([2, 3]);
    }
    if s.gntdev.is_some() && !s.grants.is_empty() {
        k.extend([5, 6]);
    }
    if s.gntdev.is_some() && !s.maps.is_empty() {
        k.extend([7, 12]);
    }
    if s.disk.is_some() && mapped {
        k.extend([8, 9]);
    }
    if s.disk.is_some() && (mapped || !s.reqs.is_empty()) {
        k.push(10);
    }
    if mapped {
        k.push(11);
    }
    if !s.grants.is_empty() && !s.pages.is_empty() {
        k.push(13);
    }
    k.sort_unstable();
}

fn one(c: &mut Chooser, s: &mut State) -> Option<Act> {
    let mut kinds = std::mem::take(&mut s.kinds);
    feasible(s, &mut kinds);
    let kind = kinds.get(c.choose(kinds.len() as u32) as usize).copied().unwrap_or(0);
    s.kinds = kinds;
    match kind {
        0 | 1 => {
            let v = s.var("p");
            s.pages.push(v.clone());
            s.granted.push(false);
            Some(Act::new("domU", "alloc_page", vec![]).bind(v))
        }
        2 | 3 => {
            let i = pick_index(c, s.pages.len())?;
            let p = s.pages[i].clone();
            s.granted[i] = true;
            let ro = c.chance(1, 4);
            let v = s.var("g");
            s.grants.push((v.clone(), ro));
            let access = Arg::Word(if ro { "ro" } else { "rw" });
            Some(Act::new("domU", "gnttab_grant_foreign_access", vec![Arg::Var(p), Arg::Dom("dom0"), access]).bind(v))
        }
        4 => {
            if s.gntdev.is_some() && c.chance(3, 4) {
                let d = s.var("d");
                s.disk = Some(d.clone());
                return Some(
                    Act::new("qemu", "open", vec![Arg::Str("/dev/xvda"), Arg::Consts("O_RDWR|O_DIRECT")]).bind(d),
                );
            }
            let v = s.var("fd");
            s.gntdev = Some(v.clone());
            Some(Act::new("qemu", "open", vec![Arg::Str("/dev/xen/gntdev"), Arg::Consts("O_RDWR")]).bind(v))
        }
        5 | 6 => {
            let fd = s.gntdev.clone()?;
            if s.grants.is_empty() {
                return None;
            }
            let n = 1 + c.choose(2) as usize;
            let gs: Vec<usize> = (0..n).map(|_| c.choose(s.grants.len() as u32) as usize).collect();
            let names: Vec<String> = gs.iter().map(|&i| s.grants[i].0.clone()).collect();
            let v = s.var("off");
            s.maps.push(Map { off: v.clone(), grants: gs, addr: None, mapped_pages: Vec::new() });
            let args =
                vec![Arg::Var(fd), Arg::Consts("IOCTL_GNTDEV_MAP_GRANT_REF"), Arg::Dom("domU"), Arg::List(names)];
            Some(Act::new("qemu", "ioctl", args).bind(v))
        }
        7 => {
            let fd = s.gntdev.clone()?;
            let i = c.choose(s.maps.len().max(1) as u32) as usize;
            let m = s.maps.get_mut(i)?;
            let v = format!("a{}", i + 1);
            let n = m.grants.len();
            let prot = if c.chance(1, 5) { "PROT_READ" } else { "PROT_READ|PROT_WRITE" };
            m.addr = Some(v.clone());
            m.mapped_pages = vec![true; n];
            let args = vec![
                Arg::Consts("NULL"),
                Arg::Int(n as u64 * 4096),
                Arg::Consts(prot),
                Arg::Consts("MAP_SHARED"),
                Arg::Var(fd),
                Arg::Var(m.off.clone()),
            ];
            Some(Act::new("qemu", "mmap", args).bind(v))
        }
        8 | 9 => {
            let d = s.disk.clone()?;
            let (addr, page) = mapped_addr(c, s)?;
            let rw = if c.chance(2, 3) { "pread" } else { "pwrite" };
            let off = c.choose(2) as u64 * 4096;
            let args = vec![Arg::Var(d), Arg::Plus(addr, page as u64 * 4096), Arg::Int(4096), Arg::Int(off)];
            Some(Act::new("qemu", rw, args))
        }
        10 => {
            let d = s.disk.clone()?;
            if !s.reqs.is_empty() && c.chance(1, 2) {
                let i = c.choose(s.reqs.len() as u32) as usize;
                let r = s.reqs.remove(i);
                return Some(Act::new("qemu", "io_complete", vec![Arg::Var(r)]));
            }
            let (addr, page) = mapped_addr(c, s)?;
            let v = s.var("r");
            s.reqs.push(v.clone());
            let op = if c.chance(2, 3) { "READ" } else { "WRITE" };
            let args =
                vec![Arg::Var(d), Arg::Consts(op), Arg::Plus(addr, page as u64 * 4096), Arg::Int(4096), Arg::Int(0)];
            Some(Act::new("qemu", "io_submit", args).bind(v))
        }
        11 => {
            let mapped: Vec<usize> = (0..s.maps.len()).filter(|&i| s.maps[i].addr.is_some()).collect();
            let i = *c.pick(&mapped)?;
            let m = s.maps.get_mut(i)?;
            let a = m.addr.clone()?;
            let n = m.mapped_pages.len() as u32;
            let p = c.choose(n.max(1));
            if let Some(x) = m.mapped_pages.get_mut(p as usize) {
                *x = false;
            }
            let len = if c.chance(1, 2) { 4096 } else { (n - p) as u64 * 4096 };
            Some(Act::new("qemu", "munmap", vec![Arg::Plus(a, p as u64 * 4096), Arg::Int(len)]))
        }
        12 => {
            let fd = s.gntdev.clone()?;
            let i = c.choose(s.maps.len().max(1) as u32) as usize;
            let m = s.maps.get(i)?;
            let args = vec![
                Arg::Var(fd),
                Arg::Consts("IOCTL_GNTDEV_UNMAP_GRANT_REF"),
                Arg::Var(m.off.clone()),
                Arg::Int(m.grants.len() as u64),
            ];
            Some(Act::new("qemu", "ioctl", args))
        }
        13 => {
            let (g, _) = c.pick(&s.grants)?.clone();
            if c.chance(1, 2) {
                let p = c.pick(&s.pages)?.clone();
                return Some(Act::new("domU", "read_page", vec![Arg::Var(p), Arg::Int(0), Arg::Int(4)]));
            }
            Some(Act::new("domU", "gnttab_end_foreign_access", vec![Arg::Var(g)]))
        }
        14 => {
            // Only what can happen now, so no choice is spent in vain.
            let mut opts = vec![1u32];
            if !s.children.is_empty() {
                opts.push(0);
            }
            if privcmd_feasible(s) {
                opts.push(2);
            }
            opts.sort_unstable();
            match *c.pick(&opts)? {
                0 => {
                    let ch = s.children.pop()?;
                    Some(Act::new(ch, "exit", vec![]))
                }
                1 => {
                    let v = s.var("child");
                    s.children.push(v.clone());
                    Some(Act::new("qemu", "fork", vec![]).bind(v))
                }
                _ => privcmd(c, s),
            }
        }
        15 => native(c, s),
        16 => pin(c, s),
        17 => {
            let live: Vec<usize> = (0..s.pins.len()).filter(|&i| !(s.qemu_dead && s.pins[i].1 == "qemu")).collect();
            let i = *c.pick(&live)?;
            let (v, who) = s.pins.remove(i);
            Some(Act::new(who, "unpin_user_pages", vec![Arg::Var(v)]))
        }
        18 | 26 => driver_syscall(c, s),
        19 => {
            // Exit is rare: one in eight draws of this kind.
            if !c.chance(1, 8) {
                return None;
            }
            s.qemu_dead = true;
            Some(Act::new("qemu", "exit", vec![]))
        }
        20 => {
            // Memory pressure in dom0 (4096 pages): fork and COW then run
            // close to ENOMEM.
            let sizes = [4u64 << 20, 8 << 20, 12 << 20, 15 << 20];
            let bytes = *c.pick(&sizes)?;
            let v = s.var("big");
            s.qemu_big.push((v.clone(), bytes));
            let args = vec![
                Arg::Consts("NULL"),
                Arg::Lit(format!("{}M", bytes >> 20).into(), bytes),
                Arg::Consts("PROT_READ|PROT_WRITE"),
                Arg::Consts("MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE"),
                Arg::Neg(1),
                Arg::Int(0),
            ];
            Some(Act::new("qemu", "mmap", args).bind(v))
        }
        21 => {
            // A child writes to memory it shares copy-on-write with qemu.
            let ch = c.pick(&s.children)?.clone();
            let (a, bytes) = c.pick(&s.qemu_big)?.clone();
            let len = if c.chance(1, 2) { bytes } else { bytes / 2 };
            Some(Act::new(ch, "touch", vec![Arg::Var(a), Arg::Int(len), Arg::Word("w")]))
        }
        22 => access(c, s),
        23 => {
            // The other gntdev ioctls (drivers/xen/gntdev.c).
            let fd = s.gntdev.clone()?;
            let m = c.pick(&s.maps)?.clone();
            let args = match (c.choose(2), m.addr) {
                (0, Some(a)) => vec![Arg::Var(fd), Arg::Consts("IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR"), Arg::Var(a)],
                _ => vec![
                    Arg::Var(fd),
                    Arg::Consts("IOCTL_GNTDEV_SET_UNMAP_NOTIFY"),
                    Arg::Var(m.off),
                    Arg::Consts("UNMAP_NOTIFY_CLEAR_BYTE"),
                    Arg::Int(0),
                ],
            };
            Some(Act::new("qemu", "ioctl", args))
        }
        24 => {
            // close() of a driver or disk fd: its mappings (and requests)
            // stay; nothing more is drawn on the fd.
            let mut fds = Vec::new();
            fds.extend(s.gntdev.iter().map(|f| (0, f.clone())));
            fds.extend(s.privcmd.iter().map(|f| (1, f.clone())));
            fds.extend(s.disk.iter().map(|f| (2, f.clone())));
            let (which, fd) = c.pick(&fds)?.clone();
            match which {
                0 => s.gntdev = None,
                1 => s.privcmd = None,
                _ => s.disk = None,
            }
            Some(Act::new("qemu", "close", vec![Arg::Var(fd)]))
        }
        _ => {
            // domU writes into or frees a page it may have granted
            // (freeing a frame still grant-mapped is `grant-frame-freed`).
            let i = pick_index(c, s.pages.len())?;
            let p = s.pages[i].clone();
            // A page is freed only if it was never granted: a kernel that
            // frees a page it granted breaks the grant protocol itself
            // (`grant-frame-freed`), which is no bug of Linux or Xen.
            if !s.granted[i] && c.chance(1, 3) {
                // Nor is a freed page used again.
                s.pages.remove(i);
                s.granted.remove(i);
                return Some(Act::new("domU", "free_page", vec![Arg::Var(p)]));
            }
            Some(Act::new("domU", "write_page", vec![Arg::Var(p), Arg::Int(0), Arg::Str("via domU")]))
        }
    }
}

/// A user access by qemu (or a forked child, which inherits what
/// `MADV_DOFORK` made copyable) to a driver mapping or qemu's memory.
fn access(c: &mut Chooser, s: &mut State) -> Option<Act> {
    let mut targets: Vec<(String, u64)> = Vec::new();
    for m in &s.maps {
        if let Some(a) = &m.addr {
            targets.extend((0..m.mapped_pages.len()).map(|p| (a.clone(), p as u64 * 4096)));
        }
    }
    if let Some((a, true)) = &s.pc_addr {
        targets.push((a.clone(), 0));
    }
    // Driver mappings first (three in four) when there are any.
    if targets.is_empty() || c.chance(1, 4) {
        targets.extend(s.qemu_big.iter().map(|b| (b.0.clone(), 0)));
    }
    let (a, off) = c.pick(&targets)?.clone();
    let mut who = vec!["qemu".to_string()];
    who.extend(s.children.iter().cloned());
    let w = c.pick(&who)?.clone();
    let at = Arg::Plus(a, off);
    Some(match c.choose(3) {
        0 => Act::new(w, "load", vec![at, Arg::Int(4)]),
        1 => Act::new(w, "store", vec![at, Arg::Str("hi")]),
        _ => Act::new(w, "touch", vec![at, Arg::Int(4096), Arg::Word("w")]),
    })
}

/// `pin_user_pages` of a gntdev, privcmd or native page.
fn pin(c: &mut Chooser, s: &mut State) -> Option<Act> {
    let mut targets: Vec<(&'static str, String, u64)> = Vec::new();
    for m in &s.maps {
        if let Some(a) = &m.addr {
            for p in 0..m.mapped_pages.len() {
                targets.push(("qemu", a.clone(), p as u64 * 4096));
            }
        }
    }
    if let Some((a, true)) = &s.pc_addr {
        targets.push(("qemu", a.clone(), 0));
    }
    for (a, _) in &s.app_maps {
        targets.push(("app", a.clone(), 0));
    }
    let (who, addr, off) = c.pick(&targets)?.clone();
    let flags = match *c.pick(&[0, 1, 2])? {
        0 => Arg::Consts("FOLL_WRITE"),
        1 => Arg::Consts("FOLL_WRITE|FOLL_LONGTERM"),
        _ => Arg::Int(0),
    };
    let v = s.var("pins");
    s.pins.push((v.clone(), who.to_string()));
    Some(Act::new(who, "pin_user_pages", vec![Arg::Plus(addr, off), Arg::Int(1), flags]).bind(v))
}

/// A syscall on a driver mapping (gntdev or privcmd) by qemu.
fn driver_syscall(c: &mut Chooser, s: &mut State) -> Option<Act> {
    let mut targets: Vec<(String, u64)> =
        s.maps.iter().filter_map(|m| Some((m.addr.clone()?, m.grants.len() as u64 * 4096))).collect();
    if let Some((a, _)) = &s.pc_addr {
        targets.push((a.clone(), 4096));
    }
    let (a, len) = c.pick(&targets)?.clone();
    let (call, third): (&'static str, Option<Arg>) = match c.choose(10) {
        0 => ("madvise", Some(Arg::Consts("MADV_DONTNEED"))),
        1 => ("mprotect", Some(Arg::Consts(c.pick(&PROTS)?))),
        2 => {
            let args = vec![Arg::Var(a), Arg::Int(len), Arg::Int(len * 2), Arg::Consts("MREMAP_MAYMOVE")];
            return Some(Act::new("qemu", "mremap", args));
        }
        3 => ("munmap", None),
        // What fork does with the VMA, and the other advice.
        4 => ("madvise", Some(Arg::Consts("MADV_DOFORK"))),
        5 => ("madvise", Some(Arg::Consts(c.pick(&ADVICE)?))),
        6 => (if c.chance(1, 2) { "mlock" } else { "munlock" }, None),
        7 => ("msync", Some(Arg::Consts("MS_SYNC"))),
        8 => ("mincore", None),
        _ => {
            let args = vec![Arg::Var(a), Arg::Int(len), Arg::Int(4096), Arg::Int(0)];
            return Some(Act::new("qemu", "mremap", args));
        }
    };
    let mut args = vec![Arg::Var(a), Arg::Int(len)];
    args.extend(third);
    Some(Act::new("qemu", call, args))
}

/// The advice [`driver_syscall`] gives a driver mapping besides
/// MADV_DONTNEED and MADV_DOFORK (each has its own path in mm/madvise.c).
const ADVICE: [&str; 7] = [
    "MADV_DONTFORK",
    "MADV_WIPEONFORK",
    "MADV_FREE",
    "MADV_WILLNEED",
    "MADV_POPULATE_WRITE",
    "MADV_COLD",
    "MADV_PAGEOUT",
];

/// The privcmd stages possible now: 0 open, 1 learn an MFN, 2 mmap,
/// 3 MMAPBATCH_V2, 4 I/O into the mapping.
fn privcmd_stages(s: &State) -> Vec<u32> {
    if s.privcmd.is_none() {
        return vec![0];
    }
    let mut v = Vec::new();
    if !s.pages.is_empty() {
        v.push(1);
    }
    match &s.pc_addr {
        None => v.push(2),
        Some((_, false)) if !s.mfns.is_empty() => v.push(3),
        Some((_, true)) if s.disk.is_some() => v.push(4),
        _ => {}
    }
    v
}

fn privcmd_feasible(s: &State) -> bool {
    !privcmd_stages(s).is_empty()
}

/// privcmd in stages: open, learn an MFN, mmap, MMAPBATCH_V2, then I/O
/// into it (GUP must refuse: VM_IO|VM_PFNMAP).
fn privcmd(c: &mut Chooser, s: &mut State) -> Option<Act> {
    let stages = privcmd_stages(s);
    match *c.pick(&stages)? {
        0 => {
            let v = s.var("pc");
            s.privcmd = Some(v.clone());
            Some(Act::new("qemu", "open", vec![Arg::Str("/dev/xen/privcmd"), Arg::Consts("O_RDWR")]).bind(v))
        }
        1 => {
            let p = c.pick(&s.pages)?.clone();
            let v = s.var("m");
            s.mfns.push(v.clone());
            Some(Act::new("domU", "pfn_to_mfn", vec![Arg::Var(p)]).bind(v))
        }
        2 => {
            let fd = s.privcmd.clone()?;
            let v = s.var("pa");
            s.pc_addr = Some((v.clone(), false));
            let args = vec![
                Arg::Consts("NULL"),
                Arg::Int(4096),
                Arg::Consts("PROT_READ|PROT_WRITE"),
                Arg::Consts("MAP_SHARED"),
                Arg::Var(fd),
                Arg::Int(0),
            ];
            Some(Act::new("qemu", "mmap", args).bind(v))
        }
        3 => {
            let fd = s.privcmd.clone()?;
            let (a, _) = s.pc_addr.clone()?;
            let m = c.pick(&s.mfns)?.clone();
            s.pc_addr = Some((a.clone(), true));
            let args = vec![
                Arg::Var(fd),
                Arg::Consts("IOCTL_PRIVCMD_MMAPBATCH_V2"),
                Arg::Var(a),
                Arg::Dom("domU"),
                Arg::List(vec![m]),
            ];
            Some(Act::new("qemu", "ioctl", args))
        }
        _ => {
            let d = s.disk.clone()?;
            let (a, _) = s.pc_addr.clone()?;
            Some(Act::new("qemu", "pread", vec![Arg::Var(d), Arg::Var(a), Arg::Int(4096), Arg::Int(0)]))
        }
    }
}

/// [`Chooser::pick`]'s choice among `n` items, as an index.
fn pick_index(c: &mut Chooser, n: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    Some(c.choose(n as u32) as usize)
}

fn mapped_addr(c: &mut Chooser, s: &State) -> Option<(String, usize)> {
    let mapped: Vec<&Map> = s.maps.iter().filter(|m| m.addr.is_some()).collect();
    let m = c.pick(&mapped)?;
    let page = c.choose(m.mapped_pages.len().max(1) as u32) as usize;
    Some((m.addr.clone()?, page))
}

fn native(c: &mut Chooser, s: &mut State) -> Option<Act> {
    // Without a mapping, only mmap is possible.
    let kinds = if s.app_maps.is_empty() { 2 } else { 6 };
    let len = |(text, v): (&'static str, u64)| Arg::Lit(text.into(), v);
    match c.choose(kinds) {
        0 | 1 => {
            let v = s.var("x");
            let l = *c.pick(&LENS)?;
            let prot = *c.pick(&PROTS)?;
            let flags = *c.pick(&[
                "MAP_PRIVATE|MAP_ANONYMOUS",
                "MAP_SHARED|MAP_ANONYMOUS",
                "MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE",
                "MAP_PRIVATE",
            ])?;
            // What the generator assumes the mapping spans.
            let bytes = match l.0 {
                "4K" => 4096,
                "8K" => 8192,
                "12K" => 12288,
                "2M" => 2 << 20,
                _ => 4096,
            };
            s.app_maps.push((v.clone(), bytes));
            let args =
                vec![Arg::Consts("NULL"), len(l), Arg::Consts(prot), Arg::Consts(flags), Arg::Neg(1), Arg::Int(0)];
            Some(Act::new("app", "mmap", args).bind(v))
        }
        2 => {
            let (a, l) = c.pick(&s.app_maps)?.clone();
            let off = c.choose((l / 4096).max(1) as u32) as u64 * 4096;
            let prot = *c.pick(&PROTS)?;
            Some(Act::new("app", "mprotect", vec![Arg::Plus(a, off), len(("4K", 4096)), Arg::Consts(prot)]))
        }
        3 => {
            let (a, l) = c.pick(&s.app_maps)?.clone();
            let off = c.choose((l / 4096).max(1) as u32) as u64 * 4096;
            Some(Act::new("app", "store", vec![Arg::Plus(a, off), Arg::Str("hi")]))
        }
        4 => {
            let (a, l) = c.pick(&s.app_maps)?.clone();
            let off = c.choose((l / 4096).max(1) as u32) as u64 * 4096;
            Some(Act::new("app", "load", vec![Arg::Plus(a, off), Arg::Int(2)]))
        }
        _ => {
            let (a, l) = c.pick(&s.app_maps)?.clone();
            let off = c.choose((l / 4096).max(1) as u32) as u64 * 4096;
            let ml = *c.pick(&LENS)?;
            Some(Act::new("app", "munmap", vec![Arg::Plus(a, off), len(ml)]))
        }
    }
}

/// The declarations of [`WORLD`] that `ops` need: the machine line, every
/// declaration whose name the actions mention, and what those declarations
/// name in turn (a process's domain, a disk's domain).
pub fn min_world(ops: &[Op]) -> String {
    let mut used: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for op in ops {
        used.extend(op.line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()));
    }
    let lines: Vec<&str> = WORLD.lines().collect();
    let mut keep = vec![false; lines.len()];
    // Declarations name only earlier ones: walk backwards.
    for (i, l) in lines.iter().enumerate().rev() {
        let mut w = l.split_whitespace();
        let kind = w.next().unwrap_or("");
        let name = w.next().unwrap_or("");
        if kind == "machine" || used.contains(name) {
            keep[i] = true;
            used.extend(l.split_whitespace());
        }
    }
    lines.iter().zip(keep).filter(|(_, k)| *k).map(|(l, _)| format!("{l}\n")).collect()
}

/// The scenario text for `ops`; with `checks`, a `check` after every action.
pub fn script(ops: &[Op], checks: bool) -> String {
    script_in(WORLD, ops, checks)
}

/// [`script`] with another world (e.g. [`min_world`]).
pub fn script_in(world: &str, ops: &[Op], checks: bool) -> String {
    let mut s = String::from(world);
    s.push('\n');
    for op in ops {
        s.push_str(&op.line);
        s.push('\n');
        if checks {
            s.push_str("check\n");
        }
    }
    if !checks {
        s.push_str("check\n");
    }
    s
}
