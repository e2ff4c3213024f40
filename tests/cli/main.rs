//! The command line and the scenario language as users meet them: golden
//! scenarios (insta snapshots in tests/snapshots), exploration, traces,
//! JSON output, hostile input, the HTML pages in a browser, and the docs
//! kept in step with the code. One test binary; each file is a module.
//! The time-budgeted tests (tests/robustness.rs, tests/explore_goldens.rs)
//! stay binaries of their own: run beside these they miss their budgets.

mod browser;
mod browser_cdp;
mod docs;
mod explore;
mod hostile_cli;
mod json_schema;
mod scenarios;
mod trace;
