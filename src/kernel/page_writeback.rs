//! Marking pages dirty, as `mm/page-writeback.c` does.
//!
//! Simplification: there is no writeback and no dirty accounting, so
//! `folio_mark_dirty()` is only the `PG_dirty` bit (`noop_dirty_folio` for
//! anonymous pages; tmpfs's `dirty_folio` does the same).

use crate::kernel::Kernel;
use crate::kernel::page::{PageFlags, Pfn};

impl Kernel {
    /// `set_page_dirty_lock()` (mm/page-writeback.c, 6.12): `lock_page`,
    /// `set_page_dirty` (`folio_mark_dirty`), `unlock_page`. True when the
    /// page was newly dirtied. A PFN outside the memmap is left alone.
    pub fn set_page_dirty_lock(&mut self, pfn: Pfn) -> bool {
        if self.mem.get(pfn).is_none() {
            return false;
        }
        let p = self.mem.page_mut(pfn);
        let newly = !p.flags.contains(PageFlags::DIRTY);
        p.flags |= PageFlags::DIRTY;
        newly
    }
}
