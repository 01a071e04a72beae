//! The discovery crawl (spec §1.5): help of the root, then of every listed subcommand, level by
//! level with up to `jobs` invocations at once. Help output depends only on the path, so the set
//! of paths reached equals the reference's sequential DFS with its `visited` set; the result is
//! a sorted map either way.
//!
//! Deviations (spec §11.1 item 8): a depth limit and a cycle guard (a token already in its path
//! is not recursed into); neither triggers on real codex help.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Result, bail};

use super::exec::{Outcome, Runner};
use super::parse;

/// Deepest command path crawled (root is depth 0).
pub const MAX_DEPTH: usize = 12;

pub use super::model::{CmdPath, CommandEntry};

/// What one crawl found: the entries and the help text of every path.
#[derive(Debug, Default)]
pub struct Crawl {
    pub commands: BTreeMap<CmdPath, CommandEntry>,
    pub help: BTreeMap<CmdPath, String>,
}

/// The arguments that print the help of `path`: `[global…] --help` for the root, else
/// `[global…] help <path…>`.
pub fn help_args(global: &[String], path: &[String]) -> Vec<String> {
    let mut args = global.to_vec();
    if path.is_empty() {
        args.push("--help".to_string());
    } else {
        args.push("help".to_string());
        args.extend(path.iter().cloned());
    }
    args
}

/// Crawls every command reachable from the root help.
pub fn crawl(runner: &Runner, global: &[String], jobs: usize) -> Result<Crawl> {
    let mut out = Crawl::default();
    let mut visited: BTreeSet<CmdPath> = BTreeSet::from([Vec::new()]);
    let mut frontier: Vec<CmdPath> = vec![Vec::new()];
    while !frontier.is_empty() {
        let texts = help_all(runner, global, &frontier, jobs)?;
        let mut next = Vec::new();
        for (path, text) in frontier.into_iter().zip(texts) {
            let help = parse::parse_help(&text);
            for token in &help.subcommands {
                let mut child = path.clone();
                child.push(token.clone());
                if let Some(why) = guard(&path, token) {
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

/// Why `token` listed in the help of `path` is not crawled, if it is not: too deep, or
/// already in its own path (a cycle).
fn guard(path: &[String], token: &str) -> Option<String> {
    if path.len() + 1 > MAX_DEPTH {
        Some(format!("deeper than {MAX_DEPTH} levels"))
    } else if path.iter().any(|t| t == token) {
        Some(format!("`{token}` is already in its path"))
    } else {
        None
    }
}

/// The help texts of `paths`, in order, with at most `jobs` children at once. The first
/// failing path (in `paths` order) is the error.
fn help_all(
    runner: &Runner,
    global: &[String],
    paths: &[CmdPath],
    jobs: usize,
) -> Result<Vec<String>> {
    let results: Vec<Mutex<Option<Result<String>>>> =
        paths.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, paths.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= paths.len() || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let result = help_text(runner, &help_args(global, &paths[i]));
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut texts = Vec::with_capacity(paths.len());
    let mut first_err = None;
    for slot in results {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(text)) => texts.push(text),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(texts),
    }
}

/// Runs one help invocation; any failure is fatal (`command failed: …`).
pub fn help_text(runner: &Runner, args: &[String]) -> Result<String> {
    let cmd = runner.render(args);
    match runner.run(args) {
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
