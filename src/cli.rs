//! The command line: global options, subcommands, error printing and exit codes.

use clap::{Parser, Subcommand};

use crate::commands;

/// A declarative, incremental build graph for the artifacts that keep a CLI wrapper in parity
/// with its upstream.
#[derive(Debug, Parser)]
#[command(name = "parity", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one reference rule directly, as a drop-in for the reference `xtask` commands.
    #[command(subcommand)]
    Rule(commands::rule::RuleCommand),
}

/// Runs the process and returns its exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Rule(cmd) => commands::rule::exec(cmd),
    }
}

/// Prints an error with its `Caused by:` chain to stderr.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    let mut chain = err.chain().skip(1).peekable();
    if chain.peek().is_some() {
        eprintln!("\nCaused by:");
        for cause in chain {
            eprintln!("    {cause}");
        }
    }
}
