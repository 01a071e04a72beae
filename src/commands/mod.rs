//! One file per command: a clap definition and an `exec` over an engine or rule operation.

pub mod build;
pub mod dist;
pub mod explain;
pub mod gc;
pub mod graph;
pub mod init;
pub mod jobs;
pub mod list;
pub mod pin;
pub mod pr_body;
pub mod publish;
pub mod rebuild;
pub mod rule;
pub mod status;
pub mod verify;
pub mod watch;
