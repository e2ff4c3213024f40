//! What the host is: kernel release, THP mode, sysctls, CPU features,
//! the zero page's PFN (`host_info`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use crate::oracle::error::OracleError;
use crate::oracle::op::PAGE_SIZE;
use crate::oracle::transcript::HostInfo;

pub(super) fn host_info() -> Result<HostInfo, OracleError> {
    static INFO: OnceLock<HostInfo> = OnceLock::new();
    if let Some(i) = INFO.get() {
        return Ok(i.clone());
    }
    let info = compute_host_info()?;
    Ok(INFO.get_or_init(|| info).clone())
}

pub(super) fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The bracketed choice of a sysfs selector such as `always [madvise] never`.
pub(super) fn selected(s: &str) -> String {
    match (s.find('['), s.find(']')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_string(),
        _ => s.to_string(),
    }
}

pub(super) fn compute_host_info() -> Result<HostInfo, OracleError> {
    let kernel_release = read_trim("/proc/sys/kernel/osrelease");
    let thp = "/sys/kernel/mm/transparent_hugepage";
    Ok(HostInfo {
        kernel_release,
        page_size: PAGE_SIZE,
        thp_enabled: selected(&read_trim(&format!("{thp}/enabled"))),
        thp_defrag: selected(&read_trim(&format!("{thp}/defrag"))),
        thp_use_zero_page: read_trim(&format!("{thp}/use_zero_page")),
        thp_shmem_enabled: selected(&read_trim(&format!("{thp}/shmem_enabled"))),
        overcommit_memory: read_trim("/proc/sys/vm/overcommit_memory"),
        mmap_min_addr: read_trim("/proc/sys/vm/mmap_min_addr").parse().unwrap_or(0),
        zero_pfn: zero_pfn()?,
        pkeys: cpu_flag("ospke"),
        max_map_count: read_trim("/proc/sys/vm/max_map_count").parse().unwrap_or(0),
        // SAFETY: geteuid and getrlimit only read this process's state.
        euid: unsafe { libc::geteuid() },
        memlock: unsafe {
            let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r);
            (r.rlim_cur, r.rlim_max)
        },
    })
}

/// Whether the `flags` line of /proc/cpuinfo names `flag`.
pub(super) fn cpu_flag(flag: &str) -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines().find(|l| l.starts_with("flags")).is_some_and(|l| l.split_whitespace().any(|w| w == flag))
}

/// PFN of the shared zero page: map a private anonymous page read-only,
/// read it (the fault maps the zero page), and look it up in our own
/// pagemap. `None` when PFNs are hidden (no `CAP_SYS_ADMIN`).
pub(super) fn zero_pfn() -> Result<Option<u64>, OracleError> {
    let ps = PAGE_SIZE as usize;
    // SAFETY: a fresh private anonymous mapping, read then unmapped;
    // nothing else refers to it.
    unsafe {
        let p = libc::mmap(core::ptr::null_mut(), ps, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        if p == libc::MAP_FAILED {
            return Err(OracleError::last_os("mmap (zero page probe)"));
        }
        core::ptr::read_volatile(p.cast::<u8>());
        let res = File::open("/proc/self/pagemap").and_then(|f| {
            let mut b = [0u8; 8];
            f.read_exact_at(&mut b, (p as u64 / PAGE_SIZE) * 8)?;
            Ok(u64::from_le_bytes(b))
        });
        libc::munmap(p, ps);
        let raw = res.map_err(|source| OracleError::Os { what: "reading /proc/self/pagemap", source })?;
        let pfn = raw & ((1u64 << 55) - 1);
        Ok((raw >> 63 == 1 && pfn != 0).then_some(pfn))
    }
}
