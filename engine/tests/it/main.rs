//! Integration tests of parity-engine.
mod graph;
mod pipeline;
