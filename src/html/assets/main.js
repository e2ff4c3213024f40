"use strict";
/* The page: script listing, step selection, keyboard, mouse, #step=N. */
const app = { data: null, store: null, n: 1, sel: null, selMfn: null, pinned: false, state: new Map(), lines: [], stepsOfLine: new Map() };
window.mmsim = app;

function problem(s) { return s.violations > 0 || s.failed; }

function buildScript() {
  const d = app.data;
  app.lines = d.src.split("\n");
  if (app.lines.length && app.lines[app.lines.length - 1] === "") app.lines.pop();
  d.steps.forEach((s, i) => { if (!app.stepsOfLine.has(s.line)) app.stepsOfLine.set(s.line, i + 1); });
  const bad = new Map();
  d.steps.forEach((s) => { if (s.violations) bad.set(s.line, "viol"); else if (s.failed && !bad.has(s.line)) bad.set(s.line, "fail"); });
  let h = "";
  app.lines.forEach((t, i) => {
    const ln = i + 1;
    const cls = ["line"];
    if (app.stepsOfLine.has(ln)) cls.push("step");
    if (/^\s*#/.test(t)) cls.push("comment");
    if (bad.has(ln)) cls.push(bad.get(ln));
    if (d.error && d.error[0] === ln) cls.push("err");
    h += '<div class="' + cls.join(" ") + '" data-line="' + ln + '"><span class="ln">' + ln + '</span><span class="mark">' +
      (bad.get(ln) === "viol" ? "&#9679;" : bad.get(ln) === "fail" ? "&#10007;" : "") + '</span><span class="src">' + esc(t) + "</span></div>";
  });
  const el = document.getElementById("script");
  el.innerHTML = h;
  app.lineEls = el.children;
}

function select(n, fromHash) {
  const d = app.data;
  if (!d.steps.length) return;
  n = Math.max(1, Math.min(d.steps.length, n | 0));
  app.n = n;
  app.state = app.store.at(n);
  const changed = app.store.changed(n);
  const s = d.steps[n - 1];
  /* Only the lines whose steps lie between the old and the new step change. */
  const mark = (ln) => {
    const el = app.lineEls[ln - 1];
    if (!el) return;
    const first = app.stepsOfLine.get(ln);
    el.classList.toggle("current", ln === s.line);
    el.classList.toggle("done", first !== undefined && first < n);
    el.classList.toggle("todo", first !== undefined && first > n);
  };
  if (app.shown === undefined) {
    for (let ln = 1; ln <= app.lineEls.length; ln++) mark(ln);
  } else {
    const lo = Math.min(app.shown, n), hi = Math.max(app.shown, n);
    for (let i = lo; i <= hi; i++) mark(d.steps[i - 1].line);
  }
  app.shown = n;
  const cur = app.lineEls[s.line - 1];
  if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest" });
  document.getElementById("stepno").textContent = "step " + n + "/" + d.steps.length + " (line " + s.line + ")";
  document.getElementById("slider").value = String(n);
  const dma = new Set((s.dma || []).map((x) => x[0]));
  if (!app.pinned) {
    if (s.focus) app.sel = { dom: s.focus[0], pid: s.focus[1], addr: s.focus[2] };
    if (s.dma && s.dma.length) app.selMfn = s.dma[0][0];
    else if (app.sel) { const w = app.state.get(walkKey(app.sel.dom, app.sel.pid, app.sel.addr)); if (w && w.mfn) app.selMfn = w.mfn; }
  }
  renderStep(app, n, changed);
  renderSpaces(app, app.state, changed);
  renderWalk(app, app.state, changed);
  renderFrames(app, app.state, changed, dma);
  renderGrants(app, app.state, changed);
  renderPages(app, app.state, changed);
  if (!fromHash && history.replaceState) history.replaceState(null, "", "#step=" + n);
}

function nextProblem() {
  const st = app.data.steps;
  for (let i = app.n; i < st.length; i++) if (problem(st[i])) return select(i + 1);
  for (let i = 0; i < app.n - 1; i++) if (problem(st[i])) return select(i + 1);
}

function fromHash() {
  const h = location.hash || "";
  let m = /step=(\d+)/.exec(h);
  if (m) return parseInt(m[1], 10);
  m = /line=(\d+)/.exec(h);
  if (m && app.stepsOfLine.has(+m[1])) return app.stepsOfLine.get(+m[1]);
  return null;
}

function onClick(ev) {
  const t = ev.target;
  const line = t.closest(".line.step");
  if (line) { select(app.stepsOfLine.get(+line.dataset.line)); return; }
  const pg = t.closest(".pg[data-addr]");
  const vma = t.closest(".vma");
  if (vma) {
    app.pinned = true;
    let addr = pg ? pg.dataset.addr : null;
    if (!addr) { const firstPop = vma.querySelector(".pg:not(.pm-empty)"); addr = firstPop ? firstPop.dataset.addr : vma.dataset.start; }
    app.sel = { dom: +vma.dataset.dom, pid: +vma.dataset.pid, addr: addr };
    const w = app.state.get(walkKey(app.sel.dom, app.sel.pid, addr));
    if (w && w.mfn) app.selMfn = w.mfn;
    select(app.n);
    return;
  }
  const fr = t.closest("[data-mfn]");
  if (fr && fr.dataset.mfn) {
    app.pinned = true;
    app.selMfn = fr.dataset.mfn;
    select(app.n);
    const el = document.querySelector('.frame[data-mfn="' + app.selMfn + '"]');
    if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
  }
}

function init() {
  app.data = JSON.parse(document.getElementById("mmsim-data").textContent);
  const d = app.data;
  app.store = new StateStore(d.steps);
  document.title = "mmsim: " + d.file + " (kernel " + d.variant + ")";
  document.getElementById("title").textContent = d.file + " \u2014 kernel " + d.variant;
  const viol = d.steps.reduce((a, s) => a + s.violations, 0);
  const failed = d.steps.filter((s) => s.failed).length;
  const ok = !d.error && viol === 0 && failed === 0;
  document.getElementById("verdict").innerHTML = '<span class="' + (ok ? "pass" : "fail") + '">' + (ok ? "PASS" : d.error ? "ERROR" : "FAIL") +
    "</span> " + viol + " violation" + (viol === 1 ? "" : "s") + ", " + failed + " failed expectation" + (failed === 1 ? "" : "s");
  if (d.error) { const e = document.getElementById("error"); e.hidden = false; e.textContent = "run stopped at line " + d.error[0] + ": " + d.error[1]; }
  buildScript();
  const slider = document.getElementById("slider");
  slider.max = String(Math.max(1, d.steps.length));
  slider.addEventListener("input", () => select(+slider.value));
  document.getElementById("prev").addEventListener("click", () => select(app.n - 1));
  document.getElementById("next").addEventListener("click", () => select(app.n + 1));
  document.getElementById("nextviol").addEventListener("click", nextProblem);
  document.addEventListener("click", onClick);
  document.addEventListener("keydown", (ev) => {
    if (ev.target && ev.target.tagName === "INPUT" && ev.target.type !== "range") return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "ArrowRight" || ev.key === "j") { select(app.n + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft" || ev.key === "k") { select(app.n - 1); ev.preventDefault(); }
    else if (ev.key === "n") { nextProblem(); ev.preventDefault(); }
    else if (ev.key === "Escape") { app.pinned = false; select(app.n); }
  });
  window.addEventListener("hashchange", () => { const n = fromHash(); if (n !== null && n !== app.n) select(n, true); });
  if (!d.steps.length) { document.getElementById("step").innerHTML = '<div class="empty">no steps</div>'; return; }
  const h = fromHash();
  select(h !== null ? h : 1, h !== null);
}

init();
