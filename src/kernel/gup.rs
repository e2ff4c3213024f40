//! get_user_pages / pin_user_pages: finding the `struct page` behind user
//! addresses and holding it, faulting pages in as needed.
//!
//! Follows `mm/gup.c` of Linux 6.18: `__get_user_pages`, `check_vma_flags`,
//! `follow_page_pte`, `follow_pfn_pte` (-EEXIST when a PTE has no struct page
//! and pages were requested; Linux 4.x returned -EFAULT here),
//! `faultin_page`, `try_grab_folio`, `unpin_user_pages`.
//! GUP-fast is not modelled separately: it bails out to this slow path for
//! special PTEs, and gives the same answer for normal ones.

use crate::arch::pagetable::PteSlot;
use crate::arch::x86_64::{PAGE_MASK, PTRS_PER_TABLE, PteFlags};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::memory::{NormalPage, VmFault};
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::page::{GUP_PIN_COUNTING_BIAS, PageFlags, Pfn, ZERO_PFN};
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};

/// Defines `FollFlags` (a bitflags type), a `FOLL_*` constant of that type
/// for each flag, and the name table the script language uses.
macro_rules! foll_flags {
    ($($name:ident = $v:expr),* $(,)?) => {
        bitflags::bitflags! {
            /// GUP flags: the public ones (include/linux/mm_types.h, `enum {
            /// FOLL_WRITE = 1 << 0, ... FOLL_HONOR_NUMA_FAULT = 1 << 12 }`) and the
            /// internal ones (mm/internal.h, `FOLL_TOUCH = 1 << 16` ...
            /// `FOLL_MADV_POPULATE = 1 << 22`). Unknown bits are kept
            /// (`from_bits_retain`), as a caller's `unsigned int` keeps them.
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub struct FollFlags: u64 {
                $(const $name = $v;)*
            }
        }
        $(pub const $name: FollFlags = FollFlags::$name;)*
        /// The `FOLL_*` names as a constant family.
        pub static FOLL_FAMILY: &crate::uapi::Family = &crate::uapi::Family {
            prefix: "FOLL_",
            kind: crate::uapi::FamilyKind::Flags,
            names: &[$((stringify!($name), $v)),*],
            aliases: &[],
        };
    };
}

foll_flags! {
    FOLL_WRITE = 1 << 0,
    FOLL_GET = 1 << 1,
    FOLL_DUMP = 1 << 2,
    FOLL_FORCE = 1 << 3,
    FOLL_NOWAIT = 1 << 4,
    FOLL_NOFAULT = 1 << 5,
    FOLL_HWPOISON = 1 << 6,
    FOLL_ANON = 1 << 7,
    FOLL_LONGTERM = 1 << 8,
    FOLL_SPLIT_PMD = 1 << 9,
    FOLL_PCI_P2PDMA = 1 << 10,
    FOLL_INTERRUPTIBLE = 1 << 11,
    FOLL_HONOR_NUMA_FAULT = 1 << 12,
    // Internal (mm/internal.h).
    FOLL_TOUCH = 1 << 16,
    FOLL_TRIED = 1 << 17,
    FOLL_REMOTE = 1 << 18,
    FOLL_PIN = 1 << 19,
    FOLL_FAST_ONLY = 1 << 20,
    FOLL_UNLOCKABLE = 1 << 21,
    FOLL_MADV_POPULATE = 1 << 22,
}

/// One page GUP handed out: which page, and whether it was pinned or got.
///
/// It is the reference itself (the `struct page *` a caller of
/// `get_user_pages`/`pin_user_pages` must `put_page`/`unpin_user_page`
/// once): not `Copy` or `Clone`, only GUP makes one, and
/// [`Kernel::gup_release`] takes it by value. Releasing a page once:
///
/// ```
/// use mmsim::kernel::{Kernel, gup::GupPage};
/// fn release_once(k: &mut Kernel, page: GupPage) {
///     k.gup_release(page);
/// }
/// ```
///
/// and twice, which does not compile (use of a moved value):
///
/// ```compile_fail,E0382
/// use mmsim::kernel::{Kernel, gup::GupPage};
/// fn release_twice(k: &mut Kernel, page: GupPage) {
///     k.gup_release(page);
///     k.gup_release(page);
/// }
/// ```
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::manual_non_exhaustive)] // private to this module, not to the crate
pub struct GupPage {
    pub addr: u64,
    pub pfn: Pfn,
    pub pinned: bool,
    /// Only GUP hands a reference out: code outside this module cannot
    /// build a `GupPage` to release a reference it never got.
    _reference: (),
}

enum Follow {
    /// The page, and what the VMA's driver says stands for the address
    /// (model instrumentation, asked once per page).
    Page(Pfn, Option<Pfn>),
    /// Fault it in (no PTE, not writable for FOLL_WRITE, or must unshare).
    NoPage {
        unshare: bool,
    },
    Err(Errno),
}

impl Kernel {
    /// `check_vma_flags()`.
    pub fn check_vma_flags(vma: &Vma, gup_flags: FollFlags) -> KResult<()> {
        let f = vma.flags;
        if f.intersects(VmFlags::IO | VmFlags::PFNMAP) {
            return Err(Errno::EFAULT);
        }
        if gup_flags.contains(FOLL_ANON) && !vma.is_anonymous() {
            return Err(Errno::EFAULT);
        }
        if gup_flags.contains(FOLL_WRITE) {
            if !f.contains(VmFlags::WRITE) && (!gup_flags.contains(FOLL_FORCE) || !f.is_cow()) {
                return Err(Errno::EFAULT);
            }
        } else if !f.contains(VmFlags::READ) && (!gup_flags.contains(FOLL_FORCE) || !f.contains(VmFlags::MAYREAD)) {
            return Err(Errno::EFAULT);
        }
        // gups are data accesses: the VMA's protection key applies unless
        // the access is FOLL_REMOTE.
        if !crate::kernel::pkeys::arch_vma_access_permitted(vma, gup_flags.contains(FOLL_REMOTE)) {
            return Err(Errno::EFAULT);
        }
        Ok(())
    }

    /// `follow_page_pte()` in the mm whose top table is `pgd`. `leaf` is
    /// the previous page's `(address, slot)`: the page after it in the same
    /// leaf table is the next slot, found without walking the upper levels
    /// again (the walk would reach the same table; the caller forgets it
    /// after a fault).
    fn follow_page_pte(
        &mut self,
        hv: &mut Hypervisor,
        pgd: u64,
        vma: &Vma,
        addr: u64,
        flags: FollFlags,
        leaf: &mut Option<(u64, PteSlot)>,
    ) -> Follow {
        // pte_offset_map_lock(); !pte_present() or pte_protnone(): no page.
        let slot = match *leaf {
            Some((a, s)) if a.wrapping_add(4096) == addr && (s.index as usize) < PTRS_PER_TABLE - 1 => {
                Some(PteSlot { table: s.table, index: s.index + 1 })
            }
            _ => self.pt.lookup(pgd, addr),
        };
        *leaf = slot.map(|s| (addr, s));
        let Some(slot) = slot else { return Follow::NoPage { unshare: false } };
        let pte = self.pt.get(slot);
        let PteKind::Present { protnone: false, .. } = PteKind::of(pte) else {
            return Follow::NoPage { unshare: false };
        };
        let np = self.vm_normal_page(hv, vma, addr, pte);
        let page = np.page();
        // can_follow_write_pte() (mm/gup.c, 6.x): writable PTE, or FOLL_FORCE
        // on an exclusive anonymous page in a COW mapping that may be written
        // but is not writable now (no pte_dirty() condition since 5.19).
        if flags.contains(FOLL_WRITE) && !pte.write() {
            let forced_ok = flags.contains(FOLL_FORCE)
                && vma.flags.is_cow()
                && vma.flags.contains(VmFlags::MAYWRITE)
                && !vma.flags.contains(VmFlags::WRITE)
                && page.is_some_and(|p| self.mem.page(p).flags.contains(PageFlags::ANON_EXCLUSIVE));
            if !forced_ok {
                return Follow::NoPage { unshare: false };
            }
        }
        let pfn = match np {
            NormalPage::Page(p) => p,
            _ if flags.contains(FOLL_DUMP) => return Follow::Err(Errno::EFAULT),
            NormalPage::Zero => ZERO_PFN,
            _ => {
                // follow_pfn_pte(): touch, then -EEXIST.
                if flags.contains(FOLL_TOUCH) {
                    let mut e = pte.set(PteFlags::ACCESSED);
                    if flags.contains(FOLL_WRITE) {
                        e = e.set(PteFlags::DIRTY);
                    }
                    if e != pte {
                        let _ = self.set_pte(hv, slot, e);
                    }
                }
                let dom = self.domid;
                hv.trace.emit(|| crate::trace::Event::Check {
                    dom,
                    function: "follow_page_pte",
                    check: format!(
                        "pte {:#x} at {addr:#x}: vm_normal_page() found no struct page (special PTE, no find_special_page answer): follow_pfn_pte",
                        pte.0
                    ),
                    errno: "EEXIST",
                });
                return Follow::Err(Errno::EEXIST);
            }
        };
        // gup_must_unshare(): a read-only pin of a shared anonymous page.
        if !pte.write() && flags.contains(FOLL_PIN) && pfn != ZERO_PFN {
            let p = self.mem.page(pfn);
            if p.is_anon() && !p.flags.contains(PageFlags::ANON_EXCLUSIVE) {
                return Follow::NoPage { unshare: true };
            }
        }
        let backing = vma.ops.as_ref().and_then(|o| o.backing_page(vma, addr));
        if backing.is_none() {
            self.audit_gup(hv, addr, pte, pfn);
        }
        // try_grab_folio()
        if pfn != ZERO_PFN {
            // The pin and the touch (FOLL_TOUCH) change one struct page:
            // found once.
            let pin = flags.contains(FOLL_PIN);
            if pin {
                self.gup_held.get_or_insert_with(pfn.0, Default::default).pins += 1;
            } else if flags.contains(FOLL_GET) {
                self.mem.get_page(pfn);
                self.gup_held.get_or_insert_with(pfn.0, Default::default).gets += 1;
            }
            if pin || flags.contains(FOLL_TOUCH) {
                let p = self.mem.page_mut(pfn);
                if pin {
                    p.refcount += GUP_PIN_COUNTING_BIAS;
                }
                if flags.contains(FOLL_TOUCH) {
                    p.flags |= PageFlags::REFERENCED;
                    if flags.contains(FOLL_WRITE) && !pte.dirty() {
                        p.flags |= PageFlags::DIRTY;
                    }
                }
            }
        }
        Follow::Page(pfn, backing)
    }

    /// Model instrumentation (not kernel behaviour): the page GUP is about
    /// to hand out must live in the machine frame the PTE maps, or every
    /// later DMA to it goes astray. Recorded as ground truth.
    fn audit_gup(&self, hv: &mut Hypervisor, addr: u64, pte: crate::arch::x86_64::Pte, pfn: Pfn) {
        let truth = self.pte_machine_frame(pte);
        let belief = self.page_to_mfn(pfn);
        if truth != belief {
            hv.observed.push(crate::hv::truth::Violation {
                invariant: crate::invariants::Invariant::GupWrongPage,
                message: format!(
                    "d{}: GUP at {addr:#x} returned pfn {:#x} (mfn {}), but the PTE maps mfn {}",
                    self.domid,
                    pfn.0,
                    belief.map_or("invalid".to_string(), |m| format!("{:#x}", m.0)),
                    truth.map_or("invalid".to_string(), |m| format!("{:#x}", m.0)),
                ),
                domains: vec![self.domid],
                pfns: vec![pfn.0],
                mfns: truth.into_iter().chain(belief).map(|m| m.0).collect(),
            });
        }
    }

    /// Model instrumentation: when the VMA's driver knows which page stands
    /// for `addr` (`backing`), GUP must have found exactly that page.
    fn audit_backing(&self, hv: &mut Hypervisor, addr: u64, backing: Option<Pfn>, got: &Result<Option<Pfn>, Errno>) {
        let Some(want) = backing else { return };
        let mfn = |p: Pfn| self.page_to_mfn(p).map_or("invalid".to_string(), |m| format!("{:#x}", m.0));
        let found = match got {
            Ok(Some(p)) if *p == want => return,
            Ok(Some(p)) => format!("pfn {:#x} (mfn {})", p.0, mfn(*p)),
            Ok(None) => "no page".to_string(),
            Err(e) => format!("no page ({e})"),
        };
        hv.observed.push(crate::hv::truth::Violation {
            invariant: crate::invariants::Invariant::GupWrongPage,
            message: format!(
                "d{}: GUP at {addr:#x} found {found}; the driver's page for it is pfn {:#x} (mfn {})",
                self.domid,
                want.0,
                mfn(want)
            ),
            domains: vec![self.domid],
            pfns: vec![want.0],
            mfns: self.page_to_mfn(want).map(|m| m.0).into_iter().collect(),
        });
    }

    /// `faultin_page()`.
    fn faultin_page(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        addr: u64,
        flags: FollFlags,
        unshare: bool,
    ) -> KResult<()> {
        if flags.contains(FOLL_NOFAULT) {
            return Err(Errno::EFAULT);
        }
        let write = flags.contains(FOLL_WRITE) || unshare;
        match self.handle_mm_fault(hv, pid, vma, addr & PAGE_MASK, write) {
            Ok(()) => Ok(()),
            Err(VmFault::Oom) => Err(Errno::ENOMEM),
            Err(_) => Err(Errno::EFAULT),
        }
    }

    /// `__get_user_pages()`: up to `nr` pages from `start`. `want_pages`
    /// says whether the caller asked for the pages (FOLL_GET/FOLL_PIN).
    /// Returns the pages got; an error only when none was.
    pub fn get_user_pages(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        start: u64,
        nr: u64,
        flags: FollFlags,
    ) -> KResult<Vec<GupPage>> {
        let want_pages = flags.intersects(FOLL_GET | FOLL_PIN);
        let mut out = Vec::with_capacity(if want_pages { nr.min(64) as usize } else { 0 });
        if nr == 0 {
            return Ok(out);
        }
        let mut addr = start & PAGE_MASK;
        let mut vma: Option<Vma> = None;
        let mut err = None;
        let mut done = 0u64;
        let mut leaf = None;
        let pgd = self.mm(pid)?.pgd;
        while done < nr {
            if vma.as_ref().is_none_or(|v| addr >= v.end) {
                // gup_vma_lookup(): no stack expansion.
                match self.mm(pid)?.vma_at(addr).cloned() {
                    None => {
                        err = Some(Errno::EFAULT);
                        break;
                    }
                    Some(v) => {
                        if let Err(e) = Kernel::check_vma_flags(&v, flags) {
                            err = Some(e);
                            break;
                        }
                        vma = Some(v);
                    }
                }
            }
            let Some(v) = vma.as_ref() else { break };
            let mut tries = 0;
            let mut backing = None;
            let got = loop {
                tries += 1;
                match self.follow_page_pte(hv, pgd, v, addr, flags | FOLL_TOUCH, &mut leaf) {
                    Follow::Page(p, b) => {
                        backing = Some(b);
                        break Ok(Some(p));
                    }
                    Follow::Err(Errno::EEXIST) if !want_pages => break Ok(None),
                    Follow::Err(e) => break Err(e),
                    Follow::NoPage { unshare } => {
                        if tries > 3 {
                            break Err(Errno::EFAULT);
                        }
                        // A fault may add tables: walk again after it.
                        leaf = None;
                        if let Err(e) = self.faultin_page(hv, pid, v, addr, flags, unshare) {
                            break Err(e);
                        }
                    }
                }
            };
            let backing = backing.unwrap_or_else(|| v.ops.as_ref().and_then(|o| o.backing_page(v, addr)));
            self.audit_backing(hv, addr, backing, &got);
            match got {
                Ok(Some(pfn)) => {
                    if want_pages {
                        let pin = flags.contains(FOLL_PIN);
                        let dom = self.domid;
                        hv.trace.emit(|| crate::trace::Event::Gup { dom, pid, addr, pfn: pfn.0, pin });
                        out.push(GupPage { addr, pfn, pinned: pin, _reference: () });
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
            done += 1;
            addr += 4096;
        }
        match err {
            Some(e) if done == 0 => Err(e),
            _ => {
                if !want_pages {
                    // Only the count matters: fill with placeholders.
                    out.truncate(0);
                }
                Ok(out)
            }
        }
    }

    /// `unpin_user_page()` / `put_page()` for a page GUP handed out.
    pub fn gup_release(&mut self, page: GupPage) {
        if page.pfn == ZERO_PFN {
            return;
        }
        // The ledger entry found once: updated, and removed when nothing
        // is held any more.
        if let Some(h) = self.gup_held.get_mut(page.pfn.0) {
            if page.pinned {
                h.pins = h.pins.saturating_sub(1);
            } else {
                h.gets = h.gets.saturating_sub(1);
            }
            if *h == Default::default() {
                self.gup_held.remove(page.pfn.0);
            }
        }
        if page.pinned {
            let p = self.mem.page_mut(page.pfn);
            p.refcount -= GUP_PIN_COUNTING_BIAS - 1;
        }
        self.put_page(page.pfn);
    }
}
