//! Integration tests of the parity CLI: one binary, one module per area.

mod build;
mod errors;
mod graph;
mod interrupt;
mod manifests;
mod release;
mod status;
mod support;
