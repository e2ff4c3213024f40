//! The checker's `show` statements: which entity each names, and that
//! their expressions are numbers.

use super::Checker;
use crate::script::ast::Show;
use crate::script::checked::ShowStep;

impl Checker {
    pub(super) fn show(&mut self, show: Show) -> Option<ShowStep> {
        Some(match show {
            Show::Maps(p) => ShowStep::Maps(self.want_process(&p)?),
            Show::Smaps(p) => ShowStep::Smaps(self.want_process(&p)?),
            Show::Pagemap { process, mut addr, mut len } => {
                let p = self.want_process(&process);
                self.int_expr(&mut addr, "the address");
                self.int_expr(&mut len, "the length");
                ShowStep::Pagemap { process: p?, addr, len }
            }
            Show::Pagetable { process, mut addr } => {
                let p = self.want_process(&process);
                self.int_expr(&mut addr, "the address");
                ShowStep::Pagetable { process: p?, addr }
            }
            Show::Grants(d) => ShowStep::Grants(self.want_domain(&d)?),
            Show::Log(d) => ShowStep::Log(self.want_domain(&d)?),
            Show::Page { domain, mut pfn } => {
                let d = self.want_domain(&domain);
                self.int_expr(&mut pfn, "the frame number");
                ShowStep::Page { domain: d?, pfn }
            }
            Show::Override(d) => ShowStep::Override(self.want_domain(&d)?),
            Show::P2m { domain, mut pfn, mut count } => {
                let d = self.want_domain(&domain);
                pfn.iter_mut().for_each(|e| self.int_expr(e, "the frame number"));
                count.iter_mut().for_each(|e| self.int_expr(e, "the count"));
                ShowStep::P2m { domain: d?, pfn, count }
            }
            Show::M2p { mut mfn, mut count } => {
                self.int_expr(&mut mfn, "the machine frame number");
                count.iter_mut().for_each(|e| self.int_expr(e, "the count"));
                ShowStep::M2p { mfn, count }
            }
            Show::Picture { process, mut range } => {
                let p = self.want_process(&process);
                if let Some((a, l)) = &mut range {
                    self.int_expr(a, "the address");
                    self.int_expr(l, "the length");
                }
                ShowStep::Picture { process: p?, range }
            }
        })
    }
}
