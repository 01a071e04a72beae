//! Integration tests of parity-engine.
mod pipeline;
mod graph;
