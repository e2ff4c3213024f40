//! `show` statements at run time: evaluate the arguments and ask
//! src/report for the text.

use super::{RunError, Runner, rt_err};
use crate::script::{self, ShowStep, Span, Value};

impl Runner<'_> {
    pub(super) fn show(&mut self, s: &ShowStep, span: Span) -> Result<String, RunError> {
        use crate::report;
        let int = |v: Value, what: &str| v.as_int().ok_or_else(|| rt_err(span, format!("{what} must be a number")));
        Ok(match s {
            ShowStep::Maps(p) => match self.proc(p.0, span)? {
                Some((d, pid)) => report::maps(self.world.kernel(d).map_err(|e| rt_err(span, e.to_string()))?, pid),
                None => String::new(),
            },
            ShowStep::Smaps(p) => match self.proc(p.0, span)? {
                Some((d, pid)) => report::smaps(&self.world, d, pid),
                None => String::new(),
            },
            ShowStep::Pagemap { process, addr, len } => {
                let a = int(script::eval(addr, &self.env)?, "the address")?;
                let l = int(script::eval(len, &self.env)?, "the length")?;
                match self.proc(process.0, span)? {
                    Some((d, pid)) => report::pagemap_letters(&self.world, d, pid, a, l),
                    None => String::new(),
                }
            }
            ShowStep::Pagetable { process, addr } => {
                let a = int(script::eval(addr, &self.env)?, "the address")?;
                match self.proc(process.0, span)? {
                    Some((d, pid)) => report::pagetable_walk(&self.world, d, pid, a),
                    None => String::new(),
                }
            }
            ShowStep::Grants(d) => {
                let dom = self.dom(d.0, span)?;
                self.world.show_grants(dom)
            }
            ShowStep::Log(d) => {
                let dom = self.dom(d.0, span)?;
                report::log(&self.world, dom)
            }
            ShowStep::Page { domain, pfn } => {
                let dom = self.dom(domain.0, span)?;
                let pfn = int(script::eval(pfn, &self.env)?, "the pfn")?;
                report::page(&self.world, dom, pfn)
            }
            ShowStep::P2m { domain, pfn, count } => {
                let dom = self.dom(domain.0, span)?;
                let range = match pfn {
                    None => None,
                    Some(p) => {
                        let p = int(script::eval(p, &self.env)?, "the pfn")?;
                        let c = match count {
                            Some(c) => int(script::eval(c, &self.env)?, "the count")?,
                            None => 1,
                        };
                        Some((p, c))
                    }
                };
                report::xen_tables::p2m(&self.world, dom, range)
            }
            ShowStep::M2p { mfn, count } => {
                let m = int(script::eval(mfn, &self.env)?, "the mfn")?;
                let c = match count {
                    Some(c) => int(script::eval(c, &self.env)?, "the count")?,
                    None => 1,
                };
                report::xen_tables::m2p(&self.world, m, c)
            }
            ShowStep::Override(d) => {
                let dom = self.dom(d.0, span)?;
                report::xen_tables::m2p_override(&self.world, dom)
            }
            ShowStep::Picture { process, range } => {
                let range = match range {
                    Some((a, l)) => {
                        let a = int(script::eval(a, &self.env)?, "the address")?;
                        let l = int(script::eval(l, &self.env)?, "the length")?;
                        Some((a, a.saturating_add(l)))
                    }
                    None => None,
                };
                match self.proc(process.0, span)? {
                    Some((d, pid)) => {
                        let k = self.world.kernel(d).map_err(|e| rt_err(span, e.to_string()))?;
                        let (start, end) = range.unwrap_or_else(|| {
                            let mm = k.mm(pid).ok();
                            let first = mm.and_then(|m| m.vmas.values().next().map(|v| v.start)).unwrap_or(0);
                            let last = mm.and_then(|m| m.vmas.values().next_back().map(|v| v.end)).unwrap_or(0);
                            (first, last)
                        });
                        report::address_space_picture(k, pid, start, end, 64)
                    }
                    None => String::new(),
                }
            }
        })
    }
}
