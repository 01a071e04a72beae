//! The no-op verdict memo (`cache/noop`): a verified fast path for a no-op `status` / `build`.
//!
//! When `status` or `build` has evaluated the whole graph and every node was fresh (or blocked
//! on this host), it records each node's verdict together with everything that could change a
//! verdict: an identity of the binary and its rules, the environment variables any rule (or the
//! engine) reads, and the stat tuple (size, mtime_ns, inode, ctime_ns) of every file the
//! evaluation depends on: `pipeline.toml`, its param files, `pipeline.lock`, the build
//! journal, every source input and committed output (each member of a directory), and the
//! action-cache entry a blocked node would be restored from. Paths that were absent are
//! recorded as absent.
//!
//! The next run reads the memo, checks the identity and the environment, stats every recorded
//! path (nothing else: no graph expansion, no lock parse) and, if all match exactly, answers
//! from the memo. Any mismatch, parse error or version change: the caller takes the full path,
//! which writes a new memo when the graph is all fresh again.
//!
//! Soundness rests on ctime, which nothing but the kernel sets: the memo is written only if
//! every recorded path's ctime (and mtime) is older than one second before the evaluation
//! started. Any change after that instant, whenever it happens, leaves a different ctime (or
//! inode), so a stale node never looks fresh. Files touched within that second make the writer
//! skip the memo (git's "racy" rule); a later run writes it.
//!
//! ```text
//! "parity-noop-memo\0" version:u32 identity:[u8;32]
//! env:   count:u32 x { name:str present:u8 value:str }
//! files: count:u64 x { path:str present:u8 [size:u64 mtime_ns:i128 ino:u64 ctime_ns:i128] }
//! nodes: count:u64 x { id:str state:u8 why:str reasons_json:str message_present:u8 message:str }
//! build order: count:u64 x u32 (indices into nodes)
//! blake3(all of the above):[u8;32]
//! ```
//! `str` = len:u32 + UTF-8 bytes; integers little-endian; paths relative to the workspace.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::exec::Registry;
use crate::fsutil;
use crate::graph::{Input, NodeId, NodeIx, OutputKind};
use crate::hash::{Digest, Reader, StatKey};
use crate::workspace::{NodeStatus, State, Workspace};

const MAGIC: &[u8] = b"parity-noop-memo\0";
const VERSION: u32 = 1;
/// Files changed this close to the start of the evaluation are "racy": no memo is written.
const RACY: Duration = Duration::from_secs(1);

/// A test knob: the racy window in milliseconds instead of one second, so tests
/// that need a memo written do not sleep past it. Never set it outside tests: below the
/// filesystem's timestamp granularity a change made right after the memo was written could
/// keep the ctime the memo recorded.
pub const RACY_MS_ENV: &str = "PARITY_MEMO_RACY_MS";

/// The racy window: [`RACY`], or [`RACY_MS_ENV`] when it is set to a number.
fn racy_window() -> Duration {
    std::env::var(RACY_MS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(RACY, Duration::from_millis)
}

/// The environment switch that disables the memo (both reading and writing).
pub const DISABLE_ENV: &str = "PARITY_NO_MEMO";

/// One node's recorded verdict, as `status` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// The node id.
    pub id: NodeId,
    /// Its state (fresh or blocked).
    pub state: State,
    /// The text `status` prints after the id (the first reason, or why it is unavailable).
    pub why: String,
    /// The node's reasons, as the JSON array `status --json` prints.
    pub reasons_json: String,
    /// Why it cannot run, as `status --json` prints it in `message`.
    pub message: Option<String>,
}

/// A memo that was found valid: the verdicts of every node.
#[derive(Debug)]
pub struct Memo {
    /// Every node, in topological order (the order of `status`).
    pub nodes: Vec<Verdict>,
    /// The order in which a no-op `build` reports the nodes (indices into `nodes`).
    pub build_order: Vec<u32>,
}

/// Whether the memo is disabled by [`DISABLE_ENV`].
pub fn disabled() -> bool {
    std::env::var_os(DISABLE_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `cache/noop` of the workspace of `pipeline_file`.
pub fn path_of(pipeline_file: &Path) -> PathBuf {
    fsutil::parent_dir(pipeline_file).join("cache").join("noop")
}

/// Deletes the memo (a build is about to change the state). A missing memo is fine.
pub fn remove(pipeline_file: &Path) {
    let _ = std::fs::remove_file(path_of(pipeline_file));
}

/// The identity of this binary and its rules: `caller` (the CLI's version and whatever else
/// decides verdicts outside the pipeline), this executable's stat tuple, every rule's name and
/// version.
fn identity(caller: &str, registry: &Registry) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(caller.as_bytes());
    h.update(b"\0");
    if let Ok(exe) = std::env::current_exe() {
        h.update(exe.as_os_str().as_encoded_bytes());
        if let Ok(meta) = std::fs::metadata(&exe) {
            put_stat(&mut h, &StatKey::of(&meta));
        }
    }
    for name in registry.names() {
        h.update(name.as_bytes());
        h.update(b"\0");
        if let Some(rule) = registry.get(name) {
            h.update(&rule.version().to_le_bytes());
        }
    }
    Digest(*h.finalize().as_bytes())
}

fn put_stat(h: &mut blake3::Hasher, k: &StatKey) {
    h.update(&k.size.to_le_bytes());
    h.update(&k.mtime_ns.to_le_bytes());
    h.update(&k.ino.to_le_bytes());
    h.update(&k.ctime_ns.to_le_bytes());
}

/// Reads the memo of `pipeline_file` and checks it against the identity, the environment and
/// the filesystem. `Err` says why it cannot be used (for tracing); never an error to report.
pub fn load(
    pipeline_file: &Path,
    caller: &str,
    registry: &Registry,
) -> std::result::Result<Memo, String> {
    let bytes = std::fs::read(path_of(pipeline_file)).map_err(|e| format!("no memo: {e}"))?;
    let (body, sum) = bytes
        .split_at_checked(bytes.len().saturating_sub(32))
        .filter(|_| bytes.len() >= 32)
        .ok_or("truncated")?;
    if blake3::hash(body).as_bytes() != sum {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len()) != Some(MAGIC) || r.u32() != Some(VERSION) {
        return Err("not a memo of this version".into());
    }
    if r.take(32) != Some(&identity(caller, registry).0[..]) {
        return Err("other binary, rules or settings".into());
    }
    let bad = || "malformed".to_string();
    for _ in 0..r.u32().ok_or_else(bad)? {
        let name = r.str().ok_or_else(bad)?;
        let value = match r.u8().ok_or_else(bad)? {
            0 => None,
            _ => Some(r.str().ok_or_else(bad)?),
        };
        if std::env::var(name).ok().as_deref() != value {
            return Err(format!("environment variable {name} changed"));
        }
    }
    let dir = fsutil::parent_dir(pipeline_file);
    let n = r.u64().ok_or_else(bad)? as usize;
    let mut files = Vec::with_capacity(n.min(body.len()));
    for _ in 0..n {
        let path = r.str().ok_or_else(bad)?;
        let stat = match r.u8().ok_or_else(bad)? {
            0 => None,
            _ => Some(StatKey {
                size: r.u64().ok_or_else(bad)?,
                mtime_ns: r.i128().ok_or_else(bad)?,
                ino: r.u64().ok_or_else(bad)?,
                ctime_ns: r.i128().ok_or_else(bad)?,
            }),
        };
        files.push((path, stat));
    }
    let differs =
        |(path, want): &(&str, Option<StatKey>)| current_stat(&dir.join(path)) != Ok(*want);
    let changed = if files.len() >= crate::PARALLEL_MIN {
        files.par_iter().with_min_len(4096).find_any(|f| differs(f))
    } else {
        files.iter().find(|f| differs(f))
    };
    if let Some((path, _)) = changed {
        return Err(format!("`{path}` changed"));
    }
    let n = r.u64().ok_or_else(bad)? as usize;
    let mut nodes = Vec::with_capacity(n.min(body.len()));
    for _ in 0..n {
        let id = NodeId(r.str().ok_or_else(bad)?.to_string());
        let state = match r.u8().ok_or_else(bad)? {
            0 => State::Fresh,
            1 => State::Blocked,
            _ => return Err(bad()),
        };
        let why = r.str().ok_or_else(bad)?.to_string();
        let reasons_json = r.str().ok_or_else(bad)?.to_string();
        let message = match r.u8().ok_or_else(bad)? {
            0 => None,
            _ => Some(r.str().ok_or_else(bad)?.to_string()),
        };
        nodes.push(Verdict {
            id,
            state,
            why,
            reasons_json,
            message,
        });
    }
    let n = r.u64().ok_or_else(bad)? as usize;
    let mut build_order = Vec::with_capacity(n.min(body.len()));
    for _ in 0..n {
        let i = r.u32().ok_or_else(bad)?;
        if i as usize >= nodes.len() {
            return Err(bad());
        }
        build_order.push(i);
    }
    if !r.0.is_empty() || build_order.len() != nodes.len() {
        return Err(bad());
    }
    Ok(Memo { nodes, build_order })
}

/// The stat tuple of `path`; `None` if it does not exist; `Err` on any other error.
fn current_stat(path: &Path) -> std::result::Result<Option<StatKey>, ()> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(StatKey::of(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

/// Writes the memo after a full evaluation of every node of `ws` (`statuses`, any order)
/// that started at `started`; `build_order` is the order a no-op build reports the nodes in.
/// Writes nothing (and deletes an old memo) when a node is neither fresh nor blocked, when a
/// recorded file is racy, or when anything looks unusual. Returns whether it wrote one.
pub fn write(
    ws: &Workspace,
    pipeline_file: &Path,
    caller: &str,
    started: SystemTime,
    statuses: &[NodeStatus],
    build_order: &[NodeIx],
) -> Result<bool> {
    let path = path_of(pipeline_file);
    let Some(bytes) = encode(ws, pipeline_file, caller, started, statuses, build_order)? else {
        let _ = std::fs::remove_file(&path);
        return Ok(false);
    };
    fsutil::write_atomic_unsynced(&path, &bytes)?;
    Ok(true)
}

fn encode(
    ws: &Workspace,
    pipeline_file: &Path,
    caller: &str,
    started: SystemTime,
    statuses: &[NodeStatus],
    build_order: &[NodeIx],
) -> Result<Option<Vec<u8>>> {
    let n = ws.graph.nodes.len();
    let mut by_node: Vec<Option<&NodeStatus>> = vec![None; n];
    for s in statuses {
        by_node[s.node] = Some(s);
    }
    if by_node.iter().any(Option::is_none) || build_order.len() != n {
        return Ok(None);
    }
    // Which files decide the verdicts (a superset of what the evaluation looked at).
    let mut paths: BTreeSet<PathBuf> = BTreeSet::new();
    paths.insert(pipeline_file.to_path_buf());
    // Member pipeline files, and the data files of params and epochs.
    paths.extend(ws.pipeline.files());
    paths.insert(ws.lock_path.clone());
    paths.insert(ws.journal_path());
    let mut env: BTreeSet<String> = ["SOURCE_DATE_EPOCH", "PARITY_HOST"]
        .into_iter()
        .map(String::from)
        .collect();
    for (ix, node) in ws.graph.nodes.iter().enumerate() {
        let status = by_node[ix].expect("checked above");
        match status.state {
            State::Fresh => {}
            State::Blocked => {
                if let Some(key) = status.key {
                    // A blocked node is restorable when the action cache has its entry.
                    let ac = ws.cache.action_path(&key);
                    if ac.exists() {
                        return Ok(None);
                    }
                    paths.insert(ac);
                }
            }
            _ => return Ok(None),
        }
        for input in &node.inputs {
            if let Input::Source { path, .. } = input {
                paths.insert(fsutil::join_rel(ws.root(), path));
            }
        }
        for o in &node.outputs {
            if o.kind == OutputKind::Committed {
                paths.insert(ws.output_path(o));
            }
        }
        if let Some(rule) = ws.registry.get(&node.rule) {
            env.extend(rule.env(node));
        }
    }
    // Directories: every member too (an edit inside changes no stat of the directory).
    let mut members = Vec::new();
    for p in &paths {
        if p.is_dir() {
            for entry in walkdir::WalkDir::new(p).min_depth(1) {
                let Ok(entry) = entry else { return Ok(None) };
                if entry.path_is_symlink() {
                    return Ok(None);
                }
                members.push(entry.into_path());
            }
        }
    }
    paths.extend(members);
    let dir = fsutil::parent_dir(pipeline_file);
    let racy_ns = started
        .checked_sub(racy_window())
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    let paths: Vec<PathBuf> = paths.into_iter().collect();
    let stats: Vec<std::result::Result<Option<StatKey>, ()>> = if paths.len() >= crate::PARALLEL_MIN
    {
        paths
            .par_iter()
            .with_min_len(4096)
            .map(|p| current_stat(p))
            .collect()
    } else {
        paths.iter().map(|p| current_stat(p)).collect()
    };

    let mut out = Vec::with_capacity(64 * (paths.len() + n));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&identity(caller, &ws.registry).0);
    put_len(&mut out, env.len());
    for name in &env {
        put_str(&mut out, name);
        match std::env::var(name) {
            Ok(v) => {
                out.push(1);
                put_str(&mut out, &v);
            }
            Err(std::env::VarError::NotPresent) => out.push(0),
            Err(std::env::VarError::NotUnicode(_)) => return Ok(None),
        }
    }
    out.extend_from_slice(&(paths.len() as u64).to_le_bytes());
    for (p, stat) in paths.iter().zip(stats) {
        let Ok(stat) = stat else { return Ok(None) };
        let rel = p.strip_prefix(dir).unwrap_or(p);
        let Some(rel) = rel.to_str() else {
            return Ok(None);
        };
        put_str(&mut out, rel);
        match stat {
            None => out.push(0),
            Some(k) => {
                if k.ctime_ns >= racy_ns || k.mtime_ns >= racy_ns {
                    return Ok(None);
                }
                out.push(1);
                out.extend_from_slice(&k.size.to_le_bytes());
                out.extend_from_slice(&k.mtime_ns.to_le_bytes());
                out.extend_from_slice(&k.ino.to_le_bytes());
                out.extend_from_slice(&k.ctime_ns.to_le_bytes());
            }
        }
    }
    // Nodes in topological order; the build order as positions in it.
    let mut pos = vec![0u32; n];
    out.extend_from_slice(&(n as u64).to_le_bytes());
    for (i, &ix) in ws.graph.topo.iter().enumerate() {
        pos[ix] = i as u32;
        let s = by_node[ix].expect("checked above");
        put_str(&mut out, ws.graph.nodes[ix].id.as_str());
        out.push(match s.state {
            State::Fresh => 0,
            _ => 1,
        });
        put_str(&mut out, &s.why());
        let reasons = serde_json::to_string(&s.reasons)
            .map_err(|e| Error::Internal(format!("cannot serialize reasons: {e}")))?;
        put_str(&mut out, &reasons);
        match &s.unavailable {
            None => out.push(0),
            Some(u) => {
                out.push(1);
                put_str(&mut out, &u.to_string());
            }
        }
    }
    out.extend_from_slice(&(n as u64).to_le_bytes());
    for &ix in build_order {
        out.extend_from_slice(&pos[ix].to_le_bytes());
    }
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    Ok(Some(out))
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}
