//! shipwatch: verifies production releases by binding a team's Markdown checklist to probes.
//!
//! See `ARCHITECTURE.md` for the bird's-eye view, the code map and the invariants.

pub mod api;
pub mod checklist;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod event;
pub mod fuzzing;
pub mod init;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod probe;
pub mod redact;
pub mod release;
pub mod rules;
pub mod schedule;
pub mod stats;
pub mod store;
pub mod sync;
pub mod transition;
pub mod validate;
pub mod watch;
pub mod web;
