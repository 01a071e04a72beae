//! `parity rule …`: the reference `xtask` commands, same flags and exit codes. The commands
//! are the rules' own ([`parity_rules::DROP_INS`]): this file only parses and runs them.

use clap::{ArgMatches, FromArgMatches, Subcommand};
use parity_rules::DROP_INS;

use crate::cli::print_error;

/// The `parity rule` subcommand given, with its arguments.
#[derive(Debug)]
pub struct RuleCommand {
    name: String,
    args: ArgMatches,
}

impl FromArgMatches for RuleCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        match matches.subcommand() {
            Some((name, args)) => Ok(RuleCommand {
                name: name.to_string(),
                args: args.clone(),
            }),
            None => Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand)),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for RuleCommand {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd.subcommands(DROP_INS.iter().map(|d| d.command()))
            .subcommand_required(true)
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        DROP_INS
            .iter()
            .any(|d| d.name() == name || d.aliases().contains(&name))
    }
}

/// Runs one rule command: its exit code (0 ok; validate: 0/2/3), 1 after printing an error.
pub fn exec(cmd: RuleCommand) -> i32 {
    let Some(drop_in) = DROP_INS.iter().find(|d| d.name() == cmd.name) else {
        eprintln!("error: no rule command `{}`", cmd.name);
        return 2;
    };
    match drop_in.run(&cmd.args) {
        Ok(code) => code,
        Err(err) => {
            print_error(&err);
            1
        }
    }
}
