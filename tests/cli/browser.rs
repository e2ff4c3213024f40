//! The step-through pages (`run --html`, `demo --html`), checked as files
//! always and, when Debian's chromium is installed (`.ci/run` installs
//! it), opened in headless Chromium and driven through the DevTools
//! protocol: keys, clicks, what is on screen, the console.

use super::browser_cdp;

use browser_cdp::{Browser, CHROMIUM};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mmsim-browser-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn mmsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mmsim")).args(args).output().expect("run mmsim")
}

/// The JSON the page embeds.
fn page_data(page: &str) -> Value {
    let start = page.find("id=\"mmsim-data\">").expect("data element") + "id=\"mmsim-data\">".len();
    let end = start + page[start..].find("</script>").expect("end of data");
    serde_json::from_str(&page[start..end]).expect("embedded JSON parses")
}

/// Self-contained: nothing fetched from anywhere.
fn assert_offline(name: &str, page: &str) {
    for bad in ["<script src", "<link rel=\"stylesheet\"", "@import", "url(http", "src=\"http", "href=\"http"] {
        assert!(!page.contains(bad), "{name}: contains {bad}");
    }
}

/// Every shipped scenario: examples/ and tests/scenarios/.
fn shipped() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    for dir in ["examples", "tests/scenarios"] {
        for e in std::fs::read_dir(root.join(dir)).expect("dir").flatten() {
            if e.path().extension().is_some_and(|x| x == "mms") {
                v.push(e.path());
            }
        }
    }
    v.sort();
    v
}

fn demo_pages(dir: &Path) {
    let out = mmsim(&["demo", "--html", dir.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn pages_as_files() {
    let dir = tmpdir("static");
    demo_pages(&dir);
    let again = tmpdir("static2");
    demo_pages(&again);
    for v in ["find-special-page", "m2p-override", "no-special-pte", "no-find-special-page", "index"] {
        let name = format!("{v}.html");
        let page = read(&dir.join(&name));
        assert_offline(&name, &page);
        assert_eq!(page, read(&again.join(&name)), "{name}: same input, same bytes");
        if v == "index" {
            assert_eq!(page.matches("class=\"column\"").count(), 4, "four variants side by side");
            continue;
        }
        let d = page_data(&page);
        let steps = d["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 14, "{name}: one entry per script step");
        let pread = &steps[11];
        assert_eq!(pread["line"], 14);
        let viol = pread["violations"].as_u64().unwrap_or(0);
        if v == "find-special-page" || v == "m2p-override" {
            assert_eq!(viol, 0, "{name}");
        } else {
            assert!(viol > 0, "{name}: the violation is at the pread step");
        }
        // The step's records are run --json's.
        assert_eq!(pread["records"][0]["type"], "step");
        assert_eq!(pread["records"][0]["actor"], "qemu");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&again);
}

#[test]
fn run_html_on_every_shipped_scenario() {
    let dir = tmpdir("shipped");
    let files = shipped();
    assert!(files.len() >= 30, "found {} scenarios", files.len());
    let args: Vec<&str> = ["run", "--html", dir.to_str().expect("utf-8")]
        .into_iter()
        .chain(files.iter().map(|f| f.to_str().expect("utf-8")))
        .collect();
    let out = mmsim(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    for f in &files {
        let stem = f.file_stem().and_then(|s| s.to_str()).expect("stem");
        let page = read(&dir.join(format!("{stem}.html")));
        assert_offline(stem, &page);
        let d = page_data(&page);
        let src = read(f);
        let checked = mmsim::script::parse_and_check(stem, &src).expect("shipped scenarios check");
        assert_eq!(d["steps"].as_array().map(Vec::len), Some(checked.steps.len()), "{stem}");
        assert!(d["error"].is_null(), "{stem}: {}", d["error"]);
    }
    // One file: OUT is the page itself.
    let one = dir.join("seed-page.html");
    let out = mmsim(&["run", "--html", one.to_str().expect("utf-8"), "examples/seed.mms"]);
    assert!(out.status.success());
    assert!(read(&one).contains("mmsim-data"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn chromium() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    println!("not compared: chromium missing ({CHROMIUM}); the pages were checked as files only");
    false
}

fn url(p: &Path, frag: &str) -> String {
    format!("file://{}{frag}", p.display())
}

fn current_line(b: &mut Browser) -> i64 {
    b.eval("(() => { const e = document.querySelectorAll('#script .line.current'); return e.length === 1 ? +e[0].dataset.line : -e.length; })()")
        .as_i64()
        .unwrap_or(-100)
}

#[test]
fn demo_pages_in_chromium() {
    if !chromium() {
        return;
    }
    let dir = tmpdir("chromium");
    demo_pages(&dir);
    let mut b = Browser::start(&dir.join("profile"));

    // The broken variant: step, jump to the violation, look at it.
    b.open(&url(&dir.join("no-special-pte.html"), ""));
    assert_eq!(current_line(&mut b), 2, "step 1 is `domain dom0` on line 2");
    b.key("ArrowRight");
    assert_eq!(current_line(&mut b), 3);
    b.key("j");
    assert_eq!(current_line(&mut b), 4);
    b.key("k");
    b.key("ArrowLeft");
    assert_eq!(current_line(&mut b), 2);
    b.key("n");
    assert_eq!(current_line(&mut b), 14, "n: the pread that broke invariants");
    assert_eq!(b.eval("location.hash"), "#step=12");
    let red = b.eval(
        "(() => { const l = document.querySelector('#script .line.viol[data-line=\"14\"]'); \
         return l ? getComputedStyle(l.querySelector('.ln')).color : null; })()",
    );
    assert_eq!(red, "rgb(198, 40, 40)", "the violating line is marked red");
    let viols = b.eval("[...document.querySelectorAll('#step .violation')].map(e => e.textContent)");
    let viols = viols.as_array().expect("array");
    assert!(viols.iter().any(|v| v.as_str().is_some_and(|s| s.contains("gup-wrong-page"))), "{viols:?}");
    // The walk of the gntdev address: no SPECIAL bit in this variant.
    assert_eq!(b.eval("document.getElementById('walk-addr').textContent"), "0x7ffff7ffe000");
    let pte = b.eval(
        "(() => { const r = document.querySelector('#walk-table tr[data-level=\"PTE\"]'); \
         return [r.querySelector('.entry').textContent, [...r.querySelectorAll('.bit')].map(e => e.textContent)]; })()",
    );
    assert_eq!(pte[0], "0x8000000004002067");
    assert!(!pte[1].as_array().expect("bits").iter().any(|b| b == "SPECIAL"), "{pte}");
    assert_eq!(b.eval("document.getElementById('walk-normal').textContent"), "page pfn 0x0");
    // Frames coloured by owner: the DMA hit dom0's frame 0, domU owns 0x4002.
    let frames = b.eval(
        "[...document.querySelectorAll('.frame')].map(e => [e.dataset.mfn, getComputedStyle(e).backgroundColor, e.classList.contains('dma')])",
    );
    let frames = frames.as_array().expect("frames");
    let find = |m: &str| frames.iter().find(|f| f[0] == m).unwrap_or_else(|| panic!("frame {m} in {frames:?}")).clone();
    assert_eq!(find("0x0")[1], "rgb(78, 121, 167)", "dom0's colour");
    assert_eq!(find("0x0")[2], true, "the frame the DMA wrote");
    assert_eq!(find("0x4002")[1], "rgb(242, 142, 43)", "domU's colour");
    assert_eq!(find("0x4002")[2], false);
    // Follow the walk's frame: it becomes the selected frame.
    b.click("#walk-mfn");
    assert_eq!(b.eval("document.querySelector('.frame.selected').dataset.mfn"), "0x4002");
    // A line click selects its step; the fragment follows.
    b.click("#script .line[data-line=\"10\"]");
    assert_eq!(current_line(&mut b), 10);
    assert_eq!(b.eval("location.hash"), "#step=8");
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console: {errors:?}");

    // The fixed variant, opened at a step by its fragment.
    b.open(&url(&dir.join("find-special-page.html"), "#step=12"));
    assert_eq!(current_line(&mut b), 14);
    assert_eq!(b.eval("document.querySelectorAll('#script .line.viol').length"), 0);
    let bits =
        b.eval("[...document.querySelectorAll('#walk-table tr[data-level=\"PTE\"] .bit')].map(e => e.textContent)");
    assert!(bits.as_array().expect("bits").iter().any(|b| b == "SPECIAL"), "{bits}");
    assert_eq!(b.eval("document.querySelector('.frame.dma').dataset.mfn"), "0x4002", "DMA into domU's frame");
    // Click the page of the gntdev VMA: its walk is shown.
    b.click(".vma.kind-gntdev .pg");
    assert_eq!(b.eval("document.getElementById('walk-addr').textContent"), "0x7ffff7ffe000");
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console: {errors:?}");

    // The index: four columns, the broken ones with a red step.
    b.open(&url(&dir.join("index.html"), ""));
    assert_eq!(b.eval("document.querySelectorAll('.column').length"), 4);
    assert_eq!(b.eval("document.querySelectorAll('.column[data-variant=\"no-special-pte\"] li.viol').length"), 1);
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console: {errors:?}");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_shipped_scenario_steps_in_chromium() {
    if !chromium() {
        return;
    }
    let dir = tmpdir("every");
    let files = shipped();
    let args: Vec<&str> = ["run", "--html", dir.to_str().expect("utf-8")]
        .into_iter()
        .chain(files.iter().map(|f| f.to_str().expect("utf-8")))
        .collect();
    let _ = mmsim(&args);
    let mut b = Browser::start(&dir.join("profile"));
    for f in &files {
        let stem = f.file_stem().and_then(|s| s.to_str()).expect("stem");
        b.open(&url(&dir.join(format!("{stem}.html")), ""));
        // Visit every step, as the arrow key does, and check the line.
        let r = b.eval(
            "(() => { const a = window.mmsim, n = a.data.steps.length; let bad = []; \
             for (let i = 1; i <= n; i++) { select(i); const c = document.querySelector('#script .line.current'); \
             if (!c || +c.dataset.line !== a.data.steps[i - 1].line) bad.push(i); } return [n, bad]; })()",
        );
        assert!(r[0].as_u64().unwrap_or(0) > 0, "{stem}: no steps");
        assert_eq!(r[1], serde_json::json!([]), "{stem}: steps whose line was not highlighted");
        let errors = b.console_errors();
        assert!(errors.is_empty(), "{stem}: console: {errors:?}");
    }
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Not a timed assert: prints how long a page takes to open and to step.
/// `MMSIM_HTML_PAGE=/tmp/big.html cargo test --release --test cli -- --ignored --nocapture browser::measure`
#[test]
#[ignore]
fn measure_page() {
    let Ok(page) = std::env::var("MMSIM_HTML_PAGE") else {
        println!("set MMSIM_HTML_PAGE to a page");
        return;
    };
    if !chromium() {
        return;
    }
    let dir = tmpdir("measure");
    let mut b = Browser::start(&dir.join("profile"));
    let size = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
    let t = std::time::Instant::now();
    b.open(&format!("file://{page}"));
    let open = t.elapsed();
    let n = b.eval("window.mmsim.data.steps.length").as_u64().unwrap_or(0);
    let t = std::time::Instant::now();
    for _ in 0..100 {
        b.key("ArrowRight");
    }
    let step = t.elapsed() / 100;
    let t = std::time::Instant::now();
    b.eval(&format!("select({n}), 0"));
    let jump = t.elapsed();
    let t = std::time::Instant::now();
    b.key("ArrowLeft");
    let back = t.elapsed();
    println!(
        "page {page}: {size} bytes, {n} steps; open (navigate to load event) {open:?}; \
         step with the arrow key {step:?} on average over 100; jump to the last step {jump:?}; one step back there {back:?}"
    );
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console: {errors:?}");
}

#[test]
fn explore_out_writes_a_page_beside_each_reproducer() {
    let dir = tmpdir("explore");
    let out =
        mmsim(&["explore", "--kernel", "no-special-pte", "--steps", "3000", "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "a bug is found: {}", String::from_utf8_lossy(&out.stdout));
    let mut found = 0;
    for e in std::fs::read_dir(&dir).expect("out dir").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "mms") {
            found += 1;
            let page = read(&p.with_extension("html"));
            assert_offline(&p.display().to_string(), &page);
            let d = page_data(&page);
            let viol: u64 =
                d["steps"].as_array().expect("steps").iter().map(|s| s["violations"].as_u64().unwrap_or(0)).sum();
            assert!(viol > 0, "{}: the reproducer's page shows its violation", p.display());
        }
    }
    assert!(found > 0, "no reproducer saved");
    let _ = std::fs::remove_dir_all(&dir);
}
