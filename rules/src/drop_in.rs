//! `parity rule NAME …`: the reference `xtask` commands (same flags, same exit codes). Each
//! rule that has one declares it in its own file as a [`Command`] (its clap arguments and a
//! function from them to an exit code); [`crate::DROP_INS`] lists them, and the binary
//! turns that list into its `parity rule` subcommands.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, FromArgMatches};

/// A command `parity rule` answers (object-safe, so one list holds every rule's).
pub trait DropIn: Sync {
    /// The subcommand's name.
    fn name(&self) -> &'static str;
    /// Other names it answers to (the reference's: `codex-union`).
    fn aliases(&self) -> &'static [&'static str];
    /// The clap subcommand: name, aliases, about, arguments.
    fn command(&self) -> clap::Command;
    /// Parses `args` (matched by [`DropIn::command`]) and runs it: its exit code, or an error
    /// (exit 1, printed by the binary).
    fn run(&self, args: &clap::ArgMatches) -> Result<i32>;
}

/// A drop-in command whose arguments are the clap [`Args`] struct `A`.
pub struct Command<A> {
    /// `union`.
    pub name: &'static str,
    /// `["codex-union"]`.
    pub aliases: &'static [&'static str],
    /// One line for `parity rule --help`.
    pub about: &'static str,
    /// The command: an exit code (0 ok), or an error.
    pub run: fn(A) -> Result<i32>,
}

impl<A: Args + FromArgMatches> DropIn for Command<A> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }

    fn command(&self) -> clap::Command {
        // After the arguments: their struct's doc comment would otherwise be the about.
        A::augment_args(clap::Command::new(self.name).aliases(self.aliases.iter().copied()))
            .about(self.about)
            .long_about(None::<&str>)
    }

    fn run(&self, args: &clap::ArgMatches) -> Result<i32> {
        let a = A::from_arg_matches(args).map_err(|e| anyhow::anyhow!("{e}"))?;
        (self.run)(a)
    }
}

/// `--root DIR --version V [--rules F]`: the arguments of the codex commands over one version.
#[derive(Debug, Args)]
pub struct RootVersion {
    /// The parity root.
    #[arg(long, default_value = "cli_manifests/codex", value_name = "DIR")]
    pub root: PathBuf,
    /// The version.
    #[arg(long, value_name = "V")]
    pub version: String,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    pub rules: Option<PathBuf>,
}

/// 0 for a command that succeeded.
pub(crate) fn done(result: Result<()>) -> Result<i32> {
    result.map(|()| 0)
}
