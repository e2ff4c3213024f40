//! One trace event as one line of text (`mmsim run --trace`).

use super::{Event, FaultKind};

fn opt(v: Option<u64>) -> String {
    v.map_or("-".to_string(), |x| format!("{x:#x}"))
}

fn owner(o: Option<u16>) -> String {
    o.map_or("nobody".to_string(), |d| format!("d{d}"))
}

/// The event in the words of the code it follows.
pub fn event_line(e: &Event) -> String {
    match e {
        Event::Fault { dom, pid, addr, write, how, pfn, old_pfn } => {
            let acc = if *write { "write" } else { "read" };
            let what = match how {
                FaultKind::ZeroPage => "do_anonymous_page: shared zero page (special, read-only)".to_string(),
                FaultKind::Anonymous => format!("do_anonymous_page: new anonymous page pfn {}", opt(*pfn)),
                FaultKind::Cow => match old_pfn {
                    Some(o) => format!("wp_page_copy: COW copy of pfn {o:#x} into pfn {}", opt(*pfn)),
                    None => format!("wp_page_copy: COW of a page without struct page, zeroed pfn {}", opt(*pfn)),
                },
                FaultKind::Reuse => format!("wp_page_reuse: exclusive pfn {} made writable", opt(*pfn)),
                FaultKind::Shared => format!("wp_page_shared: pfn {} made writable", opt(*pfn)),
                FaultKind::File => {
                    format!("do_{}_fault: page-cache pfn {}", if *write { "shared" } else { "read" }, opt(*pfn))
                }
                FaultKind::FileCow => {
                    format!("do_cow_fault: copy of page-cache pfn {} into pfn {}", opt(*old_pfn), opt(*pfn))
                }
                FaultKind::Spurious => "present PTE allows it: accessed/dirty bits set".to_string(),
            };
            format!("fault d{dom} pid {pid} {acc} {addr:#x}: {what}")
        }
        Event::FaultSignal { dom, pid, addr, write, signal, code, why } => {
            let acc = if *write { "write" } else { "read" };
            format!("fault d{dom} pid {pid} {acc} {addr:#x}: {signal} {code}: {why}")
        }
        Event::Zap { dom, pid, addr, pte, pfn } => {
            format!("zap_pte_range d{dom} pid {pid} {addr:#x}: pte {pte:#x} cleared, page {}", opt(*pfn))
        }
        Event::Gup { dom, pid, addr, pfn, pin } => {
            let f = if *pin { "pin_user_pages (FOLL_PIN)" } else { "get_user_pages (FOLL_GET)" };
            format!("{f} d{dom} pid {pid} {addr:#x}: pfn {pfn:#x}")
        }
        Event::Unpin { dom, pfn, pin } => {
            format!("{} d{dom} pfn {pfn:#x}", if *pin { "unpin_user_page" } else { "put_page" })
        }
        Event::MmuNotifier { dom, pid, start, end, subscriber, action } => {
            format!(
                "mmu_notifier_invalidate_range_start d{dom} pid {pid} [{start:#x}, {end:#x}): {subscriber}: {action}"
            )
        }
        Event::MmuUpdate { dom, ptr, val, foreign, result } => {
            let f = foreign.map_or(String::new(), |f| format!(" foreigndom d{f}"));
            format!("HYPERVISOR_mmu_update d{dom}: ptr {ptr:#x} val {val:#x}{f} -> {result}")
        }
        Event::GrantMap { dom, granter, gref, host_addr, flags, status, mfn, handle } => {
            let h = handle.map_or(String::new(), |h| format!(" handle {h}"));
            format!(
                "GNTTABOP_map_grant_ref d{dom}: d{granter} ref {gref} host_addr {host_addr:#x} flags {flags:#x} -> {status}{h} mfn {}",
                opt(*mfn)
            )
        }
        Event::GrantUnmap { dom, handle, host_addr, status } => {
            format!("GNTTABOP_unmap_grant_ref d{dom}: handle {handle} host_addr {host_addr:#x} -> {status}")
        }
        Event::GrantFlags { granter, gref, from, to } => {
            format!("grant entry d{granter} ref {gref}: flags {from} -> {to}")
        }
        Event::EndForeignAccess { dom, gref, result } => {
            format!("gnttab_end_foreign_access d{dom} ref {gref}: {result}")
        }
        Event::P2mSet { dom, pfn, entry } => format!("__set_phys_to_machine d{dom}: pfn {pfn:#x} -> {entry:#x}"),
        Event::M2pOverride { dom, add, mfn, pfn } => {
            let f = if *add { "m2p_add_override" } else { "m2p_remove_override" };
            format!("{f} d{dom}: mfn {mfn:#x} pfn {pfn:#x}")
        }
        Event::BioSubmit { dom, pid, req, op, addr, len, off, pfns, error } => {
            let p: Vec<String> = pfns.iter().map(|p| format!("{p:#x}")).collect();
            let e = error.map_or(String::new(), |e| format!(" -> -{e}"));
            format!(
                "submit_bio d{dom} pid {pid} I/O {req}: {op} {len} bytes at {addr:#x}, disk offset {off}, pinned pfns [{}]{e}",
                p.join(", ")
            )
        }
        Event::Dma { dom, req, op, pfn, mfn, owner: o, during } => {
            format!("DMA d{dom} I/O {req} ({during}): {op} pfn {pfn:#x} = mfn {} owned by {}", opt(*mfn), owner(*o))
        }
        Event::BioComplete { dom, req, result } => {
            format!("bio_endio d{dom} I/O {req}: {result}; bio_release_pages unpins")
        }
        Event::IoReaped { dom, req, result } => {
            format!("io_getevents d{dom} I/O {req}: completed earlier, reaped now: {result}")
        }
        Event::Check { dom, function, check, errno } => format!("{function} d{dom}: -{errno}: {check}"),
        Event::DeferredQueued { dom, what } => format!("deferred d{dom}: {what}"),
        Event::DeferredRun { dom, what } => format!("deferred work d{dom} ran: {what}"),
        // include/trace/events/kmem.h: "page=%p pfn=0x%lx order=%d ..."
        Event::PageAlloc { dom, pfn } => format!("mm_page_alloc d{dom}: pfn={pfn:#x} order=0"),
        Event::PageFree { dom, pfn } => format!("mm_page_free d{dom}: pfn={pfn:#x} order=0"),
        Event::KernelLog { dom, line } => format!("dmesg d{dom}: {line}"),
        Event::XenLog { line } => format!("xen: {line}"),
        Event::EventsLeftOut { count } => {
            format!("... {count} more events left out (at most {} a step)", super::MAX_STEP_EVENTS)
        }
    }
}
