//! User-mode loads and stores as the CPU performs them: walk the page
//! table, fault when the PTE does not allow the access, then touch the
//! machine frame the PTE really names.
//!
//! Follows the hardware semantics of x86-64 paging plus
//! `arch/x86/mm/fault.c`. The data goes to the frame in the PTE (ground
//! truth), not to where the guest kernel believes the page is.

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, Pte, PteFlags};
use crate::hv::Hypervisor;
use crate::kernel::memory::{Access, VmFault};
use crate::kernel::page::Mfn;
use crate::kernel::{Kernel, Pid};

/// A user access the kernel answered with a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal {
    pub fault: VmFault,
    pub addr: u64,
}

impl Kernel {
    /// Make one page accessible for `access`, as the CPU + fault handler do:
    /// returns the machine frame the final PTE names.
    pub fn user_access_page(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        access: Access,
    ) -> Result<Mfn, Signal> {
        let sig = |fault| Signal { fault, addr };
        if addr >= crate::arch::x86_64::TASK_SIZE + PAGE_SIZE {
            return Err(sig(VmFault::MapErr));
        }
        for _ in 0..3 {
            let pgd = self.mm(pid).map_err(|_| sig(VmFault::MapErr))?.pgd;
            let pte = self.pt.pte(pgd, addr);
            if hw_allows(pte, access) {
                // The MMU sets Accessed (and Dirty on a write).
                let mut n = pte.set(PteFlags::ACCESSED);
                if access == Access::Write {
                    n = n.set(PteFlags::DIRTY);
                }
                if n != pte
                    && let Some(s) = self.pt.lookup(pgd, addr)
                {
                    self.pt.set(s, n);
                }
                return self.pte_machine_frame(pte).ok_or(sig(VmFault::SigBus));
            }
            self.handle_user_fault(hv, pid, addr, access).map_err(sig)?;
        }
        Err(sig(VmFault::SigBus))
    }

    /// `load(addr, len)`: read user memory byte range.
    pub fn user_read(&mut self, hv: &mut Hypervisor, pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, Signal> {
        let mut out = Vec::with_capacity(len.min(1 << 20) as usize);
        let mut a = addr;
        let end = addr.checked_add(len).ok_or(Signal { fault: VmFault::MapErr, addr: PAGE_MASK })?;
        while a < end {
            let page = a & PAGE_MASK;
            let mfn = self.user_access_page(hv, pid, a, Access::Read)?;
            let chunk = (page + PAGE_SIZE).min(end) - a;
            let mut buf = vec![0u8; chunk as usize];
            hv.machine.read(mfn, (a - page) as usize, &mut buf);
            out.extend_from_slice(&buf);
            a += chunk;
        }
        Ok(out)
    }

    /// `store(addr, bytes)`: write user memory.
    pub fn user_write(&mut self, hv: &mut Hypervisor, pid: Pid, addr: u64, data: &[u8]) -> Result<(), Signal> {
        let mut a = addr;
        let mut rest = data;
        while !rest.is_empty() {
            let page = a & PAGE_MASK;
            let mfn = self.user_access_page(hv, pid, a, Access::Write)?;
            let chunk = ((page + PAGE_SIZE - a) as usize).min(rest.len());
            hv.machine.write(mfn, (a - page) as usize, &rest[..chunk]);
            rest = &rest[chunk..];
            a = a.wrapping_add(chunk as u64);
        }
        Ok(())
    }

    /// `touch(addr, len, r|w)`: one access per page, contents unchanged.
    pub fn user_touch(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        len: u64,
        access: Access,
    ) -> Result<(), Signal> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.saturating_add(len);
        let mut a = addr;
        while a < end {
            self.user_access_page(hv, pid, a, access)?;
            a = (a & PAGE_MASK) + PAGE_SIZE;
        }
        Ok(())
    }
}

/// Does the hardware allow `access` through `pte` in user mode?
fn hw_allows(pte: Pte, access: Access) -> bool {
    let f = pte.flags();
    if !f.contains(PteFlags::PRESENT | PteFlags::USER) {
        return false;
    }
    // PKRU is checked on every data access to a user page.
    if !crate::kernel::pkeys::pkru_allows_pkey(crate::kernel::pte::pte_pkey(pte)) {
        return false;
    }
    access == Access::Read || f.contains(PteFlags::RW)
}
