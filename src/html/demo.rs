//! `demo --html DIR`: the seed scenario's page under each kernel variant
//! and an index putting the four side by side.

use super::page::{IndexEntry, index, render};
use crate::demo::{SEED_SCENARIO, blurb, tell};
use crate::kernel::variant::Variant;
use std::path::{Path, PathBuf};

/// The pages as `(file name, contents)`: one per variant, then index.html.
pub fn pages() -> Result<Vec<(String, String)>, String> {
    let checked = crate::script::parse_and_check("seed.mms", SEED_SCENARIO)
        .map_err(|e| crate::script::render_errors("seed.mms", SEED_SCENARIO, &e, false))?;
    let mut out = Vec::new();
    let mut entries = Vec::new();
    for kind in Variant::ALL {
        let v = Variant::new(kind);
        let rec = super::record("seed.mms", &checked, v);
        let name = format!("{}.html", v.name());
        let story = tell(v).map(|(s, _)| s).ok();
        let mut rows = Vec::new();
        let mut violations = Vec::new();
        if let Some(s) = &story {
            rows.push(("pread".to_string(), s.pread.clone()));
            rows.push(("GUP found".to_string(), s.gup.clone()));
            rows.push(("DMA".to_string(), s.dma.clone()));
            rows.push(("domU reads".to_string(), s.domu_sees.clone()));
            violations = s.violations.clone();
        }
        let steps = rec
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == "action" || s.kind == "check")
            .map(|(i, s)| {
                let class = if s.violations > 0 {
                    "viol"
                } else if s.failed {
                    "fail"
                } else {
                    ""
                };
                (i + 1, checked.line_text(s.line).trim().to_string(), class)
            })
            .collect();
        entries.push(IndexEntry {
            variant: v.name().to_string(),
            blurb: blurb(kind).to_string(),
            href: name.clone(),
            passed: rec.passed(),
            rows,
            violations,
            steps,
        });
        out.push((name, render(&rec)));
    }
    let intro = "domU grants page p to dom0. qemu, a dom0 process, maps the grant with /dev/xen/gntdev and reads \
                 4 KiB of 0x5a from disk xvda into it with O_DIRECT: get_user_pages() must find the struct page \
                 behind a PTE that holds domU's machine frame. Four kernels, four answers; click a line to step \
                 through that variant from there.";
    out.push((
        "index.html".to_string(),
        index("mmsim demo: O_DIRECT into a page another Xen guest granted", intro, &entries),
    ));
    Ok(out)
}

/// Write [`pages`] into `dir` (created); the paths written.
pub fn write(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let pages = pages().map_err(std::io::Error::other)?;
    let mut written = Vec::new();
    for (name, text) in pages {
        let p = dir.join(name);
        std::fs::write(&p, text)?;
        written.push(p);
    }
    Ok(written)
}
