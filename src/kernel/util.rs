//! `__vm_enough_memory()` (mm/util.c): whether a charge of private
//! writable memory (VM_ACCOUNT) may be made, under the machine's
//! `vm.overcommit_memory` ([`crate::kernel::config::Overcommit`]).
//!
//! Simplifications: no swap (`total_swap_pages` is 0); in mode 2 (never)
//! the commit limit is not modelled (see `Overcommit::Never`), so only
//! modes 0 and 1 can refuse or allow differently.

use crate::errno::{Errno, KResult};
use crate::kernel::config::Overcommit;
use crate::kernel::{Kernel, Pid};

impl Kernel {
    /// `security_vm_enough_memory_mm(mm, pages)`: `-ENOMEM` and the
    /// kernel's rate-limited warning when the charge is refused.
    pub fn vm_enough_memory(&mut self, pid: Pid, pages: u64) -> KResult<()> {
        let refuse = match self.cfg.overcommit {
            // OVERCOMMIT_GUESS: `pages > totalram_pages() + total_swap_pages`.
            Overcommit::Heuristic => pages > self.totalram_pages,
            Overcommit::Always | Overcommit::Never => false,
        };
        if !refuse {
            return Ok(());
        }
        // The model's tasks have no comm; the warning names them `pidN`.
        let comm = format!("pid{pid}");
        let bytes = pages.saturating_mul(4096);
        self.log(
            Some(pid),
            format!(
                "__vm_enough_memory: pid: {pid}, comm: {comm}, bytes: {bytes} not enough memory for the allocation"
            ),
        );
        Err(Errno::ENOMEM)
    }
}
