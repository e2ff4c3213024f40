//! The causal trace: every violation of every shipped scenario, under
//! every kernel variant, is reported at the line of the action that caused
//! it, and that action's events show why (the GUP that handed out the
//! wrong page, the DMA into a frame the guest no longer has). Plus the
//! stories of issue 10: munmap performing the pending DMA through the
//! gntdev notifier, a gntdev mmap of the wrong size, a deferred end of
//! foreign access.

use mmsim::kernel::variant::{UnmapPolicy, Variant, VariantKind};
use mmsim::run::{Event, Runner};
use mmsim::script;
use mmsim::trace::Event as T;
use std::path::Path;

fn run(name: &str, src: &str, variant: Variant, trace: bool) -> Vec<Event> {
    let checked = script::parse_and_check(name, src).expect("scenario checks");
    let mut r = Runner::new(&checked, variant);
    if trace {
        r.enable_trace();
    }
    let mut out = Vec::new();
    r.run(&mut |e| out.push(e.clone())).expect("runs");
    out
}

fn variants() -> Vec<Variant> {
    let mut v = Vec::new();
    for k in VariantKind::ALL {
        for u in UnmapPolicy::ALL {
            let mut x = Variant::new(k);
            x.unmap = u;
            v.push(x);
        }
    }
    v
}

fn scenarios() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("scenarios")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).expect("read")))
        .filter(|(n, _)| n.ends_with(".mms"))
        .collect();
    v.sort();
    v
}

/// Whether the action's events explain the violation.
fn explains(inv: &str, message: &str, pfns: &[u64], mfns: &[u64], events: &[T]) -> bool {
    let at = |addr: &u64| message.contains(&format!("GUP at {addr:#x}"));
    events.iter().any(|e| match (inv, e) {
        // The GUP at that address handed out a page (the wrong one), or
        // found none where the driver has one.
        ("gup-wrong-page", T::Gup { addr, .. }) => at(addr),
        ("gup-wrong-page", T::Check { function: "follow_page_pte", errno: "EEXIST", check, .. }) => {
            let a = message.split("GUP at ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("?");
            check.contains(&format!("at {a}:"))
        }
        ("dma-misdirected", T::Dma { pfn, mfn, .. }) => {
            pfns.contains(pfn) && mfn.is_none_or(|m| mfns.first() == Some(&m) || !mfns.contains(&m))
        }
        ("dma-not-granted", T::Dma { mfn: Some(m), .. }) => mfns.contains(m),
        // Any other invariant: the action did something to those frames.
        (_, _) => !matches!(inv, "gup-wrong-page" | "dma-misdirected" | "dma-not-granted"),
    })
}

#[test]
fn every_violation_is_at_its_action_and_explained() {
    let mut seen = 0;
    for (name, src) in scenarios() {
        for v in variants() {
            let evs = run(&name, &src, v, true);
            let mut last_step: Option<(u32, &Vec<T>)> = None;
            for e in &evs {
                match e {
                    Event::Step { line, events, .. } => last_step = Some((*line, events)),
                    Event::Violation { line, violation, context, .. } => {
                        seen += 1;
                        let (sl, events) = last_step.unwrap_or_else(|| {
                            panic!("{name} ({v}): {} at {line} before any action", violation.invariant)
                        });
                        assert_eq!(
                            sl, *line,
                            "{name} ({v}): {} reported at line {line}, not at the action (line {sl}) before it",
                            violation.invariant
                        );
                        assert!(
                            explains(
                                violation.invariant.as_str(),
                                &violation.message,
                                &violation.pfns,
                                &violation.mfns,
                                events
                            ),
                            "{name} ({v}) line {line}: no event explains {}: {}\nevents: {events:#?}",
                            violation.invariant,
                            violation.message
                        );
                        assert!(context.is_some(), "tracing attaches the frames' struct page");
                    }
                    Event::Show { .. } => {}
                }
            }
        }
    }
    assert!(seen > 50, "the shipped scenarios break invariants under some variants ({seen})");
}

#[test]
fn without_trace_no_events_and_the_same_results() {
    for (name, src) in scenarios() {
        let off = run(&name, &src, Variant::default(), false);
        let on = run(&name, &src, Variant::default(), true);
        assert_eq!(off.len(), on.len(), "{name}");
        for (a, b) in off.iter().zip(&on) {
            match (a, b) {
                (Event::Step { events, result, .. }, Event::Step { result: r2, .. }) => {
                    assert!(events.is_empty(), "{name}: events recorded with the trace off");
                    assert_eq!(result, r2, "{name}: tracing changed a result");
                }
                (Event::Violation { violation: x, context, .. }, Event::Violation { violation: y, .. }) => {
                    assert!(context.is_none());
                    assert_eq!(x, y, "{name}");
                }
                (Event::Show { text: x, .. }, Event::Show { text: y, .. }) => assert_eq!(x, y, "{name}"),
                _ => panic!("{name}: event kinds differ with tracing"),
            }
        }
    }
}

fn step_events(evs: &[Event], want: u32) -> Vec<T> {
    evs.iter()
        .find_map(|e| match e {
            Event::Step { line, events, .. } if *line == want => Some(events.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no step at line {want}"))
}

const HEADER: &str = "kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0
";

fn line_of(src: &str, needle: &str) -> u32 {
    src.lines().position(|l| l.contains(needle)).expect("line") as u32 + 1
}

/// Default variant (gntdev's notifier waits for in-flight I/O): munmap
/// performs the pending DMA into domU's frame; io_complete only reaps.
#[test]
fn munmap_with_io_in_flight_does_the_dma_in_the_notifier() {
    let src = format!(
        "{HEADER}xvda: write(0, \"disk block 0\")
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open(\"/dev/xen/gntdev\", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off)
qemu: d = open(\"/dev/xvda\", O_RDWR|O_DIRECT)
qemu: r = io_submit(d, READ, a, 4096, 0)
qemu: munmap(a, 4096) = 0
qemu: io_complete(r) = 4096
"
    );
    let evs = run("t.mms", &src, Variant::default(), true);
    let m = step_events(&evs, line_of(&src, "munmap"));
    let notifier = m.iter().position(|e| {
        matches!(e, T::MmuNotifier { action, .. } if action.contains("gnttab_unmap_refs_sync: waits for in-flight I/O"))
    });
    let dma = m
        .iter()
        .position(|e| matches!(e, T::Dma { during, owner: Some(1), .. } if during.contains("gnttab_unmap_refs_sync")));
    let unmap = m.iter().position(|e| matches!(e, T::GrantUnmap { status: "GNTST_okay", .. }));
    let (n, d, u) = (notifier.expect("notifier"), dma.expect("DMA into domU's frame"), unmap.expect("grant unmap"));
    assert!(n < d && d < u, "notifier, then the DMA, then the grant unmap: {m:#?}");
    let c = step_events(&evs, line_of(&src, "io_complete"));
    assert!(c.iter().any(|e| matches!(e, T::IoReaped { result, .. } if result == "4096")), "{c:#?}");
    assert!(!c.iter().any(|e| matches!(e, T::Dma { .. })), "no second DMA: {c:#?}");
}

/// A gntdev mmap whose size differs from the map's: -EINVAL, and the
/// event says the map has 1 page and the VMA 3.
#[test]
fn gntdev_mmap_of_the_wrong_size_says_why() {
    let src = format!(
        "{HEADER}domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open(\"/dev/xen/gntdev\", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: mmap(NULL, 12288, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = -EINVAL
qemu: mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE, fd, off) = -EINVAL
"
    );
    let evs = run("t.mms", &src, Variant::default(), true);
    let e = step_events(&evs, line_of(&src, "12288"));
    assert!(
        e.iter().any(|x| matches!(x, T::Check { function: "gntdev_mmap", errno: "EINVAL", check, .. }
            if check.contains("has 1 pages, the VMA 3"))),
        "{e:#?}"
    );
    let e = step_events(&evs, line_of(&src, "MAP_PRIVATE"));
    assert!(
        e.iter().any(|x| matches!(x, T::Check { check, .. } if check.contains("!(vma->vm_flags & VM_SHARED)"))),
        "{e:#?}"
    );
}

/// `gnttab_end_foreign_access` while dom0 still maps the grant: -EBUSY,
/// deferred; the grant ends when the deferred timer finds it unmapped.
#[test]
fn end_foreign_access_busy_is_deferred() {
    let src = format!(
        "{HEADER}domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open(\"/dev/xen/gntdev\", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off)
domU: gnttab_end_foreign_access(g) = -EBUSY
qemu: munmap(a, 4096) = 0
"
    );
    let evs = run("t.mms", &src, Variant::default(), true);
    let e = step_events(&evs, line_of(&src, "end_foreign_access"));
    assert!(e.iter().any(|x| matches!(x, T::EndForeignAccess { result, .. } if result.contains("deferred"))), "{e:#?}");
    assert!(e.iter().any(|x| matches!(x, T::DeferredQueued { .. })), "{e:#?}");
    assert!(e.iter().any(|x| matches!(x, T::KernelLog { line, .. } if line.contains("still in use"))), "{e:#?}");
}

/// Faults say what they did: a read maps the zero page; a write there is
/// `wp_page_copy` of a page without struct page (old pfn none); after
/// fork a write copies the shared page; outside any VMA, SEGV_MAPERR.
#[test]
fn faults_name_their_kind() {
    let src = "domain host native
process p in host
p: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
p: load(a, 1)
p: store(a, \"x\")
p: child = fork()
p: store(a, \"y\")
p: store(a + 8192, \"z\")
";
    let evs = run("t.mms", src, Variant::default(), true);
    let kind = |l: u32| -> Vec<T> { step_events(&evs, l) };
    use mmsim::trace::FaultKind as F;
    // The read allocates the page tables (mm_page_alloc) and maps the zero
    // page: no data page is allocated.
    let k = kind(4);
    let faults: Vec<&T> = k.iter().filter(|e| !matches!(e, T::PageAlloc { .. })).collect();
    assert!(matches!(faults[..], [T::Fault { how: F::ZeroPage, .. }]), "{k:#?}");
    // The zero page has no struct page to copy: a zeroed new page.
    let k = kind(5);
    assert!(k.iter().any(|e| matches!(e, T::Fault { how: F::Cow, old_pfn: None, pfn: Some(_), .. })), "{k:#?}");
    // After fork the page is shared: the parent's write copies it.
    let k = kind(7);
    assert!(k.iter().any(|e| matches!(e, T::Fault { how: F::Cow, old_pfn: Some(_), pfn: Some(_), .. })), "{k:#?}");
    let k = kind(8);
    assert!(k.iter().any(|e| matches!(e, T::FaultSignal { signal: "SIGSEGV", code: "SEGV_MAPERR", .. })), "{k:#?}");
}

/// The page allocator's events (`mm_page_alloc`, `mm_page_free`, from
/// include/trace/events/kmem.h) come in order among the events that caused
/// them: a first write to an anonymous page allocates the PUD, PMD and PTE
/// tables (`__pud_alloc`, `__pmd_alloc`, `__pte_alloc`; the PGD exists and
/// the P4D is folded), then the data page (`do_anonymous_page`'s
/// `vma_alloc_zeroed_movable_folio`) before the fault maps it. munmap zaps
/// the PTE, then frees the page (`tlb_finish_mmu` after `zap_pte_range`),
/// then the now empty tables (`free_pgtables`).
#[test]
fn page_allocation_and_free_are_in_the_trace() {
    let src = "domain host native
process p in host
p: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
p: store(a, \"x\")
p: munmap(a, 4096)
";
    let evs = run("t.mms", src, Variant::default(), true);
    let w = step_events(&evs, 4);
    let allocs: Vec<u64> =
        w.iter().filter_map(|e| if let T::PageAlloc { pfn, .. } = e { Some(*pfn) } else { None }).collect();
    assert_eq!(allocs.len(), 4, "three tables and the data page: {w:#?}");
    let fault_at = w.iter().position(|e| matches!(e, T::Fault { .. })).expect("the fault");
    let T::Fault { pfn: Some(page), .. } = w[fault_at] else { panic!("{w:#?}") };
    assert_eq!(allocs[3], page, "the data page is the last allocation: {w:#?}");
    assert!(
        matches!(w[fault_at - 1], T::PageAlloc { pfn, .. } if pfn == page),
        "allocated before the fault maps it: {w:#?}"
    );
    let u = step_events(&evs, 5);
    let zap = u.iter().position(|e| matches!(e, T::Zap { pfn: Some(p), .. } if *p == page)).expect("the zap");
    let frees: Vec<u64> =
        u.iter().filter_map(|e| if let T::PageFree { pfn, .. } = e { Some(*pfn) } else { None }).collect();
    let first_free = u.iter().position(|e| matches!(e, T::PageFree { .. })).expect("a free");
    assert!(first_free > zap, "freed after the zap: {u:#?}");
    assert_eq!(frees[0], page, "the data page goes first, then the tables: {u:#?}");
    let mut tables = frees[1..].to_vec();
    tables.sort();
    let mut want = allocs[..3].to_vec();
    want.sort();
    assert_eq!(tables, want, "free_pgtables frees the three tables: {u:#?}");
    // The text form is the kernel's tracepoint format.
    let line = mmsim::trace::text::event_line(&T::PageAlloc { dom: 0, pfn: page });
    assert_eq!(line, format!("mm_page_alloc d0: pfn={page:#x} order=0"));
}

/// README's `--trace` excerpt of the seed is what `mmsim run --trace`
/// prints: each of its lines is a line of the run under the fixed kernel
/// (first block) or under `no-special-pte` (second block).
#[test]
fn readme_trace_excerpt_is_real_output() {
    use mmsim::run::output::{Style, event_text};
    let readme = include_str!("../../README.md");
    let excerpt = readme.split("<!-- trace-excerpt -->").nth(1).and_then(|r| r.split("<!-- /trace-excerpt -->").next());
    let blocks: Vec<&str> =
        excerpt.expect("README has the trace excerpt").split("```").filter(|b| !b.trim().is_empty()).collect();
    assert_eq!(blocks.len(), 2, "two blocks: fixed kernel, no-special-pte");
    let src = include_str!("../../examples/seed.mms");
    let fixed = Variant::default();
    let broken = Variant::new(VariantKind::NoSpecialPte);
    for (block, v) in blocks.iter().zip([fixed, broken]) {
        let text: String = run("seed.mms", src, v, true)
            .iter()
            .map(|e| event_text("examples/seed.mms", e, Style { color: false }))
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        for l in block.lines().filter(|l| !l.trim().is_empty()) {
            assert!(lines.contains(&l), "README line not in the --trace output under {v}: {l:?}\n{text}");
        }
    }
}

/// `unpin_user_pages` says which pages it unpinned, in the order
/// pin_user_pages handed them out.
#[test]
fn unpin_names_the_pages() {
    let src = "domain host native
process p in host
p: a = mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
p: pins = pin_user_pages(a, 2, FOLL_WRITE) = 2
p: unpin_user_pages(pins) = 2
";
    let evs = run("t.mms", src, Variant::default(), true);
    let pinned: Vec<u64> = step_events(&evs, 4)
        .iter()
        .filter_map(|e| match e {
            T::Gup { pfn, pin: true, .. } => Some(*pfn),
            _ => None,
        })
        .collect();
    let unpinned: Vec<u64> = step_events(&evs, 5)
        .iter()
        .filter_map(|e| match e {
            T::Unpin { pfn, pin: true, .. } => Some(*pfn),
            _ => None,
        })
        .collect();
    assert_eq!(pinned.len(), 2, "{evs:#?}");
    assert_eq!(unpinned, pinned);
}

/// A violation's context shows the frames' struct page, the page-table
/// walk of the address it is about (its PTE holding domU's frame) and the
/// grant mappings of that frame.
#[test]
fn violation_context_has_walk_and_grant() {
    let src = include_str!("../../examples/seed.mms");
    let evs = run("seed.mms", src, Variant::new(VariantKind::NoSpecialPte), true);
    let c = evs
        .iter()
        .find_map(|e| match e {
            Event::Violation { violation, context, .. } if violation.invariant == "gup-wrong-page" => context.clone(),
            _ => None,
        })
        .expect("gup-wrong-page with context under no-special-pte");
    assert!(c.pages.contains("d0 pfn 0x4fff:"), "{}", c.text());
    assert_eq!(c.walks.len(), 1, "qemu maps the address: {}", c.text());
    assert!(c.walks[0].contains("PTE[") && c.walks[0].contains("-> mfn 0x4002"), "{}", c.walks[0]);
    assert!(c.grants.iter().any(|g| g.contains("d1 ref 0x8 mfn 0x4002")), "{:?}", c.grants);
}
