//! The operations commands run on a workspace, whole: `build` and `status` with what they hold
//! and maintain around the graph: the build lock (`cache/lock`, which serializes builds of one
//! workspace; `status` needs none), the sweep of `cache/tmp` (in [`crate::build`]), and the
//! no-op memo (`cache/noop`): used, written when all is fresh, removed when a build changed
//! something. A library user gets all of it; the CLI only parses and prints.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use crate::build::{BuildOptions, Event, Outcome, Reporter, Summary};
use crate::error::{Error, Result};
use crate::exec::Registry;
use crate::fsutil;
use crate::graph::NodeIx;
use crate::hash::Hasher;
use crate::memo::{self, Memo};
use crate::state::Lock;
use crate::workspace::{NodeStatus, State, StoredState, Workspace};

/// The build lock of a workspace, held until dropped. A second `parity build` waits for it;
/// a crashed build's lock is released by the kernel with its file descriptor.
#[derive(Debug)]
pub struct BuildLock {
    _file: std::fs::File,
}

impl BuildLock {
    /// Takes the lock of the workspace whose cache is `cache_dir` (`cache/lock`, created). If
    /// another build holds it: with `wait`, calls `on_wait` with the lock's path and waits;
    /// without, returns `None`.
    pub fn acquire(
        cache_dir: &Path,
        wait: bool,
        on_wait: &mut dyn FnMut(&Path),
    ) -> Result<Option<BuildLock>> {
        std::fs::create_dir_all(cache_dir).map_err(|e| Error::io("create", cache_dir, e))?;
        let path = cache_dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) if !wait => return Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait(&path);
                file.lock().map_err(|e| Error::io("lock", &path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        Ok(Some(BuildLock { _file: file }))
    }
}

/// What an operation needs to know besides its arguments.
pub struct Session<'a> {
    /// `pipeline.toml`.
    pub pipeline: &'a Path,
    /// The rules.
    pub registry: &'a Registry,
    /// What besides the pipeline, its files and the rules decides verdicts (the binary's
    /// version): part of the no-op memo's identity.
    pub identity: &'a str,
    /// Says why the no-op memo was or was not used or written (`PARITY_MEMO_TRACE`).
    pub trace: &'a dyn Fn(&str),
}

impl Session<'_> {
    /// The no-op memo, when enabled and still valid.
    fn memo(&self) -> Option<Memo> {
        if memo::disabled() {
            return None;
        }
        match memo::load(self.pipeline, self.identity, self.registry) {
            Ok(m) => {
                (self.trace)("memo: used");
                Some(m)
            }
            Err(why) => {
                (self.trace)(&format!("memo: not used: {why}"));
                None
            }
        }
    }

    /// Writes the memo after a full evaluation of every node found all fresh (or blocked).
    fn remember(
        &self,
        ws: &Workspace,
        started: SystemTime,
        statuses: &[NodeStatus],
        order: &[NodeIx],
    ) {
        if memo::disabled() {
            return;
        }
        match memo::write(ws, self.pipeline, self.identity, started, statuses, order) {
            Ok(true) => (self.trace)("memo: written"),
            Ok(false) => (self.trace)("memo: not written"),
            Err(e) => (self.trace)(&format!("memo: not written: {e}")),
        }
    }

    fn open(&self) -> Result<Workspace> {
        Workspace::open(self.pipeline, self.registry.clone())
    }
}

/// The nodes matching `targets`, every node when there are none.
pub fn select(ws: &Workspace, targets: &[String]) -> Result<Vec<NodeIx>> {
    if targets.is_empty() {
        return Ok((0..ws.graph.nodes.len()).collect());
    }
    ws.graph.select(targets)
}

/// What `status` found.
pub enum Status {
    /// A no-op answered from the memo: every node's recorded verdict.
    Memo(Memo),
    /// Every selected node evaluated (in topological order).
    Evaluated {
        /// The workspace.
        ws: Box<Workspace>,
        /// One per selected node.
        statuses: Vec<NodeStatus>,
    },
}

/// `status [TARGET...]`: the memo answers an untargeted no-op; otherwise every selected node
/// is evaluated (no lock needed), and the memo is written when all of them turn out fresh.
pub fn status(session: &Session<'_>, targets: &[String]) -> Result<Status> {
    let started = SystemTime::now();
    if targets.is_empty()
        && let Some(m) = session.memo()
    {
        return Ok(Status::Memo(m));
    }
    let (ws, nodes, hasher, lock) = if targets.is_empty() {
        let (ws, hasher, lock) =
            Workspace::open_with_state(session.pipeline, session.registry.clone())?;
        let nodes = select(&ws, targets)?;
        (ws, nodes, hasher, lock)
    } else {
        // Only the entries of the targets and what they depend on are parsed.
        let ws = session.open()?;
        let nodes = select(&ws, targets)?;
        let (hasher, lock, _) = ws.load_state_for(&nodes)?;
        (ws, nodes, hasher, lock)
    };
    let statuses = ws.status(&hasher, &lock, &nodes)?;
    let _ = hasher.save();
    if targets.is_empty() {
        let order = crate::build::noop_order(&ws, &nodes);
        session.remember(&ws, started, &statuses, &order);
    }
    std::mem::forget((lock, hasher));
    Ok(Status::Evaluated {
        ws: Box::new(ws),
        statuses,
    })
}

/// `build [TARGET...]`: the memo answers a plain no-op (no targets, nothing forced, no remote
/// cache, not a dry run: it reports every node fresh to `reporter`); otherwise the build lock
/// is taken (`on_wait` is told when another build holds it), `cache/tmp` swept, the graph
/// built, and the memo written (all fresh) or removed (anything ran). Returns the summary and
/// the workspace (none when the memo answered).
pub fn build(
    session: &Session<'_>,
    targets: &[String],
    opts: &BuildOptions,
    cancel: &AtomicBool,
    reporter: &mut dyn Reporter,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<(Summary, Option<Workspace>)> {
    let started = SystemTime::now();
    let plain = targets.is_empty() && !opts.dry_run && !opts.force && opts.remote.is_none();
    if plain
        && let Some(m) = session.memo()
        && m.nodes.iter().all(|v| v.state == State::Fresh)
    {
        return Ok((report_memo(&m, reporter), None));
    }
    let (ws, nodes, guard, state) = open_locked(session, targets, opts.dry_run, on_wait)?;
    let summary =
        crate::build::build_with_state(&ws, state, guard.as_ref(), &nodes, opts, cancel, reporter)?;
    if plain && summary.fresh == summary.total && !summary.interrupted {
        // Every node was fresh: nothing changed, remember so.
        let statuses: Vec<NodeStatus> = (0..ws.graph.nodes.len())
            .map(|node| NodeStatus {
                node,
                state: State::Fresh,
                reasons: Vec::new(),
                unavailable: None,
                key: None,
            })
            .collect();
        let order = crate::build::noop_order(&ws, &nodes);
        session.remember(&ws, started, &statuses, &order);
    } else if summary.ran + summary.cached + summary.remote > 0 && !opts.dry_run {
        // The state changed: the memo no longer describes it (its stat tuples would say so
        // too; this is belt and braces).
        memo::remove(session.pipeline);
    }
    Ok((summary, Some(ws)))
}

/// What a no-op build answered from the memo reports: the plan, every node fresh in the
/// scheduler's order.
fn report_memo(m: &Memo, reporter: &mut dyn Reporter) -> Summary {
    let started = std::time::Instant::now();
    reporter.event(Event::Plan {
        total: m.nodes.len(),
        recovered: 0,
    });
    for &i in &m.build_order {
        reporter.event(Event::Finished {
            node: &m.nodes[i as usize].id,
            outcome: &Outcome::Fresh,
            reasons: &[],
            elapsed: std::time::Duration::ZERO,
        });
    }
    Summary {
        total: m.nodes.len(),
        fresh: m.nodes.len(),
        elapsed: started.elapsed(),
        ..Summary::default()
    }
}

/// The workspace, the nodes `targets` select, the build lock (unless a dry run) and the state
/// read under it. A large workspace takes the lock and reads its state on a second thread
/// while the graph is expanded (when `cache/` exists and the lock is free); otherwise the lock
/// is taken once the pipeline and the targets were checked (a rejected command writes
/// nothing).
#[allow(clippy::type_complexity)]
fn open_locked(
    session: &Session<'_>,
    targets: &[String],
    dry_run: bool,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<(
    Workspace,
    Vec<NodeIx>,
    Option<BuildLock>,
    (Hasher, Lock, usize),
)> {
    let dir = fsutil::parent_dir(session.pipeline);
    let cache = dir.join("cache");
    let lock_file = session.pipeline.with_extension("lock");
    // With targets, the lock is read after them, parsing only what they need.
    let early = if targets.is_empty() && crate::state_is_large(&lock_file) && cache.is_dir() {
        std::thread::scope(|s| {
            let early = s.spawn(|| -> Result<Option<(Option<BuildLock>, StoredState)>> {
                let guard = if dry_run {
                    None
                } else {
                    match BuildLock::acquire(&cache, false, &mut |_| {})? {
                        Some(l) => Some(l),
                        None => return Ok(None),
                    }
                };
                Ok(Some((guard, StoredState::read(session.pipeline))))
            });
            let ws = session.open();
            let early = early
                .join()
                .map_err(|_| Error::Internal("the state loader panicked".into()))?;
            Ok::<_, Error>((ws?, early?))
        })?
    } else {
        (session.open()?, None)
    };
    let (ws, early) = early;
    let nodes = select(&ws, targets)?;
    match early {
        Some((guard, stored)) => {
            let state = ws.recover(stored)?;
            Ok((ws, nodes, guard, state))
        }
        None => {
            let guard = if dry_run {
                None
            } else {
                BuildLock::acquire(ws.cache.dir(), true, on_wait)?
            };
            let state = ws.load_state_for(&nodes)?;
            Ok((ws, nodes, guard, state))
        }
    }
}
