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
    ///
    /// gntdev itself is today's driver, not 3.x's. The 3.x driver
    /// (spinlock `priv->lock`, `gntdev_vmops` with open/close only,
    /// `mn_invl_range_start`) differed: mmap was refused only while
    /// `map->vma` was set and `gntdev_vma_close` cleared it, so a new mmap
    /// of the map after munmap worked (today: one mmap per map, ever);
    /// offsets came from `map->vma->vm_start` and closing any piece of a
    /// split VMA cleared `map->vma`, so after a partial munmap the notifier
    /// skipped the rest (grants unmapped at the last put; fixed in 2022 by
    /// "xen/gntdev: Accommodate VMA splitting"); early 3.x PV mappings were
    /// `VM_PFNMAP` (GUP refuses them); with no `fault` handler a fault on
    /// an empty gntdev address reached `do_anonymous_page` until Linux 4.2
    /// ("mm: avoid setting up anonymous pages into file mapping"), where
    /// the model gives SIGBUS. Stated in README.md, not modelled.
    M2pOverride,
    /// Neither: the M2P lookup of the foreign MFN decides.
    NoSpecialPte,
    /// Special bit without the hook: `vm_normal_page()` gives no page.
    NoFindSpecialPage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnmapPolicy {
    /// Linux 4.0-5.18: gntdev's notifier unmaps with
    /// `gnttab_unmap_refs_sync()` and sleeps until no page of the batch is
    /// in use (in-flight O_DIRECT completes first; a pin never released
    /// hangs the task, kernel/hung_task.rs).
    Deferred,
    /// Linux 2.6.39-3.19: unmap at once, whatever I/O is in flight.
    Immediate,
    /// Linux 5.19+ ("xen/gntdev: Avoid blocking in unmap_grant_pages()"):
    /// the notifier queues `gnttab_unmap_refs_async()` and returns; while a
    /// page is in use the grant stays mapped and the retry runs later, so
    /// the zap that follows meets the live grant PTE.
    Async,
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
    pub const ALL: [UnmapPolicy; 3] = [UnmapPolicy::Deferred, UnmapPolicy::Immediate, UnmapPolicy::Async];

    /// The word after `unmap=`.
    pub fn name(self) -> &'static str {
        match self {
            UnmapPolicy::Deferred => "deferred",
            UnmapPolicy::Immediate => "immediate",
            UnmapPolicy::Async => "async",
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
    /// The variant with the unmap era of the kernels its name stands for:
    /// `find-special-page` is the 4.0 series that added the hook together
    /// with the synchronous unmap (`Deferred`, 4.0-5.18; `Async` is 5.19+);
    /// `m2p-override` is 2.6.39-3.19 (`Immediate`); the two what-if
    /// variants keep `Immediate`.
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
        assert_eq!(UnmapPolicy::from_name("async"), Some(UnmapPolicy::Async));
        v.unmap = UnmapPolicy::Async;
        assert_eq!(v.to_string(), "find-special-page unmap=async");
    }
}
