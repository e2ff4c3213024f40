//! The invariant names, one enum: what `Violation::invariant` carries, what
//! `expect violation NAME` accepts (script/expect.rs), what docs/SCENARIO.md
//! lists. The strings are stable (scenarios, snapshots and JSON use them).
//!
//! A leaf below `hv` (it imports nothing from the crate), so that
//! `hv::truth::Violation` carries an [`Invariant`] as the guest's checks do;
//! `invariants::Invariant` and `invariants::name` re-export it.

use std::fmt;

macro_rules! invariants {
    ($($(#[$m:meta])* $v:ident = $s:literal,)*) => {
        /// An invariant the model checks.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum Invariant {
            $($(#[$m])* #[serde(rename = $s)] $v,)*
        }

        impl Invariant {
            /// Every invariant, Xen's first.
            pub const ALL: &[Invariant] = &[$(Invariant::$v),*];
            /// Every name, in the order of [`Invariant::ALL`].
            pub const NAMES: &[&str] = &[$($s),*];

            /// The stable name (`gup-wrong-page`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Invariant::$v => $s,)*
                }
            }
        }
    };
}

invariants! {
    // Xen: the model's ground truth (src/hv/truth.rs, src/invariants/xen.rs).
    /// GUP handed out a page other than the one the PTE maps.
    GupWrongPage = "gup-wrong-page",
    /// A DMA went to a machine frame other than the one the guest meant.
    DmaMisdirected = "dma-misdirected",
    /// A DMA went to a frame the device was not granted.
    DmaNotGranted = "dma-not-granted",
    /// A grant mapping outlived everything that referred to it.
    GrantLeak = "grant-leak",
    /// A grant mapping's PTE disappeared while Xen still counts it.
    GrantPteLost = "grant-pte-lost",
    /// A read-only grant is mapped writable.
    GrantRoWritable = "grant-ro-writable",
    /// A granted frame was freed while mapped.
    GrantFrameFreed = "grant-frame-freed",
    /// A PTE maps a foreign frame without a grant.
    ForeignPte = "foreign-pte",
    /// Xen unmapped a grant implicitly (its PTE was overwritten).
    XenImplicitGrantUnmap = "xen-implicit-grant-unmap",
    // mm: what the kernel's own debug checks would say (src/invariants/mm.rs).
    /// "BUG: Bad page map" in the kernel log.
    BadPageMap = "bad-page-map",
    /// "BUG: Bad page state" in the kernel log.
    BadPageState = "bad-page-state",
    /// "BUG: Bad rss-counter state" in the kernel log.
    BadRssCounter = "bad-rss-counter",
    /// A free page is mapped by a PTE.
    FreePageMapped = "free-page-mapped",
    /// A free page is still referenced.
    FreePageReferenced = "free-page-referenced",
    /// A free page's state is not that of a free page.
    FreePageState = "free-page-state",
    /// The page cache disagrees with the pages.
    PageCacheMismatch = "page-cache-mismatch",
    /// A page is allocated but nothing refers to it.
    PageLeak = "page-leak",
    /// A page's mapcount differs from the PTEs mapping it.
    PageMapcount = "page-mapcount",
    /// A page's refcount differs from its references.
    PageRefcount = "page-refcount",
    /// A page-table frame is wrong (not allocated as one, or shared).
    PagetableFrame = "pagetable-frame",
    /// A page table is allocated but unreachable.
    PagetableLeak = "pagetable-leak",
    /// A PTE lies outside every VMA.
    PteOutsideVma = "pte-outside-vma",
    /// The mm's rss counters differ from the page tables.
    RssCounter = "rss-counter",
}

impl Invariant {
    /// The invariant named `name`, if any.
    pub fn from_name(name: &str) -> Option<Invariant> {
        Invariant::ALL.iter().copied().find(|i| i.as_str() == name)
    }
}

/// Compares with a stable name, so `v.invariant == "grant-leak"` reads as
/// the JSON does.
impl PartialEq<str> for Invariant {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Invariant {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (i, &inv) in Invariant::ALL.iter().enumerate() {
            assert_eq!(Invariant::from_name(inv.as_str()), Some(inv));
            assert_eq!(Invariant::NAMES[i], inv.as_str());
            assert_eq!(inv.to_string(), inv.as_str());
            let json = serde_json::to_string(&inv).unwrap();
            assert_eq!(json, format!("\"{}\"", inv.as_str()));
            assert_eq!(serde_json::from_str::<Invariant>(&json).unwrap(), inv);
        }
        let mut names = Invariant::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Invariant::ALL.len());
        assert_eq!(Invariant::from_name("no-such-invariant"), None);
    }
}
