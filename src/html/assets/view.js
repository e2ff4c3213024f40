"use strict";
/* Rendering helpers shared by the panels. */
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"];
const FREE = "#cccccc";
function domColor(d) { return d === null || d === undefined ? FREE : PALETTE[d % PALETTE.length]; }
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
const PM_CLASS = { ".": "empty", "X": "anon1", "p": "anonN", "z": "zero", "F": "file1", "f": "fileN",
  "G": "foreign", "s": "special", "!": "bad", "g": "guard", "?": "other" };
const PM_TEXT = { ".": "nothing", "X": "anon, mapped once", "p": "anon, shared", "z": "zero page", "F": "file, once",
  "f": "file, shared", "G": "foreign (grant)", "s": "special, no page", "!": "bad PTE", "g": "guard", "?": "other" };
/* ".3X1s2" -> [[".",3],["X",1],["s",2]] */
function rle(s) {
  const out = [];
  const re = /(\D)(\d+)/g;
  let m;
  while ((m = re.exec(s || "")) !== null) out.push([m[1], parseInt(m[2], 10)]);
  return out;
}
function big(h) { try { return BigInt(h); } catch (e) { return 0n; } }
function hx(b) { return "0x" + b.toString(16); }
function domName(st, d) {
  const it = st.get("d/" + d.toString(16).padStart(4, "0"));
  return it ? it.name : "d" + d;
}
function itemsOf(st, prefix) {
  const out = [];
  for (const [k, v] of st) if (k.startsWith(prefix)) out.push([k, v]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}
function walkKey(d, pid, addr) {
  return "w/" + d.toString(16).padStart(4, "0") + "/" + pid.toString(16).padStart(8, "0") + "/" + big(addr).toString(16).padStart(16, "0");
}
function label(k) {
  const p = k.split("/");
  const n = (x) => "0x" + parseInt(x, 16).toString(16);
  switch (p[0]) {
    case "d": return "domain d" + parseInt(p[1], 16);
    case "p": return "process d" + parseInt(p[1], 16) + " pid " + parseInt(p[2], 16);
    case "v": return "vma " + hx(big("0x" + p[3])) + " (pid " + parseInt(p[2], 16) + ")";
    case "w": return "pte " + hx(big("0x" + p[3])) + " (pid " + parseInt(p[2], 16) + ")";
    case "f": return "frame mfn " + hx(big("0x" + p[1]));
    case "s": return "struct page d" + parseInt(p[1], 16) + " pfn " + hx(big("0x" + p[2]));
    case "g": return "grant d" + parseInt(p[1], 16) + " ref " + n(p[2]);
    case "m": return "grant map d" + parseInt(p[1], 16) + " handle " + n(p[2]);
    default: return k;
  }
}
