//! A rebuild of a scratch copy and its comparison with the original, byte for byte: shared by
//! `parity verify --rebuild` and `parity init --adopt`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use parity_engine::build::{self, BuildOptions, Event, Outcome, Reporter, Summary};
use parity_engine::workspace::Workspace;
use parity_rules::release::FACT_RULES;

/// What a scratch rebuild did.
pub struct Rebuilt {
    /// The build's counts.
    pub summary: Summary,
    /// The nodes that failed, with the message.
    pub failed: Vec<(String, String)>,
}

/// Rebuilds every node of the scratch workspace `copy` that can run on this host, except the
/// pins and acquired binaries ([`FACT_RULES`]: facts, never re-measured): forced, going on
/// after failures, with its own (private, empty) cache and no remote; `adopt`: over files its
/// lock does not record. Says how many on stderr, after `who: `.
pub fn rebuild(copy: &Workspace, adopt: bool, who: &str) -> anyhow::Result<Rebuilt> {
    let nodes: Vec<usize> = (0..copy.graph.nodes.len())
        .filter(|&ix| copy.can_run_here(ix) && !is_fact(copy, ix))
        .collect();
    eprintln!(
        "{who}: rebuilding {} node{} from scratch in a temporary copy",
        nodes.len(),
        if nodes.len() == 1 { "" } else { "s" }
    );
    let opts = BuildOptions {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        keep_going: true,
        force: true,
        dry_run: false,
        remote: None,
        adopt,
    };
    let mut failures = Failures(Vec::new());
    let cancel = AtomicBool::new(false);
    let summary = build::build(copy, &nodes, &opts, &cancel, &mut failures)?;
    Ok(Rebuilt {
        summary,
        failed: failures.0,
    })
}

/// Whether node `ix` is of a rule whose outputs a pin fixes ([`FACT_RULES`]).
pub fn is_fact(ws: &Workspace, ix: usize) -> bool {
    FACT_RULES.contains(&&*ws.graph.nodes[ix].rule)
}

/// Collects the nodes a rebuild could not build.
struct Failures(Vec<(String, String)>);

impl Reporter for Failures {
    fn event(&mut self, event: Event<'_>) {
        if let Event::Finished {
            node,
            outcome: Outcome::Failed(m),
            ..
        } = event
        {
            self.0.push((node.to_string(), m.to_string()));
        }
    }
}

/// Copies the tree `from` to `to` (files with their permissions), leaving out the paths in
/// `skip` and everything below them. Symbolic links and special files are not copied.
pub fn copy_tree_except(from: &Path, to: &Path, skip: &[PathBuf]) -> anyhow::Result<()> {
    let skip: Vec<PathBuf> = skip.iter().filter_map(|s| s.canonicalize().ok()).collect();
    let walk = walkdir::WalkDir::new(from)
        .into_iter()
        .filter_entry(|e| e.path().canonicalize().map_or(true, |p| !skip.contains(&p)));
    for entry in walk {
        let entry = entry.with_context(|| format!("failed to read `{}`", from.display()))?;
        let dest = to.join(entry.path().strip_prefix(from)?);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)
                .with_context(|| format!("failed to create `{}`", dest.display()))?;
        } else if entry.file_type().is_file() {
            parity_engine::fsutil::copy_tree(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// How `theirs` differs from `ours` (files or whole trees), `None` when byte-identical.
pub fn differs(ours: &Path, theirs: &Path) -> anyhow::Result<Option<String>> {
    let (a, b) = (files_of(ours)?, files_of(theirs)?);
    if a == b {
        return Ok(None);
    }
    for (rel, bytes) in &a {
        match b.iter().find(|(r, _)| r == rel) {
            None => return Ok(Some(format!("lacks `{rel}`"))),
            Some((_, other)) if other != bytes => {
                let at = bytes
                    .iter()
                    .zip(other)
                    .position(|(x, y)| x != y)
                    .unwrap_or(bytes.len().min(other.len()));
                let what = if rel.is_empty() {
                    String::new()
                } else {
                    format!("`{rel}` ")
                };
                return Ok(Some(format!(
                    "wrote {what}different bytes (first at byte {at}{})",
                    json_changes(bytes, other)
                )));
            }
            Some(_) => {}
        }
    }
    let extra = b
        .iter()
        .find(|(r, _)| !a.iter().any(|(x, _)| x == r))
        .map_or(String::new(), |(r, _)| r.clone());
    Ok(Some(format!("also wrote `{extra}`")))
}

/// For two JSON documents, `: /a/b \`old\` -> \`new\`, /c` (the first few values that
/// differ, by JSON pointer); nothing for anything else.
fn json_changes(ours: &[u8], theirs: &[u8]) -> String {
    let (Ok(a), Ok(b)) = (
        serde_json::from_slice::<serde_json::Value>(ours),
        serde_json::from_slice::<serde_json::Value>(theirs),
    ) else {
        return String::new();
    };
    let mut changes = Vec::new();
    json_diff("", &a, &b, &mut changes);
    const SHOWN: usize = 3;
    let mut s: Vec<String> = changes.iter().take(SHOWN).cloned().collect();
    if changes.len() > SHOWN {
        s.push(format!("and {} more", changes.len() - SHOWN));
    }
    if s.is_empty() {
        String::new()
    } else {
        format!(": {}", s.join(", "))
    }
}

/// The JSON pointers at which `a` and `b` differ, scalars shown `old -> new` (cut at 60
/// characters).
fn json_diff(at: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    let short = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 60 {
            format!("{}...", s.chars().take(60).collect::<String>())
        } else {
            s
        }
    };
    match (a, b) {
        _ if a == b => {}
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => json_diff(&here, p, q, out),
                    (Some(_), None) => out.push(format!("{here} removed")),
                    (None, Some(_)) => out.push(format!("{here} added")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(&format!("{at}/{i}"), p, q, out);
            }
        }
        (Value::Array(x), Value::Array(y)) => out.push(format!(
            "{} ({} items -> {})",
            if at.is_empty() { "/" } else { at },
            x.len(),
            y.len()
        )),
        _ => out.push(format!(
            "{} `{}` -> `{}`",
            if at.is_empty() { "/" } else { at },
            short(a),
            short(b)
        )),
    }
}

/// Every file under `path` (or `path` itself, as ``), sorted by relative path.
fn files_of(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.with_context(|| format!("failed to read `{}`", path.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(path)?
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("failed to read `{}`", entry.path().display()))?;
        out.push((rel, bytes));
    }
    Ok(out)
}
