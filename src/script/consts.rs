//! Linux x86-64 constant names a script may use, and the reverse lookups the
//! interpreter needs to print values symbolically. Each family is defined
//! once, beside the kernel code that implements it (`uapi_family!` in
//! kernel/mmap.rs, madvise.rs, ..., drivers/mod.rs; errno in `crate::errno`);
//! this file gathers them.
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

pub use crate::drivers::sizes;
pub use crate::drivers::{
    IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, IOCTL_GNTDEV_GRANT_COPY, IOCTL_GNTDEV_MAP_GRANT_REF,
    IOCTL_GNTDEV_SET_MAX_GRANTS, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, IOCTL_GNTDEV_UNMAP_GRANT_REF, IOCTL_PRIVCMD_HYPERCALL,
    IOCTL_PRIVCMD_MMAP, IOCTL_PRIVCMD_MMAPBATCH, IOCTL_PRIVCMD_MMAPBATCH_V2,
};
pub use crate::kernel::syscalls::RLIM_INFINITY;
pub use crate::uapi::{Family, FamilyKind, IOC_NONE, ioc};

use crate::drivers::{IOCTL_FAMILY, gntdev::UNMAP_NOTIFY_FAMILY};
use crate::kernel::file::{MFD_FAMILY, O_FAMILY};
use crate::kernel::gup::FOLL_FAMILY;
use crate::kernel::madvise::MADV_FAMILY;
use crate::kernel::mlock::{MCL_FAMILY, MLOCK_FAMILY};
use crate::kernel::mmap::{MAP_FAMILY, PROT_FAMILY};
use crate::kernel::mremap::MREMAP_FAMILY;
use crate::kernel::msync::MS_FAMILY;
use crate::kernel::syscalls::{RLIM_FAMILY, RLIMIT_FAMILY};

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
        &PROT_FAMILY,
        &MAP_FAMILY,
        &MREMAP_FAMILY,
        &MADV_FAMILY,
        &MLOCK_FAMILY,
        &MCL_FAMILY,
        &MS_FAMILY,
        &MFD_FAMILY,
        &O_FAMILY,
        &RLIMIT_FAMILY,
        &RLIM_FAMILY,
        FOLL_FAMILY,
        &IOCTL_FAMILY,
        &UNMAP_NOTIFY_FAMILY,
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
