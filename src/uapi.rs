//! The shape of the kernel's user-ABI constants: each family (`PROT_*`,
//! `MAP_*`, `MADV_*`, `IOCTL_*` ...) is written once, where the kernel code
//! that implements it lives, through [`uapi_family!`], which emits the
//! constants and the name table the script language and the printers use
//! (`script::consts`). `_IOC` (include/uapi/asm-generic/ioctl.h) is here too.
//!
//! A leaf: imports nothing from the crate.

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

/// Defines the constants of one family and its name table:
///
/// ```ignore
/// uapi_family! {
///     pub static MREMAP_FAMILY: Flags "MREMAP_", u64 {
///         MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2,
///     } aliases { }
/// }
/// ```
///
/// emits `pub const MREMAP_MAYMOVE: u64 = 1;` ... and a [`Family`] static
/// whose names are the identifiers as written.
macro_rules! uapi_family {
    (
        $(#[$m:meta])* $vis:vis static $fam:ident: $kind:ident $prefix:literal, $ty:ty {
            $($(#[$cm:meta])* $name:ident = $v:expr),* $(,)?
        }
        $(aliases { $($(#[$am:meta])* $alias:ident = $av:expr),* $(,)? })?
    ) => {
        $($(#[$cm])* pub const $name: $ty = $v;)*
        $($($(#[$am])* pub const $alias: $ty = $av;)*)?
        $(#[$m])*
        #[allow(clippy::unnecessary_cast)]
        $vis static $fam: $crate::uapi::Family = $crate::uapi::Family {
            prefix: $prefix,
            kind: $crate::uapi::FamilyKind::$kind,
            names: &[$((stringify!($name), $name as u64)),*],
            aliases: &[$($((stringify!($alias), $alias as u64)),*)?],
        };
    };
}
pub(crate) use uapi_family;
