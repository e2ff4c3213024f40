"use strict";
/* The one place that knows the shape of the run's records (the objects
 * `mmsim run --json` prints, schema 2, docs/JSON.md). Everything else reads what
 * adaptRecord returns:
 *   {type: "step"|"show"|"violation"|"other", actor, call, result, expect,
 *    events: [text], invariant, message, context, what, text}
 * A later schema needs changes here only. */
function fmtNum(v) {
  if (typeof v === "string") return v;
  if (typeof v !== "number") return JSON.stringify(v);
  return v < 0x10000 ? String(v) : "0x" + v.toString(16);
}

function fmtBytes(hex, len) {
  if (typeof hex !== "string") return JSON.stringify(hex);
  const n = typeof len === "number" ? len : hex.length / 2;
  if (n === 0) return 'x""';
  const first = hex.slice(0, 2);
  let same = true;
  for (let i = 2; i < hex.length; i += 2) if (hex.slice(i, i + 2) !== first) { same = false; break; }
  if (same && n > 8 && hex.length === n * 2) return 'x"' + first + '" * ' + n;
  if (n <= 32) return 'x"' + hex + '"';
  if (hex.length < n * 2) return 'x"' + hex.slice(0, 32) + '" ++ ... (' + n + " bytes)";
  return 'x"' + hex.slice(0, 32) + '" ++ ... (' + n + ' bytes) ++ x"' + hex.slice(-16) + '"';
}

function fmtResult(r) {
  if (r === null || r === undefined) return "";
  if (typeof r !== "object") return String(r);
  if ("errno" in r) return "-" + r.errno;
  if ("value" in r) return fmtNum(r.value);
  if ("bytes" in r) return fmtBytes(r.bytes, r.bytes_len);
  if ("signal" in r) return r.signal + ":" + r.code + "@" + (typeof r.addr === "number" ? "0x" + r.addr.toString(16) : String(r.addr));
  return JSON.stringify(r);
}

/* One trace event as a line: its kind, then its fields. */
function fmtEvent(e) {
  if (!e || typeof e !== "object") return String(e);
  const parts = [e.kind || "event"];
  for (const k of Object.keys(e)) {
    if (k === "kind") continue;
    const v = e[k];
    if (v === null || v === undefined) continue;
    if (k === "dom" || k === "granter") { parts.push("d" + v); continue; }
    if (k === "line" || k === "action" || k === "check" || k === "what") { parts.push(String(v)); continue; }
    parts.push(k + "=" + (Array.isArray(v) ? "[" + v.map(fmtNum).join(",") + "]" : typeof v === "number" ? fmtNum(v) : String(v)));
  }
  return parts.join(" ");
}

function adaptRecord(r) {
  const t = r && r.type;
  if (t === "step") {
    let call = r.call;
    if (r.bind && typeof call === "string" && call.indexOf("=") < 0) call = r.bind + " = " + call;
    // Schema 2: `text` is the result as the text mode prints it; `expect`
    // is {held, expected, actual}.
    const result = typeof r.text === "string" ? r.text : fmtResult(r.result);
    let expect = r.expect || null;
    if (expect && typeof expect === "object") expect = expect.held ? "held" : "failed";
    return { type: "step", actor: r.actor, call: call, result: result,
      expect: expect, events: (r.events || []).map(fmtEvent) };
  }
  if (t === "show") {
    const text = typeof r.text === "string" ? r.text : JSON.stringify(r.data !== undefined ? r.data : r, null, 1);
    return { type: "show", what: r.what, text: text, events: [] };
  }
  if (t === "violation") {
    return { type: "violation", invariant: r.invariant, message: r.message, context: r.context || "", events: [] };
  }
  return { type: "other", text: JSON.stringify(r), events: [] };
}
