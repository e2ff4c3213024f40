//! The machine a kernel runs on: the CPU features and system settings that
//! change what Linux shows or does. A scenario chooses them on its
//! `machine` line; the defaults below are fixed (a current x86-64 server
//! with a distribution's default sysctls) and never read from the host, so
//! a scenario gives the same bytes everywhere. The differential tests read
//! the host's values ([`MachineConfig`] fields mirror the host files named
//! on each field) and configure the model to match.

use std::fmt;

/// The value a setting's word names.
fn by_name<T: Copy>(names: &[(&str, T)], word: &str) -> Option<T> {
    names.iter().find(|(n, _)| *n == word).map(|(_, t)| *t)
}

/// The word of a setting's value.
fn name_of<T: PartialEq>(names: &[(&'static str, T)], v: T) -> &'static str {
    names.iter().find(|(_, t)| *t == v).map_or("?", |(n, _)| n)
}

/// `/sys/kernel/mm/transparent_hugepage/enabled` (mm/huge_memory.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThpEnabled {
    Always,
    Madvise,
    Never,
}

impl ThpEnabled {
    pub const NAMES: [(&'static str, ThpEnabled); 3] =
        [("always", ThpEnabled::Always), ("madvise", ThpEnabled::Madvise), ("never", ThpEnabled::Never)];

    /// The sysfs word (`always`, `madvise`, `never`).
    pub fn parse(word: &str) -> Option<ThpEnabled> {
        by_name(&Self::NAMES, word)
    }

    pub fn name(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }
}

/// `vm.overcommit_memory` (`OVERCOMMIT_GUESS`, `_ALWAYS`, `_NEVER`;
/// include/uapi/linux/mman.h, mm/util.c `__vm_enough_memory`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Overcommit {
    /// 0: refuse only a single charge larger than RAM + swap.
    Heuristic = 0,
    /// 1: never refuse.
    Always,
    /// 2: strict accounting. The model follows what the mode changes in
    /// mmap (MAP_NORESERVE is ignored, so every private writable mapping is
    /// charged, VM_ACCOUNT); the commit limit itself (`vm_commit_limit`,
    /// `vm_committed_as`) is not modelled and never refuses.
    Never,
}

impl Overcommit {
    pub const NAMES: [(&'static str, Overcommit); 3] =
        [("heuristic", Overcommit::Heuristic), ("always", Overcommit::Always), ("never", Overcommit::Never)];

    pub fn parse(word: &str) -> Option<Overcommit> {
        by_name(&Self::NAMES, word)
    }

    /// From the sysctl's number (`/proc/sys/vm/overcommit_memory`).
    pub fn from_sysctl(v: u64) -> Option<Overcommit> {
        [Overcommit::Heuristic, Overcommit::Always, Overcommit::Never].get(usize::try_from(v).ok()?).copied()
    }

    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, t)| *t == self).map_or("?", |(n, _)| n)
    }
}

/// Default machine size: 262144 frames (1 GiB).
pub const DEFAULT_MACHINE_FRAMES: u64 = 262_144;

/// `sysctl_max_map_count` default (`DEFAULT_MAX_MAP_COUNT`, include/linux/mm.h).
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

/// The modelled machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MachineConfig {
    /// Machine memory in 4 KiB frames.
    pub frames: u64,
    /// The CPU has protection keys and the kernel enabled them
    /// (`X86_FEATURE_OSPKE`, `ospke` in /proc/cpuinfo;
    /// `arch_pkeys_enabled()`): smaps prints `ProtectionKey:`, and a
    /// PROT_EXEC-only mapping gets the execute-only key
    /// (arch/x86/mm/pkeys.c), so data accesses to it fault with SEGV_PKUERR.
    pub pkeys: bool,
    /// `/sys/kernel/mm/transparent_hugepage/enabled` (smaps `THPeligible`;
    /// the model maps no huge pages).
    pub thp: ThpEnabled,
    /// `vm.max_map_count`.
    pub max_map_count: usize,
    /// `vm.overcommit_memory`.
    pub overcommit: Overcommit,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            frames: DEFAULT_MACHINE_FRAMES,
            pkeys: true,
            thp: ThpEnabled::Madvise,
            max_map_count: DEFAULT_MAX_MAP_COUNT,
            overcommit: Overcommit::Heuristic,
        }
    }
}

impl MachineConfig {
    /// The default machine with `frames` frames.
    pub fn with_frames(frames: u64) -> MachineConfig {
        MachineConfig { frames, ..MachineConfig::default() }
    }
}

impl fmt::Display for MachineConfig {
    /// As a scenario's `machine` line would say it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "machine frames={} pkeys={} thp={} max_map_count={} overcommit={}",
            self.frames,
            if self.pkeys { "on" } else { "off" },
            self.thp.name(),
            self.max_map_count,
            self.overcommit.name()
        )
    }
}
