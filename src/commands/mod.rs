//! One file per command: a clap definition and an `exec` over an engine or rule operation.

pub mod rule;
