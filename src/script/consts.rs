//! Linux x86-64 constant names a script may use, and the reverse lookups the
//! interpreter needs to print values symbolically.
//!
//! Sources (Linux 6.18): include/uapi/asm-generic/mman-common.h,
//! include/uapi/linux/mman.h, arch/x86/include/uapi/asm/mman.h,
//! include/uapi/asm-generic/fcntl.h, include/uapi/asm-generic/resource.h,
//! include/linux/mm_types.h and mm/internal.h (FOLL_*),
//! include/uapi/xen/gntdev.h and privcmd.h (ioctl numbers, computed here with
//! `_IOC` from the x86-64 struct sizes), include/uapi/linux/aio_abi.h
//! (`IOCB_CMD_*`), errno-base.h / errno.h (see `errno.rs`). The unit tests
//! compare a large sample against the `libc` crate.
//!
//! Besides these, the words `rw`/`ro` (grant access) and `r`/`w` (`touch`)
//! are accepted in their argument positions only; see `calls.rs`.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::errno;

/// How a family's values combine, for printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    /// One value at a time (`MADV_*`, `RLIMIT_*`).
    Enum,
    /// Bits or'ed together (`PROT_*`, `MAP_*`).
    Flags,
}

/// A group of related constants sharing a prefix.
#[derive(Debug)]
pub struct Family {
    pub prefix: &'static str,
    pub kind: FamilyKind,
    /// Canonical names: the ones printed by the reverse lookups.
    pub names: &'static [(&'static str, u64)],
    /// Accepted on input, never printed (`MAP_ANON`, `EWOULDBLOCK`, masks).
    pub aliases: &'static [(&'static str, u64)],
}

/// `_IOC(dir, type, nr, size)` of include/uapi/asm-generic/ioctl.h.
pub const fn ioc(dir: u64, ty: u8, nr: u8, size: u64) -> u64 {
    (dir << 30) | (size << 16) | ((ty as u64) << 8) | nr as u64
}

/// `_IOC_NONE`.
pub const IOC_NONE: u64 = 0;

/// Struct sizes on x86-64, from include/uapi/xen/gntdev.h and privcmd.h.
pub mod sizes {
    /// `struct ioctl_gntdev_map_grant_ref`: u32 count, u32 pad, u64 index, one 8-byte ref.
    pub const GNTDEV_MAP_GRANT_REF: u64 = 24;
    /// `struct ioctl_gntdev_unmap_grant_ref`: u64 index, u32 count, u32 pad.
    pub const GNTDEV_UNMAP_GRANT_REF: u64 = 16;
    /// `struct ioctl_gntdev_get_offset_for_vaddr`: u64 vaddr, u64 offset, u32 count, u32 pad.
    pub const GNTDEV_GET_OFFSET_FOR_VADDR: u64 = 24;
    /// `struct ioctl_gntdev_set_max_grants`: u32 count.
    pub const GNTDEV_SET_MAX_GRANTS: u64 = 4;
    /// `struct ioctl_gntdev_unmap_notify`: u64 index, u32 action, u32 port.
    pub const GNTDEV_UNMAP_NOTIFY: u64 = 16;
    /// `struct ioctl_gntdev_grant_copy`: unsigned int count, pointer.
    pub const GNTDEV_GRANT_COPY: u64 = 16;
    /// `struct privcmd_hypercall`: `u64 op`, `u64 arg[5]`.
    pub const PRIVCMD_HYPERCALL: u64 = 48;
    /// `struct privcmd_mmap`: int num, domid_t dom, pointer.
    pub const PRIVCMD_MMAP: u64 = 16;
    /// `struct privcmd_mmapbatch`: int num, domid_t dom, u64 addr, pointer.
    pub const PRIVCMD_MMAPBATCH: u64 = 24;
    /// `struct privcmd_mmapbatch_v2`: unsigned num, domid_t dom, u64 addr, two pointers.
    pub const PRIVCMD_MMAPBATCH_V2: u64 = 32;
}

pub const IOCTL_GNTDEV_MAP_GRANT_REF: u64 = ioc(IOC_NONE, b'G', 0, sizes::GNTDEV_MAP_GRANT_REF);
pub const IOCTL_GNTDEV_UNMAP_GRANT_REF: u64 = ioc(IOC_NONE, b'G', 1, sizes::GNTDEV_UNMAP_GRANT_REF);
pub const IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR: u64 = ioc(IOC_NONE, b'G', 2, sizes::GNTDEV_GET_OFFSET_FOR_VADDR);
pub const IOCTL_GNTDEV_SET_MAX_GRANTS: u64 = ioc(IOC_NONE, b'G', 3, sizes::GNTDEV_SET_MAX_GRANTS);
pub const IOCTL_GNTDEV_SET_UNMAP_NOTIFY: u64 = ioc(IOC_NONE, b'G', 7, sizes::GNTDEV_UNMAP_NOTIFY);
pub const IOCTL_GNTDEV_GRANT_COPY: u64 = ioc(IOC_NONE, b'G', 8, sizes::GNTDEV_GRANT_COPY);
pub const IOCTL_PRIVCMD_HYPERCALL: u64 = ioc(IOC_NONE, b'P', 0, sizes::PRIVCMD_HYPERCALL);
pub const IOCTL_PRIVCMD_MMAP: u64 = ioc(IOC_NONE, b'P', 2, sizes::PRIVCMD_MMAP);
pub const IOCTL_PRIVCMD_MMAPBATCH: u64 = ioc(IOC_NONE, b'P', 3, sizes::PRIVCMD_MMAPBATCH);
pub const IOCTL_PRIVCMD_MMAPBATCH_V2: u64 = ioc(IOC_NONE, b'P', 4, sizes::PRIVCMD_MMAPBATCH_V2);

pub const RLIM_INFINITY: u64 = u64::MAX;

static PROT: Family = Family {
    prefix: "PROT_",
    kind: FamilyKind::Flags,
    names: &[
        ("PROT_NONE", 0x0),
        ("PROT_READ", 0x1),
        ("PROT_WRITE", 0x2),
        ("PROT_EXEC", 0x4),
        ("PROT_SEM", 0x8),
        ("PROT_GROWSDOWN", 0x0100_0000),
        ("PROT_GROWSUP", 0x0200_0000),
    ],
    aliases: &[],
};

static MAP: Family = Family {
    prefix: "MAP_",
    kind: FamilyKind::Flags,
    names: &[
        ("MAP_SHARED", 0x01),
        ("MAP_PRIVATE", 0x02),
        ("MAP_SHARED_VALIDATE", 0x03),
        ("MAP_DROPPABLE", 0x08),
        ("MAP_FIXED", 0x10),
        ("MAP_ANONYMOUS", 0x20),
        ("MAP_32BIT", 0x40),
        ("MAP_GROWSDOWN", 0x0100),
        ("MAP_DENYWRITE", 0x0800),
        ("MAP_EXECUTABLE", 0x1000),
        ("MAP_LOCKED", 0x2000),
        ("MAP_NORESERVE", 0x4000),
        ("MAP_POPULATE", 0x8000),
        ("MAP_NONBLOCK", 0x1_0000),
        ("MAP_STACK", 0x2_0000),
        ("MAP_HUGETLB", 0x4_0000),
        ("MAP_SYNC", 0x8_0000),
        ("MAP_FIXED_NOREPLACE", 0x10_0000),
        ("MAP_UNINITIALIZED", 0x400_0000),
    ],
    aliases: &[
        ("MAP_ANON", 0x20),
        ("MAP_FILE", 0),
        ("MAP_TYPE", 0x0f),
        ("MAP_HUGE_SHIFT", 26),
        ("MAP_HUGE_MASK", 0x3f),
        ("MAP_HUGE_2MB", 21 << 26),
        ("MAP_HUGE_1GB", 30 << 26),
    ],
};

static MREMAP: Family = Family {
    prefix: "MREMAP_",
    kind: FamilyKind::Flags,
    names: &[("MREMAP_MAYMOVE", 1), ("MREMAP_FIXED", 2), ("MREMAP_DONTUNMAP", 4)],
    aliases: &[],
};

static MADV: Family = Family {
    prefix: "MADV_",
    kind: FamilyKind::Enum,
    names: &[
        ("MADV_NORMAL", 0),
        ("MADV_RANDOM", 1),
        ("MADV_SEQUENTIAL", 2),
        ("MADV_WILLNEED", 3),
        ("MADV_DONTNEED", 4),
        ("MADV_FREE", 8),
        ("MADV_REMOVE", 9),
        ("MADV_DONTFORK", 10),
        ("MADV_DOFORK", 11),
        ("MADV_MERGEABLE", 12),
        ("MADV_UNMERGEABLE", 13),
        ("MADV_HUGEPAGE", 14),
        ("MADV_NOHUGEPAGE", 15),
        ("MADV_DONTDUMP", 16),
        ("MADV_DODUMP", 17),
        ("MADV_WIPEONFORK", 18),
        ("MADV_KEEPONFORK", 19),
        ("MADV_COLD", 20),
        ("MADV_PAGEOUT", 21),
        ("MADV_POPULATE_READ", 22),
        ("MADV_POPULATE_WRITE", 23),
        ("MADV_DONTNEED_LOCKED", 24),
        ("MADV_COLLAPSE", 25),
        ("MADV_HWPOISON", 100),
        ("MADV_SOFT_OFFLINE", 101),
        ("MADV_GUARD_INSTALL", 102),
        ("MADV_GUARD_REMOVE", 103),
    ],
    aliases: &[],
};

static MLOCK: Family =
    Family { prefix: "MLOCK_", kind: FamilyKind::Flags, names: &[("MLOCK_ONFAULT", 1)], aliases: &[] };

static MCL: Family = Family {
    prefix: "MCL_",
    kind: FamilyKind::Flags,
    names: &[("MCL_CURRENT", 1), ("MCL_FUTURE", 2), ("MCL_ONFAULT", 4)],
    aliases: &[],
};

static MS: Family = Family {
    prefix: "MS_",
    kind: FamilyKind::Flags,
    names: &[("MS_ASYNC", 1), ("MS_INVALIDATE", 2), ("MS_SYNC", 4)],
    aliases: &[],
};

static MFD: Family = Family {
    prefix: "MFD_",
    kind: FamilyKind::Flags,
    names: &[
        ("MFD_CLOEXEC", 0x1),
        ("MFD_ALLOW_SEALING", 0x2),
        ("MFD_HUGETLB", 0x4),
        ("MFD_NOEXEC_SEAL", 0x8),
        ("MFD_EXEC", 0x10),
    ],
    aliases: &[],
};

/// x86-64 values (octal in include/uapi/asm-generic/fcntl.h).
static O: Family = Family {
    prefix: "O_",
    kind: FamilyKind::Flags,
    names: &[
        ("O_RDONLY", 0o0),
        ("O_WRONLY", 0o1),
        ("O_RDWR", 0o2),
        ("O_CREAT", 0o100),
        ("O_EXCL", 0o200),
        ("O_NOCTTY", 0o400),
        ("O_TRUNC", 0o1000),
        ("O_APPEND", 0o2000),
        ("O_NONBLOCK", 0o4000),
        ("O_DSYNC", 0o10000),
        ("O_DIRECT", 0o40000),
        ("O_LARGEFILE", 0o100000),
        ("O_DIRECTORY", 0o200000),
        ("O_NOFOLLOW", 0o400000),
        ("O_NOATIME", 0o1000000),
        ("O_CLOEXEC", 0o2000000),
        // __O_SYNC | O_DSYNC
        ("O_SYNC", 0o4010000),
        ("O_PATH", 0o10000000),
        // __O_TMPFILE | O_DIRECTORY
        ("O_TMPFILE", 0o20200000),
    ],
    aliases: &[("O_ACCMODE", 0o3), ("O_NDELAY", 0o4000)],
};

static RLIMIT: Family = Family {
    prefix: "RLIMIT_",
    kind: FamilyKind::Enum,
    names: &[
        ("RLIMIT_CPU", 0),
        ("RLIMIT_FSIZE", 1),
        ("RLIMIT_DATA", 2),
        ("RLIMIT_STACK", 3),
        ("RLIMIT_CORE", 4),
        ("RLIMIT_RSS", 5),
        ("RLIMIT_NPROC", 6),
        ("RLIMIT_NOFILE", 7),
        ("RLIMIT_MEMLOCK", 8),
        ("RLIMIT_AS", 9),
        ("RLIMIT_LOCKS", 10),
        ("RLIMIT_SIGPENDING", 11),
        ("RLIMIT_MSGQUEUE", 12),
        ("RLIMIT_NICE", 13),
        ("RLIMIT_RTPRIO", 14),
        ("RLIMIT_RTTIME", 15),
    ],
    aliases: &[("RLIMIT_NLIMITS", 16), ("RLIM_NLIMITS", 16)],
};

static RLIM: Family =
    Family { prefix: "RLIM_", kind: FamilyKind::Enum, names: &[("RLIM_INFINITY", RLIM_INFINITY)], aliases: &[] };

/// GUP flags: the public ones (include/linux/mm_types.h, `enum { FOLL_WRITE
/// = 1 << 0, ... FOLL_HONOR_NUMA_FAULT = 1 << 12 }`) and the internal ones
/// (mm/internal.h, `FOLL_TOUCH = 1 << 16` ... `FOLL_MADV_POPULATE = 1 << 22`).
static FOLL: Family = Family {
    prefix: "FOLL_",
    kind: FamilyKind::Flags,
    names: &[
        ("FOLL_WRITE", 1 << 0),
        ("FOLL_GET", 1 << 1),
        ("FOLL_DUMP", 1 << 2),
        ("FOLL_FORCE", 1 << 3),
        ("FOLL_NOWAIT", 1 << 4),
        ("FOLL_NOFAULT", 1 << 5),
        ("FOLL_HWPOISON", 1 << 6),
        ("FOLL_ANON", 1 << 7),
        ("FOLL_LONGTERM", 1 << 8),
        ("FOLL_SPLIT_PMD", 1 << 9),
        ("FOLL_PCI_P2PDMA", 1 << 10),
        ("FOLL_INTERRUPTIBLE", 1 << 11),
        ("FOLL_HONOR_NUMA_FAULT", 1 << 12),
        ("FOLL_TOUCH", 1 << 16),
        ("FOLL_TRIED", 1 << 17),
        ("FOLL_REMOTE", 1 << 18),
        ("FOLL_PIN", 1 << 19),
        ("FOLL_FAST_ONLY", 1 << 20),
        ("FOLL_UNLOCKABLE", 1 << 21),
        ("FOLL_MADV_POPULATE", 1 << 22),
    ],
    aliases: &[],
};

static IOCTL: Family = Family {
    prefix: "IOCTL_",
    kind: FamilyKind::Enum,
    names: &[
        ("IOCTL_GNTDEV_MAP_GRANT_REF", IOCTL_GNTDEV_MAP_GRANT_REF),
        ("IOCTL_GNTDEV_UNMAP_GRANT_REF", IOCTL_GNTDEV_UNMAP_GRANT_REF),
        ("IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR", IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR),
        ("IOCTL_GNTDEV_SET_MAX_GRANTS", IOCTL_GNTDEV_SET_MAX_GRANTS),
        ("IOCTL_GNTDEV_SET_UNMAP_NOTIFY", IOCTL_GNTDEV_SET_UNMAP_NOTIFY),
        ("IOCTL_GNTDEV_GRANT_COPY", IOCTL_GNTDEV_GRANT_COPY),
        ("IOCTL_PRIVCMD_HYPERCALL", IOCTL_PRIVCMD_HYPERCALL),
        ("IOCTL_PRIVCMD_MMAP", IOCTL_PRIVCMD_MMAP),
        ("IOCTL_PRIVCMD_MMAPBATCH", IOCTL_PRIVCMD_MMAPBATCH),
        ("IOCTL_PRIVCMD_MMAPBATCH_V2", IOCTL_PRIVCMD_MMAPBATCH_V2),
    ],
    aliases: &[],
};

static UNMAP_NOTIFY: Family = Family {
    prefix: "UNMAP_NOTIFY_",
    kind: FamilyKind::Flags,
    names: &[("UNMAP_NOTIFY_CLEAR_BYTE", 0x1), ("UNMAP_NOTIFY_SEND_EVENT", 0x2)],
    aliases: &[],
};

/// `io_submit` opcodes: `READ`/`WRITE` are the script's short names for
/// `IOCB_CMD_PREAD`/`IOCB_CMD_PWRITE` (include/uapi/linux/aio_abi.h).
static IOCB: Family = Family {
    prefix: "IOCB_CMD_",
    kind: FamilyKind::Enum,
    names: &[("IOCB_CMD_PREAD", 0), ("IOCB_CMD_PWRITE", 1)],
    aliases: &[("READ", 0), ("WRITE", 1)],
};

static PAGE: Family =
    Family { prefix: "PAGE_", kind: FamilyKind::Enum, names: &[("PAGE_SIZE", 4096), ("PAGE_SHIFT", 12)], aliases: &[] };

/// Every family, errno last.
pub fn families() -> [&'static Family; 17] {
    [
        &PROT,
        &MAP,
        &MREMAP,
        &MADV,
        &MLOCK,
        &MCL,
        &MS,
        &MFD,
        &O,
        &RLIMIT,
        &RLIM,
        &FOLL,
        &IOCTL,
        &UNMAP_NOTIFY,
        &IOCB,
        &PAGE,
        errno::family(),
    ]
}

fn table() -> &'static FxHashMap<&'static str, u64> {
    static TABLE: OnceLock<FxHashMap<&'static str, u64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = FxHashMap::default();
        for fam in families() {
            for &(name, value) in fam.names.iter().chain(fam.aliases) {
                map.insert(name, value);
            }
        }
        map
    })
}

/// The value of constant `name` (`NULL` included), if it is one.
pub fn lookup(name: &str) -> Option<u64> {
    lookup_entry(name).map(|(_, v)| v)
}

/// The constant's name as stored in the table (a `&'static str`) and value.
pub fn lookup_entry(name: &str) -> Option<(&'static str, u64)> {
    if name == "NULL" {
        return Some(("NULL", 0));
    }
    table().get_key_value(name).map(|(k, v)| (*k, *v))
}

/// Every constant name, for "did you mean" suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    table().keys().copied()
}

/// The family whose prefix is `prefix` (`"MADV_"`, `"E"` for errno ...).
pub fn family(prefix: &str) -> Option<&'static Family> {
    families().into_iter().find(|f| f.prefix == prefix)
}

/// The canonical name of `value` in the family with `prefix`
/// (`const_name_for("MADV_", 4) == Some("MADV_DONTNEED")`).
pub fn const_name_for(prefix: &str, value: u64) -> Option<&'static str> {
    let fam = family(prefix)?;
    fam.names.iter().find(|&&(_, v)| v == value).map(|&(n, _)| n)
}

/// `value` written with the flag names of the family with `prefix`, the
/// leftover bits in hex: `format_flags("PROT_", 3) == "PROT_READ|PROT_WRITE"`,
/// `format_flags("MAP_", 0x400003) == "MAP_SHARED_VALIDATE|0x400000"`.
/// For an `Enum` family it is the name or the number in decimal.
pub fn format_flags(prefix: &str, value: u64) -> String {
    let Some(fam) = family(prefix) else {
        return format!("{value:#x}");
    };
    if fam.kind == FamilyKind::Enum {
        return const_name_for(prefix, value).map_or_else(|| value.to_string(), str::to_owned);
    }
    if let Some(zero) = fam.names.iter().find(|&&(_, v)| v == value && v == 0) {
        return zero.0.to_owned();
    }
    // Larger values first, so that multi-bit names (MAP_SHARED_VALIDATE,
    // O_SYNC) win over their parts.
    // Printed in table order.
    let mut by_value: Vec<(usize, &(&str, u64))> = fam.names.iter().enumerate().filter(|(_, (_, v))| *v != 0).collect();
    by_value.sort_by_key(|&(_, &(_, v))| std::cmp::Reverse(v));
    let mut chosen = Vec::new();
    let mut rest = value;
    for &(idx, &(name, v)) in &by_value {
        if rest & v == v {
            chosen.push((idx, name));
            rest &= !v;
        }
    }
    chosen.sort_unstable();
    let mut parts: Vec<String> = chosen.into_iter().map(|(_, n)| n.to_owned()).collect();
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

/// The canonical errno name of a positive errno value (`22 -> "EINVAL"`).
pub fn errno_name(errno: i32) -> Option<&'static str> {
    errno::name(errno)
}

/// Prints a raw syscall return value: `-EINVAL` for -22, the number otherwise.
pub fn format_return(value: u64) -> String {
    let signed = value as i64;
    if (-4095..0).contains(&signed)
        && let Some(name) = i32::try_from(-signed).ok().and_then(errno_name)
    {
        return format!("-{name}");
    }
    if signed < 0 { signed.to_string() } else { value.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares our table with the `libc` crate's constants of the same name.
    macro_rules! same_as_libc {
        ($($name:ident),* $(,)?) => {
            $(
                assert_eq!(
                    lookup(stringify!($name)),
                    Some(libc::$name as u64),
                    "{} differs from libc", stringify!($name)
                );
            )*
        };
    }

    #[test]
    fn mman_matches_libc() {
        same_as_libc!(
            PROT_NONE,
            PROT_READ,
            PROT_WRITE,
            PROT_EXEC,
            PROT_GROWSDOWN,
            PROT_GROWSUP,
            MAP_SHARED,
            MAP_PRIVATE,
            MAP_SHARED_VALIDATE,
            MAP_DROPPABLE,
            MAP_FIXED,
            MAP_ANONYMOUS,
            MAP_ANON,
            MAP_FILE,
            MAP_TYPE,
            MAP_32BIT,
            MAP_GROWSDOWN,
            MAP_DENYWRITE,
            MAP_EXECUTABLE,
            MAP_LOCKED,
            MAP_NORESERVE,
            MAP_POPULATE,
            MAP_NONBLOCK,
            MAP_STACK,
            MAP_HUGETLB,
            MAP_SYNC,
            MAP_FIXED_NOREPLACE,
            MAP_HUGE_SHIFT,
            MAP_HUGE_MASK,
            MAP_HUGE_2MB,
            MAP_HUGE_1GB,
            MREMAP_MAYMOVE,
            MREMAP_FIXED,
            MREMAP_DONTUNMAP,
            MLOCK_ONFAULT,
            MCL_CURRENT,
            MCL_FUTURE,
            MCL_ONFAULT,
            MS_ASYNC,
            MS_INVALIDATE,
            MS_SYNC,
            MFD_CLOEXEC,
            MFD_ALLOW_SEALING,
            MFD_HUGETLB,
            MFD_NOEXEC_SEAL,
            MFD_EXEC,
        );
    }

    #[test]
    fn madvise_matches_libc() {
        same_as_libc!(
            MADV_NORMAL,
            MADV_RANDOM,
            MADV_SEQUENTIAL,
            MADV_WILLNEED,
            MADV_DONTNEED,
            MADV_FREE,
            MADV_REMOVE,
            MADV_DONTFORK,
            MADV_DOFORK,
            MADV_MERGEABLE,
            MADV_UNMERGEABLE,
            MADV_HUGEPAGE,
            MADV_NOHUGEPAGE,
            MADV_DONTDUMP,
            MADV_DODUMP,
            MADV_WIPEONFORK,
            MADV_KEEPONFORK,
            MADV_COLD,
            MADV_PAGEOUT,
            MADV_POPULATE_READ,
            MADV_POPULATE_WRITE,
            MADV_DONTNEED_LOCKED,
            MADV_COLLAPSE,
            MADV_HWPOISON,
            MADV_SOFT_OFFLINE,
        );
        // Not in libc 0.2.191; include/uapi/asm-generic/mman-common.h (6.13+).
        assert_eq!(lookup("MADV_GUARD_INSTALL"), Some(102));
        assert_eq!(lookup("MADV_GUARD_REMOVE"), Some(103));
    }

    #[test]
    fn fcntl_and_rlimit_match_libc() {
        same_as_libc!(
            O_RDONLY,
            O_WRONLY,
            O_RDWR,
            O_ACCMODE,
            O_CREAT,
            O_EXCL,
            O_NOCTTY,
            O_TRUNC,
            O_APPEND,
            O_NONBLOCK,
            O_NDELAY,
            O_DSYNC,
            O_DIRECT,
            O_DIRECTORY,
            O_NOFOLLOW,
            O_NOATIME,
            O_CLOEXEC,
            O_SYNC,
            O_PATH,
            O_TMPFILE,
            RLIMIT_CPU,
            RLIMIT_FSIZE,
            RLIMIT_DATA,
            RLIMIT_STACK,
            RLIMIT_CORE,
            RLIMIT_RSS,
            RLIMIT_NPROC,
            RLIMIT_NOFILE,
            RLIMIT_MEMLOCK,
            RLIMIT_AS,
            RLIMIT_LOCKS,
            RLIMIT_SIGPENDING,
            RLIMIT_MSGQUEUE,
            RLIMIT_NICE,
            RLIMIT_RTPRIO,
            RLIMIT_RTTIME,
            RLIM_INFINITY,
        );
        // glibc defines O_LARGEFILE as 0 on 64-bit; the kernel's value
        // (asm-generic/fcntl.h, forced on by force_o_largefile()) is 0o100000.
        assert_eq!(lookup("O_LARGEFILE"), Some(0o100000));
    }

    /// Mirrors of the uapi structs, so the ioctl numbers follow from the
    /// layout rather than from a typed-in size.
    #[allow(dead_code)]
    mod uapi {
        #[repr(C)]
        pub struct GntdevGrantRef {
            pub domid: u32,
            pub r#ref: u32,
        }
        #[repr(C)]
        pub struct GntdevMapGrantRef {
            pub count: u32,
            pub pad: u32,
            pub index: u64,
            pub refs: [GntdevGrantRef; 1],
        }
        #[repr(C)]
        pub struct GntdevUnmapGrantRef {
            pub index: u64,
            pub count: u32,
            pub pad: u32,
        }
        #[repr(C)]
        pub struct GntdevGetOffsetForVaddr {
            pub vaddr: u64,
            pub offset: u64,
            pub count: u32,
            pub pad: u32,
        }
        #[repr(C)]
        pub struct GntdevUnmapNotify {
            pub index: u64,
            pub action: u32,
            pub event_channel_port: u32,
        }
        #[repr(C)]
        pub struct PrivcmdMmapbatchV2 {
            pub num: u32,
            pub dom: u16,
            pub addr: u64,
            pub arr: *const u64,
            pub err: *mut i32,
        }
    }

    #[test]
    fn ioctl_numbers_follow_the_uapi_layout() {
        use std::mem::size_of;
        let g = |nr, size: usize| ioc(IOC_NONE, b'G', nr, size as u64);
        assert_eq!(lookup("IOCTL_GNTDEV_MAP_GRANT_REF"), Some(g(0, size_of::<uapi::GntdevMapGrantRef>())));
        assert_eq!(lookup("IOCTL_GNTDEV_UNMAP_GRANT_REF"), Some(g(1, size_of::<uapi::GntdevUnmapGrantRef>())));
        assert_eq!(lookup("IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR"), Some(g(2, size_of::<uapi::GntdevGetOffsetForVaddr>())));
        assert_eq!(lookup("IOCTL_GNTDEV_SET_UNMAP_NOTIFY"), Some(g(7, size_of::<uapi::GntdevUnmapNotify>())));
        assert_eq!(
            lookup("IOCTL_PRIVCMD_MMAPBATCH_V2"),
            Some(ioc(IOC_NONE, b'P', 4, size_of::<uapi::PrivcmdMmapbatchV2>() as u64))
        );
        // The well-known numbers, as strace prints them.
        assert_eq!(IOCTL_GNTDEV_MAP_GRANT_REF, 0x184700);
        assert_eq!(IOCTL_PRIVCMD_MMAPBATCH_V2, 0x205004);
    }

    #[test]
    fn foll_flags() {
        assert_eq!(lookup("FOLL_WRITE"), Some(1));
        assert_eq!(lookup("FOLL_LONGTERM"), Some(0x100));
        assert_eq!(lookup("FOLL_HONOR_NUMA_FAULT"), Some(0x1000));
        assert_eq!(lookup("FOLL_PIN"), Some(1 << 19));
        assert_eq!(lookup("FOLL_MADV_POPULATE"), Some(1 << 22));
    }

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = rustc_hash::FxHashSet::default();
        for fam in families() {
            for &(name, _) in fam.names.iter().chain(fam.aliases) {
                assert!(seen.insert(name), "{name} defined twice");
            }
            for &(name, _) in fam.names {
                assert!(name.starts_with(fam.prefix), "{name} lacks prefix {}", fam.prefix);
            }
        }
        assert_eq!(lookup("NULL"), Some(0));
        assert_eq!(lookup("PROT_RAED"), None);
    }

    #[test]
    fn symbolic_printing() {
        assert_eq!(const_name_for("MADV_", 4), Some("MADV_DONTNEED"));
        assert_eq!(const_name_for("MAP_", 0x20), Some("MAP_ANONYMOUS"));
        assert_eq!(format_flags("PROT_", 3), "PROT_READ|PROT_WRITE");
        assert_eq!(format_flags("PROT_", 0), "PROT_NONE");
        assert_eq!(format_flags("MAP_", 0x400003), "MAP_SHARED_VALIDATE|0x400000");
        assert_eq!(format_flags("O_", 0o4010002), "O_RDWR|O_SYNC");
        assert_eq!(format_flags("MADV_", 1212), "1212");
        assert_eq!(format_return(22u64.wrapping_neg()), "-EINVAL");
        assert_eq!(format_return(4096), "4096");
        assert_eq!(format_return(0x7e00_3fff_e000), "138539538833408");
        assert_eq!(format_return(u64::MAX - 5000), "-5001");
    }
}
