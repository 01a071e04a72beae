//! The `help-surface` check of `validation@V/T` nodes (and of the records in
//! `validation.toml`): what the wrapper coverage manifest claims as covered exists in the real
//! binary (codex, or Claude Code: both print `Usage: <program> <path…> …`).
//!
//! For every command entry whose level is `explicit` or `passthrough` and whose scope contains
//! the target: `<program> <path…> --help` exits 0 (hermetic as the snapshot rules run it, with a
//! timeout) and prints a `Usage:` line for that path (not the root's help, as when codex takes
//! an unknown subcommand for a prompt, or Claude Code from 2.1.153 prints its root help for an
//! unknown word), and every
//! `explicit`/`passthrough` flag key and arg name of that entry in scope appears in that help
//! text (flags as a whole word, args as `<NAME>`/`[NAME]` or a `NAME` word).

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use regex::Regex;

use crate::coverage::{self, Scope, TargetSpace};
use crate::snapshot::Cli;
use crate::snapshot::exec::{Outcome, Purpose, Runner};

/// A claim of the manifest that the binary does not back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was claimed, e.g. `command \`fork\`` or `flag \`fork --last\``.
    pub claim: String,
    /// Why it does not hold.
    pub reason: String,
}

/// The outcome of [`check`]: how many claims were checked and which failed.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Command paths checked (`--help` invoked).
    pub commands: usize,
    /// Flags and args checked.
    pub units: usize,
    /// Claims that do not hold; empty = passed.
    pub failures: Vec<Failure>,
}

const COVERED: [&str; 2] = ["explicit", "passthrough"];

/// Checks the claims of `wrapper_coverage` on `target` against `binary`.
pub fn check(
    binary: &Path,
    wrapper_coverage: &Path,
    space: &TargetSpace,
    target: &str,
    timeout: Duration,
    cli: Cli,
) -> Result<CheckReport> {
    if !space.expected.iter().any(|t| t == target) {
        bail!("target `{target}` is not one of the expected targets");
    }
    let wrapper = coverage::read(wrapper_coverage)?;
    let runner = Runner::new(binary.to_path_buf(), timeout, cli)?;
    let in_scope = |s: Option<&Scope>| space.resolve_scope(s).contains(target);
    let mut report = CheckReport::default();
    for cmd in &wrapper.coverage {
        if !COVERED.contains(&cmd.level.as_str()) || !in_scope(cmd.scope.as_ref()) {
            continue;
        }
        report.commands += 1;
        let name = format!("command `{}`", crate::common::display_path(&cmd.path));
        let mut args = cmd.path.clone();
        args.push("--help".to_string());
        let help = match runner.run(&args, Purpose::Help)? {
            Outcome::Exited(f) if f.success() => f.text(),
            Outcome::Exited(f) => {
                let reason = format!("`{}` exited {}", runner.render_short(&args), f.code());
                report.failures.push(Failure {
                    claim: name,
                    reason,
                });
                continue;
            }
            Outcome::TimedOut => {
                let reason = format!("`{}` timed out", runner.render_short(&args));
                report.failures.push(Failure {
                    claim: name,
                    reason,
                });
                continue;
            }
        };
        let at = crate::common::display_path(&cmd.path);
        if !usage_names(&help, &cmd.path) {
            // e.g. an unknown subcommand taken as the root's PROMPT prints the root's help
            let reason = format!(
                "`{}` printed no `Usage:` line for `{at}`",
                runner.render_short(&args)
            );
            report.failures.push(Failure {
                claim: name,
                reason,
            });
            continue;
        }
        let claimed = cmd
            .members()
            .filter(|m| COVERED.contains(&m.level) && in_scope(m.scope));
        for m in claimed {
            report.units += 1;
            if !word(&help, m.id) {
                report.failures.push(Failure {
                    claim: format!("{} `{at} {}`", m.kind.as_str(), m.id),
                    reason: "not in the command's help".to_string(),
                });
            }
        }
    }
    Ok(report)
}

/// Whether the help has a `Usage:` line for exactly `path` (`Usage: codex fork [OPTIONS]`).
fn usage_names(help: &str, path: &[String]) -> bool {
    if path.is_empty() {
        return true;
    }
    let tokens: Vec<String> = path.iter().map(|t| regex::escape(t)).collect();
    let pattern = format!(r"(?m)^\s*Usage:\s+\S+\s+{}(\s|$)", tokens.join(r"\s+"));
    Regex::new(&pattern).is_ok_and(|re| re.is_match(help))
}

/// Whether `needle` occurs in `text` not preceded or followed by a word character or `-`.
fn word(text: &str, needle: &str) -> bool {
    let pattern = format!(r"(^|[^\w-]){}($|[^\w-])", regex::escape(needle));
    Regex::new(&pattern).is_ok_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::word;

    #[test]
    fn flags_match_as_whole_words_only() {
        let help =
            "Usage: codex fork [OPTIONS] [SESSION_ID]\n  --last  Continue\n  --all-x  Other\n";
        assert!(word(help, "--last"));
        assert!(word(help, "SESSION_ID"));
        assert!(!word(help, "--all"));
        assert!(!word(help, "--las"));
    }

    #[test]
    fn usage_must_name_the_command_path() {
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let fork = "Fork a session\n\nUsage: codex fork [OPTIONS] [SESSION_ID]\n";
        assert!(super::usage_names(fork, &path(&["fork"])));
        let root = "Codex CLI\n\nUsage: codex [OPTIONS] [PROMPT]\n";
        assert!(!super::usage_names(root, &path(&["fork"])));
        let nested = "Usage: codex exec resume [OPTIONS]\n";
        assert!(super::usage_names(nested, &path(&["exec", "resume"])));
    }
}
