//! errno names for scripts: the one table is `crate::errno` (errno-base.h
//! and errno.h, EPERM 1 ... EHWPOISON 133); this adds the script's aliases
//! and the constant family.

use super::consts::{Family, FamilyKind};
use crate::errno::{Errno, TABLE};

/// The largest errno value known.
pub const MAX_ERRNO: i32 = 133;

/// The canonical name of errno `value` (1..=133), e.g. `22 -> "EINVAL"`.
pub fn name(value: i32) -> Option<&'static str> {
    Errno(value).name()
}

/// The value of errno `name`, aliases (`EWOULDBLOCK`, `EDEADLOCK`, `ENOTSUP`) included.
pub fn value(name: &str) -> Option<i32> {
    if let Some(&(_, v)) = ALIASES.iter().find(|(n, _)| *n == name) {
        return i32::try_from(v).ok();
    }
    Errno::from_name(name).map(|e| e.0)
}

/// Names the script accepts but never prints (asm-generic/errno.h).
const ALIASES: &[(&str, u64)] = &[
    ("EWOULDBLOCK", Errno::EAGAIN.0 as u64),
    ("EDEADLOCK", Errno::EDEADLK.0 as u64),
    ("ENOTSUP", Errno::EOPNOTSUPP.0 as u64),
];

/// The errno names as a constant family (prefix `"E"`), from the one table
/// in `crate::errno`.
pub fn family() -> &'static Family {
    static PAIRS: std::sync::OnceLock<Vec<(&'static str, u64)>> = std::sync::OnceLock::new();
    static FAMILY: std::sync::OnceLock<Family> = std::sync::OnceLock::new();
    FAMILY.get_or_init(|| {
        let pairs = PAIRS.get_or_init(|| TABLE.iter().map(|&(v, n)| (n, v as u64)).collect());
        Family { prefix: "E", kind: FamilyKind::Enum, names: pairs, aliases: ALIASES }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every errno, checked against the `libc` crate (x86-64 Linux).
    macro_rules! same_as_libc {
        ($($name:ident),* $(,)?) => {{
            let mut n = 0;
            $(
                assert_eq!(value(stringify!($name)), Some(libc::$name), "{}", stringify!($name));
                if ALIASES.iter().all(|(a, _)| *a != stringify!($name)) {
                    assert_eq!(name(libc::$name), Some(stringify!($name)));
                }
                n += 1;
            )*
            n
        }};
    }

    #[test]
    fn all_errnos_match_libc() {
        let n = same_as_libc!(
            EPERM,
            ENOENT,
            ESRCH,
            EINTR,
            EIO,
            ENXIO,
            E2BIG,
            ENOEXEC,
            EBADF,
            ECHILD,
            EAGAIN,
            ENOMEM,
            EACCES,
            EFAULT,
            ENOTBLK,
            EBUSY,
            EEXIST,
            EXDEV,
            ENODEV,
            ENOTDIR,
            EISDIR,
            EINVAL,
            ENFILE,
            EMFILE,
            ENOTTY,
            ETXTBSY,
            EFBIG,
            ENOSPC,
            ESPIPE,
            EROFS,
            EMLINK,
            EPIPE,
            EDOM,
            ERANGE,
            EDEADLK,
            ENAMETOOLONG,
            ENOLCK,
            ENOSYS,
            ENOTEMPTY,
            ELOOP,
            ENOMSG,
            EIDRM,
            ECHRNG,
            EL2NSYNC,
            EL3HLT,
            EL3RST,
            ELNRNG,
            EUNATCH,
            ENOCSI,
            EL2HLT,
            EBADE,
            EBADR,
            EXFULL,
            ENOANO,
            EBADRQC,
            EBADSLT,
            EBFONT,
            ENOSTR,
            ENODATA,
            ETIME,
            ENOSR,
            ENONET,
            ENOPKG,
            EREMOTE,
            ENOLINK,
            EADV,
            ESRMNT,
            ECOMM,
            EPROTO,
            EMULTIHOP,
            EDOTDOT,
            EBADMSG,
            EOVERFLOW,
            ENOTUNIQ,
            EBADFD,
            EREMCHG,
            ELIBACC,
            ELIBBAD,
            ELIBSCN,
            ELIBMAX,
            ELIBEXEC,
            EILSEQ,
            ERESTART,
            ESTRPIPE,
            EUSERS,
            ENOTSOCK,
            EDESTADDRREQ,
            EMSGSIZE,
            EPROTOTYPE,
            ENOPROTOOPT,
            EPROTONOSUPPORT,
            ESOCKTNOSUPPORT,
            EOPNOTSUPP,
            EPFNOSUPPORT,
            EAFNOSUPPORT,
            EADDRINUSE,
            EADDRNOTAVAIL,
            ENETDOWN,
            ENETUNREACH,
            ENETRESET,
            ECONNABORTED,
            ECONNRESET,
            ENOBUFS,
            EISCONN,
            ENOTCONN,
            ESHUTDOWN,
            ETOOMANYREFS,
            ETIMEDOUT,
            ECONNREFUSED,
            EHOSTDOWN,
            EHOSTUNREACH,
            EALREADY,
            EINPROGRESS,
            ESTALE,
            EUCLEAN,
            ENOTNAM,
            ENAVAIL,
            EISNAM,
            EREMOTEIO,
            EDQUOT,
            ENOMEDIUM,
            EMEDIUMTYPE,
            ECANCELED,
            ENOKEY,
            EKEYEXPIRED,
            EKEYREVOKED,
            EKEYREJECTED,
            EOWNERDEAD,
            ENOTRECOVERABLE,
            ERFKILL,
            EHWPOISON,
            EWOULDBLOCK,
            EDEADLOCK,
            ENOTSUP,
        );
        // 131 named values (1..=133 without 41 and 58) plus the three aliases.
        assert_eq!(n, 134);
    }

    #[test]
    fn reverse_lookup_edges() {
        assert_eq!(name(0), None);
        assert_eq!(name(-22), None);
        assert_eq!(name(41), None);
        assert_eq!(name(133), Some("EHWPOISON"));
        assert_eq!(name(134), None);
        assert_eq!(name(11), Some("EAGAIN"));
        assert_eq!(MAX_ERRNO, 133);
    }
}
