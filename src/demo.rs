//! `mmsim demo`: the seed's story, told by running the built-in scenario
//! (the same as examples/seed.mms) under every kernel variant and
//! reading the outcome off the model: which page GUP found, where the DMA
//! went, whether domU got its data, which invariants broke.

use crate::kernel::memory::NormalPage;
use crate::kernel::variant::{Variant, VariantKind};
use crate::run::output::{Style, format_bytes};
use crate::run::{CallResult, Event, Runner};
use crate::script::{self, Value};
use crate::world::World;

/// The built-in scenario: domU grants a page, a dom0 process maps it with
/// gntdev and reads 4 KiB from disk into it with O_DIRECT.
pub const SEED_SCENARIO: &str = "\
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x\"5a\" * 4096)
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open(\"/dev/xen/gntdev\", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off)
qemu: d = open(\"/dev/xvda\", O_RDWR|O_DIRECT)
qemu: pread(d, a, 4096, 0) = 4096
domU: read_page(p, 0, 4) = x\"5a5a5a5a\"
check
";

/// What one variant did with the seed scenario.
#[derive(Debug, Clone)]
pub struct Story {
    pub variant: Variant,
    pub pread: String,
    pub gup: String,
    pub dma: String,
    pub domu_sees: String,
    pub violations: Vec<String>,
    pub passed: bool,
}

/// One line on what a kernel variant stands for.
pub(crate) fn blurb(v: VariantKind) -> &'static str {
    match v {
        VariantKind::FindSpecialPage => "Linux >= 4.0: special PTE, vm_ops->find_special_page",
        VariantKind::M2pOverride => "Linux 2.6.39-3.19: m2p override table in mfn_to_pfn",
        VariantKind::NoSpecialPte => "no special bit, no override: M2P decides",
        VariantKind::NoFindSpecialPage => "special PTE without the hook",
    }
}

fn int(r: &Runner, name: &str) -> Option<u64> {
    match r.var(name) {
        Some(Value::Int(v)) => Some(*v),
        _ => None,
    }
}

/// Run the seed scenario under `variant` and read the story off the model.
pub fn tell(variant: Variant) -> Result<(Story, World), String> {
    let checked = script::parse_and_check("seed", SEED_SCENARIO)
        .map_err(|e| script::render_errors("seed", SEED_SCENARIO, &e, false))?;
    let mut r = Runner::new(&checked, variant);
    let mut events = Vec::new();
    let outcome = r.run(&mut |e: &Event| events.push(e.clone())).map_err(|e| e.to_string())?;
    let pread = events
        .iter()
        .find_map(|e| match e {
            Event::Step { call, result, .. } if call.starts_with("pread") => {
                Some(crate::run::output::format_result(result))
            }
            _ => None,
        })
        .unwrap_or_default();
    let domu_sees = events
        .iter()
        .find_map(|e| match e {
            Event::Step { call, result: CallResult::Bytes(b), .. } if call.starts_with("read_page") => {
                Some(format_bytes(b))
            }
            _ => None,
        })
        .unwrap_or_default();
    let violations: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Violation { violation, .. } => Some(format!("{}: {}", violation.invariant, violation.message)),
            _ => None,
        })
        .collect();
    // Re-ask vm_normal_page the question GUP asked, and follow page_to_mfn
    // as the block driver did.
    let (mut gup, mut dma) = ("-".to_string(), "- (no DMA: the read failed)".to_string());
    if let (Some((dom, pid)), Some(a)) = (r.pid_of("qemu"), int(&r, "a")) {
        let w = &r.world;
        let hv = &w.hv;
        if let Ok(k) = w.kernel(dom)
            && let Ok(mm) = k.mm(pid)
        {
            let pte = k.page_tables().pte(mm.pgd, a);
            if let Some(vma) = mm.vma_at(a).cloned() {
                let backing = vma.ops.as_ref().and_then(|o| o.backing_page(&vma, a));
                gup = match k.vm_normal_page_quiet(hv, &vma, a, pte) {
                    NormalPage::Page(pfn) => {
                        let whose = if Some(pfn) == backing { "the gntdev page" } else { "a wrong page" };
                        let target = k.page_to_mfn(pfn);
                        if pread.parse::<u64>().is_ok() {
                            dma = match target {
                                Some(m) => {
                                    let owner = hv
                                        .machine
                                        .owner(m)
                                        .and_then(|o| hv.domain(o))
                                        .map_or("nobody".to_string(), |d| d.name.clone());
                                    format!("mfn {:#x}, a frame of {owner}", m.0)
                                }
                                None => "an invalid bus address".to_string(),
                            };
                        }
                        format!("pfn {:#x}, {whose}", pfn.0)
                    }
                    other => format!("no page ({other:?})"),
                };
            }
        }
    }
    let story = Story { variant, pread, gup, dma, domu_sees, violations, passed: outcome.status() == 0 };
    Ok((story, r.world))
}

/// The demo text, at most 80 columns wide.
pub fn render(color: bool) -> String {
    let st = Style { color };
    let mut s = String::new();
    s.push_str(&st.bold("mmsim demo: O_DIRECT into a page another Xen guest granted"));
    s.push_str("\n\n");
    s.push_str("  domU grants page p to dom0. qemu, a dom0 process, maps the grant with\n");
    s.push_str("  /dev/xen/gntdev and reads 4 KiB of 0x5a from disk xvda into it with\n");
    s.push_str("  O_DIRECT: get_user_pages() must find the struct page behind a PTE that\n");
    s.push_str("  holds domU's machine frame. Four kernels, four answers:\n\n");
    let mut first_world = None;
    for kind in Variant::ALL {
        let v = Variant::new(kind);
        match tell(v) {
            Ok((story, world)) => {
                let verdict = if story.passed { st.green("PASS") } else { st.red("FAIL") };
                s.push_str(&format!("  {} {}  {}\n", verdict, st.bold(v.name()), st.dim(blurb(kind))));
                s.push_str(&format!("       pread -> {:<8} GUP found {}\n", story.pread, story.gup));
                s.push_str(&format!("       DMA   -> {:<32} domU reads {}\n", story.dma, story.domu_sees));
                for viol in story.violations.iter().take(3) {
                    let mut line = format!("       ! {viol}");
                    if line.chars().count() > 79 {
                        line = line.chars().take(76).collect::<String>() + "...";
                    }
                    s.push_str(&st.red(&line));
                    s.push('\n');
                }
                s.push('\n');
                if kind == VariantKind::FindSpecialPage {
                    first_world = Some(world);
                }
            }
            Err(e) => s.push_str(&format!("  {}: could not run: {e}\n", v.name())),
        }
    }
    if let Some(w) = first_world {
        s.push_str(&inside(&w, st));
    }
    s.push_str("  Next: mmsim run examples/seed.mms --kernel no-special-pte\n");
    s
}

/// The demo as JSON lines (schema 2): one `demo` record per kernel variant.
pub fn render_json() -> String {
    let mut s = String::new();
    for kind in Variant::ALL {
        let v = Variant::new(kind);
        let rec = match tell(v) {
            Ok((st, _)) => serde_json::json!({
                "schema": crate::run::output::SCHEMA, "type": "demo", "kernel": v.to_string(), "about": blurb(kind),
                "pread": st.pread, "gup": st.gup, "dma": st.dma, "domu_sees": st.domu_sees,
                "violations": st.violations, "passed": st.passed
            }),
            Err(e) => serde_json::json!({
                "schema": crate::run::output::SCHEMA, "type": "error", "file": "seed", "line": null,
                "column": null, "message": e, "help": null
            }),
        };
        s.push_str(&rec.to_string());
        s.push('\n');
    }
    s
}

/// qemu's address space and the page-table walk of the gntdev page, in the
/// fixed kernel.
fn inside(w: &World, st: Style) -> String {
    let mut s = String::new();
    let Some(dom0) = w.domain_by_name("dom0") else { return s };
    let Ok(k) = w.kernel(dom0) else { return s };
    let Some((&pid, _)) = k.procs.iter().next() else { return s };
    s.push_str(&st.bold("  Inside dom0 under find-special-page: qemu's /proc/PID/maps"));
    s.push('\n');
    for l in crate::report::maps(k, pid).lines() {
        // The kernel pads the path to column 73; squeeze it for 80 columns.
        let squeezed: Vec<&str> = l.split_whitespace().collect();
        s.push_str("    ");
        s.push_str(&squeezed.join(" "));
        s.push('\n');
    }
    let Ok(mm) = k.mm(pid) else { return s };
    if let Some(v) = mm.vmas.values().find(|v| v.ops.is_some()) {
        s.push('\n');
        s.push_str(&st.bold(&format!("  The page-table walk of {:#x}", v.start)));
        s.push('\n');
        const LEVEL: [&str; 5] = ["", "PTE", "PMD", "PUD", "PGD"];
        for step in k.page_tables().walk(mm.pgd, v.start) {
            let names = crate::arch::x86_64::flag_names(step.entry).join(" ");
            let names = names.replace("SPECIAL", &st.red("SPECIAL"));
            let mut line =
                format!("    {}[{:>3}] {:#018x}  {names}", LEVEL[step.level as usize], step.index, step.entry.0);
            if step.level == 1 {
                let m = step.entry.frame();
                let owner =
                    w.hv.machine
                        .owner(crate::kernel::page::Mfn(m))
                        .and_then(|o| w.hv.domain(o))
                        .map_or("?".to_string(), |d| d.name.clone());
                line.push_str(&format!("\n             -> mfn {m:#x}, a frame of {owner}"));
            }
            s.push_str(&line);
            s.push('\n');
        }
    }
    s.push('\n');
    s
}
