//! Differential tests against this machine's kernel through the oracle's
//! forked workers (`mmsim::oracle::run_on_host`): the oracle itself, random
//! sequences, and the peer suites ported from LTP and kselftest. One test
//! binary; each file is a module.

mod differential;
mod oracle;
mod peer_kselftest;
mod peer_ltp;
mod peer_support;
