//! Integration tests of the parity CLI: one binary, one module per area.

mod build;
mod cache_server;
mod chain;
mod claude_release;
mod dist;
mod errors;
mod graph;
mod hermetic;
#[path = "../../rules/tests/it/support/http.rs"]
mod http;
mod init;
mod interrupt;
mod keys;
mod manifests;
mod memo;
mod nights;
mod nodes;
mod pr_body;
mod publish;
mod release;
mod remote;
mod rule;
mod status;
mod support;
mod validation;
mod verify;
mod workflows;
