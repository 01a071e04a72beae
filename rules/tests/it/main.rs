//! Integration tests of parity-rules.
