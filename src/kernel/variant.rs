//! Which Linux the guest kernel is: the four behaviours of Xen grant
//! mappings under `get_user_pages()` (see ../shared/reference, sections 1-5).

use std::fmt;
use std::str::FromStr;

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
        match self.kind {
            VariantKind::FindSpecialPage => "find-special-page",
            VariantKind::M2pOverride => "m2p-override",
            VariantKind::NoSpecialPte => "no-special-pte",
            VariantKind::NoFindSpecialPage => "no-find-special-page",
        }
    }
    pub const ALL: [VariantKind; 4] = [
        VariantKind::FindSpecialPage,
        VariantKind::M2pOverride,
        VariantKind::NoSpecialPte,
        VariantKind::NoFindSpecialPage,
    ];
}

impl FromStr for VariantKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "find-special-page" => VariantKind::FindSpecialPage,
            "m2p-override" => VariantKind::M2pOverride,
            "no-special-pte" => VariantKind::NoSpecialPte,
            "no-find-special-page" => VariantKind::NoFindSpecialPage,
            _ => return Err(format!("unknown kernel variant `{s}`")),
        })
    }
}

impl FromStr for UnmapPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "deferred" => Ok(UnmapPolicy::Deferred),
            "immediate" => Ok(UnmapPolicy::Immediate),
            _ => Err(format!("unknown unmap policy `{s}` (deferred or immediate)")),
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if self.unmap != Variant::new(self.kind).unmap {
            let u = match self.unmap {
                UnmapPolicy::Deferred => "deferred",
                UnmapPolicy::Immediate => "immediate",
            };
            write!(f, " unmap={u}")?;
        }
        Ok(())
    }
}

/// Parse the words of a `kernel` line: `VARIANT [unmap=deferred|immediate]`.
pub fn parse_variant(words: &str) -> Result<Variant, String> {
    let mut it = words.split_whitespace();
    let kind: VariantKind = it.next().ok_or("empty kernel variant")?.parse()?;
    let mut v = Variant::new(kind);
    for w in it {
        match w.strip_prefix("unmap=") {
            Some(u) => v.unmap = u.parse()?,
            None => return Err(format!("unexpected `{w}` after the kernel variant")),
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parse() {
        let v = parse_variant("find-special-page unmap=immediate").expect("test");
        assert_eq!(v.unmap, UnmapPolicy::Immediate);
        assert_eq!(v.to_string(), "find-special-page unmap=immediate");
        assert_eq!(parse_variant("m2p-override").expect("test").unmap, UnmapPolicy::Immediate);
        assert!(parse_variant("bogus").is_err());
        assert!(parse_variant("m2p-override unmap=later").is_err());
    }
}
