//! `parity verify [--rebuild] [--json]`: the CI gate "regenerate, fail on drift".
//!
//! Without `--rebuild` nothing runs: every committed output must have the digest
//! `pipeline.lock` records (else it was edited by hand) and every node must be fresh (else an
//! input changed and the output was not rebuilt). With `--rebuild`, a scratch copy of the
//! workspace is rebuilt from scratch with a private cache and every committed output compared
//! byte for byte, to prove the build deterministic.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use parity_engine::fingerprint::DirtyReason;
use parity_engine::graph::OutputKind;
use parity_engine::workspace::{State, Workspace};
use serde_json::json;

use super::rebuild;
use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also rebuild every node in a scratch copy (private cache, no remote) and compare bytes.
    #[arg(long)]
    rebuild: bool,
    /// One JSON record per finding on stdout, ending with a `summary` record.
    #[arg(long)]
    json: bool,
}

/// One thing `verify` reports: a problem (fails the gate) or a note.
struct Finding {
    problem: bool,
    line: String,
    record: serde_json::Value,
}

impl Finding {
    fn problem(line: String, record: serde_json::Value) -> Finding {
        Finding {
            problem: true,
            line,
            record,
        }
    }
}

pub fn exec(g: &GlobalArgs, a: VerifyArgs) -> anyhow::Result<i32> {
    let (ws, hasher, lock) = cli::workspace_with_state(g)?;
    let all: Vec<usize> = (0..ws.graph.nodes.len()).collect();
    let statuses = ws.status(&hasher, &lock, &all)?;
    let _ = hasher.save();
    let mut findings = Vec::new();
    for s in &statuses {
        findings.extend(check_node(&ws, s));
    }
    if a.rebuild {
        findings.extend(rebuild_and_compare(g, &ws, &lock)?);
    }
    let problems = findings.iter().filter(|f| f.problem).count();
    for f in &findings {
        if a.json {
            println!("{}", f.record);
        } else {
            println!("{}", f.line);
        }
    }
    if a.json {
        println!(
            "{}",
            json!({"event": "summary", "ok": problems == 0, "nodes": statuses.len(),
                   "problems": problems, "rebuilt": a.rebuild})
        );
    } else if problems == 0 {
        println!(
            "verify: ok: {} node{} fresh, every committed output matches `pipeline.lock`{}",
            statuses.len(),
            if statuses.len() == 1 { "" } else { "s" },
            if a.rebuild {
                ", and a rebuild from scratch reproduces it byte for byte"
            } else {
                ""
            }
        );
    }
    if problems > 0 {
        let drift = findings
            .iter()
            .any(|f| f.problem && (f.line.starts_with("modified") || f.line.starts_with("stale")));
        eprintln!(
            "error: verify found {problems} problem{}{}",
            if problems == 1 { "" } else { "s" },
            if drift {
                " (run `parity build` and commit the result; it overwrites outputs edited by hand)"
            } else {
                ""
            }
        );
        return Ok(1);
    }
    Ok(0)
}

/// Where an output name lives, relative to the directory of `pipeline.toml` when possible.
fn shown_path(ws: &Workspace, name: &str) -> String {
    let path = ws.path_of(name);
    path.strip_prefix(&ws.dir)
        .unwrap_or(&path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// What is wrong with one node, from its status.
fn check_node(ws: &Workspace, s: &parity_engine::workspace::NodeStatus) -> Vec<Finding> {
    let id = ws.graph.nodes[s.node].id.as_str();
    let mut out = Vec::new();
    let mut other = Vec::new();
    for r in &s.reasons {
        match r {
            DirtyReason::OutputModified {
                output,
                recorded,
                actual,
                file,
            } => {
                let path = shown_path(ws, output);
                let changed = file
                    .as_deref()
                    .map(|f| format!(": `{}` differs", shown_path(ws, f)))
                    .unwrap_or_default();
                let mut record = json!({"problem": "modified", "node": id, "output": path,
                       "recorded": recorded, "actual": actual});
                if let Some(f) = file {
                    record["file"] = shown_path(ws, f).into();
                }
                out.push(Finding::problem(
                    format!(
                        "modified: {path} (recorded blake3:{}, now {}; node {id}){changed}",
                        recorded.blake3.short(),
                        actual.blake3.short()
                    ),
                    record,
                ));
            }
            r => other.push(r),
        }
    }
    match s.state {
        State::Fresh => {}
        State::Blocked if out.is_empty() && !other.iter().any(|r| is_output_missing(r)) => {
            let why = s
                .unavailable
                .as_ref()
                .map_or("cannot run on this host".into(), |u| u.to_string());
            out.push(Finding {
                problem: false,
                line: format!(
                    "note: {id} is blocked here ({why}); its recorded outputs match, counted as fine"
                ),
                record: json!({"note": "blocked", "node": id, "message": why}),
            });
        }
        _ if !other.is_empty() || s.unavailable.is_some() => {
            let mut reasons: Vec<String> = other.iter().map(|r| r.to_string()).collect();
            if let Some(u) = &s.unavailable {
                reasons.insert(0, u.to_string());
            }
            // Modified outputs are listed on their own lines: the rest makes the node stale.
            let word = match s.state {
                State::Blocked | State::Broken => s.state.as_str(),
                _ => "stale",
            };
            let mut record = json!({"problem": word, "node": id, "reasons": other});
            if let Some(u) = &s.unavailable {
                record["message"] = u.to_string().into();
            }
            out.push(Finding::problem(
                format!("{word}: {id}  {}", reasons.join("; ")),
                record,
            ));
        }
        _ => {}
    }
    out
}

fn is_output_missing(r: &DirtyReason) -> bool {
    matches!(r, DirtyReason::OutputMissing { .. })
}

/// Where the pipeline file's copy goes in `scratch`, and the root's path relative to it: the
/// root is the pipeline file's directory or below it (the file at the top of `scratch`), or
/// above it (the root at the top, the file at its place below). A root elsewhere is refused,
/// so nothing is ever written outside `scratch`.
fn scratch_layout(
    ws: &Workspace,
    scratch: &Path,
    pipeline: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let canon = |p: &Path| {
        p.canonicalize()
            .with_context(|| format!("failed to resolve `{}`", p.display()))
    };
    let (dir, root) = (canon(&ws.dir)?, canon(ws.root())?);
    if let Ok(below) = root.strip_prefix(&dir) {
        return Ok((scratch.to_path_buf(), below.to_path_buf()));
    }
    let Ok(up) = dir.strip_prefix(&root) else {
        anyhow::bail!(
            "`verify --rebuild` needs the pipeline root to hold, or be inside, the directory of `{}`",
            pipeline.display()
        );
    };
    let copy_dir = scratch.join(up);
    std::fs::create_dir_all(&copy_dir)
        .with_context(|| format!("failed to create `{}`", copy_dir.display()))?;
    Ok((copy_dir, up.components().map(|_| "..").collect()))
}

/// Copies the workspace into a temp dir, rebuilds every node that can run here (forced, private
/// cache), and compares every committed output with the original. Nodes of the rules whose
/// outputs are fixed by a pin (`FACT_RULES`: pins, acquired binaries) are not rebuilt: pins are
/// facts, measured once; the acquired binaries the local cache holds are handed to the copy, so
/// nothing is downloaded again.
fn rebuild_and_compare(
    g: &GlobalArgs,
    ws: &Workspace,
    lock: &parity_engine::state::Lock,
) -> anyhow::Result<Vec<Finding>> {
    let scratch = tempfile::Builder::new()
        .prefix("parity-verify-")
        .tempdir()
        .context("failed to create a temporary directory")?;
    // The copy keeps the places of the pipeline file and its root relative to each other,
    // inside the scratch directory, whichever holds the other (`root = ".."`: the root).
    let (copy_dir, rel_root) = scratch_layout(ws, scratch.path(), &g.pipeline)?;
    let copy_dir = copy_dir.as_path();
    let pipeline_name = g
        .pipeline
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("`{}` is not a file", g.pipeline.display()))?;
    let copy = |from: &Path, to: PathBuf| {
        std::fs::copy(from, &to)
            .with_context(|| format!("failed to copy `{}` to `{}`", from.display(), to.display()))
    };
    copy(&g.pipeline, copy_dir.join(pipeline_name))?;
    if ws.lock_path.exists() {
        copy(
            &ws.lock_path,
            copy_dir.join(ws.lock_path.file_name().unwrap_or_default()),
        )?;
    }
    let skip = [
        ws.cache.dir().to_path_buf(),
        ws.dir.join(".git"),
        ws.dir.join("target"),
        ws.root().join(".git"),
        ws.root().join("target"),
    ];
    rebuild::copy_tree_except(ws.root(), &copy_dir.join(rel_root), &skip)?;

    let copy = Workspace::open(&copy_dir.join(pipeline_name), cli::registry(g))?;
    let mut reused = 0;
    for ix in (0..copy.graph.nodes.len()).filter(|&ix| rebuild::is_fact(&copy, ix)) {
        let id = copy.graph.nodes[ix].id.as_str();
        if let Some(entry) = lock.nodes.get(id)
            && let Some(action) = ws
                .cache
                .get_action(&entry.key, &copy.graph.nodes[ix].outputs)
            && seed(ws, &copy, &entry.key, &action)?
        {
            reused += 1;
        }
    }
    if reused > 0 {
        eprintln!(
            "verify: {reused} pinned output{} reused from the local cache",
            if reused == 1 { "" } else { "s" }
        );
    }
    let rebuilt = rebuild::rebuild(&copy, false, "verify")?;
    let summary = &rebuilt.summary;
    eprintln!(
        "verify: rebuild done: {} ran, {} blocked on this host (their committed outputs kept), {} failed",
        summary.ran, summary.blocked, summary.failed
    );

    let mut findings: Vec<Finding> = rebuilt
        .failed
        .into_iter()
        .map(|(node, m)| {
            Finding::problem(
                format!("failed: {node} (in the rebuild): {m}"),
                json!({"problem": "rebuild_failed", "node": node, "message": m}),
            )
        })
        .collect();
    for node in &ws.graph.nodes {
        for o in node
            .outputs
            .iter()
            .filter(|o| o.kind == OutputKind::Committed)
        {
            let (ours, theirs) = (ws.output_path(o), copy.output_path(o));
            if let Some(detail) = rebuild::differs(&ours, &theirs)? {
                let path = shown_path(ws, &o.name());
                findings.push(Finding::problem(
                    format!(
                        "differs: {path} (node {}): the rebuild {detail}",
                        node.id.as_str()
                    ),
                    json!({"problem": "differs", "node": node.id.as_str(), "output": path,
                           "detail": detail}),
                ));
            }
        }
    }
    Ok(findings)
}

/// Copies the action `key` of the workspace's local cache, with its objects, into the copy's;
/// `false` when an object is missing or corrupt.
fn seed(
    ws: &Workspace,
    copy: &Workspace,
    key: &parity_engine::fingerprint::ActionKey,
    action: &parity_engine::cache::ActionEntry,
) -> anyhow::Result<bool> {
    for rec in action.outputs.values() {
        let digests: Vec<_> = match &rec.tree {
            Some(tree) => tree.iter().map(|e| e.digest.blake3).collect(),
            None => vec![rec.digest.blake3],
        };
        for d in digests {
            let Some(bytes) = ws.cache.get_bytes(&d)? else {
                return Ok(false);
            };
            copy.cache.put_bytes(&bytes)?;
        }
    }
    copy.cache.put_action(key, action)?;
    Ok(true)
}
