//! The state a page shows after each step, read off the [`World`] with the
//! model's own functions (`report::maps_line`, `report::pagemap_letters_k`,
//! the page-table walk, `vm_normal_page`, `mfn_to_pfn`): a flat map from a
//! key to one item (a domain, a process, a VMA, a walk, a machine frame, a
//! `struct page`, a grant entry, a grant mapping). Only what is "in play"
//! is kept: every VMA, walks of populated PTEs and of addresses the step's
//! events name, and the frames and pages that PTEs, grants, the m2p override
//! and events (sticky: once named, always shown) point at.
//!
//! Numbers that may exceed 2^53 (PTE values, P2M entries, addresses) are
//! hex strings; small counts are JSON numbers.

use crate::arch::x86_64::{PAGE_SIZE, Pte, flag_names};
use crate::hv::machine::DomId;
use crate::kernel::memory::NormalPage;
use crate::kernel::mm_types::{Vma, VmaFile, smaps_vmflags};
use crate::kernel::p2m::{INVALID_P2M_ENTRY, entry_mfn, entry_tags};
use crate::kernel::page::{Mfn, Pfn, page_flag_names};
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};
use crate::world::World;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Most walks kept per process (populated PTEs first, in address order).
pub const MAX_WALKS_PER_PROC: usize = 64;
/// Most sticky frames and pages (named by events) kept in play.
pub const MAX_STICKY: usize = 4096;
/// Most frames, and most pages, one snapshot takes from the PTEs beyond the
/// sticky ones (a process with 512 MiB touched would otherwise put 131,072
/// of each into every step: 180 MB of page for one `touch`).
pub const MAX_PTE_TARGETS: usize = 4096;
/// Most walks one snapshot makes, per process, of addresses the step's
/// events name (a `touch` of 512 MiB names 131,072).
pub const MAX_EVENT_WALKS_PER_PROC: usize = 64;

pub fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// One thing on screen. Untagged: the key's first letter says which.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Item {
    Dom(DomSnap),
    Proc(ProcSnap),
    Vma(VmaSnap),
    Walk(WalkSnap),
    Frame(FrameSnap),
    Page(PageSnap),
    Grant(GrantSnap),
    Map(MapSnap),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DomSnap {
    pub dom: DomId,
    pub name: String,
    pub pv: bool,
    pub privileged: bool,
    /// The first machine frame of its RAM and how many (the domain build).
    pub base: Option<String>,
    pub pages: u64,
    /// The m2p override table (Linux 3.x), newest first, as `[mfn, pfn]`;
    /// present only when the variant has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m2p_override: Option<Vec<[String; 2]>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcSnap {
    pub dom: DomId,
    pub pid: Pid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VmaSnap {
    pub dom: DomId,
    pub pid: Pid,
    pub start: String,
    pub end: String,
    pub perms: String,
    /// anon, file, gntdev, privcmd, device.
    pub kind: &'static str,
    pub name: String,
    /// `VmFlags` as smaps shows them.
    pub vmflags: String,
    /// One pagemap letter a page (`show pagemap`), run-length coded as
    /// letter + count: `.3X1s2`.
    pub pm: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelSnap {
    /// PGD, PUD, PMD, PTE.
    pub level: &'static str,
    pub index: usize,
    /// The frame holding the table (a PFN natively, an MFN in PV).
    pub table: String,
    pub entry: String,
    pub bits: Vec<&'static str>,
    /// The frame the entry names, when present.
    pub to: Option<String>,
    /// `none`, `not present`, `guard marker`, or empty.
    pub note: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WalkSnap {
    pub dom: DomId,
    pub pid: Pid,
    pub addr: String,
    pub levels: Vec<LevelSnap>,
    /// What `vm_normal_page()` makes of a present leaf.
    pub normal: Option<String>,
    /// The guest's `pte_pfn()` of the leaf (PV: `mfn_to_pfn`).
    pub pfn: Option<String>,
    /// The machine frame the leaf really names (ground truth).
    pub mfn: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameSnap {
    pub mfn: String,
    /// Owning domain; none when free or beyond the machine.
    pub owner: Option<DomId>,
    /// Xen's M2P entry.
    pub m2p: Option<String>,
    /// The first 8 bytes, when the frame holds anything but zeros.
    pub data: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageSnap {
    pub dom: DomId,
    pub pfn: String,
    pub refcount: i32,
    pub mapcount: i32,
    pub flags: Vec<&'static str>,
    pub mapping: String,
    pub index: String,
    pub private: String,
    /// The raw P2M entry (`invalid`, or hex with FOREIGN/IDENTITY tags).
    pub p2m: String,
    pub p2m_tags: Vec<&'static str>,
    /// The machine frame the P2M names.
    pub mfn: Option<String>,
    pub gup_gets: u32,
    pub gup_pins: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GrantSnap {
    pub dom: DomId,
    pub gref: u32,
    pub flags: String,
    pub names: String,
    pub domid: DomId,
    pub frame: String,
    pub pin: String,
    pub mfn: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapSnap {
    pub grantee: DomId,
    pub handle: u32,
    pub granter: DomId,
    pub gref: u32,
    pub mfn: String,
    pub rw: bool,
    pub host: String,
}

/// What the run has named so far (sticky), and the step's addresses.
#[derive(Default, Debug)]
pub struct InPlay {
    pub frames: BTreeSet<u64>,
    pub pages: BTreeSet<(DomId, u64)>,
    /// Addresses named by the current step's events.
    pub addrs: BTreeSet<(DomId, Pid, u64)>,
}

impl InPlay {
    pub fn frame(&mut self, m: u64) {
        if self.frames.len() < MAX_STICKY {
            self.frames.insert(m);
        }
    }
    pub fn page(&mut self, d: DomId, p: u64) {
        if self.pages.len() < MAX_STICKY {
            self.pages.insert((d, p));
        }
    }
    /// Note what one trace event names.
    pub fn event(&mut self, e: &crate::trace::Event) {
        use crate::trace::Event as T;
        let page_mask = !(PAGE_SIZE - 1);
        match e {
            T::Fault { dom, pid, addr, pfn, old_pfn, .. } => {
                self.addrs.insert((*dom, *pid, addr & page_mask));
                for p in pfn.iter().chain(old_pfn) {
                    self.page(*dom, *p);
                }
            }
            T::FaultSignal { dom, pid, addr, .. } => {
                self.addrs.insert((*dom, *pid, addr & page_mask));
            }
            T::Zap { dom, pid, addr, pfn, .. } => {
                self.addrs.insert((*dom, *pid, addr & page_mask));
                if let Some(p) = pfn {
                    self.page(*dom, *p);
                }
            }
            T::Gup { dom, pid, addr, pfn, .. } => {
                self.addrs.insert((*dom, *pid, addr & page_mask));
                self.page(*dom, *pfn);
            }
            T::Unpin { dom, pfn, .. } => self.page(*dom, *pfn),
            T::P2mSet { dom, pfn, entry } => {
                self.page(*dom, *pfn);
                if *entry != INVALID_P2M_ENTRY {
                    self.frame(entry_mfn(*entry));
                }
            }
            T::M2pOverride { dom, mfn, pfn, .. } => {
                self.page(*dom, *pfn);
                self.frame(*mfn);
            }
            T::GrantMap { mfn: Some(m), .. } => self.frame(*m),
            T::BioSubmit { dom, pid, addr, pfns, .. } => {
                self.addrs.insert((*dom, *pid, addr & page_mask));
                for p in pfns {
                    self.page(*dom, *p);
                }
            }
            T::Dma { dom, pfn, mfn, .. } => {
                self.page(*dom, *pfn);
                if let Some(m) = mfn {
                    self.frame(*m);
                }
            }
            _ => {}
        }
    }
}

/// Names of processes: `(dom, pid)` -> the script's name.
pub type ProcNames = BTreeMap<(DomId, Pid), String>;

/// Every item in play in `w` now.
pub fn snapshot(w: &World, names: &ProcNames, play: &InPlay) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let mut frames: BTreeSet<u64> = play.frames.clone();
    let mut pages: BTreeSet<(DomId, u64)> = play.pages.clone();
    // Frames and pages taken from the PTEs so far (MAX_PTE_TARGETS each).
    let (mut pte_frames, mut pte_pages) = (0usize, 0usize);
    for d in &w.domains {
        let k = &d.kernel;
        let hd = w.hv.domain(d.id);
        let ovr = w
            .variant
            .m2p_override()
            .then(|| k.xen.m2p_override.iter().map(|(m, p)| [hex(m.0), hex(p.0)]).collect::<Vec<_>>());
        for (m, p) in &k.xen.m2p_override {
            frames.insert(m.0);
            pages.insert((d.id, p.0));
        }
        out.insert(
            format!("d/{:04x}", d.id),
            Item::Dom(DomSnap {
                dom: d.id,
                name: d.name.clone(),
                pv: k.pv,
                privileged: hd.is_some_and(|h| h.privileged),
                base: k.p2m().pfn_to_mfn(Pfn(0)).map(|m| hex(m.0)),
                pages: k.totalram_pages,
                m2p_override: ovr,
            }),
        );
        pages.extend(k.gup_held().iter().filter(|(_, h)| h.gets + h.pins > 0).map(|(p, _)| (d.id, p)));
        for (&pid, p) in &k.procs {
            let name = names.get(&(d.id, pid)).cloned().unwrap_or_else(|| format!("pid {pid}"));
            out.insert(format!("p/{:04x}/{pid:08x}", d.id), Item::Proc(ProcSnap { dom: d.id, pid, name }));
            let mm = &p.mm;
            let mut walks: BTreeSet<u64> = BTreeSet::new();
            for v in mm.vmas.values() {
                let entries = k.page_tables().leaf_entries(mm.pgd, v.start, v.end);
                for (a, _, pte) in &entries {
                    if walks.len() < MAX_WALKS_PER_PROC {
                        walks.insert(*a);
                    }
                    if PteKind::of(*pte).is_present() {
                        if pte_frames < MAX_PTE_TARGETS
                            && let Some(m) = k.pte_machine_frame(*pte)
                        {
                            pte_frames += usize::from(frames.insert(m.0));
                        }
                        if pte_pages < MAX_PTE_TARGETS
                            && let NormalPage::Page(pf) = k.vm_normal_page_quiet(&w.hv, v, *a, *pte)
                        {
                            pte_pages += usize::from(pages.insert((d.id, pf.0)));
                        }
                    }
                }
                let key = format!("v/{:04x}/{pid:08x}/{:016x}", d.id, v.start);
                out.insert(key, Item::Vma(vma_snap(w, k, d.id, pid, mm, v, &entries)));
            }
            let named = play.addrs.range((d.id, pid, 0)..=(d.id, pid, u64::MAX)).map(|(_, _, a)| *a);
            walks.extend(named.take(MAX_EVENT_WALKS_PER_PROC));
            for a in walks {
                let ws = walk_snap(w, k, d.id, pid, a);
                out.insert(format!("w/{:04x}/{pid:08x}/{a:016x}", d.id), Item::Walk(ws));
            }
        }
    }
    // Grants: every entry in use or pinned, every mapping.
    for (&dom, t) in &w.hv.grants.tables {
        for (r, (e, a)) in t.shared.iter().zip(&t.active).enumerate() {
            if e.flags == 0 && a.pin == 0 {
                continue;
            }
            if a.pin != 0 {
                frames.insert(a.mfn.0);
            }
            let names = crate::xen::interface::grant_table::gtf_names(e.flags);
            out.insert(
                format!("g/{dom:04x}/{r:08x}"),
                Item::Grant(GrantSnap {
                    dom,
                    gref: r as u32,
                    flags: format!("{:#06x}", e.flags),
                    names: names.trim().trim_start_matches('(').trim_end_matches(')').to_string(),
                    domid: e.domid,
                    frame: hex(e.frame as u64),
                    pin: format!("{:#010x}", a.pin),
                    mfn: (a.pin != 0).then(|| hex(a.mfn.0)),
                }),
            );
        }
    }
    for r in w.hv.grants.records() {
        frames.insert(r.mfn.0);
        out.insert(
            format!("m/{:04x}/{:08x}", r.grantee, r.handle),
            Item::Map(MapSnap {
                grantee: r.grantee,
                handle: r.handle,
                granter: r.granter,
                gref: r.gref,
                mfn: hex(r.mfn.0),
                rw: !r.readonly,
                host: r.host.map_or("device".to_string(), |h| h.to_string()),
            }),
        );
    }
    // struct pages first: their P2M names more frames.
    for &(d, pfn) in &pages {
        let Ok(k) = w.kernel(d) else { continue };
        if let Some(ps) = page_snap(k, d, pfn) {
            if let Some(m) = k.p2m().pfn_to_mfn(Pfn(pfn)) {
                frames.insert(m.0);
            }
            out.insert(format!("s/{d:04x}/{pfn:016x}"), Item::Page(ps));
        }
    }
    for &m in &frames {
        if !w.hv.machine.valid(Mfn(m)) {
            continue;
        }
        let data = w.hv.machine.page(Mfn(m)).map(|p| p[..8].iter().map(|b| format!("{b:02x}")).collect::<String>());
        out.insert(
            format!("f/{m:016x}"),
            Item::Frame(FrameSnap {
                mfn: hex(m),
                owner: w.hv.machine.owner(Mfn(m)),
                m2p: w.hv.m2p.get(Mfn(m)).map(|p| hex(p.0)),
                data,
            }),
        );
    }
    out
}

fn vma_kind(v: &Vma) -> &'static str {
    match &v.file {
        None => "anon",
        Some(VmaFile::Shmem { .. }) => "file",
        Some(VmaFile::Device { name, .. }) if name.contains("gntdev") => "gntdev",
        Some(VmaFile::Device { name, .. }) if name.contains("privcmd") => "privcmd",
        Some(VmaFile::Device { .. }) => "device",
    }
}

fn vma_snap(
    w: &World,
    k: &Kernel,
    dom: DomId,
    pid: Pid,
    mm: &crate::kernel::mm::Mm,
    v: &Vma,
    entries: &[(u64, crate::arch::pagetable::PteSlot, Pte)],
) -> VmaSnap {
    let line = crate::report::maps_line(k, mm, v);
    let parts: Vec<&str> = line.split_whitespace().collect();
    let perms = parts.get(1).copied().unwrap_or("").to_string();
    let name = parts.get(5..).map(|p| p.join(" ")).unwrap_or_default();
    VmaSnap {
        dom,
        pid,
        start: hex(v.start),
        end: hex(v.end),
        perms,
        kind: vma_kind(v),
        name,
        vmflags: smaps_vmflags(v.flags).trim().to_string(),
        pm: pagemap_rle(w, k, pid, v, entries),
    }
}

/// The VMA's pagemap letters, asked of `report::pagemap_letters_k` only
/// for the runs of populated entries (the rest is `.`), run-length coded.
fn pagemap_rle(
    w: &World,
    k: &Kernel,
    pid: Pid,
    v: &Vma,
    entries: &[(u64, crate::arch::pagetable::PteSlot, Pte)],
) -> String {
    let mut rle = Rle::default();
    let mut at = v.start;
    let mut i = 0;
    while i < entries.len() {
        let run_start = entries[i].0;
        let mut run_end = run_start + PAGE_SIZE;
        while i + 1 < entries.len() && entries[i + 1].0 == run_end {
            run_end += PAGE_SIZE;
            i += 1;
        }
        i += 1;
        rle.push('.', (run_start.saturating_sub(at)) / PAGE_SIZE);
        let text = crate::report::pagemap_letters_k(k, &w.hv, pid, run_start, run_end - run_start);
        for l in text.lines() {
            if let Some((_, letters)) = l.split_once(": ") {
                for c in letters.chars() {
                    rle.push(c, 1);
                }
            }
        }
        at = run_end;
    }
    rle.push('.', v.end.saturating_sub(at) / PAGE_SIZE);
    rle.finish()
}

#[derive(Default)]
struct Rle {
    out: String,
    cur: Option<(char, u64)>,
}

impl Rle {
    fn push(&mut self, c: char, n: u64) {
        if n == 0 {
            return;
        }
        match &mut self.cur {
            Some((cc, m)) if *cc == c => *m += n,
            _ => {
                self.flush();
                self.cur = Some((c, n));
            }
        }
    }
    fn flush(&mut self) {
        if let Some((c, n)) = self.cur.take() {
            self.out.push(c);
            self.out.push_str(&n.to_string());
        }
    }
    fn finish(mut self) -> String {
        self.flush();
        self.out
    }
}

const LEVEL_NAMES: [&str; 5] = ["", "PTE", "PMD", "PUD", "PGD"];

/// The four-level walk of `addr`, as `report::pagetable_walk_k` does it.
pub fn walk_snap(w: &World, k: &Kernel, dom: DomId, pid: Pid, addr: u64) -> WalkSnap {
    let mut ws = WalkSnap { dom, pid, addr: hex(addr), levels: Vec::new(), normal: None, pfn: None, mfn: None };
    let Ok(mm) = k.mm(pid) else { return ws };
    let mut leaf = None;
    for s in k.page_tables().walk(mm.pgd, addr) {
        let e = s.entry;
        let kind = PteKind::of(e);
        let (to, note) = if e.is_none() {
            (None, "none")
        } else if s.level == 1 && kind.is_guard() {
            (None, "guard marker")
        } else if (s.level == 1 && !kind.is_present()) || (s.level != 1 && !e.present()) {
            (None, "not present")
        } else {
            (Some(hex(e.frame())), "")
        };
        if s.level == 1 {
            leaf = Some(e);
        }
        ws.levels.push(LevelSnap {
            level: LEVEL_NAMES.get(s.level as usize).copied().unwrap_or("?"),
            index: s.index,
            table: hex(s.table),
            entry: format!("{:#018x}", e.0),
            bits: flag_names(e),
            to,
            note,
        });
    }
    if let (Some(pte), Some(v)) = (leaf, mm.vma_at(addr))
        && PteKind::of(pte).is_present()
    {
        ws.normal = Some(match k.vm_normal_page_quiet(&w.hv, v, addr, pte) {
            NormalPage::Page(p) => format!("page pfn {:#x}", p.0),
            NormalPage::Zero => "zero page".to_string(),
            NormalPage::Special => "none (special PTE in a PFNMAP/MIXEDMAP VMA)".to_string(),
            NormalPage::HookNone => "none (find_special_page found no page)".to_string(),
            NormalPage::Bad => "bad PTE (\"BUG: Bad page map\")".to_string(),
        });
        ws.pfn = if k.pv { k.mfn_to_pfn(&w.hv, Mfn(pte.frame())).map(|p| hex(p.0)) } else { Some(hex(pte.frame())) };
        ws.mfn = k.pte_machine_frame(pte).map(|m| hex(m.0));
    }
    ws
}

fn page_snap(k: &Kernel, dom: DomId, pfn: u64) -> Option<PageSnap> {
    let p = k.memmap().get(Pfn(pfn))?;
    let mapping = crate::report::page::mapping_text(k, p.mapping);
    let raw = k.p2m().raw(Pfn(pfn));
    let tags = if raw == INVALID_P2M_ENTRY { Vec::new() } else { entry_tags(raw) };
    let held = k.gup_held().get(pfn).copied().unwrap_or_default();
    Some(PageSnap {
        dom,
        pfn: hex(pfn),
        refcount: p.refcount,
        mapcount: p.mapcount,
        flags: page_flag_names(p.flags),
        mapping,
        index: hex(p.index),
        private: hex(p.private),
        p2m: if raw == INVALID_P2M_ENTRY { "invalid".to_string() } else { hex(raw) },
        p2m_tags: tags,
        mfn: k.p2m().pfn_to_mfn(Pfn(pfn)).map(|m| hex(m.0)),
        gup_gets: held.gets,
        gup_pins: held.pins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_codes_runs() {
        let mut r = Rle::default();
        r.push('.', 3);
        r.push('X', 1);
        r.push('X', 1);
        r.push('.', 0);
        r.push('s', 2);
        assert_eq!(r.finish(), ".3X2s2");
    }
}
