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
//! The next run reads the memo, checks the identity and the environment and stats the recorded
//! paths (nothing else: no graph expansion, no lock parse). Each node's verdict depends only on
//! the *global* files (`pipeline.toml`, its param files, `pipeline.lock`, the journal) and the
//! files of the nodes it depends on, transitively, itself included; the memo records which
//! files each node owns and what it depends on, so:
//! - an untargeted no-op stats every path, and a targeted one (every target a node id) only the
//!   global files and those of the targets' closure; if none changed, it answers alone;
//! - `status` after an edit learns which files changed: if no global one did, every node whose
//!   closure owns none keeps its recorded verdict, and only the others (the edited nodes and
//!   what depends on them) are evaluated, through the same code as the full path;
//! - anything else (a global file changed, a target that is a pattern, a parse error, a
//!   version change): the caller takes the full path, which writes a new memo when the graph
//!   is all fresh again.
//!
//! Soundness rests on ctime, which nothing but the kernel sets: a path whose ctime (and mtime)
//! is older than one second before the evaluation started is checked by its stat tuple alone.
//! Any change after that instant, whenever it happens, leaves a different ctime (or inode), so
//! a stale node never looks fresh. A *racy* path, touched within that second (the outputs a
//! build just wrote, `pipeline.lock`), is recorded with the digest the verdicts rest on (the
//! one `pipeline.lock` records for it, as git's racily clean entries) and its content is
//! hashed and compared too, until a check finds it older than a second: then the memo is
//! rewritten without that flag ("settled"). A racy path whose digest cannot be vouched for
//! (a param file, a directory's member) makes the writer skip the memo; a later run writes
//! it.
//!
//! ```text
//! "parity-noop-memo\0" version:u32 identity:[u8;32]
//! env:   count:u32 x { name:str present:u8 value:str }
//! files: count:u64 x { path:str flags:u8 [size:u64 mtime_ns:i128 ino:u64 ctime_ns:i128]
//!                      [blake3:[u8;32] size:u64] }
//!        flags: 1 present (stat follows), 2 global, 4 digest follows, 8 verify the content
//! nodes: count:u64 x { id:str state:u8 why:str reasons_json:str message_present:u8 message:str
//!                      by_id:u8 deps: count:u32 x u32 (positions) files: count:u32 x u32 (file indices) }
//! build order: count:u64 x u32 (indices into nodes)
//! blake3(all of the above):[u8;32]
//! ```
//! `str` = len:u32 + UTF-8 bytes; integers little-endian; paths relative to the workspace;
//! nodes in topological order (a node's position is greater than its dependencies').

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::exec::Registry;
use crate::fsutil;
use crate::graph::{Input, NodeId, NodeIx, OutputKind};
use crate::hash::{Digest, FileDigest, Reader, StatKey};
use crate::workspace::{NodeStatus, State, Workspace};

const MAGIC: &[u8] = b"parity-noop-memo\0";
const VERSION: u32 = 2;
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

impl Verdict {
    /// The verdict of `status` on node `id`.
    pub fn of(id: &NodeId, status: &NodeStatus) -> Result<Verdict> {
        Ok(Verdict {
            id: id.clone(),
            state: status.state,
            why: status.why(),
            reasons_json: serde_json::to_string(&status.reasons)
                .map_err(|e| Error::Internal(format!("cannot serialize reasons: {e}")))?,
            message: status.unavailable.as_ref().map(|u| u.to_string()),
        })
    }
}

/// A memo whose checksum, identity and environment were found valid; its files are checked
/// by [`Memo::changed`].
#[derive(Debug)]
pub struct Memo {
    /// Every node, in topological order (the order of `status`).
    pub nodes: Vec<Verdict>,
    /// The order in which a no-op `build` of every node reports them (indices into `nodes`).
    pub build_order: Vec<u32>,
    /// Per node: the nodes it depends on (positions, ascending).
    deps: Vec<Vec<u32>>,
    /// Per node: whether a target equal to its id selects exactly it.
    by_id: Vec<bool>,
    /// Per node: the files it owns (indices into `files`).
    node_files: Vec<Vec<u32>>,
    /// Every recorded path.
    files: Vec<MemoFile>,
}

/// A recorded path.
#[derive(Debug)]
struct MemoFile {
    /// Relative to the workspace.
    path: Box<str>,
    /// Its stat tuple when it was recorded (`None`: absent).
    stat: Option<StatKey>,
    /// It decides every verdict.
    global: bool,
    /// Racy: its content must also have this digest.
    verify: Option<FileDigest>,
    /// Where its flags byte is in the memo file (to settle it).
    flags_at: usize,
}

/// Flags of a recorded path.
const PRESENT: u8 = 1;
const GLOBAL: u8 = 2;
const DIGEST: u8 = 4;
const VERIFY: u8 = 8;

/// What [`Memo::changed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    /// Nothing: the memo's verdicts hold.
    Nothing,
    /// A global file (named): no verdict holds.
    Global(String),
    /// Files owned by nodes (indices into the files), none global.
    Files(Vec<u32>),
}

impl Memo {
    /// The positions of the nodes `targets` name, when every target is exactly the id of a
    /// node that selects just it (a pattern, an artifact name or an unknown id: `None`, the
    /// graph must resolve it).
    pub fn select(&self, targets: &[String]) -> Option<Vec<u32>> {
        let mut out = Vec::with_capacity(targets.len());
        for t in targets {
            let i = self.nodes.iter().position(|v| v.id.as_str() == t)?;
            if !self.by_id[i] {
                return None;
            }
            out.push(i as u32);
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// `roots` and everything they depend on, ascending (topological order).
    pub fn closure(&self, roots: &[u32]) -> Vec<u32> {
        let mut keep = vec![false; self.nodes.len()];
        let mut stack = roots.to_vec();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut keep[i as usize], true) {
                stack.extend(self.deps[i as usize].iter().filter(|&&d| !keep[d as usize]));
            }
        }
        (0..self.nodes.len() as u32)
            .filter(|&i| keep[i as usize])
            .collect()
    }

    /// The nodes node `i` depends on (positions, ascending).
    pub fn deps(&self, i: u32) -> &[u32] {
        &self.deps[i as usize]
    }

    /// `nodes` (positions, ascending) and every node that depends on one of them, ascending.
    pub fn dependents(&self, nodes: &[u32]) -> Vec<u32> {
        let mut hit = vec![false; self.nodes.len()];
        for &i in nodes {
            hit[i as usize] = true;
        }
        // Dependencies come first: one pass in order sees every path.
        for i in 0..self.nodes.len() {
            if !hit[i] && self.deps[i].iter().any(|&d| hit[d as usize]) {
                hit[i] = true;
            }
        }
        (0..self.nodes.len() as u32)
            .filter(|&i| hit[i as usize])
            .collect()
    }

    /// After [`Memo::changed`] found nothing changed in `scope` (positions; `None`: every
    /// node): the racy paths among those it checked that are now older than a second are
    /// checked by their stat alone from now on; the memo of `pipeline_file` is rewritten so.
    /// Returns how many were settled.
    pub fn settle(&self, pipeline_file: &Path, scope: Option<&[u32]>) -> usize {
        let aged_ns = SystemTime::now()
            .checked_sub(racy_window())
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        let in_scope: Option<BTreeSet<u32>> = scope.map(|nodes| {
            nodes
                .iter()
                .flat_map(|&n| self.node_files[n as usize].iter().copied())
                .collect()
        });
        let settled: Vec<usize> = (0..self.files.len())
            .filter(|&f| {
                let file = &self.files[f];
                file.verify.is_some()
                    && (file.global || in_scope.as_ref().is_none_or(|s| s.contains(&(f as u32))))
                    && file.stat.is_some_and(|k| {
                        i128::from(k.ctime_ns) < aged_ns && i128::from(k.mtime_ns) < aged_ns
                    })
            })
            .map(|f| self.files[f].flags_at)
            .collect();
        if settled.is_empty() {
            return 0;
        }
        let path = path_of(pipeline_file);
        let Ok(mut bytes) = std::fs::read(&path) else {
            return 0;
        };
        let Some(body_len) = bytes.len().checked_sub(32) else {
            return 0;
        };
        // Only the memo that was read (the same checksum) is rewritten.
        if blake3::hash(&bytes[..body_len]).as_bytes() != &bytes[body_len..] {
            return 0;
        }
        for &at in &settled {
            if let Some(flags) = bytes.get_mut(at) {
                *flags &= !VERIFY;
            }
        }
        let sum = blake3::hash(&bytes[..body_len]);
        bytes[body_len..].copy_from_slice(sum.as_bytes());
        match fsutil::write_atomic_unsynced(&path, &bytes) {
            Ok(()) => settled.len(),
            Err(_) => 0,
        }
    }

    /// The recorded path of file `f`.
    pub fn file(&self, f: u32) -> &str {
        self.files.get(f as usize).map_or("", |f| &f.path)
    }

    /// The positions of the nodes owning any of `files` (from [`Changed::Files`]).
    pub fn owners(&self, files: &[u32]) -> Vec<u32> {
        let changed: BTreeSet<u32> = files.iter().copied().collect();
        (0..self.nodes.len() as u32)
            .filter(|&i| {
                self.node_files[i as usize]
                    .iter()
                    .any(|f| changed.contains(f))
            })
            .collect()
    }

    /// The order in which a no-op build of `selection` (a closure, ascending) reports its
    /// nodes: the scheduler's, each node completing as soon as it is ready
    /// ([`crate::build::noop_order`] on the graph).
    pub fn build_order_of(&self, selection: &[u32]) -> Vec<u32> {
        if selection.len() == self.nodes.len() {
            return self.build_order.clone();
        }
        let mut inside = vec![false; self.nodes.len()];
        for &i in selection {
            inside[i as usize] = true;
        }
        let mut rdeps: Vec<Vec<u32>> = vec![Vec::new(); self.nodes.len()];
        let mut pending = vec![0usize; self.nodes.len()];
        let mut ready = std::collections::BinaryHeap::new();
        for &i in selection {
            for &d in &self.deps[i as usize] {
                if inside[d as usize] {
                    rdeps[d as usize].push(i);
                    pending[i as usize] += 1;
                }
            }
            if pending[i as usize] == 0 {
                ready.push(std::cmp::Reverse(i));
            }
        }
        let mut order = Vec::with_capacity(selection.len());
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &r in &rdeps[i as usize] {
                pending[r as usize] -= 1;
                if pending[r as usize] == 0 {
                    ready.push(std::cmp::Reverse(r));
                }
            }
        }
        order
    }

    /// Which recorded files differ from the filesystem under `dir` (the workspace): the
    /// global ones and those of the nodes `scope` (positions; `None`: every file). An untargeted
    /// no-op stops at the first difference (`first_only`).
    pub fn changed(&self, dir: &Path, scope: Option<&[u32]>, first_only: bool) -> Changed {
        let mut check: Vec<u32> = match scope {
            None => (0..self.files.len() as u32).collect(),
            Some(nodes) => {
                let mut v: Vec<u32> = (0..self.files.len() as u32)
                    .filter(|&f| self.files[f as usize].global)
                    .collect();
                for &n in nodes {
                    v.extend(&self.node_files[n as usize]);
                }
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        let differs = |&f: &u32| {
            let file = &self.files[f as usize];
            let path = dir.join(&*file.path);
            current_stat(&path) != Ok(file.stat)
                || file
                    .verify
                    .is_some_and(|want| crate::hash::hash_file(&path).ok() != Some(want))
        };
        let global = |f: u32| self.files[f as usize].global;
        if first_only {
            let found = if check.len() >= crate::PARALLEL_MIN {
                check
                    .par_iter()
                    .with_min_len(4096)
                    .find_any(|f| differs(f))
                    .copied()
            } else if check.len() >= STAT_SPLIT_MIN {
                let stop = AtomicBool::new(false);
                let (x, y) = halves(&check, |part| {
                    let stopped = || stop.load(Ordering::Relaxed);
                    let found = part.iter().take_while(|_| !stopped()).find(|f| differs(f));
                    found
                        .inspect(|_| stop.store(true, Ordering::Relaxed))
                        .copied()
                });
                x.or(y)
            } else {
                check.iter().find(|f| differs(f)).copied()
            };
            return match found {
                None => Changed::Nothing,
                Some(f) if global(f) => Changed::Global(self.files[f as usize].path.to_string()),
                Some(f) => Changed::Files(vec![f]),
            };
        }
        let keep: Vec<bool> = if check.len() >= crate::PARALLEL_MIN {
            check.par_iter().with_min_len(4096).map(differs).collect()
        } else if check.len() >= STAT_SPLIT_MIN {
            let (mut keep, rest): (Vec<bool>, Vec<bool>) =
                halves(&check, |part| part.iter().map(differs).collect());
            keep.extend(rest);
            keep
        } else {
            check.iter().map(differs).collect()
        };
        let mut k = keep.into_iter();
        check.retain(|_| k.next().unwrap_or(true));
        match check.iter().find(|&&f| global(f)) {
            Some(&f) => Changed::Global(self.files[f as usize].path.to_string()),
            None if check.is_empty() => Changed::Nothing,
            None => Changed::Files(check),
        }
    }
}

/// Files from which [`Memo::changed`] stats on two threads (below [`crate::PARALLEL_MIN`], the
/// caller's and one started for it, not the thread pool): a stat costs 1.5-2 µs on this
/// project's machines, starting a thread 50 µs, starting the pool several times that.
const STAT_SPLIT_MIN: usize = 1024;

/// `f` of the first half of `items` on this thread and of the second on another (this one
/// too if none can be started).
fn halves<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> (R, R) {
    let (a, b) = items.split_at(items.len() / 2);
    std::thread::scope(|s| {
        let other = std::thread::Builder::new().spawn_scoped(s, || f(b));
        let first = f(a);
        let second = match other {
            Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            Err(_) => f(b),
        };
        (first, second)
    })
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
    h.update(&i128::from(k.mtime_ns).to_le_bytes());
    h.update(&k.ino.to_le_bytes());
    h.update(&i128::from(k.ctime_ns).to_le_bytes());
}

/// Reads the memo of `pipeline_file` and checks it against the identity and the environment
/// (its files are checked by [`Memo::changed`]). `Err` says why it cannot be used (for
/// tracing); never an error to report.
pub fn read(
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
    let n = r.u64().ok_or_else(bad)? as usize;
    let mut files = Vec::with_capacity(n.min(body.len()));
    for _ in 0..n {
        let path = r.str().ok_or_else(bad)?;
        let flags_at = body.len() - r.0.len();
        let flags = r.u8().ok_or_else(bad)?;
        let stat = match flags & PRESENT {
            0 => None,
            _ => Some(StatKey {
                size: r.u64().ok_or_else(bad)?,
                mtime_ns: r.i128().ok_or_else(bad)? as i64,
                ino: r.u64().ok_or_else(bad)?,
                ctime_ns: r.i128().ok_or_else(bad)? as i64,
            }),
        };
        let digest = match flags & DIGEST {
            0 => None,
            _ => Some(FileDigest {
                blake3: Digest(r.take(32).ok_or_else(bad)?.try_into().map_err(|_| bad())?),
                size: r.u64().ok_or_else(bad)?,
            }),
        };
        files.push(MemoFile {
            path: Box::from(path),
            stat,
            global: flags & GLOBAL != 0,
            verify: digest.filter(|_| flags & VERIFY != 0),
            flags_at,
        });
    }
    let n = r.u64().ok_or_else(bad)? as usize;
    let mut nodes = Vec::with_capacity(n.min(body.len()));
    let mut deps = Vec::with_capacity(n.min(body.len()));
    let mut by_id = Vec::with_capacity(n.min(body.len()));
    let mut node_files = Vec::with_capacity(n.min(body.len()));
    for i in 0..n {
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
        by_id.push(r.u8().ok_or_else(bad)? != 0);
        // A dependency comes first; a file exists.
        deps.push(indices(&mut r, i).ok_or_else(bad)?);
        node_files.push(indices(&mut r, files.len()).ok_or_else(bad)?);
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
    Ok(Memo {
        nodes,
        build_order,
        deps,
        by_id,
        node_files,
        files,
    })
}

/// A count and that many u32, each below `bound`.
fn indices(r: &mut Reader<'_>, bound: usize) -> Option<Vec<u32>> {
    let n = r.u32()? as usize;
    let mut v = Vec::with_capacity(n.min(r.0.len() / 4));
    for _ in 0..n {
        let i = r.u32()?;
        if i as usize >= bound {
            return None;
        }
        v.push(i);
    }
    Some(v)
}

/// The stat tuple of `path`; `None` if it does not exist; `Err` on any other error.
fn current_stat(path: &Path) -> std::result::Result<Option<StatKey>, ()> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(StatKey::of(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

/// The digest the verdicts rest on for a path (the content `pipeline.lock` records for it),
/// if it has that content now; `None` if it cannot be vouched for.
pub type Vouch<'a> = &'a dyn Fn(&Path) -> Option<FileDigest>;

/// The verdicts a memo records: each node's status, or every node fresh (after a build that
/// left them so).
#[derive(Clone, Copy)]
pub enum Verdicts<'a> {
    /// Every node is fresh.
    AllFresh,
    /// The status of each node (any order).
    Each(&'a [NodeStatus]),
}

/// Writes the memo after a full evaluation of every node of `ws` (`verdicts`) that started at
/// `started`; `build_order` is the order a no-op build reports the nodes in. A racy path is
/// recorded with the digest `vouch` gives for it. Writes nothing (and deletes an old memo)
/// when a node is neither fresh nor blocked, when a racy path cannot be vouched for, or when
/// anything looks unusual. Returns whether it wrote one.
pub fn write(
    ws: &Workspace,
    pipeline_file: &Path,
    caller: &str,
    started: SystemTime,
    verdicts: Verdicts<'_>,
    build_order: &[NodeIx],
    vouch: Vouch<'_>,
) -> Result<bool> {
    let path = path_of(pipeline_file);
    let written = fsutil::write_atomic_streamed(&path, false, |sink| {
        encode(
            ws,
            pipeline_file,
            caller,
            started,
            verdicts,
            build_order,
            vouch,
            sink,
        )
    })?;
    if !written {
        let _ = std::fs::remove_file(&path);
    }
    Ok(written)
}

/// Marks a path of [`encode`]'s table as a global one (owned by no node).
const NO_NODE: u32 = u32::MAX;

/// Writes the memo to `sink`; `false` (and something partial written) when there must be
/// none. Streamed: the bytes go out in pieces, checksummed as they go, and each path is held
/// once (borrowed from the graph when it can be), so a large graph's memo is never in memory
/// whole.
#[allow(clippy::too_many_arguments)]
fn encode(
    ws: &Workspace,
    pipeline_file: &Path,
    caller: &str,
    started: SystemTime,
    verdicts: Verdicts<'_>,
    build_order: &[NodeIx],
    vouch: Vouch<'_>,
    sink: &mut dyn std::io::Write,
) -> Result<bool> {
    let n = ws.graph.nodes.len();
    let fresh = NodeStatus {
        node: 0,
        state: State::Fresh,
        reasons: Vec::new(),
        unavailable: None,
        key: None,
    };
    let mut by_node: Vec<Option<&NodeStatus>> = match verdicts {
        Verdicts::AllFresh => vec![Some(&fresh); n],
        Verdicts::Each(_) => vec![None; n],
    };
    if let Verdicts::Each(statuses) = verdicts {
        for s in statuses {
            by_node[s.node] = Some(s);
        }
    }
    if by_node.iter().any(Option::is_none) || build_order.len() != n {
        return Ok(false);
    }
    let dir = fsutil::parent_dir(pipeline_file);
    let names = Names::new(dir, ws.root());
    // Which files decide the verdicts (a superset of what the evaluation looked at): the
    // global ones (`NO_NODE`), and those of each node.
    let mut globals = vec![pipeline_file.to_path_buf()];
    // Member pipeline files, and the data files of params and epochs.
    globals.extend(ws.pipeline.files());
    globals.push(ws.lock_path.clone());
    globals.push(ws.journal_path());
    let mut claims: Vec<(Cow<'_, str>, u32)> = Vec::new();
    for p in &globals {
        let Some(name) = names.of_path(p) else {
            return Ok(false);
        };
        claims.push((Cow::Owned(name), NO_NODE));
    }
    let mut env: BTreeSet<String> = ["SOURCE_DATE_EPOCH", "PARITY_HOST"]
        .into_iter()
        .map(String::from)
        .collect();
    for (ix, node) in ws.graph.nodes.iter().enumerate() {
        let status = by_node[ix].expect("checked above");
        let who = ix as u32;
        match status.state {
            State::Fresh => {}
            State::Blocked => {
                if let Some(key) = status.key {
                    // A blocked node is restorable when the action cache has its entry.
                    let ac = ws.cache.action_path(&key);
                    if ac.exists() {
                        return Ok(false);
                    }
                    let Some(name) = names.of_path(&ac) else {
                        return Ok(false);
                    };
                    claims.push((Cow::Owned(name), who));
                }
            }
            _ => return Ok(false),
        }
        for input in &node.inputs {
            if let Input::Source { path, .. } = input {
                let Some(name) = names.of_rel(path) else {
                    return Ok(false);
                };
                claims.push((name, who));
            }
        }
        for o in &node.outputs {
            if o.kind == OutputKind::Committed {
                let Some(name) = names.of_rel(&o.path) else {
                    return Ok(false);
                };
                claims.push((name, who));
            }
        }
        if let Some(rule) = ws.registry.get(&node.rule) {
            env.extend(rule.env(node));
        }
    }
    let mut table = FileTable::of(claims);
    // Each path is statted once (in parallel when there are many); a directory brings every
    // member too (an edit inside changes no stat of the directory), statted the same way and
    // owned by whoever owns the directory.
    let Ok(stats) = stat_all(dir, &table.names) else {
        return Ok(false);
    };
    let mut members: Vec<(u32, Vec<Cow<'_, str>>)> = Vec::new();
    for (i, stat) in stats.iter().enumerate() {
        if let Some((_, true)) = stat {
            let Some(found) = members_of(&dir.join(&*table.names[i])) else {
                return Ok(false);
            };
            let mut found_names = Vec::with_capacity(found.len());
            for m in &found {
                let Some(name) = names.of_path(m) else {
                    return Ok(false);
                };
                found_names.push(Cow::Owned(name));
            }
            members.push((i as u32, found_names));
        }
    }
    // In place: the stats lose their directory flag.
    let mut stats: Vec<Option<StatKey>> = stats.into_iter().map(|s| s.map(|s| s.0)).collect();
    if !members.is_empty() {
        let mut extra: Vec<Cow<'_, str>> =
            members.iter().flat_map(|m| m.1.iter().cloned()).collect();
        extra.sort_unstable();
        extra.dedup();
        extra.retain(|p| table.names.binary_search(p).is_err());
        let Ok(extra_stats) = stat_all(dir, &extra) else {
            return Ok(false);
        };
        let extra_stats = extra_stats.into_iter().map(|s| s.map(|s| s.0)).collect();
        table.absorb(&mut stats, extra, extra_stats, &members);
    }
    let (paths, global, owned) = table.by_node(n);
    let racy_ns = started
        .checked_sub(racy_window())
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);

    let memo_path = path_of(pipeline_file);
    let mut out = fsutil::Summed::new(sink, &memo_path);
    out.buf.extend_from_slice(MAGIC);
    out.buf.extend_from_slice(&VERSION.to_le_bytes());
    out.buf.extend_from_slice(&identity(caller, &ws.registry).0);
    put_len(&mut out.buf, env.len());
    for name in &env {
        put_str(&mut out.buf, name);
        match std::env::var(name) {
            Ok(v) => {
                out.buf.push(1);
                put_str(&mut out.buf, &v);
            }
            Err(std::env::VarError::NotPresent) => out.buf.push(0),
            Err(std::env::VarError::NotUnicode(_)) => return Ok(false),
        }
    }
    out.buf
        .extend_from_slice(&(paths.len() as u64).to_le_bytes());
    for ((name, stat), &global) in paths.iter().zip(stats).zip(&global) {
        put_str(&mut out.buf, name);
        let global = if global { GLOBAL } else { 0 };
        match stat {
            None => out.buf.push(global),
            Some(k) => {
                let racy = i128::from(k.ctime_ns) >= racy_ns || i128::from(k.mtime_ns) >= racy_ns;
                let digest = match racy {
                    false => None,
                    true => match vouch(&dir.join(&**name)) {
                        Some(d) => Some(d),
                        None => return Ok(false),
                    },
                };
                let buf = &mut out.buf;
                buf.push(PRESENT | global | if racy { DIGEST | VERIFY } else { 0 });
                buf.extend_from_slice(&k.size.to_le_bytes());
                buf.extend_from_slice(&i128::from(k.mtime_ns).to_le_bytes());
                buf.extend_from_slice(&k.ino.to_le_bytes());
                buf.extend_from_slice(&i128::from(k.ctime_ns).to_le_bytes());
                if let Some(d) = digest {
                    buf.extend_from_slice(&d.blake3.0);
                    buf.extend_from_slice(&d.size.to_le_bytes());
                }
            }
        }
        out.spill()?;
    }
    // Nodes in topological order; dependencies and the build order as positions in it.
    let mut pos = vec![0u32; n];
    for (i, &ix) in ws.graph.topo.iter().enumerate() {
        pos[ix] = i as u32;
    }
    out.buf.extend_from_slice(&(n as u64).to_le_bytes());
    for &ix in &ws.graph.topo {
        let v = Verdict::of(&ws.graph.nodes[ix].id, by_node[ix].expect("checked above"))?;
        let buf = &mut out.buf;
        put_str(buf, v.id.as_str());
        buf.push(match v.state {
            State::Fresh => 0,
            _ => 1,
        });
        put_str(buf, &v.why);
        put_str(buf, &v.reasons_json);
        match &v.message {
            None => buf.push(0),
            Some(m) => {
                buf.push(1);
                put_str(buf, m);
            }
        }
        buf.push(u8::from(ws.graph.selected_by_id(ix)));
        let mut deps: Vec<u32> = ws.graph.deps[ix].iter().map(|&d| pos[d]).collect();
        deps.sort_unstable();
        put_len(buf, deps.len());
        for d in deps {
            buf.extend_from_slice(&d.to_le_bytes());
        }
        let own = owned.of(ix);
        put_len(buf, own.len());
        for &f in own {
            buf.extend_from_slice(&f.to_le_bytes());
        }
        out.spill()?;
    }
    out.buf.extend_from_slice(&(n as u64).to_le_bytes());
    for &ix in build_order {
        out.buf.extend_from_slice(&pos[ix].to_le_bytes());
    }
    out.finish()?;
    Ok(true)
}

/// How the memo names a path: relative to the directory of the pipeline file (`/`
/// separators), or absolute when it lies outside.
struct Names<'a> {
    dir: &'a Path,
    /// The pipeline root relative to `dir` (`None`: the same directory; then a path of the
    /// graph is its own name, borrowed).
    root: Option<String>,
    root_path: &'a Path,
}

impl<'a> Names<'a> {
    fn new(dir: &'a Path, root: &'a Path) -> Names<'a> {
        let prefix = root.strip_prefix(dir).ok().and_then(|r| {
            let parts: Option<Vec<&str>> = r.components().map(|c| c.as_os_str().to_str()).collect();
            parts.map(|p| p.join("/"))
        });
        Names {
            dir,
            root: match prefix {
                Some(p) if p.is_empty() => None,
                Some(p) => Some(p),
                None => Some(String::new()),
            },
            root_path: root,
        }
    }

    /// The name of `path`, relative to the pipeline root with `/` separators (a graph path).
    fn of_rel<'p>(&self, path: &'p str) -> Option<Cow<'p, str>> {
        match &self.root {
            None => Some(Cow::Borrowed(path)),
            Some(prefix) if !prefix.is_empty() => Some(Cow::Owned(format!("{prefix}/{path}"))),
            Some(_) => self
                .of_path(&fsutil::join_rel(self.root_path, path))
                .map(Cow::Owned),
        }
    }

    /// The name of `path`.
    fn of_path(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.dir).unwrap_or(path);
        if rel.is_absolute() {
            return rel.to_str().map(str::to_string);
        }
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }
}

/// The paths a memo records, sorted by name, each once; which are global, and which nodes own
/// which (as pairs of positions).
struct FileTable<'a> {
    names: Vec<Cow<'a, str>>,
    global: Vec<bool>,
    /// (path position, node), ascending.
    owns: Vec<(u32, u32)>,
}

/// The paths each node owns: positions in the table, ascending, node after node.
struct Owned {
    start: Vec<u32>,
    files: Vec<u32>,
}

impl Owned {
    fn of(&self, node: NodeIx) -> &[u32] {
        &self.files[self.start[node] as usize..self.start[node + 1] as usize]
    }
}

impl<'a> FileTable<'a> {
    /// The table of `claims` (name, owning node or [`NO_NODE`]). Each name is moved into the
    /// table, not copied.
    fn of(mut claims: Vec<(Cow<'a, str>, u32)>) -> FileTable<'a> {
        claims.sort_unstable();
        let mut table = FileTable {
            names: Vec::with_capacity(claims.len()),
            global: Vec::with_capacity(claims.len()),
            owns: Vec::with_capacity(claims.len()),
        };
        for (name, who) in claims {
            if table.names.last() != Some(&name) {
                table.names.push(name);
                table.global.push(false);
            }
            let i = (table.names.len() - 1) as u32;
            match who {
                NO_NODE => table.global[i as usize] = true,
                who => table.owns.push((i, who)),
            }
        }
        table.owns.dedup();
        table
    }

    /// Adds `extra` (sorted, none in the table yet; statted as `extra_stats`) to the table and
    /// its stats, each member of `members` (directory position, its members) owned by whoever
    /// owns its directory.
    fn absorb(
        &mut self,
        stats: &mut Vec<Option<StatKey>>,
        extra: Vec<Cow<'a, str>>,
        extra_stats: Vec<Option<StatKey>>,
        members: &[(u32, Vec<Cow<'a, str>>)],
    ) {
        let old_names = std::mem::take(&mut self.names);
        let old_stats = std::mem::take(stats);
        let old_global = std::mem::take(&mut self.global);
        let mut remap = Vec::with_capacity(old_names.len());
        let mut old = old_names
            .into_iter()
            .zip(old_stats)
            .zip(old_global)
            .peekable();
        let mut new = extra.into_iter().zip(extra_stats).peekable();
        loop {
            let take_old = match (old.peek(), new.peek()) {
                (Some(((a, _), _)), Some((b, _))) => a < b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_old {
                let Some(((p, s), g)) = old.next() else { break };
                remap.push(self.names.len() as u32);
                self.names.push(p);
                stats.push(s);
                self.global.push(g);
            } else {
                let Some((p, s)) = new.next() else { break };
                self.names.push(p);
                stats.push(s);
                self.global.push(false);
            }
        }
        // Positions only move up, in order: the pairs stay sorted.
        for (f, _) in &mut self.owns {
            *f = remap[*f as usize];
        }
        let mut added = Vec::new();
        for (d, found) in members {
            let d = remap[*d as usize];
            let from = self.owns.partition_point(|&(f, _)| f < d);
            let to = self.owns.partition_point(|&(f, _)| f <= d);
            for m in found {
                let Ok(i) = self.names.binary_search(m) else {
                    continue;
                };
                self.global[i] |= self.global[d as usize];
                added.extend(self.owns[from..to].iter().map(|&(_, who)| (i as u32, who)));
            }
        }
        self.owns.extend(added);
        self.owns.sort_unstable();
        self.owns.dedup();
    }

    /// The names, which are global, and the paths of each of `n` nodes.
    fn by_node(self, n: usize) -> (Vec<Cow<'a, str>>, Vec<bool>, Owned) {
        let mut start = vec![0u32; n + 1];
        for &(_, who) in &self.owns {
            start[who as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut files = vec![0u32; self.owns.len()];
        // In path order, so each node's positions come out ascending.
        for &(f, who) in &self.owns {
            files[next[who as usize] as usize] = f;
            next[who as usize] += 1;
        }
        (self.names, self.global, Owned { start, files })
    }
}

/// The members of directory `dir`, at any depth; `None` when one is a symbolic link or cannot
/// be read (then no memo is written).
fn members_of(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut members = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.ok()?;
        if entry.path_is_symlink() {
            return None;
        }
        members.push(entry.into_path());
    }
    Some(members)
}

/// [`current_stat`] of each of `names` (relative to `dir`), with whether it is a directory.
fn stat_all(
    dir: &Path,
    names: &[Cow<'_, str>],
) -> std::result::Result<Vec<Option<(StatKey, bool)>>, ()> {
    let one = |name: &Cow<'_, str>| match std::fs::metadata(dir.join(&**name)) {
        Ok(m) => Ok(Some((StatKey::of(&m), m.is_dir()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    };
    if names.len() >= crate::PARALLEL_MIN {
        names.par_iter().with_min_len(4096).map(one).collect()
    } else {
        names.iter().map(one).collect()
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo_of(files: Vec<MemoFile>) -> Memo {
        Memo {
            nodes: Vec::new(),
            build_order: Vec::new(),
            deps: Vec::new(),
            by_id: Vec::new(),
            node_files: Vec::new(),
            files,
        }
    }

    #[test]
    #[cfg(unix)]
    fn memo_names_are_relative_to_the_pipeline_file_or_absolute_outside_it() {
        let dir = Path::new("/w");
        let same = Names::new(dir, Path::new("/w"));
        assert!(matches!(
            same.of_rel("a/b.txt"),
            Some(Cow::Borrowed("a/b.txt"))
        ));
        let below = Names::new(dir, Path::new("/w/cli/codex"));
        assert_eq!(below.of_rel("a/b.txt").unwrap(), "cli/codex/a/b.txt");
        let outside = Names::new(dir, Path::new("/elsewhere"));
        assert_eq!(outside.of_rel("a/b.txt").unwrap(), "/elsewhere/a/b.txt");
        assert_eq!(
            same.of_path(Path::new("/w/cache/journal")).unwrap(),
            "cache/journal"
        );
        assert_eq!(same.of_path(Path::new("/x/p.toml")).unwrap(), "/x/p.toml");
        // Each is found again by joining it to the directory.
        assert_eq!(
            dir.join(&*below.of_rel("a/b.txt").unwrap()),
            Path::new("/w/cli/codex/a/b.txt")
        );
        assert_eq!(
            dir.join(&*outside.of_rel("a/b.txt").unwrap()),
            Path::new("/elsewhere/a/b.txt")
        );
    }

    #[test]
    fn every_changed_file_is_found_when_the_files_are_checked_on_two_threads() {
        let dir = tempfile::tempdir().unwrap();
        let n = STAT_SPLIT_MIN * 2 + 1;
        assert!(n < crate::PARALLEL_MIN);
        let files: Vec<MemoFile> = (0..n)
            .map(|i| {
                let path = format!("f{i:05}.txt");
                std::fs::write(dir.path().join(&path), b"x").unwrap();
                MemoFile {
                    stat: current_stat(&dir.path().join(&path)).unwrap(),
                    path: path.into(),
                    global: i == n - 1,
                    verify: None,
                    flags_at: 0,
                }
            })
            .collect();
        let memo = memo_of(files);
        assert_eq!(memo.changed(dir.path(), None, false), Changed::Nothing);
        assert_eq!(memo.changed(dir.path(), None, true), Changed::Nothing);
        // One file in each half: one edited, one deleted.
        std::fs::write(dir.path().join("f00003.txt"), b"edited").unwrap();
        std::fs::remove_file(dir.path().join(format!("f{:05}.txt", n - 3))).unwrap();
        let both = Changed::Files(vec![3, n as u32 - 3]);
        assert_eq!(memo.changed(dir.path(), None, false), both);
        let first = memo.changed(dir.path(), None, true);
        assert!(
            [Changed::Files(vec![3]), Changed::Files(vec![n as u32 - 3])].contains(&first),
            "{first:?}"
        );
        // A global file (the last) changed is said as such.
        std::fs::write(dir.path().join(format!("f{:05}.txt", n - 1)), b"edited").unwrap();
        let global = Changed::Global(format!("f{:05}.txt", n - 1));
        assert_eq!(memo.changed(dir.path(), None, false), global);
        let first = memo.changed(dir.path(), None, true);
        assert!(
            [
                global,
                Changed::Files(vec![3]),
                Changed::Files(vec![n as u32 - 3])
            ]
            .contains(&first),
            "{first:?}"
        );
    }

    #[test]
    fn a_racy_file_with_its_stat_unchanged_but_other_content_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"one\n").unwrap();
        let stat = current_stat(&dir.path().join("a.txt")).unwrap();
        let digest = crate::hash::hash_file(&dir.path().join("a.txt")).unwrap();
        let file = |verify| MemoFile {
            path: "a.txt".into(),
            stat,
            global: false,
            verify,
            flags_at: 0,
        };
        let same = memo_of(vec![file(Some(digest))]);
        assert_eq!(same.changed(dir.path(), None, false), Changed::Nothing);
        // What the verdicts rested on was other bytes of the same size, written in the same
        // clock tick: only the content tells.
        let other = FileDigest {
            blake3: Digest::of(b"ONE\n"),
            size: 4,
        };
        let racy = memo_of(vec![file(Some(other))]);
        assert_eq!(
            racy.changed(dir.path(), None, false),
            Changed::Files(vec![0])
        );
        assert_eq!(
            racy.changed(dir.path(), None, true),
            Changed::Files(vec![0])
        );
        assert_eq!(
            memo_of(vec![file(None)]).changed(dir.path(), None, true),
            Changed::Nothing
        );
    }
}
