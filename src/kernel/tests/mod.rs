//! Unit tests of the kernel's mm code in the style of Linux's
//! `tools/testing/vma/vma.c`: a small address space built by the test, an
//! ASCII picture of the VMAs before and after each operation (one column a
//! page, one letter a VMA, in address order), and allocation failure
//! injected through the page allocator's hook (`MemMap::fail_next` /
//! `fail_space`, the model of `fail_page_alloc`, lib/fault-inject.c).
//! Expected values come from the kernel source named in each test.
//!
//! The fixture builds one native kernel without a `World` (the kernel's
//! tests depend on nothing above it).

mod fork;
mod gup;
mod memory;
mod vma;

use crate::arch::x86_64::{PAGE_SIZE, Pte};
use crate::hv::Hypervisor;
use crate::kernel::config::MachineConfig;
use crate::kernel::mmap::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use crate::kernel::p2m::P2m;
use crate::kernel::page::{Mfn, Pfn};
use crate::kernel::variant::Variant;
use crate::kernel::{Kernel, Pid};

/// Where the pictures start: page 0 of every picture.
pub const BASE: u64 = 0x1000_0000;
pub const P: u64 = PAGE_SIZE;
pub const RW: u64 = PROT_READ | PROT_WRITE;
pub const RO: u64 = PROT_READ;

/// One native kernel with one process, and the hypervisor that holds its
/// machine frames (native: PFN = MFN - base, as `World::add_domain`).
pub struct T {
    pub k: Kernel,
    pub hv: Hypervisor,
    pub pid: Pid,
}

impl T {
    /// A kernel with `pages` pages of RAM.
    pub fn new(pages: u64) -> T {
        let mut hv = Hypervisor::new(pages + 16);
        let base = hv.machine.assign(0, pages).expect("machine frames");
        for i in 0..pages {
            hv.m2p.set(Mfn(base.0 + i), Some(Pfn(i)));
        }
        let cfg = MachineConfig::with_frames(pages + 16);
        let p2m = P2m::Native { base, len: pages };
        let mut k = Kernel::new(0, cfg, false, Variant::default(), pages, 0, p2m);
        let pid = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("spawn");
        T { k, hv, pid }
    }

    /// `mmap(BASE + page * P, pages * P, prot, MAP_PRIVATE | MAP_ANONYMOUS |
    /// MAP_FIXED)`; the address or the errno.
    pub fn anon(&mut self, page: u64, pages: u64, prot: u64) -> crate::errno::KResult<u64> {
        let fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        self.k.sys_mmap(&mut self.hv, self.pid, BASE + page * P, pages * P, prot, fl, u64::MAX, 0)
    }

    pub fn mprotect(&mut self, page: u64, pages: u64, prot: u64) -> crate::errno::KResult<u64> {
        self.k.sys_mprotect(&mut self.hv, self.pid, BASE + page * P, pages * P, prot)
    }

    pub fn munmap(&mut self, page: u64, pages: u64) -> crate::errno::KResult<u64> {
        self.k.do_munmap(&mut self.hv, self.pid, BASE + page * P, pages * P)
    }

    /// Write one byte at the start of page `page` as the CPU would.
    pub fn write(&mut self, pid: Pid, page: u64, v: u8) -> bool {
        self.k.user_write(&mut self.hv, pid, BASE + page * P, &[v]).is_ok()
    }

    /// Read the byte at the start of page `page` (`None`: a signal).
    pub fn read(&mut self, pid: Pid, page: u64) -> Option<u8> {
        self.k.user_read(&mut self.hv, pid, BASE + page * P, 1).ok().map(|v| v[0])
    }

    /// The PTE mapping page `page` of `pid` (none if no table).
    pub fn pte(&self, pid: Pid, page: u64) -> Pte {
        let pgd = self.k.mm(pid).expect("mm").pgd;
        self.k.pt.pte(pgd, BASE + page * P)
    }

    /// The PFN the PTE of page `page` names (present PTEs only).
    pub fn pfn(&self, pid: Pid, page: u64) -> Option<Pfn> {
        let pte = self.pte(pid, page);
        pte.present().then(|| self.k.pte_pfn(&self.hv, pte))
    }

    /// The VMAs of `pid` in the first `width` pages from `BASE`, one
    /// column a page: `A`, `B`, ... in address order, a space for a hole.
    pub fn picture(&self, pid: Pid, width: u64) -> String {
        let mm = self.k.mm(pid).expect("mm");
        let mut out = vec![b' '; width as usize];
        for (i, v) in mm.vmas_in(BASE, BASE + width * P).enumerate() {
            let letter = b'A' + (i as u8 % 26);
            let (s, e) = ((v.start.max(BASE) - BASE) / P, (v.end.min(BASE + width * P) - BASE) / P);
            for c in &mut out[s as usize..e as usize] {
                *c = letter;
            }
        }
        String::from_utf8_lossy(&out).trim_end().to_string()
    }

    /// `(start page, end page, vm_pgoff)` of each VMA in the picture.
    pub fn spans(&self, pid: Pid, width: u64) -> Vec<(u64, u64, u64)> {
        let mm = self.k.mm(pid).expect("mm");
        mm.vmas_in(BASE, BASE + width * P).map(|v| ((v.start - BASE) / P, (v.end - BASE) / P, v.pgoff)).collect()
    }

    pub fn map_count(&self, pid: Pid) -> usize {
        self.k.mm(pid).expect("mm").map_count()
    }

    /// `fail_page_alloc` with probability 100: after `space` bytes, the
    /// next `times` page allocations fail.
    pub fn fail_page_alloc(&mut self, space: u64, times: u32) {
        self.k.mem.fail_space = space;
        self.k.mem.fail_next = times;
    }
}

/// The pgoff of an anonymous VMA starting at page `page` (mm/mmap.c
/// `do_mmap`: `pgoff = addr >> PAGE_SHIFT` for MAP_PRIVATE anonymous).
pub fn anon_pgoff(page: u64) -> u64 {
    (BASE >> 12) + page
}
