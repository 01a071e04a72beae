//! Integration tests of parity-rules.
#[path = "support/files.rs"]
mod files;

mod acquire;
mod claude;
mod metadata;
mod real_claude;
mod real_codex;
mod report;
mod retain;
mod snapshot;
mod union;
mod validate;
