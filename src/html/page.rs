//! The HTML around the data: one self-contained file, CSS and JS inlined
//! from `assets/`, the recording as JSON in
//! `<script type="application/json" id="mmsim-data">`.

use super::Recording;

const CSS: &str = include_str!("assets/page.css");
const JS_ADAPTER: &str = include_str!("assets/adapter.js");
const JS_STATE: &str = include_str!("assets/state.js");
const JS_VIEW: &str = include_str!("assets/view.js");
const JS_PANELS: &str = include_str!("assets/panels.js");
const JS_MAIN: &str = include_str!("assets/main.js");

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// JSON safe inside a `<script>` element: every `<` (only ever inside a
/// string) written as `\u003c`, so no `</script>` or `<!--` can appear.
pub fn script_json<T: serde::Serialize>(v: &T) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.replace('<', "\\u003c")
}

/// The page for one recording.
pub fn render(rec: &Recording) -> String {
    let title = format!("mmsim: {} (kernel {})", rec.file, rec.variant);
    let data = script_json(rec);
    let mut s = String::with_capacity(data.len() + 64 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str(&format!("<title>{}</title>\n", esc(&title)));
    s.push_str("<style>\n");
    s.push_str(CSS);
    s.push_str("</style>\n</head>\n<body>\n");
    s.push_str(BODY);
    s.push_str("<script type=\"application/json\" id=\"mmsim-data\">");
    s.push_str(&data);
    s.push_str("</script>\n<script>\n");
    for js in [JS_ADAPTER, JS_STATE, JS_VIEW, JS_PANELS, JS_MAIN] {
        s.push_str(js);
        s.push('\n');
    }
    s.push_str("</script>\n</body>\n</html>\n");
    s
}

/// The static skeleton the scripts fill.
const BODY: &str = r#"<header id="top">
  <h1 id="title">mmsim</h1>
  <span id="verdict"></span>
  <nav id="controls">
    <button id="prev" title="previous step (&larr; or k)">&larr;</button>
    <span id="stepno">step 0/0</span>
    <button id="next" title="next step (&rarr; or j)">&rarr;</button>
    <button id="nextviol" title="next violation or failed expectation (n)">next problem</button>
    <input id="slider" type="range" min="1" max="1" value="1" aria-label="step">
  </nav>
  <span id="help">&larr;/&rarr; or j/k: step &middot; n: next problem &middot; click a line, VMA, page or frame</span>
</header>
<main>
  <section id="left">
    <div id="error" hidden></div>
    <pre id="script"></pre>
  </section>
  <section id="right">
    <div class="panel" id="step-panel"><h2>Step</h2><div id="step"></div></div>
    <div class="panel" id="as-panel"><h2>Address spaces</h2><div id="spaces"></div></div>
    <div class="panel" id="walk-panel"><h2>Page-table walk</h2><div id="walk"></div></div>
    <div class="panel" id="frames-panel"><h2>Machine frames</h2><div id="frames"></div></div>
    <div class="panel" id="grants-panel"><h2>Grant tables</h2><div id="grants"></div></div>
    <div class="panel" id="pages-panel"><h2>struct page</h2><div id="pages"></div></div>
  </section>
</main>
"#;

/// One column of the demo's index.
pub struct IndexEntry {
    pub variant: String,
    pub blurb: String,
    pub href: String,
    pub passed: bool,
    /// `(label, value)` rows: pread, GUP, DMA, domU reads.
    pub rows: Vec<(String, String)>,
    pub violations: Vec<String>,
    /// `(step number, line text, class)` of each action step.
    pub steps: Vec<(usize, String, &'static str)>,
}

/// The demo's index: the variants side by side.
pub fn index(title: &str, intro: &str, entries: &[IndexEntry]) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str(&format!("<title>{}</title>\n<style>\n{}</style>\n</head>\n<body class=\"index\">\n", esc(title), CSS));
    s.push_str(&format!("<h1>{}</h1>\n<p class=\"intro\">{}</p>\n<div id=\"columns\">\n", esc(title), esc(intro)));
    for e in entries {
        let verdict = if e.passed { "<span class=\"pass\">PASS</span>" } else { "<span class=\"fail\">FAIL</span>" };
        s.push_str(&format!(
            "<div class=\"column\" data-variant=\"{}\">\n<h2>{verdict} <a href=\"{}\">{}</a></h2>\n<p class=\"blurb\">{}</p>\n<table>\n",
            esc(&e.variant),
            esc(&e.href),
            esc(&e.variant),
            esc(&e.blurb)
        ));
        for (k, v) in &e.rows {
            s.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v)));
        }
        s.push_str("</table>\n");
        for v in &e.violations {
            s.push_str(&format!("<p class=\"viol-text\">! {}</p>\n", esc(v)));
        }
        s.push_str("<ol class=\"mini\">\n");
        for (n, text, class) in &e.steps {
            s.push_str(&format!(
                "<li class=\"{class}\"><a href=\"{}#step={n}\">{}</a></li>\n",
                esc(&e.href),
                esc(text)
            ));
        }
        s.push_str(&format!(
            "</ol>\n<p><a class=\"open\" href=\"{}\">step through {} &rarr;</a></p>\n</div>\n",
            esc(&e.href),
            esc(&e.variant)
        ));
    }
    s.push_str("</div>\n</body>\n</html>\n");
    s
}
