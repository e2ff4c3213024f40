//! The `vm_area_struct` slab cache: every VMA is an object in slab pages
//! taken from the domain's own page allocator, so that a process making
//! VMAs runs the domain (not the host) out of memory, and the allocation of
//! a slab page goes through the OOM killer like any order-0 `GFP_KERNEL`
//! allocation.
//!
//! Follows kernel/fork.c (`vm_area_alloc`, `vm_area_dup`, `vm_area_free`:
//! `kmem_cache_alloc(vm_area_cachep, GFP_KERNEL)`, a cache made with
//! `KMEM_CACHE(vm_area_struct, SLAB_PANIC|SLAB_ACCOUNT)` in `proc_caches_init`)
//! and mm/slub.c (`allocate_slab`: a first try with `__GFP_NORETRY`, which
//! never invokes the OOM killer, then `alloc_gfp = flags` at the cache's
//! minimum order, which does; `discard_slab` gives an empty slab's page back).
//!
//! Simplifications (README.md "Deliberate simplifications"):
//! - A slab is one page holding [`VM_AREA_OBJS_PER_SLAB`] objects (this
//!   host's /proc/slabinfo: `vm_area_struct ... 192 21 1`, objsize 192,
//!   21 objects per slab, 1 page per slab). Other slab caches (anon_vma,
//!   anon_vma_chain, mm_struct, maple-tree nodes) are not modelled.
//! - The cache is perfectly packed: its live objects fill
//!   `ceil(VMAs / 21)` pages, and it keeps up to [`SLAB_MIN_PARTIAL`]
//!   empty pages beyond those, as SLUB keeps an empty slab on the node's
//!   partial list while `n->nr_partial < s->min_partial` and discards it
//!   otherwise (mm/slub.c `__slab_free`, `min_partial` = max(MIN_PARTIAL,
//!   ilog2(192) / 2) = 5 in `kmem_cache_open`). No per-CPU slabs or
//!   per-CPU partial lists; nothing shrinks the cache under pressure
//!   (SLUB has no shrinker for it either).
//! - The objects a system call may allocate are charged when the call
//!   starts (as `vma_iter_prealloc()` preallocates maple-tree nodes), fork's
//!   per VMA (`vm_area_dup` in `dup_mmap`), and empty pages beyond the
//!   five kept go back when the call ends or a process exits. A call whose slab page fails
//!   (fault injection, or the caller chosen by the OOM killer) fails before
//!   it changes anything, where Linux might fail after a split.

use crate::errno::KResult;
use crate::hv::Hypervisor;
use crate::kernel::oom_kill::GFP_KERNEL;
use crate::kernel::page::Pfn;
use crate::kernel::{Kernel, Pid};

/// `vm_area_struct` objects per slab page (see the module doc).
pub const VM_AREA_OBJS_PER_SLAB: usize = 21;

/// `s->min_partial` of the cache: empty slab pages kept (mm/slub.c
/// `MIN_PARTIAL`, see the module doc).
pub const SLAB_MIN_PARTIAL: usize = 5;

/// `struct kmem_cache` as far as the model needs it: its slab pages.
#[derive(Debug, Default)]
pub struct KmemCache {
    pub slabs: Vec<Pfn>,
}

impl Kernel {
    /// `vm_area_struct` objects in use: the VMAs of every mm (a fork's
    /// child under construction included).
    pub fn nr_vm_area_structs(&self) -> usize {
        self.procs.values().map(|p| p.mm.map_count()).sum()
    }

    /// `kmem_cache_alloc(vm_area_cachep, GFP_KERNEL)` for `extra` objects
    /// about to be allocated by `current`: the cache gets the slab pages it
    /// needs for them and every VMA alive, each through the OOM killer
    /// ([`Kernel::alloc_may_oom`]: `allocate_slab`'s second try has
    /// GFP_KERNEL). `-ENOMEM` when a page cannot be had (fault injection,
    /// `current` itself chosen by the OOM killer, or no task to kill).
    pub fn vm_area_alloc(&mut self, hv: &mut Hypervisor, current: Pid, extra: usize) -> KResult<()> {
        self.vm_area_cache_shrink();
        let live = self.nr_vm_area_structs();
        self.vm_area_reserve(hv, current, live, extra).map(|_| ())
    }

    /// The slab pages for `live` objects in use (counted by the caller:
    /// fork counts once, not once per VMA) and `extra` more, allocated one
    /// by one through the OOM killer. A victim's exit frees its VMAs (and,
    /// through [`Kernel::vm_area_cache_shrink`], their slab pages), so after
    /// a kill the objects in use are counted again. Returns that count.
    pub fn vm_area_reserve(&mut self, hv: &mut Hypervisor, current: Pid, live: usize, extra: usize) -> KResult<usize> {
        let mut live = live;
        while self.vm_area_cachep.slabs.len() < (live + extra).div_ceil(VM_AREA_OBJS_PER_SLAB) {
            let kills = self.oom.killed.len();
            let pfn = self.alloc_may_oom(hv, current, GFP_KERNEL, |k| k.mem.alloc())?;
            self.vm_area_cachep.slabs.push(pfn);
            if self.oom.killed.len() != kills {
                live = self.nr_vm_area_structs();
            }
        }
        Ok(live)
    }

    /// `vm_area_free()` of the objects no VMA uses any more: `discard_slab()`
    /// of every empty page beyond [`SLAB_MIN_PARTIAL`] (last allocated
    /// first).
    pub fn vm_area_cache_shrink(&mut self) {
        let need = self.nr_vm_area_structs().div_ceil(VM_AREA_OBJS_PER_SLAB) + SLAB_MIN_PARTIAL;
        while self.vm_area_cachep.slabs.len() > need {
            let Some(pfn) = self.vm_area_cachep.slabs.pop() else { break };
            if let Err(b) = self.mem.put_page(pfn) {
                self.log(None, format!("BUG: Bad page state: pfn:{:#x} {}", b.pfn.0, b.what));
            }
        }
    }

    /// The slab pages the cache holds (for reports and tests).
    pub fn vm_area_cache_pages(&self) -> usize {
        self.vm_area_cachep.slabs.len()
    }

    /// `kmem_cache_alloc()` for a call that may make up to `extra` VMAs,
    /// run `f`, then give back what is left over (see the module doc).
    pub fn with_vm_area_objs<T>(
        &mut self,
        hv: &mut Hypervisor,
        current: Pid,
        extra: usize,
        f: impl FnOnce(&mut Kernel, &mut Hypervisor) -> KResult<T>,
    ) -> KResult<T> {
        if extra > 0 {
            self.vm_area_alloc(hv, current, extra)?;
        }
        let r = f(self, hv);
        self.vm_area_cache_shrink();
        r
    }

    /// How many VMAs splitting at `start` and at `end` would add: one for
    /// each that falls strictly inside a VMA (`__split_vma` ->
    /// `vm_area_dup`).
    pub fn vm_area_splits(&self, pid: Pid, start: u64, end: u64) -> usize {
        let Ok(mm) = self.mm(pid) else { return 0 };
        let inside = |a: u64| mm.vma_at(a).is_some_and(|v| v.start < a);
        usize::from(inside(start)) + usize::from(end != start && inside(end))
    }
}
