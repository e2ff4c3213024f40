//! /proc reports (maps, smaps, pagemap): on the model, and against this
//! test process's own /proc. A binary of its own: `host` compares sharing
//! (Shared_/Private_ fields, the exclusive bit), which a fork in a
//! concurrently running test of another module would change.

mod host;
mod model;
