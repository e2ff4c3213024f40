//! What a run reports: per step the op's result and (optionally) a snapshot
//! of every live process's view of the reserved range.
//!
//! The types are plain data and the `/proc/<pid>/smaps` parser is
//! platform-independent, so the model side can produce (and parse) the same
//! structures.

use serde::{Deserialize, Serialize};

use super::op::{OpResult, PAGE_SIZE};

/// Everything observed while running a sequence of ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// Start (absolute) of the reserved range; `Addr::Off(o)` is `base + o`.
    pub base: u64,
    /// Length of the reserved range in bytes.
    pub range_len: u64,
    /// Whether an unhinted `mmap(NULL, len)` lands at the top of the range
    /// (`base + range_len - len`) on the host, i.e. whether the model may
    /// use `mmap_base = base + range_len` and compare placements.
    pub unhinted_in_range: bool,
    /// Facts about the host that the model must agree with.
    pub host: HostInfo,
    /// One record per op, in order.
    pub steps: Vec<StepRecord>,
    /// Snapshot of every live process after the last op.
    pub final_state: Snapshot,
}

/// The result of one op and, if taken, the state after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub result: OpResult,
    pub snapshot: Option<Snapshot>,
}

/// The state of every live process, ordered by process index.
pub type Snapshot = Vec<ProcSnapshot>;

/// One process's view of the reserved range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSnapshot {
    /// Process index (0 = first worker).
    pub p: usize,
    /// The VMAs that intersect the reserved range, in address order.
    pub vmas: Vec<VmaSnapshot>,
}

/// One VMA as reported by `/proc/<pid>/smaps` (which starts each VMA with
/// its `/proc/<pid>/maps` line) plus the pagemap entries of its pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmaSnapshot {
    /// The raw maps line, e.g.
    /// `7e0000000000-7e0000001000 rw-p 00000000 00:00 0 ` (trailing spaces
    /// after the inode are trimmed).
    pub line: String,
    /// Absolute start address.
    pub start: u64,
    /// Absolute end address (exclusive).
    pub end: u64,
    /// Permissions field, e.g. `rw-p`.
    pub perms: String,
    /// File offset in bytes (the maps field is hexadecimal).
    pub offset: u64,
    /// `major:minor` of the backing device, e.g. `00:01`.
    pub dev: String,
    pub inode: u64,
    /// Path or pseudo-path (`/memfd:mmsim (deleted)`, `[heap]`...), or empty.
    pub path: String,
    pub smaps: Smaps,
    /// Pagemap entries of the VMA's pages that lie inside the range, from
    /// the first one, at most `max_pages_per_vma` of them.
    pub pages: Vec<PageInfo>,
    /// True when `pages` was capped.
    pub pages_truncated: bool,
}

impl VmaSnapshot {
    /// The snapshot of one parsed smaps entry with its pages.
    pub fn from_entry(e: SmapsEntry, pages: Vec<PageInfo>, pages_truncated: bool) -> VmaSnapshot {
        VmaSnapshot {
            line: e.line,
            start: e.maps.start,
            end: e.maps.end,
            perms: e.maps.perms,
            offset: e.maps.offset,
            dev: e.maps.dev,
            inode: e.maps.inode,
            path: e.maps.path,
            smaps: e.smaps,
            pages,
            pages_truncated,
        }
    }

    /// Start as an offset into the range starting at `base` (may wrap when
    /// the VMA begins below `base`).
    pub fn start_off(&self, base: u64) -> u64 {
        self.start.wrapping_sub(base)
    }
    /// End as an offset into the range starting at `base`.
    pub fn end_off(&self, base: u64) -> u64 {
        self.end.wrapping_sub(base)
    }
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    /// True for a zero-length VMA (never produced by the kernel).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    /// Whether `VmFlags` contains `flag` (two-letter code such as `lo`).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.smaps.vm_flags.iter().any(|f| f == flag)
    }
}

/// The `smaps` fields of one VMA, in kB as the kernel prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Smaps {
    pub size_kb: u64,
    pub rss_kb: u64,
    pub pss_kb: u64,
    pub shared_clean_kb: u64,
    pub shared_dirty_kb: u64,
    pub private_clean_kb: u64,
    pub private_dirty_kb: u64,
    pub anonymous_kb: u64,
    pub swap_kb: u64,
    pub locked_kb: u64,
    /// `VmFlags` codes in the kernel's order, e.g. `["rd", "wr", "mr", ...]`.
    pub vm_flags: Vec<String>,
    /// Every numeric field as printed (`(name, value)`, unit dropped),
    /// including those above, in the kernel's order.
    pub fields: Vec<(String, u64)>,
}

impl Smaps {
    /// The value of the numeric field `name` (e.g. `"AnonHugePages"`).
    pub fn field(&self, name: &str) -> Option<u64> {
        self.fields.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

/// One `/proc/<pid>/pagemap` entry, decoded (see
/// Documentation/admin-guide/mm/pagemap.rst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Bit 63: page present.
    pub present: bool,
    /// Bit 62: page swapped.
    pub swapped: bool,
    /// Bit 61: file-page or shared-anon.
    pub file_or_shared_anon: bool,
    /// Bit 58: guard region (`MADV_GUARD_INSTALL`, 6.15+).
    pub guard: bool,
    /// Bit 57: PTE is uffd-wp write-protected.
    pub uffd_wp: bool,
    /// Bit 56: page exclusively mapped (mapcount of that page is 1).
    pub exclusive: bool,
    /// Bit 55: PTE is soft-dirty.
    pub soft_dirty: bool,
    /// Bits 0-54 when present (zero without `CAP_SYS_ADMIN`); not comparable
    /// across runs, except through `zero_page`.
    pub pfn: u64,
    /// The page is the shared zero page (or the huge zero page).
    pub zero_page: bool,
    /// `/proc/kpageflags` of `pfn` when present and requested.
    pub kpageflags: Option<u64>,
}

/// `KPF_ZERO_PAGE` bit of `/proc/kpageflags`.
pub const KPF_ZERO_PAGE: u32 = 24;

impl PageInfo {
    /// Decode a raw pagemap entry. `zero_pfn` is the PFN of the shared zero
    /// page if known; `kpageflags` the flags of the PFN if read.
    pub fn from_raw(raw: u64, zero_pfn: Option<u64>, kpageflags: Option<u64>) -> PageInfo {
        let bit = |n: u32| raw >> n & 1 == 1;
        let present = bit(63);
        let pfn = if present { raw & ((1u64 << 55) - 1) } else { 0 };
        let zero_by_pfn = present && pfn != 0 && zero_pfn == Some(pfn);
        let zero_by_flags = kpageflags.is_some_and(|f| f >> KPF_ZERO_PAGE & 1 == 1);
        PageInfo {
            present,
            swapped: bit(62),
            file_or_shared_anon: bit(61),
            guard: bit(58),
            uffd_wp: bit(57),
            exclusive: bit(56),
            soft_dirty: bit(55),
            pfn,
            zero_page: zero_by_pfn || zero_by_flags,
            kpageflags,
        }
    }
}

/// Facts about the host kernel that the model must agree with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// `uname -r`.
    pub kernel_release: String,
    pub page_size: u64,
    /// Selected value of /sys/kernel/mm/transparent_hugepage/enabled.
    pub thp_enabled: String,
    /// Selected value of /sys/kernel/mm/transparent_hugepage/defrag.
    pub thp_defrag: String,
    /// /sys/kernel/mm/transparent_hugepage/use_zero_page.
    pub thp_use_zero_page: String,
    /// Selected value of /sys/kernel/mm/transparent_hugepage/shmem_enabled.
    pub thp_shmem_enabled: String,
    /// /proc/sys/vm/overcommit_memory.
    pub overcommit_memory: String,
    /// /proc/sys/vm/mmap_min_addr.
    pub mmap_min_addr: u64,
    /// PFN of the shared zero page (None if PFNs are hidden, i.e. without
    /// `CAP_SYS_ADMIN`).
    pub zero_pfn: Option<u64>,
    /// `ospke` in /proc/cpuinfo: the kernel enabled protection keys.
    #[serde(default)]
    pub pkeys: bool,
    /// /proc/sys/vm/max_map_count.
    #[serde(default)]
    pub max_map_count: u64,
    /// The effective uid the workers run as (0: root's capabilities).
    #[serde(default)]
    pub euid: u32,
    /// RLIMIT_MEMLOCK (soft, hard) the workers inherit.
    #[serde(default)]
    pub memlock: (u64, u64),
}

impl HostInfo {
    /// The model machine that shows and does what this host does: its
    /// pkeys, THP mode, vm.max_map_count and vm.overcommit_memory (an
    /// unreadable value keeps the model's default).
    pub fn machine_config(&self) -> crate::kernel::config::MachineConfig {
        use crate::kernel::config::{MachineConfig, Overcommit, ThpEnabled};
        let d = MachineConfig::default();
        MachineConfig {
            frames: d.frames,
            pkeys: self.pkeys,
            thp: ThpEnabled::parse(&self.thp_enabled).unwrap_or(d.thp),
            max_map_count: usize::try_from(self.max_map_count).ok().filter(|&n| n > 0).unwrap_or(d.max_map_count),
            overcommit: self.overcommit_memory.parse().ok().and_then(Overcommit::from_sysctl).unwrap_or(d.overcommit),
        }
    }

    /// Whether PFNs are visible in pagemap (the reader has CAP_SYS_ADMIN).
    pub fn pfns_visible(&self) -> bool {
        self.zero_pfn.is_some()
    }

    /// One line naming what a comparison with this host cannot cover
    /// (empty when it covers everything).
    pub fn not_compared(&self) -> String {
        if self.pfns_visible() {
            String::new()
        } else {
            "not compared on this host: PFNs and zero-page identity (pagemap hides PFNs without CAP_SYS_ADMIN)"
                .to_string()
        }
    }
}

/// A parsed maps line (the VMA header of smaps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsLine {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub offset: u64,
    pub dev: String,
    pub inode: u64,
    pub path: String,
}

/// Parse one `/proc/<pid>/maps` line. Returns `None` for anything else
/// (e.g. an smaps field line).
pub fn parse_maps_line(line: &str) -> Option<MapsLine> {
    let mut rest = line;
    let mut next = || -> Option<&str> {
        let t = rest.trim_start_matches(' ');
        let end = t.find(' ').unwrap_or(t.len());
        let (tok, r) = t.split_at(end);
        rest = r;
        if tok.is_empty() { None } else { Some(tok) }
    };
    let range = next()?;
    let perms = next()?;
    let offset = next()?;
    let dev = next()?;
    let inode = next()?;
    let (s, e) = range.split_once('-')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    if perms.len() != 4 || !dev.contains(':') {
        return None;
    }
    let offset = u64::from_str_radix(offset, 16).ok()?;
    let inode = inode.parse().ok()?;
    let path = rest.trim_start_matches(' ').to_string();
    Some(MapsLine { start, end, perms: perms.to_string(), offset, dev: dev.to_string(), inode, path })
}

/// One VMA of a parsed smaps file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmapsEntry {
    /// The header line, trailing spaces trimmed.
    pub line: String,
    pub maps: MapsLine,
    pub smaps: Smaps,
}

/// Parse the text of `/proc/<pid>/smaps`, keeping only the VMAs for which
/// `keep(start, end)` is true.
pub fn parse_smaps(text: &str, mut keep: impl FnMut(u64, u64) -> bool) -> Vec<SmapsEntry> {
    let mut out: Vec<SmapsEntry> = Vec::new();
    let mut current: Option<SmapsEntry> = None;
    let mut skipping = true;
    for line in text.lines() {
        let first = line.split(' ').next().unwrap_or("");
        if let Some(name) = first.strip_suffix(':') {
            // A field line.
            if skipping {
                continue;
            }
            let Some(cur) = current.as_mut() else {
                continue;
            };
            let value = line[first.len()..].trim();
            if name == "VmFlags" {
                cur.smaps.vm_flags = value.split_whitespace().map(str::to_string).collect();
                continue;
            }
            let num = value.split_whitespace().next().and_then(|v| v.parse::<u64>().ok());
            let Some(v) = num else { continue };
            match name {
                "Size" => cur.smaps.size_kb = v,
                "Rss" => cur.smaps.rss_kb = v,
                "Pss" => cur.smaps.pss_kb = v,
                "Shared_Clean" => cur.smaps.shared_clean_kb = v,
                "Shared_Dirty" => cur.smaps.shared_dirty_kb = v,
                "Private_Clean" => cur.smaps.private_clean_kb = v,
                "Private_Dirty" => cur.smaps.private_dirty_kb = v,
                "Anonymous" => cur.smaps.anonymous_kb = v,
                "Swap" => cur.smaps.swap_kb = v,
                "Locked" => cur.smaps.locked_kb = v,
                _ => {}
            }
            cur.smaps.fields.push((name.to_string(), v));
        } else if let Some(m) = parse_maps_line(line) {
            if let Some(done) = current.take() {
                out.push(done);
            }
            skipping = !keep(m.start, m.end);
            if !skipping {
                current =
                    Some(SmapsEntry { line: line.trim_end_matches(' ').to_string(), maps: m, smaps: Smaps::default() });
            }
        }
    }
    if let Some(done) = current.take() {
        out.push(done);
    }
    out
}

/// The pages of `[start, end)` that lie inside `[base, base+len)`, as
/// (first page address, number of pages), or `None` if they do not meet.
pub fn pages_in_range(start: u64, end: u64, base: u64, len: u64) -> Option<(u64, u64)> {
    let lo = start.max(base);
    let hi = end.min(base.saturating_add(len));
    if lo >= hi {
        return None;
    }
    Some((lo, (hi - lo).div_ceil(PAGE_SIZE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_line() {
        let l = "7e0000000000-7e0000002000 rw-s 00001000 00:01 1043                       /memfd:mmsim (deleted)";
        let m = parse_maps_line(l).expect("parses");
        assert_eq!(m.start, 0x7e00_0000_0000);
        assert_eq!(m.end, 0x7e00_0000_2000);
        assert_eq!(m.perms, "rw-s");
        assert_eq!(m.offset, 0x1000);
        assert_eq!(m.dev, "00:01");
        assert_eq!(m.inode, 1043);
        assert_eq!(m.path, "/memfd:mmsim (deleted)");
        let a = parse_maps_line("7e0000000000-7e0000001000 ---p 00000000 00:00 0 ").expect("anon");
        assert_eq!(a.path, "");
        assert!(parse_maps_line("Rss:                   4 kB").is_none());
        assert!(parse_maps_line("VmFlags: rd wr mr mw me ac sd").is_none());
    }

    #[test]
    fn smaps_text() {
        let text = "\
1000-2000 r--p 00000000 08:01 12 /bin/x
Size:                  4 kB
VmFlags: rd mr mw me
7e0000000000-7e0000001000 rw-p 00000000 00:00 0 
Size:                  4 kB
KernelPageSize:        4 kB
Rss:                   4 kB
Pss:                   4 kB
Private_Dirty:         4 kB
Anonymous:             4 kB
THPeligible:           0
Locked:                0 kB
VmFlags: rd wr mr mw me ac sd
";
        let v = parse_smaps(text, |s, _| s >= 0x7e00_0000_0000);
        assert_eq!(v.len(), 1);
        let e = &v[0];
        assert_eq!(e.line, "7e0000000000-7e0000001000 rw-p 00000000 00:00 0");
        assert_eq!(e.smaps.size_kb, 4);
        assert_eq!(e.smaps.rss_kb, 4);
        assert_eq!(e.smaps.private_dirty_kb, 4);
        assert_eq!(e.smaps.anonymous_kb, 4);
        assert_eq!(e.smaps.field("THPeligible"), Some(0));
        assert_eq!(e.smaps.vm_flags, ["rd", "wr", "mr", "mw", "me", "ac", "sd"]);
    }

    #[test]
    fn page_bits() {
        let raw = (1u64 << 63) | (1 << 56) | 0x1234;
        let p = PageInfo::from_raw(raw, Some(7), None);
        assert!(p.present && p.exclusive && !p.file_or_shared_anon && !p.zero_page);
        assert_eq!(p.pfn, 0x1234);
        let z = PageInfo::from_raw((1u64 << 63) | 7, Some(7), None);
        assert!(z.zero_page);
    }
}
