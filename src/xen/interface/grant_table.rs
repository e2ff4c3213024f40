//! The grant-table ABI between guests and Xen, version 1: `GTF_*` entry
//! flags, `GNTMAP_*` map flags, `GNTTABOP_*` commands, `GNTST_*` status
//! codes and the op structs.
//!
//! Follows `xen/include/public/grant_table.h` (Linux's copy:
//! `include/xen/interface/grant_table.h`). Values are the ABI's.

use crate::types::DomId;
use std::fmt;

/// `GTF_invalid`.
pub const GTF_INVALID: u16 = 0;
/// `GTF_permit_access`.
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// `GTF_accept_transfer`.
pub const GTF_ACCEPT_TRANSFER: u16 = 2;
/// `GTF_transitive` (v2 only).
pub const GTF_TRANSITIVE: u16 = 3;
/// `GTF_type_mask`.
pub const GTF_TYPE_MASK: u16 = 3;
/// `GTF_readonly` (1 << `_GTF_readonly` = 2): the grantee may only read.
pub const GTF_READONLY: u16 = 1 << 2;
/// `GTF_reading` (bit 3): Xen has the frame mapped (set by Xen).
pub const GTF_READING: u16 = 1 << 3;
/// `GTF_writing` (bit 4): Xen has the frame mapped writable (set by Xen).
pub const GTF_WRITING: u16 = 1 << 4;
/// `GTF_PWT`, `GTF_PCD`, `GTF_PAT` (bits 5-7): cache attributes.
pub const GTF_PWT: u16 = 1 << 5;
pub const GTF_PCD: u16 = 1 << 6;
pub const GTF_PAT: u16 = 1 << 7;
/// `GTF_sub_page` (bit 8).
pub const GTF_SUB_PAGE: u16 = 1 << 8;

/// `GNTMAP_device_map`.
pub const GNTMAP_DEVICE_MAP: u32 = 1 << 0;
/// `GNTMAP_host_map`.
pub const GNTMAP_HOST_MAP: u32 = 1 << 1;
/// `GNTMAP_readonly`.
pub const GNTMAP_READONLY: u32 = 1 << 2;
/// `GNTMAP_application_map`: the host mapping is user-accessible.
pub const GNTMAP_APPLICATION_MAP: u32 = 1 << 3;
/// `GNTMAP_contains_pte`: `host_addr` is the machine address of a PTE.
pub const GNTMAP_CONTAINS_PTE: u32 = 1 << 4;
/// `GNTMAP_can_fail`.
pub const GNTMAP_CAN_FAIL: u32 = 1 << 5;
/// `_GNTMAP_guest_avail0`: bits from here up go to the PTE's OS-available
/// bits (`XENFEAT_gnttab_map_avail_bits`); bit 16 lands on Linux's
/// `_PAGE_SPECIAL`.
pub const _GNTMAP_GUEST_AVAIL0: u32 = 16;
/// `GNTMAP_guest_avail_mask`.
pub const GNTMAP_GUEST_AVAIL_MASK: u32 = !0u32 << _GNTMAP_GUEST_AVAIL0;

/// `GNTTABOP_*` command numbers.
pub const GNTTABOP_MAP_GRANT_REF: u32 = 0;
pub const GNTTABOP_UNMAP_GRANT_REF: u32 = 1;
pub const GNTTABOP_SETUP_TABLE: u32 = 2;
pub const GNTTABOP_QUERY_SIZE: u32 = 6;

/// `grant_handle_t` value Linux uses for "no handle" (`INVALID_GRANT_HANDLE`).
pub const INVALID_GRANT_HANDLE: u32 = !0;
/// `INVALID_GRANT_REF`.
pub const INVALID_GRANT_REF: u32 = !0;

/// `GNTTAB_NR_RESERVED_ENTRIES`: refs the toolstack keeps (console, xenstore).
pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
/// `GNTST_*`: the status of one grant-table operation, values as in
/// `public/grant_table.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum GntSt {
    #[default]
    Okay,
    GeneralError,
    BadDomain,
    BadGntref,
    BadHandle,
    BadVirtAddr,
    BadDevAddr,
    NoDeviceSpace,
    PermissionDenied,
    BadPage,
    BadCopyArg,
    AddressTooBig,
    Eagain,
    /// `GNTST_no_space` (-13, "Out of space (handles etc)"): what current
    /// Xen's `map_grant_ref` returns when no maptrack handle is left
    /// (it returned `GNTST_no_device_space` before).
    NoSpace,
}

impl GntSt {
    pub const ALL: [GntSt; 14] = [
        GntSt::Okay,
        GntSt::GeneralError,
        GntSt::BadDomain,
        GntSt::BadGntref,
        GntSt::BadHandle,
        GntSt::BadVirtAddr,
        GntSt::BadDevAddr,
        GntSt::NoDeviceSpace,
        GntSt::PermissionDenied,
        GntSt::BadPage,
        GntSt::BadCopyArg,
        GntSt::AddressTooBig,
        GntSt::Eagain,
        GntSt::NoSpace,
    ];
    /// The `int16_t status` value.
    pub fn code(self) -> i16 {
        match self {
            GntSt::Okay => 0,
            GntSt::GeneralError => -1,
            GntSt::BadDomain => -2,
            GntSt::BadGntref => -3,
            GntSt::BadHandle => -4,
            GntSt::BadVirtAddr => -5,
            GntSt::BadDevAddr => -6,
            GntSt::NoDeviceSpace => -7,
            GntSt::PermissionDenied => -8,
            GntSt::BadPage => -9,
            GntSt::BadCopyArg => -10,
            GntSt::AddressTooBig => -11,
            GntSt::Eagain => -12,
            GntSt::NoSpace => -13,
        }
    }
    pub fn from_code(c: i16) -> Option<GntSt> {
        GntSt::ALL.iter().copied().find(|s| s.code() == c)
    }
    /// The C name, `GNTST_okay` etc.
    pub fn name(self) -> &'static str {
        match self {
            GntSt::Okay => "GNTST_okay",
            GntSt::GeneralError => "GNTST_general_error",
            GntSt::BadDomain => "GNTST_bad_domain",
            GntSt::BadGntref => "GNTST_bad_gntref",
            GntSt::BadHandle => "GNTST_bad_handle",
            GntSt::BadVirtAddr => "GNTST_bad_virt_addr",
            GntSt::BadDevAddr => "GNTST_bad_dev_addr",
            GntSt::NoDeviceSpace => "GNTST_no_device_space",
            GntSt::PermissionDenied => "GNTST_permission_denied",
            GntSt::BadPage => "GNTST_bad_page",
            GntSt::BadCopyArg => "GNTST_bad_copy_arg",
            GntSt::AddressTooBig => "GNTST_address_too_big",
            GntSt::Eagain => "GNTST_eagain",
            GntSt::NoSpace => "GNTST_no_space",
        }
    }
    pub fn is_ok(self) -> bool {
        self == GntSt::Okay
    }
}

impl fmt::Display for GntSt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// `struct gnttab_map_grant_ref`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GnttabMapGrantRef {
    /// IN: machine address of a PTE (`GNTMAP_contains_pte`) or a linear
    /// address.
    pub host_addr: u64,
    /// IN: `GNTMAP_*`.
    pub flags: u32,
    /// IN: the grant reference.
    pub gref: u32,
    /// IN: the granting domain.
    pub dom: DomId,
    /// OUT.
    pub status: GntSt,
    pub handle: u32,
    pub dev_bus_addr: u64,
}

impl GnttabMapGrantRef {
    /// `gnttab_set_map_op()`.
    pub fn new(host_addr: u64, flags: u32, gref: u32, dom: DomId) -> Self {
        GnttabMapGrantRef {
            host_addr,
            flags,
            gref,
            dom,
            status: GntSt::Okay,
            handle: INVALID_GRANT_HANDLE,
            dev_bus_addr: 0,
        }
    }
}

/// `struct gnttab_unmap_grant_ref`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GnttabUnmapGrantRef {
    pub host_addr: u64,
    pub dev_bus_addr: u64,
    pub handle: u32,
    /// OUT.
    pub status: GntSt,
}

impl GnttabUnmapGrantRef {
    /// `gnttab_set_unmap_op()` (Linux leaves `dev_bus_addr` 0 unless the
    /// map was a device map).
    pub fn new(host_addr: u64, handle: u32) -> Self {
        GnttabUnmapGrantRef { host_addr, dev_bus_addr: 0, handle, status: GntSt::Okay }
    }
}

/// ` (permit_access|readonly|reading|writing)` for a flags word.
pub fn gtf_names(flags: u16) -> String {
    let mut v = Vec::new();
    match flags & GTF_TYPE_MASK {
        GTF_PERMIT_ACCESS => v.push("permit_access"),
        GTF_ACCEPT_TRANSFER => v.push("accept_transfer"),
        GTF_TRANSITIVE => v.push("transitive"),
        _ => {}
    }
    for (b, n) in
        [(GTF_READONLY, "readonly"), (GTF_READING, "reading"), (GTF_WRITING, "writing"), (GTF_SUB_PAGE, "sub_page")]
    {
        if flags & b != 0 {
            v.push(n);
        }
    }
    if v.is_empty() { String::new() } else { format!(" ({})", v.join("|")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_values() {
        // public/grant_table.h
        assert_eq!(GntSt::Eagain.code(), -12);
        assert_eq!(GntSt::from_code(-9), Some(GntSt::BadPage));
        assert_eq!(GTF_READONLY | GTF_READING | GTF_WRITING, 0x1c);
        assert_eq!(GNTMAP_CONTAINS_PTE, 0x10);
    }
}
