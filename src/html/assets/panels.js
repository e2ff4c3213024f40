"use strict";
/* The panels, each a function of (app, state, changed keys). */
function renderStep(app, n, changed) {
  const s = app.data.steps[n - 1];
  let h = '<div class="stmt mono">line ' + s.line + ": " + esc(app.lines[s.line - 1] || "") + "</div>";
  for (const raw of s.records) {
    const r = adaptRecord(raw);
    if (r.type === "step") {
      h += '<div>result <span class="result mono">' + esc(r.result) + "</span>";
      if (r.expect) h += ' <span class="' + (r.expect === "held" ? "held" : "failed") + '">expectation ' + esc(r.expect) + "</span>";
      h += "</div>";
      if (r.events.length) h += '<ul class="events">' + r.events.map((e) => "<li>" + esc(e) + "</li>").join("") + "</ul>";
    } else if (r.type === "show") {
      h += "<div>show " + esc(r.what) + '</div><pre class="show">' + esc(r.text) + "</pre>";
    } else if (r.type === "violation") {
      h += '<div class="violation"><b>VIOLATION ' + esc(r.invariant) + "</b>: " + esc(r.message) +
        (r.context ? "<pre>" + esc(r.context) + "</pre>" : "") + "</div>";
    } else {
      h += '<div class="mono">' + esc(r.text) + "</div>";
    }
  }
  if (s.kind !== "action" && s.kind !== "show" && !s.records.length) h += '<div class="empty">' + esc(s.kind) + " declared</div>";
  if (app.data.error && n === app.data.steps.length) h += '<div class="violation">run stopped: line ' + app.data.error[0] + ": " + esc(app.data.error[1]) + "</div>";
  const ch = Array.from(changed).sort();
  h += '<div class="changes"><b>' + ch.length + " change" + (ch.length === 1 ? "" : "s") + "</b> since the previous step" +
    (ch.length ? ": " + ch.slice(0, 40).map((k) => esc(label(k)) + (app.state.has(k) ? "" : " (gone)")).join(", ") + (ch.length > 40 ? ", ..." : "") : "") + "</div>";
  document.getElementById("step").innerHTML = h;
}

function renderSpaces(app, st, changed) {
  let h = '<div class="legend">' + Object.keys(PM_CLASS).filter((c) => c !== ".").map((c) =>
    '<span><span class="sw pg pm-' + PM_CLASS[c] + '"></span>' + esc(c + " " + PM_TEXT[c]) + "</span>").join("") + "</div>";
  const procs = itemsOf(st, "p/");
  if (!procs.length) h += '<div class="empty">no processes yet</div>';
  for (const [pk, p] of procs) {
    h += '<div class="proc"><h3>' + esc(p.name) + ' <span class="dim">' + esc(domName(st, p.dom)) + " (d" + p.dom + ") pid " + p.pid + "</span></h3>";
    const vk = "v/" + pk.slice(2) + "/";
    for (const [k, v] of itemsOf(st, vk)) {
      const sel = app.sel && app.sel.dom === v.dom && app.sel.pid === v.pid && big(app.sel.addr) >= big(v.start) && big(app.sel.addr) < big(v.end);
      h += '<div class="vma kind-' + v.kind + (changed.has(k) ? " changed" : "") + (sel ? " selected" : "") +
        '" data-dom="' + v.dom + '" data-pid="' + v.pid + '" data-start="' + v.start + '" data-end="' + v.end + '">' +
        '<div class="mono">' + esc(v.start) + "-" + esc(v.end) + " " + esc(v.perms) + ' <span class="kind">' + v.kind +
        '</span> <span class="name">' + esc(v.name) + '</span><br><span class="name" title="VmFlags">' + esc(v.vmflags) + "</span></div>" +
        '<div class="strip">' + strip(app, v) + "</div></div>";
    }
    h += "</div>";
  }
  document.getElementById("spaces").innerHTML = h;
}

/* Page cells of a VMA: one a page up to 128 pages, else buckets showing the
 * most telling letter of the pages they cover. */
function strip(app, v) {
  const runs = rle(v.pm);
  const total = runs.reduce((a, r) => a + r[1], 0);
  const per = Math.max(1, Math.ceil(total / 128));
  const cells = [];
  let idx = 0, cur = null, first = null;
  const rank = (c) => (c === "." ? 0 : 1);
  for (const [c, n] of runs) {
    let left = n;
    while (left > 0) {
      const inCell = per - (idx % per);
      const take = Math.min(inCell, left);
      if (cur === null || rank(c) > rank(cur)) { cur = c; first = idx; }
      idx += take; left -= take;
      if (idx % per === 0) { cells.push([cur, first]); cur = null; }
    }
  }
  if (cur !== null) cells.push([cur, first]);
  const start = big(v.start);
  return cells.map(([c, i]) => {
    const a = hx(start + BigInt(i) * 4096n);
    const sel = app.sel && app.sel.dom === v.dom && app.sel.pid === v.pid && app.sel.addr === a;
    return '<span class="pg pm-' + (PM_CLASS[c] || "other") + (sel ? " selected" : "") + '" data-addr="' + a + '" title="' + a + ": " + esc(PM_TEXT[c] || c) + '"></span>';
  }).join("");
}

function renderWalk(app, st, changed) {
  const el = document.getElementById("walk");
  if (!app.sel) { el.innerHTML = '<div class="empty">click a page of a VMA to see its walk</div>'; return; }
  const k = walkKey(app.sel.dom, app.sel.pid, app.sel.addr);
  const w = st.get(k);
  let h = "<div>d" + app.sel.dom + " pid " + app.sel.pid + " address <b class=\"mono\" id=\"walk-addr\">" + esc(app.sel.addr) + "</b></div>";
  if (!w) { el.innerHTML = h + '<div class="empty">no walk kept for this address at this step (walks are kept for populated pages and the addresses a step names)</div>'; return; }
  h += '<table id="walk-table" class="' + (changed.has(k) ? "changed" : "") + '"><tr><th>level</th><th>index</th><th>table</th><th>entry</th><th>bits</th><th>to</th></tr>';
  for (const l of w.levels) {
    h += '<tr data-level="' + l.level + '"><td>' + l.level + "</td><td>" + l.index + '</td><td class="mono">' + esc(l.table) +
      '</td><td class="mono entry">' + esc(l.entry) + "</td><td>" + l.bits.map((b) => '<span class="bit bit-' + b + '">' + b + "</span>").join("") +
      (l.note ? " <i>" + esc(l.note) + "</i>" : "") + '</td><td class="mono">' + (l.to ? esc(l.to) : "") + "</td></tr>";
  }
  h += "</table>";
  if (w.normal) {
    h += '<div class="verdict">vm_normal_page: <b class="mono" id="walk-normal">' + esc(w.normal) + "</b>";
    if (w.pfn) h += " &middot; pte_pfn: <span class=\"mono\">" + esc(w.pfn) + "</span>";
    if (w.mfn) {
      const f = st.get("f/" + big(w.mfn).toString(16).padStart(16, "0"));
      const owner = f ? (f.owner === null ? "nobody" : domName(st, f.owner) + " (d" + f.owner + ")") : "?";
      h += '<br>machine frame <span class="framelink mono" id="walk-mfn" data-mfn="' + w.mfn + '">' + esc(w.mfn) + "</span> owned by " + esc(owner);
    }
    h += "</div>";
  }
  el.innerHTML = h;
}

function renderFrames(app, st, changed, dma) {
  const doms = itemsOf(st, "d/").map((x) => x[1]);
  let h = '<div class="legend">' + doms.map((d) => '<span><span class="sw" style="background:' + domColor(d.dom) + '"></span>' +
    esc(d.name) + " (d" + d.dom + (d.base ? ", mfn " + d.base + "+" + d.pages : "") + ")</span>").join("") +
    '<span><span class="sw" style="background:' + FREE + '"></span>free</span></div>';
  const frames = itemsOf(st, "f/");
  if (!frames.length) h += '<div class="empty">no frames in play yet</div>';
  h += '<div class="grid">';
  for (const [k, f] of frames) {
    const isDma = dma.has(f.mfn);
    const sel = app.selMfn === f.mfn;
    h += '<div class="frame' + (f.owner === null ? " free" : "") + (changed.has(k) ? " changed" : "") + (isDma ? " dma" : "") + (sel ? " selected" : "") +
      '" data-mfn="' + f.mfn + '" data-owner="' + (f.owner === null ? "" : f.owner) + '" style="background-color:' + domColor(f.owner) + '" title="' +
      (f.data ? "data " + f.data : "zeros") + '">mfn ' + esc(f.mfn) + '<div class="m2p">m2p &rarr; ' + (f.m2p ? esc(f.m2p) : "none") + "</div></div>";
  }
  h += "</div>";
  for (const d of doms) {
    const pages = itemsOf(st, "s/" + d.dom.toString(16).padStart(4, "0") + "/");
    if (pages.length) {
      h += "<h3>" + esc(d.name) + " P2M (pages in play)</h3><table class=\"p2m\"><tr><th>pfn</th><th>p2m entry</th><th>mfn</th><th>m2p of that mfn</th></tr>";
      for (const [k, p] of pages) {
        const f = p.mfn ? st.get("f/" + big(p.mfn).toString(16).padStart(16, "0")) : null;
        const back = f ? (f.m2p || "none") : "";
        const agree = f && f.m2p === p.pfn;
        h += '<tr class="' + (changed.has(k) ? "changed" : "") + '"><td class="mono">' + esc(p.pfn) + '</td><td class="mono">' + esc(p.p2m) +
          p.p2m_tags.map((t) => ' <span class="bit bit-' + t + '">' + t + "</span>").join("") + '</td><td class="mono">' +
          (p.mfn ? '<span class="framelink" data-mfn="' + p.mfn + '">' + esc(p.mfn) + "</span>" : "-") + '</td><td class="mono">' + esc(back) + (f && !agree ? " (not this pfn)" : "") + "</td></tr>";
      }
      h += "</table>";
    }
    if (d.m2p_override) {
      h += "<h3>" + esc(d.name) + " m2p override table</h3>";
      h += d.m2p_override.length ? "<table><tr><th>mfn</th><th>pfn</th></tr>" + d.m2p_override.map((e) => '<tr><td class="mono">' + esc(e[0]) + '</td><td class="mono">' + esc(e[1]) + "</td></tr>").join("") + "</table>" : '<div class="empty">empty</div>';
    }
  }
  document.getElementById("frames").innerHTML = h;
}

function renderGrants(app, st, changed) {
  let h = "";
  const gs = itemsOf(st, "g/"), ms = itemsOf(st, "m/");
  if (gs.length) {
    h += "<h3>entries in use</h3><table><tr><th>domain</th><th>ref</th><th>flags</th><th>to</th><th>frame</th><th>pin</th><th>pinned mfn</th></tr>";
    for (const [k, g] of gs) h += '<tr class="' + (changed.has(k) ? "changed" : "") + '"><td>' + esc(domName(st, g.dom)) + "</td><td>" + g.gref + '</td><td class="mono">' + esc(g.flags) + " " + esc(g.names) +
      "</td><td>d" + g.domid + '</td><td class="mono">' + esc(g.frame) + '</td><td class="mono">' + esc(g.pin) + '</td><td class="mono">' + (g.mfn ? '<span class="framelink" data-mfn="' + g.mfn + '">' + esc(g.mfn) + "</span>" : "") + "</td></tr>";
    h += "</table>";
  }
  if (ms.length) {
    h += "<h3>active maps</h3><table><tr><th>grantee</th><th>handle</th><th>granter</th><th>ref</th><th>mfn</th><th></th><th>host</th></tr>";
    for (const [k, m] of ms) h += '<tr class="' + (changed.has(k) ? "changed" : "") + '"><td>' + esc(domName(st, m.grantee)) + "</td><td>" + m.handle + "</td><td>" + esc(domName(st, m.granter)) + "</td><td>" + m.gref +
      '</td><td class="mono"><span class="framelink" data-mfn="' + m.mfn + '">' + esc(m.mfn) + "</span></td><td>" + (m.rw ? "rw" : "ro") + '</td><td class="mono">' + esc(m.host) + "</td></tr>";
    h += "</table>";
  }
  document.getElementById("grants").innerHTML = h || '<div class="empty">no grants in use</div>';
}

function renderPages(app, st, changed) {
  const ps = itemsOf(st, "s/");
  if (!ps.length) { document.getElementById("pages").innerHTML = '<div class="empty">no pages in play yet</div>'; return; }
  let h = "<table><tr><th>domain</th><th>pfn</th><th>refcount</th><th>mapcount</th><th>flags</th><th>mapping</th><th>index</th><th>private</th><th>gup</th><th>mfn</th></tr>";
  for (const [k, p] of ps) {
    const sel = app.selMfn && p.mfn === app.selMfn;
    h += '<tr class="clickable' + (changed.has(k) ? " changed" : "") + (sel ? " selected" : "") + '" data-mfn="' + (p.mfn || "") + '" data-pfn="' + p.pfn + '"><td>' + esc(domName(st, p.dom)) +
      '</td><td class="mono">' + esc(p.pfn) + "</td><td>" + p.refcount + "</td><td>" + p.mapcount + '</td><td class="mono">' + esc(p.flags.join("|") || "none") +
      "</td><td>" + esc(p.mapping) + '</td><td class="mono">' + esc(p.index) + '</td><td class="mono">' + esc(p.private) + "</td><td>" + p.gup_gets + " gets, " + p.gup_pins + ' pins</td><td class="mono">' + esc(p.mfn || "-") + "</td></tr>";
  }
  document.getElementById("pages").innerHTML = h + "</table>";
}
