//! Integration tests of parity-rules.
mod snapshot;
mod union;
mod report;
mod metadata;
mod validate;
mod retain;
