//! The discovery crawls, level by level with up to `jobs` help invocations at once. Help output
//! depends only on the path, so the set of paths reached (and, for Claude Code, the notes)
//! equals the reference's sequential depth-first crawl with its `visited` set; the result is a
//! sorted map either way.
//!
//! - codex (spec §1.5): `codex [global…] help <path…>`; any failure is fatal. Deviations (spec
//!   §11.1 item 8): a depth limit and a cycle guard (a token already in its path is not
//!   recursed into), said on stderr; neither triggers on real codex help.
//! - Claude Code (claude spec §1.4, §1.5): `claude <path…> --help`; the root is strict, every
//!   other probe tolerant (a failure or timeout becomes a bare entry and a note); the
//!   reference's depth, recursion and cycle guards with their notes. Past the reference (claude
//!   §9 B1): a path whose help is byte-identical to the root's (from 2.1.153 on, a word of a
//!   wrapped root description, which Claude Code takes for a prompt) is recorded as the
//!   reference records it, but its tokens are not crawled: the reference never finishes there.
//!   A note says so.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, bail};

use super::Cli;
use super::exec::{Outcome, Purpose, Runner};
use super::parse;

pub use super::model::{CmdPath, CommandEntry};

/// Deepest command path crawled (root is depth 0).
pub const MAX_DEPTH: usize = 12;

/// What one crawl found: the entries, the help text of every path that printed one, and (for
/// Claude Code) the notes in the reference's order (sorted, duplicates kept).
#[derive(Debug, Default)]
pub struct Crawl {
    pub commands: BTreeMap<CmdPath, CommandEntry>,
    pub help: BTreeMap<CmdPath, String>,
    pub notes: Vec<String>,
}

/// The arguments that print the help of `path`: codex `[global…] --help` for the root, else
/// `[global…] help <path…>`; Claude Code `<path…> --help`.
pub fn help_args(cli: Cli, global: &[String], path: &[String]) -> Vec<String> {
    let mut args = global.to_vec();
    match cli {
        Cli::Codex if !path.is_empty() => {
            args.push("help".to_string());
            args.extend(path.iter().cloned());
        }
        Cli::Codex => args.push("--help".to_string()),
        Cli::Claude => {
            args.extend(path.iter().cloned());
            args.push("--help".to_string());
        }
    }
    args
}

/// Crawls every codex command reachable from the root help.
pub fn crawl(runner: &Runner, global: &[String], jobs: usize) -> Result<Crawl> {
    let mut out = Crawl::default();
    let mut visited: BTreeSet<CmdPath> = BTreeSet::from([Vec::new()]);
    let mut frontier: Vec<CmdPath> = vec![Vec::new()];
    while !frontier.is_empty() {
        let texts = probe_all(&frontier, jobs, |path| {
            help_text(runner, &help_args(Cli::Codex, global, path))
        });
        let mut next = Vec::new();
        for (path, text) in frontier.into_iter().zip(texts) {
            let text = text?;
            let help = parse::parse_help(&text, Cli::Codex);
            for token in &help.subcommands {
                let mut child = path.clone();
                child.push(token.clone());
                if let Some(why) = codex_guard(&path, token) {
                    eprintln!("warning: not crawling `{}`: {why}", child.join(" "));
                } else if visited.insert(child.clone()) {
                    next.push(child);
                }
            }
            out.commands
                .insert(path.clone(), entry_from_help(path.clone(), help));
            out.help.insert(path, text);
        }
        frontier = next;
    }
    Ok(out)
}

/// Why `token` listed in the codex help of `path` is not crawled, if it is not: too deep, or
/// already in its own path (a cycle).
fn codex_guard(path: &[String], token: &str) -> Option<String> {
    if path.len() + 1 > MAX_DEPTH {
        Some(format!("deeper than {MAX_DEPTH} levels"))
    } else if path.iter().any(|t| t == token) {
        Some(format!("`{token}` is already in its path"))
    } else {
        None
    }
}

/// The program as notes name it: the canonical path, as the reference writes it (machine
/// dependent when a probe fails, claude spec §9 B5), or its file name only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotePaths {
    /// The reference's text.
    Full,
    /// The file name (pipeline nodes: the same bytes on every machine).
    FileName,
}

/// What one tolerant Claude Code probe gave.
enum Probe {
    Text(String),
    Note(String),
}

/// Crawls every Claude Code command reachable from the root help (claude spec §1.4, §1.5).
pub fn crawl_claude(runner: &Runner, jobs: usize, names: NotePaths) -> Result<Crawl> {
    let render = |args: &[String]| match names {
        NotePaths::Full => runner.render(args),
        NotePaths::FileName => runner.render_short(args),
    };
    let root_args = help_args(Cli::Claude, &[], &[]);
    let root_text = help_text(runner, &root_args)?;
    let root_help = parse::parse_help(&root_text, Cli::Claude);
    let mut frontier: Vec<CmdPath> = root_help
        .subcommands
        .iter()
        .map(|t| vec![t.clone()])
        .collect();
    let mut out = Crawl::default();
    out.commands
        .insert(Vec::new(), entry_from_help(Vec::new(), root_help));
    out.help.insert(Vec::new(), root_text.clone());
    let mut visited: BTreeSet<CmdPath> = BTreeSet::new();
    let mut repeats = Vec::new();
    while !frontier.is_empty() {
        frontier.retain(|p| visited.insert(p.clone()));
        let probes = probe_all(&frontier, jobs, |path| {
            tolerant_probe(runner, &help_args(Cli::Claude, &[], path), &render)
        });
        let mut next = Vec::new();
        for (path, probe) in frontier.into_iter().zip(probes) {
            let text = match probe {
                Probe::Note(note) => {
                    out.notes.push(note);
                    let bare = CommandEntry {
                        path: path.clone(),
                        ..CommandEntry::default()
                    };
                    out.commands.insert(path, bare);
                    continue;
                }
                Probe::Text(text) => text,
            };
            let help = parse::parse_help(&text, Cli::Claude);
            if text == root_text {
                repeats.push(path.join(" "));
            } else {
                for token in &help.subcommands {
                    match claude_guard(&path, token) {
                        Some(note) => out.notes.push(note),
                        None => next.push([path.as_slice(), std::slice::from_ref(token)].concat()),
                    }
                }
            }
            out.commands
                .insert(path.clone(), entry_from_help(path.clone(), help));
            out.help.insert(path, text);
        }
        frontier = next;
    }
    for path in repeats {
        eprintln!(
            "note: `{path}` prints the root help again (not a subcommand): its listed commands were not crawled"
        );
        out.notes.push(format!(
            "skipped subcommands of a path that prints the root help: {path}"
        ));
    }
    out.notes.sort();
    Ok(out)
}

/// The reference's guard note for `token` listed in the help of `path`, if it is not crawled:
/// too deep, the path's own last token, or a token already in the path.
fn claude_guard(path: &[String], token: &str) -> Option<String> {
    let at = crate::common::display_path(path);
    if path.len() + 1 > MAX_DEPTH {
        Some(format!(
            "max command depth exceeded (>{MAX_DEPTH}): {at} {token}"
        ))
    } else if path.last().is_some_and(|t| t == token) {
        Some(format!("skipped recursive subcommand token: {at} {token}"))
    } else if path.iter().any(|t| t == token) {
        Some(format!("skipped cyclic subcommand token: {at} {token}"))
    } else {
        None
    }
}

/// One non-root Claude Code help probe: its text when it exited 0, or exited otherwise but
/// looks like help; else the note the reference records.
fn tolerant_probe(runner: &Runner, args: &[String], render: &dyn Fn(&[String]) -> String) -> Probe {
    match runner.run(args, Purpose::Help) {
        Err(e) => Probe::Note(e.to_string()),
        Ok(Outcome::TimedOut) => Probe::Note(format!(
            "timeout after {}ms: {}",
            runner.timeout().as_millis(),
            render(args)
        )),
        Ok(Outcome::Exited(done)) => {
            let text = done.text();
            if done.success() || looks_like_help(&text) {
                Probe::Text(text)
            } else {
                Probe::Note(format!(
                    "help probe failed: {} (exit {})",
                    render(args),
                    done.code()
                ))
            }
        }
    }
}

/// The reference's test for a help printed with a non-zero exit.
fn looks_like_help(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["usage:", "commands:", "subcommands:", "options:", "flags:"]
        .iter()
        .any(|m| lower.contains(m))
}

/// `probe(path)` for every path, in order, with at most `jobs` running at once.
fn probe_all<T: Send>(
    paths: &[CmdPath],
    jobs: usize,
    probe: impl Fn(&CmdPath) -> T + Sync,
) -> Vec<T> {
    let results: Vec<Mutex<Option<T>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, paths.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = paths.get(i) else { break };
                    let result = probe(path);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// Runs one help (or `--version`) invocation strictly: any failure is fatal (`command failed:
/// …`, the reference's text).
pub fn help_text(runner: &Runner, args: &[String]) -> Result<String> {
    strict(runner, args, Purpose::Help)
}

/// [`help_text`] for an invocation of `purpose`.
pub fn strict(runner: &Runner, args: &[String], purpose: Purpose) -> Result<String> {
    let cmd = runner.render(args);
    match runner.run(args, purpose) {
        Err(e) => bail!("command failed: {cmd}: {e}"),
        Ok(Outcome::TimedOut) => {
            bail!(
                "command failed: timeout after {}ms: {cmd}",
                runner.timeout().as_millis()
            )
        }
        Ok(Outcome::Exited(done)) if !done.success() => {
            bail!("command failed: {}", done.failure(&cmd))
        }
        Ok(Outcome::Exited(done)) => Ok(done.text()),
    }
}

/// The snapshot entry of one parsed help: usage-inferred args merged in, lists sorted, empty
/// lists absent.
pub fn entry_from_help(path: CmdPath, help: parse::ParsedHelp) -> CommandEntry {
    let mut args = help.args;
    if let Some(usage) = &help.usage {
        let inferred = parse::infer_usage_args(usage, &path, !help.subcommands.is_empty());
        parse::merge_args(&mut args, inferred);
    }
    let mut flags = help.flags;
    parse::sort_flags(&mut flags);
    CommandEntry {
        path,
        about: help.about,
        usage: help.usage,
        args: non_empty(args),
        flags: non_empty(flags),
        ..CommandEntry::default()
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Merges pass B into pass A (spec §1.7): new paths are inserted; known ones get missing
/// about/usage filled and args/flags merged.
pub fn merge_passes(a: &mut BTreeMap<CmdPath, CommandEntry>, b: BTreeMap<CmdPath, CommandEntry>) {
    for (path, new) in b {
        let Some(old) = a.get_mut(&path) else {
            a.insert(path, new);
            continue;
        };
        old.about = old.about.take().or(new.about);
        old.usage = old.usage.take().or(new.usage);
        if let Some(extra) = new.args {
            let mut args = old.args.take().unwrap_or_default();
            parse::merge_args(&mut args, extra);
            old.args = non_empty(args);
        }
        if let Some(extra) = new.flags {
            let mut flags = old.flags.take().unwrap_or_default();
            parse::merge_flags(&mut flags, extra);
            old.flags = non_empty(flags);
        }
    }
}
