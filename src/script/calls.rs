//! The calls each kind of actor can make, with their parameters: the one
//! place to extend when the model learns a new call.
//!
//! Parameter kinds are checked statically where the argument's type is
//! known. `Word` parameters take bare words that become constants in that
//! position only: `touch(addr, len, r|w)` has `r` = 0, `w` = 1 (1 = write
//! access); `gnttab_grant_foreign_access(pfn, DOMAIN, rw|ro)` has `rw` = 0,
//! `ro` = 1 (the `readonly` argument of the kernel's
//! `gnttab_grant_foreign_access(domid, frame, readonly)`). A number is
//! accepted there too.

use super::consts;
use super::value::Ty;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Process,
    Domain,
    Disk,
}

impl ActorKind {
    pub fn describe(self) -> &'static str {
        match self {
            ActorKind::Process => "process",
            ActorKind::Domain => "domain",
            ActorKind::Disk => "disk",
        }
    }
}

/// Every call, for exhaustive matching in the interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    // process: Linux syscalls and user accesses
    Mmap,
    Munmap,
    Mprotect,
    Mremap,
    Madvise,
    Mlock,
    Mlock2,
    Munlock,
    Mlockall,
    Munlockall,
    Mseal,
    Msync,
    Mincore,
    Brk,
    Setrlimit,
    OomScoreAdj,
    Store,
    Load,
    Touch,
    Open,
    MemfdCreate,
    Ftruncate,
    Close,
    Ioctl,
    Pread,
    Pwrite,
    IoSubmit,
    IoComplete,
    PinUserPages,
    UnpinUserPages,
    Fork,
    Exit,
    // domain: kernel-level calls
    AllocPage,
    Reclaim,
    FailPageAlloc,
    FreePage,
    WritePage,
    ReadPage,
    GnttabGrantForeignAccess,
    GnttabEndForeignAccess,
    PfnToMfn,
    // disk
    DiskWrite,
    DiskRead,
}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Int,
    Bytes,
    List,
    /// The name of a declared domain.
    Domain,
    /// A number, or one of these bare words (each with its value).
    Word(&'static [(&'static str, u64)]),
    /// Anything (variadic `ioctl` arguments of an unknown request).
    Any,
}

impl ArgKind {
    /// The static type an argument needs, `Unknown` for "anything".
    pub fn ty(self) -> Ty {
        match self {
            ArgKind::Int | ArgKind::Word(_) => Ty::Int,
            ArgKind::Bytes => Ty::Bytes,
            ArgKind::List => Ty::List,
            ArgKind::Domain => Ty::Domain,
            ArgKind::Any => Ty::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ArgKind,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CallSpec {
    pub name: &'static str,
    pub call: Call,
    pub actor: ActorKind,
    /// All parameters; the first `required` must be given.
    pub params: &'static [Param],
    pub required: usize,
    /// Further arguments of kind `Any` are accepted (`ioctl`).
    pub variadic: bool,
    /// What the call returns (see [`CallSpec::returns`]).
    pub ret: Ty,
    /// Whether the call makes user accesses that can raise a signal.
    pub may_signal: bool,
}

impl CallSpec {
    /// The result type for `argc` arguments: `mincore` without `vec`
    /// returns the vector as bytes.
    pub fn returns(&self, argc: usize) -> Ty {
        match self.call {
            Call::Mincore if argc < self.params.len() => Ty::Bytes,
            _ => self.ret,
        }
    }

    /// "6", "4 or 5", "at least 2".
    pub fn arity_text(&self) -> String {
        let max = self.params.len();
        if self.variadic {
            format!("at least {}", self.required)
        } else if self.required == max {
            max.to_string()
        } else if self.required + 1 == max {
            format!("{} or {max}", self.required)
        } else {
            format!("{} to {max}", self.required)
        }
    }
}

const fn p(name: &'static str, kind: ArgKind) -> Param {
    Param { name, kind }
}

const fn int(name: &'static str) -> Param {
    p(name, ArgKind::Int)
}

pub const TOUCH_WORDS: &[(&str, u64)] = &[("r", 0), ("w", 1)];
pub const GRANT_WORDS: &[(&str, u64)] = &[("rw", 0), ("ro", 1)];

macro_rules! spec {
    ($actor:ident $name:literal $call:ident ($($param:expr),*) req $req:literal -> $ret:ident $(, $flag:ident)*) => {
        CallSpec {
            name: $name,
            call: Call::$call,
            actor: ActorKind::$actor,
            params: &[$($param),*],
            required: $req,
            variadic: spec!(@variadic $($flag)*),
            ret: Ty::$ret,
            may_signal: spec!(@signal $($flag)*),
        }
    };
    (@variadic variadic $($rest:ident)*) => { true };
    (@variadic $other:ident $($rest:ident)*) => { spec!(@variadic $($rest)*) };
    (@variadic) => { false };
    (@signal signal $($rest:ident)*) => { true };
    (@signal $other:ident $($rest:ident)*) => { spec!(@signal $($rest)*) };
    (@signal) => { false };
}

/// The call table.
pub static CALLS: &[CallSpec] = &[
    spec!(Process "mmap" Mmap (int("addr"), int("len"), int("prot"), int("flags"), int("fd"), int("off")) req 6 -> Int),
    spec!(Process "munmap" Munmap (int("addr"), int("len")) req 2 -> Int),
    spec!(Process "mprotect" Mprotect (int("addr"), int("len"), int("prot")) req 3 -> Int),
    spec!(Process "mremap" Mremap (int("old_addr"), int("old_len"), int("new_len"), int("flags"), int("new_addr")) req 4 -> Int),
    spec!(Process "madvise" Madvise (int("addr"), int("len"), int("advice")) req 3 -> Int),
    spec!(Process "mlock" Mlock (int("addr"), int("len")) req 2 -> Int),
    spec!(Process "mlock2" Mlock2 (int("addr"), int("len"), int("flags")) req 3 -> Int),
    spec!(Process "munlock" Munlock (int("addr"), int("len")) req 2 -> Int),
    spec!(Process "mlockall" Mlockall (int("flags")) req 1 -> Int),
    spec!(Process "munlockall" Munlockall () req 0 -> Int),
    spec!(Process "mseal" Mseal (int("addr"), int("len"), int("flags")) req 3 -> Int),
    spec!(Process "msync" Msync (int("addr"), int("len"), int("flags")) req 3 -> Int),
    spec!(Process "mincore" Mincore (int("addr"), int("len"), int("vec")) req 2 -> Int),
    spec!(Process "brk" Brk (int("addr")) req 1 -> Int),
    spec!(Process "setrlimit" Setrlimit (int("resource"), int("soft"), int("hard")) req 3 -> Int),
    spec!(Process "oom_score_adj" OomScoreAdj (int("adj")) req 1 -> Int),
    spec!(Process "store" Store (int("addr"), p("data", ArgKind::Bytes)) req 2 -> Int, signal),
    spec!(Process "load" Load (int("addr"), int("len")) req 2 -> Bytes, signal),
    spec!(Process "touch" Touch (int("addr"), int("len"), p("access", ArgKind::Word(TOUCH_WORDS))) req 3 -> Int, signal),
    spec!(Process "open" Open (p("path", ArgKind::Bytes), int("flags")) req 2 -> Int),
    spec!(Process "memfd_create" MemfdCreate (p("name", ArgKind::Bytes)) req 1 -> Int),
    spec!(Process "ftruncate" Ftruncate (int("fd"), int("len")) req 2 -> Int),
    spec!(Process "close" Close (int("fd")) req 1 -> Int),
    spec!(Process "ioctl" Ioctl (int("fd"), int("request")) req 2 -> Int, variadic),
    spec!(Process "pread" Pread (int("fd"), int("addr"), int("len"), int("off")) req 4 -> Int),
    spec!(Process "pwrite" Pwrite (int("fd"), int("addr"), int("len"), int("off")) req 4 -> Int),
    spec!(Process "io_submit" IoSubmit (int("fd"), int("op"), int("addr"), int("len"), int("off")) req 5 -> Int),
    spec!(Process "io_complete" IoComplete (int("req")) req 1 -> Int),
    spec!(Process "pin_user_pages" PinUserPages (int("addr"), int("npages"), int("gup_flags")) req 3 -> Int),
    spec!(Process "unpin_user_pages" UnpinUserPages (p("pins", ArgKind::Any)) req 1 -> Int),
    spec!(Process "fork" Fork () req 0 -> Int),
    spec!(Process "exit" Exit () req 0 -> Int),
    spec!(Domain "alloc_page" AllocPage () req 0 -> Int),
    spec!(Domain "reclaim" Reclaim () req 0 -> Int),
    spec!(Domain "fail_page_alloc" FailPageAlloc (int("space"), int("times")) req 2 -> Int),
    spec!(Domain "free_page" FreePage (int("pfn")) req 1 -> Int),
    spec!(Domain "write_page" WritePage (int("pfn"), int("off"), p("data", ArgKind::Bytes)) req 3 -> Int),
    spec!(Domain "read_page" ReadPage (int("pfn"), int("off"), int("len")) req 3 -> Bytes),
    spec!(Domain "gnttab_grant_foreign_access" GnttabGrantForeignAccess (int("pfn"), p("domain", ArgKind::Domain), p("access", ArgKind::Word(GRANT_WORDS))) req 3 -> Int),
    spec!(Domain "gnttab_end_foreign_access" GnttabEndForeignAccess (int("gref")) req 1 -> Int),
    spec!(Domain "pfn_to_mfn" PfnToMfn (int("pfn")) req 1 -> Int),
    spec!(Disk "write" DiskWrite (int("off"), p("data", ArgKind::Bytes)) req 2 -> Int),
    spec!(Disk "read" DiskRead (int("off"), int("len")) req 2 -> Bytes),
];

/// The call `name` of an actor of kind `actor`.
pub fn lookup(actor: ActorKind, name: &str) -> Option<&'static CallSpec> {
    CALLS.iter().find(|c| c.actor == actor && c.name == name)
}

/// The spec of `call` (every `Call` has exactly one).
pub fn spec(call: Call) -> Option<&'static CallSpec> {
    CALLS.iter().find(|c| c.call == call)
}

/// Any actor kind's call `name` (to explain "that is a domain call").
pub fn lookup_any(name: &str) -> Option<&'static CallSpec> {
    CALLS.iter().find(|c| c.name == name)
}

/// The names of `actor`'s calls, for suggestions.
pub fn names_for(actor: ActorKind) -> impl Iterator<Item = &'static str> {
    CALLS.iter().filter(move |c| c.actor == actor).map(|c| c.name)
}

/// The arguments after `fd, REQUEST` that a known ioctl request takes.
pub fn ioctl_params(request: u64) -> Option<&'static [Param]> {
    const MAP: &[Param] = &[p("domain", ArgKind::Domain), p("refs", ArgKind::List)];
    const UNMAP: &[Param] = &[int("offset"), int("count")];
    const GET_OFFSET: &[Param] = &[int("vaddr")];
    const SET_MAX: &[Param] = &[int("count")];
    const NOTIFY: &[Param] = &[int("offset"), int("action"), int("port")];
    const MMAPBATCH: &[Param] = &[int("addr"), p("domain", ArgKind::Domain), p("frames", ArgKind::List)];
    Some(match request {
        consts::IOCTL_GNTDEV_MAP_GRANT_REF => MAP,
        consts::IOCTL_GNTDEV_UNMAP_GRANT_REF => UNMAP,
        consts::IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR => GET_OFFSET,
        consts::IOCTL_GNTDEV_SET_MAX_GRANTS => SET_MAX,
        consts::IOCTL_GNTDEV_SET_UNMAP_NOTIFY => NOTIFY,
        consts::IOCTL_PRIVCMD_MMAPBATCH_V2 => MMAPBATCH,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arities_from_the_scenario_language() {
        let arity = |a, n| {
            let s = lookup(a, n).expect("test");
            (s.required, s.params.len(), s.variadic)
        };
        use ActorKind::*;
        assert_eq!(arity(Process, "mmap"), (6, 6, false));
        assert_eq!(arity(Process, "mremap"), (4, 5, false));
        assert_eq!(arity(Process, "mincore"), (2, 3, false));
        assert_eq!(arity(Process, "ioctl"), (2, 2, true));
        assert_eq!(arity(Process, "io_submit"), (5, 5, false));
        assert_eq!(arity(Process, "munlockall"), (0, 0, false));
        assert_eq!(arity(Domain, "gnttab_grant_foreign_access"), (3, 3, false));
        assert_eq!(arity(Disk, "write"), (2, 2, false));
        assert!(lookup(Process, "alloc_page").is_none());
        assert_eq!(lookup_any("alloc_page").map(|c| c.actor), Some(Domain));
    }

    #[test]
    fn table_is_consistent() {
        for (i, c) in CALLS.iter().enumerate() {
            assert!(c.required <= c.params.len(), "{}", c.name);
            assert!(CALLS[..i].iter().all(|o| !(o.name == c.name && o.actor == c.actor)), "{} twice", c.name);
            assert_eq!(spec(c.call).map(|s| s.name), Some(c.name));
        }
        assert_eq!(lookup(ActorKind::Process, "mincore").expect("test").returns(2), Ty::Bytes);
        assert_eq!(lookup(ActorKind::Process, "mincore").expect("test").returns(3), Ty::Int);
        assert_eq!(lookup(ActorKind::Process, "mremap").expect("test").arity_text(), "4 or 5");
        assert_eq!(lookup(ActorKind::Process, "ioctl").expect("test").arity_text(), "at least 2");
    }
}
