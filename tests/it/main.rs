//! Integration tests of the parity CLI.
mod manifests;
