//! Integration tests of parity-engine.
mod build;
mod graph;
mod pipeline;
