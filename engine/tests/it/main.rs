//! Integration tests of parity-engine.
