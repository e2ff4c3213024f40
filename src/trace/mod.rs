//! The causal event trace: what each action did inside the kernels and Xen,
//! in order, in the words of the code it follows (function names, GNTST_*
//! codes, errno names, log lines).
//!
//! The recorder lives in the hypervisor (`Hypervisor::trace`), the one
//! object every kernel path and every Xen path already holds, so neither
//! side imports the other for it. It is off by default: `emit` takes a
//! closure and builds nothing unless someone asked for events, so the
//! exploration loop pays one branch per site.

use serde::Serialize;
use serde::Serializer;
use std::sync::{Arc, Mutex};

fn hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

fn hex_opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

fn hex_vec<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| format!("{x:#x}")))
}

/// How a page fault was resolved (`handle_mm_fault()` and below).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `do_anonymous_page()` read: the shared zero page, special.
    ZeroPage,
    /// `do_anonymous_page()` write: a new zeroed anonymous page.
    Anonymous,
    /// `wp_page_copy()`: a private copy of the old page (or of zeros).
    Cow,
    /// `wp_page_reuse()`: an exclusive anonymous page made writable.
    Reuse,
    /// `wp_page_shared()`: a shared mapping made writable.
    Shared,
    /// `do_read_fault()` / `do_shared_fault()`: a page-cache page mapped.
    File,
    /// `do_cow_fault()`: a private copy of a page-cache page.
    FileCow,
    /// The PTE was present and allowed the access: only A/D bits set.
    Spurious,
}

/// One thing that happened inside the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A page fault resolved without a signal.
    Fault {
        dom: u16,
        pid: u32,
        #[serde(serialize_with = "hex")]
        addr: u64,
        write: bool,
        how: FaultKind,
        /// The page the PTE now maps.
        #[serde(serialize_with = "hex_opt")]
        pfn: Option<u64>,
        /// For COW: the page it replaced (none for a copy of zeros).
        #[serde(serialize_with = "hex_opt")]
        old_pfn: Option<u64>,
    },
    /// A fault that ends in a signal, and the check that sent it.
    FaultSignal {
        dom: u16,
        pid: u32,
        #[serde(serialize_with = "hex")]
        addr: u64,
        write: bool,
        signal: &'static str,
        code: &'static str,
        why: &'static str,
    },
    /// `zap_pte_range()` cleared one present PTE.
    Zap {
        dom: u16,
        pid: u32,
        #[serde(serialize_with = "hex")]
        addr: u64,
        #[serde(serialize_with = "hex")]
        pte: u64,
        /// `vm_normal_page()`'s page, if any (special PTEs have none).
        #[serde(serialize_with = "hex_opt")]
        pfn: Option<u64>,
    },
    /// `get_user_pages()` / `pin_user_pages()` handed out a page.
    Gup {
        dom: u16,
        pid: u32,
        #[serde(serialize_with = "hex")]
        addr: u64,
        #[serde(serialize_with = "hex")]
        pfn: u64,
        /// FOLL_PIN (else FOLL_GET).
        pin: bool,
    },
    /// `unpin_user_page()` / `put_page()` of a GUP page.
    Unpin {
        dom: u16,
        #[serde(serialize_with = "hex")]
        pfn: u64,
        pin: bool,
    },
    /// `mmu_notifier_invalidate_range_start()` reached a subscriber.
    MmuNotifier {
        dom: u16,
        pid: u32,
        #[serde(serialize_with = "hex")]
        start: u64,
        #[serde(serialize_with = "hex")]
        end: u64,
        subscriber: &'static str,
        /// What the subscriber did, e.g. `gnttab_unmap_refs_sync: waited for in-flight I/O`.
        action: String,
    },
    /// HYPERVISOR_mmu_update for one L1 entry and Xen's verdict.
    MmuUpdate {
        dom: u16,
        #[serde(serialize_with = "hex")]
        ptr: u64,
        #[serde(serialize_with = "hex")]
        val: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        foreign: Option<u16>,
        /// 0, or the negative errno name Xen returned and why.
        result: String,
    },
    /// GNTTABOP_map_grant_ref for one op.
    GrantMap {
        dom: u16,
        granter: u16,
        gref: u32,
        #[serde(serialize_with = "hex")]
        host_addr: u64,
        flags: u32,
        status: &'static str,
        #[serde(serialize_with = "hex_opt")]
        mfn: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        handle: Option<u32>,
    },
    /// GNTTABOP_unmap_grant_ref for one op.
    GrantUnmap {
        dom: u16,
        handle: u32,
        #[serde(serialize_with = "hex")]
        host_addr: u64,
        status: &'static str,
    },
    /// The grant entry's status flags changed (GTF_reading/GTF_writing).
    GrantFlags { granter: u16, gref: u32, from: String, to: String },
    /// `gnttab_end_foreign_access()` in the granting guest.
    EndForeignAccess { dom: u16, gref: u32, result: &'static str },
    /// `__set_phys_to_machine()`.
    P2mSet {
        dom: u16,
        #[serde(serialize_with = "hex")]
        pfn: u64,
        #[serde(serialize_with = "hex")]
        entry: u64,
    },
    /// `m2p_add_override()` / `m2p_remove_override()` (Linux 3.x).
    M2pOverride {
        dom: u16,
        add: bool,
        #[serde(serialize_with = "hex")]
        mfn: u64,
        #[serde(serialize_with = "hex")]
        pfn: u64,
    },
    /// A block request was submitted (`submit_bio` after the pins).
    BioSubmit {
        dom: u16,
        pid: u32,
        req: u64,
        op: &'static str,
        #[serde(serialize_with = "hex")]
        addr: u64,
        len: u64,
        off: u64,
        #[serde(serialize_with = "hex_vec")]
        pfns: Vec<u64>,
        /// The errno the submit failed with, if it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'static str>,
    },
    /// The device's DMA for one page: to or from which machine frame.
    Dma {
        dom: u16,
        req: u64,
        op: &'static str,
        #[serde(serialize_with = "hex")]
        pfn: u64,
        #[serde(serialize_with = "hex_opt")]
        mfn: Option<u64>,
        /// The domain owning that machine frame (none: free or invalid).
        #[serde(skip_serializing_if = "Option::is_none")]
        owner: Option<u16>,
        /// Where the request ran: `io_complete`, or the function that
        /// completed it early (e.g. the MMU notifier waiting for it).
        during: &'static str,
    },
    /// `bio_endio` + `bio_release_pages`: the request is done.
    BioComplete { dom: u16, req: u64, result: String },
    /// `io_getevents()` collected a request another path had completed.
    IoReaped { dom: u16, req: u64, result: String },
    /// A check that made a call fail, in the words of the kernel source.
    Check { dom: u16, function: &'static str, check: String, errno: &'static str },
    /// Work queued to run later (deferred grant ends, async unmaps).
    DeferredQueued { dom: u16, what: String },
    /// Deferred work ran (after the step, as a timer would).
    DeferredRun { dom: u16, what: String },
    /// `mm_page_alloc`: the page allocator handed out a page (order 0).
    PageAlloc {
        dom: u16,
        #[serde(serialize_with = "hex")]
        pfn: u64,
    },
    /// `mm_page_free`: a page went back to the page allocator (order 0).
    PageFree {
        dom: u16,
        #[serde(serialize_with = "hex")]
        pfn: u64,
    },
    /// A line of a guest kernel's log (dmesg).
    KernelLog { dom: u16, line: String },
    /// A line of Xen's console.
    XenLog { line: String },
    /// The events past the first [`MAX_STEP_EVENTS`] of one step, left out
    /// (model output, not a kernel event): how many.
    EventsLeftOut { count: u64 },
}

/// The most events one step records (what one [`Trace::take`] returns,
/// besides the [`Event::EventsLeftOut`] count of the rest). A `touch` of
/// 64 GiB faults 16 Mi times: recording each made `run --json` print a
/// 1.7 GB line and hold 14 GB.
pub const MAX_STEP_EVENTS: usize = 10_000;

/// The per-world trace buffer, off by default.
///
/// One buffer serves the whole world: the hypervisor holds it and every
/// guest kernel's page allocator holds a handle to the same buffer
/// (`Trace::share`), so page allocations and frees land in order among the
/// faults and hypercalls that caused them. Off, a handle is `None` and
/// `emit` is one branch.
#[derive(Debug, Default)]
pub struct Trace {
    sink: Option<Arc<Mutex<Buffer>>>,
}

/// The events since the last take, and how many more were left out.
#[derive(Debug, Default)]
struct Buffer {
    events: Vec<Event>,
    left_out: u64,
}

impl Buffer {
    /// Keep `e`, or only count it past [`MAX_STEP_EVENTS`]. Out of line, so
    /// that the many `emit` sites stay as small as with a plain push.
    #[inline(never)]
    fn push(&mut self, e: Event) {
        if self.events.len() < MAX_STEP_EVENTS {
            self.events.push(e);
        } else {
            self.left_out += 1;
        }
    }
}

impl Trace {
    /// Start recording.
    pub fn enable(&mut self) {
        if self.sink.is_none() {
            self.sink = Some(Arc::default());
        }
    }
    #[inline]
    pub fn on(&self) -> bool {
        self.sink.is_some()
    }
    /// Another handle on the same buffer (off if this one is off).
    pub fn share(&self) -> Trace {
        Trace { sink: self.sink.clone() }
    }
    /// Record the event `f` builds, only when recording; past
    /// [`MAX_STEP_EVENTS`] since the last take, only count it.
    #[inline]
    pub fn emit(&mut self, f: impl FnOnce() -> Event) {
        if let Some(s) = &self.sink {
            let e = f();
            s.lock().unwrap_or_else(|p| p.into_inner()).push(e);
        }
    }
    /// The events recorded since the last take, ending with
    /// [`Event::EventsLeftOut`] when some were only counted.
    pub fn take(&mut self) -> Vec<Event> {
        let Some(s) = &self.sink else { return Vec::new() };
        let mut b = s.lock().unwrap_or_else(|p| p.into_inner());
        let mut events = std::mem::take(&mut b.events);
        if b.left_out > 0 {
            events.push(Event::EventsLeftOut { count: std::mem::take(&mut b.left_out) });
        }
        events
    }
}

pub mod text;
