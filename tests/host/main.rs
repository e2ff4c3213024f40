//! Differential tests against this machine's kernel through the oracle's
//! forked workers (`mmsim::oracle::run_on_host`): random sequences and the
//! peer suites ported from LTP and kselftest. One test binary; each file is
//! a module. The oracle's own tests (tests/oracle_host.rs) are a binary of
//! their own: they check that a run leaves no child and no descriptor
//! behind, counted over the whole process.

mod differential;
mod peer_kselftest;
mod peer_ltp;
mod peer_support;
