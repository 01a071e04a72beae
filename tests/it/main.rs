//! Integration tests of the parity CLI: one binary, one module per area.

mod build;
mod cache_server;
mod chain;
mod dist;
mod errors;
mod graph;
mod interrupt;
mod manifests;
mod memo;
mod nodes;
mod release;
mod remote;
mod status;
mod support;
mod verify;
