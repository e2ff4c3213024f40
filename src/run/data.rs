//! `show` output as structured data for `--json` (schema 2), read off the
//! text the report functions print (their formats are fixed by the
//! kernel's: `/proc/PID/maps`, smaps, pagemap letters; see src/report).
//! Numbers that can exceed 2^53 (addresses, entries, frames) stay `"0x…"`
//! strings; counts and kB are JSON numbers.

use serde_json::{Map, Value as J, json};

/// The data of one `show WHAT` beside its `text`.
pub fn show_data(what: &str, text: &str) -> J {
    match what {
        "maps" => json!({ "vmas": text.lines().filter_map(maps_entry).collect::<Vec<_>>() }),
        "smaps" => smaps(text),
        "pagemap" => pagemap(text),
        "pagetable" => pagetable(text),
        "page" => pages(text),
        "grants" => grants(text),
        "p2m" | "m2p" | "override" => xen_table(text),
        _ => json!({ "lines": text.lines().collect::<Vec<_>>() }),
    }
}

fn hex_str(s: &str) -> J {
    match u64::from_str_radix(s.trim_start_matches("0x"), 16) {
        Ok(v) => J::String(format!("{v:#x}")),
        Err(_) => J::String(s.to_string()),
    }
}

/// One `/proc/PID/maps` line: `start-end perms offset dev inode [path]`.
fn maps_entry(l: &str) -> Option<J> {
    let mut w = l.split_whitespace();
    let (range, perms, off, dev, ino) = (w.next()?, w.next()?, w.next()?, w.next()?, w.next()?);
    let (start, end) = range.split_once('-')?;
    let path = l.splitn(6, |c: char| c.is_ascii_whitespace()).nth(5).map(str::trim).filter(|p| !p.is_empty());
    Some(json!({
        "start": hex_str(start), "end": hex_str(end), "perms": perms, "offset": hex_str(off),
        "dev": dev, "inode": ino.parse::<u64>().ok(), "path": path
    }))
}

fn smaps(text: &str) -> J {
    let mut vmas: Vec<J> = Vec::new();
    for l in text.lines() {
        if let Some((k, v)) = l.split_once(':')
            && !k.contains(' ')
            && !k.contains('-')
            && let Some(J::Object(fields)) = vmas.last_mut().and_then(|x| x.get_mut("fields"))
        {
            let v = v.trim();
            let val = if k == "VmFlags" {
                json!(v.split_whitespace().collect::<Vec<_>>())
            } else if let Some(kb) = v.strip_suffix(" kB") {
                json!({ "kB": kb.trim().parse::<u64>().ok() })
            } else {
                match v.parse::<u64>() {
                    Ok(n) => json!(n),
                    Err(_) => json!(v),
                }
            };
            fields.insert(k.to_string(), val);
        } else if let Some(e) = maps_entry(l) {
            vmas.push(json!({ "vma": e, "fields": Map::new() }));
        }
    }
    json!({ "vmas": vmas })
}

/// `0x7e003fffe000: z.`: one letter a page.
fn pagemap(text: &str) -> J {
    let mut pages = Vec::new();
    let mut notes = Vec::new();
    for l in text.lines() {
        match l.split_once(": ") {
            Some((a, letters)) if a.starts_with("0x") => {
                let Ok(base) = u64::from_str_radix(&a[2..], 16) else { continue };
                for (i, c) in letters.chars().enumerate() {
                    let addr = base.wrapping_add(i as u64 * 4096);
                    pages.push(json!({ "addr": format!("{addr:#x}"), "letter": c.to_string() }));
                }
            }
            _ => notes.push(l),
        }
    }
    json!({ "pages": pages, "notes": notes })
}

/// The walk: `LEVEL[index] table FRAME: entry 0x… -> FRAME FLAGS`.
fn pagetable(text: &str) -> J {
    let mut levels = Vec::new();
    let mut other = Vec::new();
    for l in text.lines() {
        let level = ["PGD[", "PUD[", "PMD[", "PTE["].iter().find(|p| l.starts_with(**p));
        match level {
            Some(p) => {
                let index = l[4..].split(']').next().and_then(|i| i.parse::<u64>().ok());
                let entry = l.split("entry ").nth(1).and_then(|r| r.split_whitespace().next()).map(hex_str);
                let (_, rest) = l.split_once("-> ").unwrap_or(("", ""));
                let frame = rest.split_whitespace().nth(1).map(hex_str);
                let flags: Vec<&str> = rest
                    .split_whitespace()
                    .filter(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_') && w.len() > 1)
                    .collect();
                levels.push(json!({
                    "level": &p[..3], "index": index, "entry": entry, "frame": frame,
                    "present": !l.contains("not present") && !l.contains("(none)") && !l.contains("guard marker"),
                    "flags": flags, "special": l.ends_with("<- special"), "text": l
                }));
            }
            None => other.push(l),
        }
    }
    json!({ "levels": levels, "lines": other })
}

/// `struct page` dumps: `dN pfn 0x…: refcount N mapcount N mapping … index 0x… private 0x…`,
/// then `flags:`, `p2m:`, `gup:` lines.
fn pages(text: &str) -> J {
    let mut out: Vec<J> = Vec::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix('d')
            && let Some((head, body)) = rest.split_once(": ")
            && let Some((dom, pfn)) = head.split_once(" pfn ")
        {
            let word = |k: &str| body.split(&format!("{k} ")).nth(1).and_then(|r| r.split_whitespace().next());
            let mapping = body.split("mapping ").nth(1).and_then(|r| r.split(" index ").next());
            out.push(json!({
                "dom": dom.parse::<u64>().ok(), "pfn": hex_str(pfn),
                "refcount": word("refcount").and_then(|v| v.parse::<i64>().ok()),
                "mapcount": word("mapcount").and_then(|v| v.parse::<i64>().ok()),
                "mapping": mapping, "index": word("index").map(hex_str), "private": word("private").map(hex_str),
                "zero_page": body.contains("(zero page)"), "flags": [], "p2m": null, "gup": null,
                "invalid": body.starts_with("invalid")
            }));
        } else if let Some(last) = out.last_mut() {
            if let Some(f) = l.strip_prefix("flags: ") {
                last["flags"] = json!(f.split('|').filter(|x| *x != "none").collect::<Vec<_>>());
            } else if let Some(p) = l.strip_prefix("p2m: ") {
                last["p2m"] = json!(p);
            } else if let Some(g) = l.strip_prefix("gup: ") {
                let n: Vec<u64> = g.split_whitespace().filter_map(|w| w.parse().ok()).collect();
                last["gup"] = json!({ "gets": n.first(), "pins": n.get(1) });
            }
        }
    }
    json!({ "pages": out })
}

/// `show grants`: the entries a domain issued, then the mappings it holds.
fn grants(text: &str) -> J {
    let mut entries = Vec::new();
    let mut maps = Vec::new();
    let word = |l: &str, k: &str| {
        l.split(&format!("{k} "))
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(|s| s.trim_end_matches(':').to_string())
    };
    for l in text.lines().map(str::trim) {
        if l.starts_with("ref ") {
            let flags = l.split("flags ").nth(1).and_then(|r| r.split(" domid").next()).unwrap_or("");
            entries.push(json!({
                "ref": word(l, "ref").as_deref().map(hex_str), "flags": flags,
                "domid": word(l, "domid").and_then(|d| d.parse::<u64>().ok()),
                "frame": word(l, "frame").as_deref().map(hex_str), "pin": word(l, "pin").as_deref().map(hex_str),
                "mfn": word(l, "mfn").as_deref().map(hex_str)
            }));
        } else if l.starts_with("handle ") {
            let w: Vec<&str> = l.split_whitespace().collect();
            maps.push(json!({
                "handle": word(l, "handle").as_deref().map(hex_str),
                "granter": w.get(2).and_then(|d| d.trim_start_matches('d').parse::<u64>().ok()),
                "ref": word(l, "ref").as_deref().map(hex_str), "mfn": word(l, "mfn").as_deref().map(hex_str),
                "access": w.get(7), "host": w.get(8..).map(|h| h.join(" "))
            }));
        }
    }
    json!({ "header": text.lines().next(), "entries": entries, "mappings": maps })
}

/// `show p2m` / `show m2p` / `show override` lines as entries with their
/// `pfn`, raw `entry`, `mfn`, machine `owner` (whichever the line names).
fn xen_table(text: &str) -> J {
    let after = |l: &str, k: &str| l.split(k).nth(1).and_then(|r| r.split([' ', ',', ':']).next()).map(hex_str);
    let entries: Vec<J> = text
        .lines()
        .map(|l| {
            let entry = l.split(": ").nth(1).and_then(|r| r.split_whitespace().next()).filter(|w| w.starts_with("0x"));
            json!({
                "pfn": after(l, "pfn "), "mfn": after(l, "mfn "), "entry": entry.map(hex_str),
                "owner": l.split("owner ").nth(1).map(|r| r.split(',').next().unwrap_or(r).trim()),
                "text": l
            })
        })
        .collect();
    json!({ "entries": entries })
}
