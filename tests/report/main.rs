//! /proc reports (maps, smaps, pagemap): on the model, and against the
//! /proc files of an oracle worker process (`host`) that made the same
//! calls on this machine's kernel.

mod host;
mod model;
