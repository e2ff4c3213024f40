//! Which Linux the guest kernel is: the four behaviours of Xen grant
//! mappings under `get_user_pages()`; docs/SCENARIO.md "Kernel variants and
//! unmap eras" describes them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VariantKind {
    /// Linux >= 4.0: gntdev PTEs special, `vm_ops->find_special_page`.
    FindSpecialPage,
    /// Linux 2.6.39-3.19: no special bit; `mfn_to_pfn()` consults the
    /// m2p override table (first match wins).
    M2pOverride,
    /// Neither: the M2P lookup of the foreign MFN decides.
    NoSpecialPte,
    /// Special bit without the hook: `vm_normal_page()` gives no page.
    NoFindSpecialPage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnmapPolicy {
    /// `gnttab_unmap_refs_async()`: wait while any page of the batch is in use.
    Deferred,
    /// Unmap at once, whatever I/O is in flight.
    Immediate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    pub kind: VariantKind,
    pub unmap: UnmapPolicy,
}

impl VariantKind {
    pub const ALL: [VariantKind; 4] = [
        VariantKind::FindSpecialPage,
        VariantKind::M2pOverride,
        VariantKind::NoSpecialPte,
        VariantKind::NoFindSpecialPage,
    ];

    /// The name a `kernel` line uses.
    pub fn name(self) -> &'static str {
        match self {
            VariantKind::FindSpecialPage => "find-special-page",
            VariantKind::M2pOverride => "m2p-override",
            VariantKind::NoSpecialPte => "no-special-pte",
            VariantKind::NoFindSpecialPage => "no-find-special-page",
        }
    }

    pub fn from_name(name: &str) -> Option<VariantKind> {
        VariantKind::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl UnmapPolicy {
    pub const ALL: [UnmapPolicy; 2] = [UnmapPolicy::Deferred, UnmapPolicy::Immediate];

    /// The word after `unmap=`.
    pub fn name(self) -> &'static str {
        match self {
            UnmapPolicy::Deferred => "deferred",
            UnmapPolicy::Immediate => "immediate",
        }
    }

    pub fn from_name(name: &str) -> Option<UnmapPolicy> {
        UnmapPolicy::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl Default for Variant {
    fn default() -> Self {
        Variant::new(VariantKind::FindSpecialPage)
    }
}

impl Variant {
    /// The variant with its historical unmap policy.
    pub fn new(kind: VariantKind) -> Variant {
        let unmap = match kind {
            VariantKind::FindSpecialPage => UnmapPolicy::Deferred,
            _ => UnmapPolicy::Immediate,
        };
        Variant { kind, unmap }
    }
    /// Does gntdev ask Xen for `_PAGE_SPECIAL` (GNTMAP guest avail0)?
    pub fn gntdev_pte_special(self) -> bool {
        matches!(self.kind, VariantKind::FindSpecialPage | VariantKind::NoFindSpecialPage)
    }
    /// Does gntdev's VMA have `find_special_page`?
    pub fn has_find_special_page(self) -> bool {
        self.kind == VariantKind::FindSpecialPage
    }
    /// Does `mfn_to_pfn()` consult the m2p override table?
    pub fn m2p_override(self) -> bool {
        self.kind == VariantKind::M2pOverride
    }
    pub fn name(self) -> &'static str {
        self.kind.name()
    }
    pub const ALL: [VariantKind; 4] = VariantKind::ALL;
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if self.unmap != Variant::new(self.kind).unmap {
            write!(f, " unmap={}", self.unmap.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_and_display() {
        let mut v = Variant::new(VariantKind::FindSpecialPage);
        assert_eq!(v.unmap, UnmapPolicy::Deferred);
        v.unmap = UnmapPolicy::Immediate;
        assert_eq!(v.to_string(), "find-special-page unmap=immediate");
        assert_eq!(Variant::new(VariantKind::M2pOverride).unmap, UnmapPolicy::Immediate);
        assert_eq!(Variant::new(VariantKind::M2pOverride).to_string(), "m2p-override");
        assert_eq!(VariantKind::from_name("no-special-pte"), Some(VariantKind::NoSpecialPte));
        assert_eq!(VariantKind::from_name("bogus"), None);
        assert_eq!(UnmapPolicy::from_name("later"), None);
    }
}
