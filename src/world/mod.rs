//! The world: one machine, the hypervisor, and the domains running on it,
//! each with its own kernel. Everything a scenario does goes through here.

pub mod xen;

use crate::errno::{Errno, KResult};
use crate::hv::HvDomain;
use crate::hv::Hypervisor;
use crate::kernel::Kernel;
use crate::kernel::p2m::P2m;
use crate::kernel::variant::Variant;
use crate::types::DomId;

pub use crate::kernel::config::{DEFAULT_MACHINE_FRAMES, MachineConfig};
/// Default RAM of a domain declared without `pages=` (64 MiB).
pub const DEFAULT_DOMAIN_PAGES: u64 = 16_384;
/// The most PFNs all domains' kernels together may describe: 1,048,576
/// (`struct page`s and P2M entries, RAM plus a PV guest's
/// [`UNPOPULATED_PFNS`]), about 50 MiB of the model's own bookkeeping. A
/// domain build past it fails with ENOMEM, as Xen's domain creation does
/// when the hypervisor's heap is exhausted (README.md "Resource limits").
pub const MAX_MODEL_PFNS: u64 = 1 << 20;
/// PFNs above a PV guest's RAM with no memory behind them, for ballooned
/// pages (`xen_alloc_unpopulated_pages`) that grant mappings use.
pub const UNPOPULATED_PFNS: u64 = 4096;

#[derive(Debug)]
pub struct Domain {
    pub id: DomId,
    pub name: String,
    pub kernel: Kernel,
}

#[derive(Debug)]
pub struct World {
    pub hv: Hypervisor,
    pub domains: Vec<Domain>,
    pub variant: Variant,
    /// The machine every domain's kernel runs on.
    pub machine: MachineConfig,
    /// Domains built from now on record which `struct page`s change, from
    /// boot (`MemMap::record_touched_from_boot`), for the incremental
    /// invariant check (`invariants::Incremental`).
    pub record_touched: bool,
}

impl World {
    /// The default machine ([`MachineConfig::default`]) with `frames` frames.
    pub fn new(frames: u64, variant: Variant) -> World {
        World::with_machine(MachineConfig::with_frames(frames), variant)
    }

    pub fn with_machine(machine: MachineConfig, variant: Variant) -> World {
        World { hv: Hypervisor::new(machine.frames), domains: Vec::new(), variant, machine, record_touched: false }
    }

    /// Build a domain: give it `pages` machine frames, set up its P2M (PV)
    /// and Xen's M2P, boot its kernel.
    pub fn add_domain(&mut self, name: &str, pv: bool, pages: u64, privileged: bool) -> KResult<DomId> {
        if pages < 16 {
            return Err(Errno::EINVAL);
        }
        let id = self.domains.len() as DomId;
        let extra = if pv { UNPOPULATED_PFNS } else { 0 };
        let described: u64 = self.domains.iter().map(|d| d.kernel.memmap().len()).sum();
        if described.saturating_add(pages).saturating_add(extra) > MAX_MODEL_PFNS {
            return Err(Errno::ENOMEM);
        }
        let base = self.hv.machine.assign(id, pages)?;
        let p2m = if pv {
            // pfn i -> base + i, the unpopulated PFNs above RAM invalid
            // (made lazily: `P2m::pv`).
            P2m::pv(base, pages, pages + UNPOPULATED_PFNS)
        } else {
            P2m::Native { base, len: pages }
        };
        self.hv.m2p.set_range(base.0, pages, 0);
        let mut kernel = Kernel::new(id, self.machine, pv, self.variant, pages, extra, p2m);
        kernel.attach_trace(id, self.hv.trace.share());
        if self.record_touched {
            kernel.record_touched_from_boot();
        }
        self.hv.domains.push(HvDomain { id, name: name.to_string(), pv, privileged });
        self.domains.push(Domain { id, name: name.to_string(), kernel });
        Ok(id)
    }

    /// Record the causal event trace: the hypervisor's buffer, shared with
    /// every kernel's page allocator (domains built later share it too).
    pub fn enable_trace(&mut self) {
        self.hv.trace.enable();
        for d in &mut self.domains {
            d.kernel.attach_trace(d.id, self.hv.trace.share());
        }
    }

    pub fn domain_by_name(&self, name: &str) -> Option<DomId> {
        self.domains.iter().find(|d| d.name == name).map(|d| d.id)
    }

    /// The kernel of `dom` and the hypervisor, borrowed together.
    pub fn kh(&mut self, dom: DomId) -> KResult<(&mut Kernel, &mut Hypervisor)> {
        let d = self.domains.get_mut(dom as usize).ok_or(Errno::ESRCH)?;
        Ok((&mut d.kernel, &mut self.hv))
    }

    pub fn kernel(&self, dom: DomId) -> KResult<&Kernel> {
        self.domains.get(dom as usize).map(|d| &d.kernel).ok_or(Errno::ESRCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::mmap::*;

    fn native() -> (World, DomId, crate::kernel::Pid) {
        let mut w = World::new(65536, Variant::default());
        let d = w.add_domain("host", false, 8192, false).expect("test");
        let (k, _) = w.kh(d).expect("test");
        let pid = k.spawn(0, 0x7e00_4000_0000, 0x5555_0000_0000).expect("test");
        (w, d, pid)
    }

    /// The native example of docs/SCENARIO.md: placement, mprotect, SIGSEGV
    /// accerr, zero-filled read.
    #[test]
    fn scenario_md_native_example() {
        let (mut w, d, p) = native();
        let (k, hv) = w.kh(d).expect("test");
        let a =
            k.sys_mmap(hv, p, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0).expect("test");
        assert_eq!(a, 0x7e00_3fff_e000);
        assert_eq!(k.sys_mprotect(hv, p, a + 4096, 4096, PROT_READ), Ok(0));
        let e = k.user_write(hv, p, a + 4096, b"x").unwrap_err();
        assert_eq!(e.fault, crate::kernel::memory::VmFault::AccErr);
        assert_eq!(e.addr, a + 4096);
        assert_eq!(k.user_read(hv, p, a, 2).expect("test"), vec![0, 0]);
        assert_eq!(k.mm(p).expect("test").vmas.len(), 2);
    }

    #[test]
    fn cow_after_fork() {
        let (mut w, d, p) = native();
        let (k, hv) = w.kh(d).expect("test");
        let a =
            k.sys_mmap(hv, p, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0).expect("test");
        k.user_write(hv, p, a, b"parent").expect("test");
        let c = k.sys_fork(hv, p).expect("test");
        let pfn_before = k.pte_pfn(hv, k.page_tables().pte(k.mm(p).expect("test").pgd, a));
        assert_eq!(k.memmap().page(pfn_before).mapcount, 2);
        k.user_write(hv, c, a, b"child!").expect("test");
        assert_eq!(k.user_read(hv, p, a, 6).expect("test"), b"parent");
        assert_eq!(k.user_read(hv, c, a, 6).expect("test"), b"child!");
        assert_eq!(k.memmap().page(pfn_before).mapcount, 1);
        // The parent's page is exclusive again only after its own write fault.
        k.user_write(hv, p, a, b"P").expect("test");
        let pfn_after = k.pte_pfn(hv, k.page_tables().pte(k.mm(p).expect("test").pgd, a));
        assert_eq!(pfn_after, pfn_before, "reused, not copied: refcount was 1");
        k.sys_exit(hv, c).expect("test");
        k.sys_exit(hv, p).expect("test");
        assert!(k.dmesg.is_empty(), "{:?}", k.dmesg);
        // Everything is freed at exit but the empty slab page of the VMAs,
        // which the cache keeps (kernel/slab.rs: SLUB's min_partial).
        assert_eq!(k.vm_area_cache_pages(), 1);
        assert_eq!(k.memmap().nr_free() as u64, 8192 - 2 - 1, "everything freed at exit");
    }

    #[test]
    fn munmap_middle_splits_and_merge_on_remap() {
        let (mut w, d, p) = native();
        let (k, hv) = w.kh(d).expect("test");
        let a = k
            .sys_mmap(hv, p, 0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0)
            .expect("test");
        assert_eq!(k.do_munmap(hv, p, a + 4096, 4096), Ok(0));
        assert_eq!(k.mm(p).expect("test").vmas.len(), 2);
        let b = k
            .sys_mmap(
                hv,
                p,
                a + 4096,
                4096,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                u64::MAX,
                0,
            )
            .expect("test");
        assert_eq!(b, a + 4096);
        assert_eq!(k.mm(p).expect("test").vmas.len(), 1, "three pieces merge back");
        assert_eq!(k.do_munmap(hv, p, a + 1, 4096), Err(Errno::EINVAL));
        assert_eq!(k.do_munmap(hv, p, a, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn thp_alignment_of_2m_multiples() {
        let (mut w, d, p) = native();
        let (k, hv) = w.kh(d).expect("test");
        let a = k
            .sys_mmap(hv, p, 0, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0)
            .expect("test");
        assert_eq!(a % (2 << 20), 0);
    }
}
