//! Integration tests of parity-rules.
mod metadata;
mod report;
mod retain;
mod snapshot;
mod union;
mod validate;
