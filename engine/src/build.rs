//! The scheduler: a topological ready-queue over the selected subgraph, run on a rayon pool.
//!
//! One coordinator thread owns the state (the lock, the journal) and the reporter; workers
//! evaluate nodes and run rules. The coordinator records what completed in batches: every
//! completion that arrived while it was busy goes into the lock and into the journal with one
//! `write`. A consumer that must run while a cache-only input it needs is not on disk (a
//! fresh clone builds without the bytes) is put aside; the scheduler materializes the input
//! as a task of its own (`Work::Materialize`: restored, or its producer run again) and then
//! starts the consumer again. What happens to a node that must run is the executor's
//! business: `RealExecutor` restores it from the local cache, then the remote cache, or runs
//! its rule in a sandbox, commits its outputs atomically and uploads them; `DryRunExecutor`
//! only says what would happen.

use std::borrow::Cow;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cache::ActionEntry;
use crate::error::{Error, Result};
use crate::exec::{RuleContext, Sandbox, SandboxKind};
use crate::fingerprint::DirtyReason;
use crate::fsutil;
use crate::graph::{Input, NodeId, NodeIx, OutputKind};
use crate::hash::Hasher;
use crate::ops::BuildLock;
use crate::remote::{RemoteCache, RemoteStats};
use crate::state::{Journal, Lock, LockEntry};
use crate::workspace::{DepState, Evaluation, Unavailable, Workspace};

/// How a build runs.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Parallel jobs.
    pub jobs: usize,
    /// Build what can be built after a failure.
    pub keep_going: bool,
    /// Rebuild the selected targets (not their dependencies) even when fresh.
    pub force: bool,
    /// Say what would run; run nothing, write nothing.
    pub dry_run: bool,
    /// The shared remote cache, if any.
    pub remote: Option<Arc<RemoteCache>>,
    /// Let nodes overwrite existing committed files that `pipeline.lock` does not record as
    /// theirs (hand-written files at an output path); otherwise such a node fails.
    pub adopt: bool,
}

/// What happened to a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Already up to date.
    Fresh,
    /// Its rule ran.
    Ran,
    /// Its outputs were restored from the local cache.
    Cached,
    /// Its outputs were restored from the remote cache.
    Remote,
    /// Cannot run on this host (and no cache has it).
    Blocked(String),
    /// It failed: its rule, its inputs or outputs, or storing them.
    Failed(Failure),
    /// Not attempted: a dependency failed, or the build stopped.
    Skipped(String),
    /// Dry run: would run.
    WouldRun,
    /// Dry run: would be restored from the cache.
    WouldRestore,
}

impl Outcome {
    /// The word used in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Fresh => "fresh",
            Outcome::Ran => "ran",
            Outcome::Cached => "cached",
            Outcome::Remote => "remote",
            Outcome::Blocked(_) => "blocked",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::WouldRun => "would-run",
            Outcome::WouldRestore => "would-restore",
        }
    }
}

/// Why a node failed: the engine's typed error ([`Error::RuleFailed`], [`Error::Node`], an
/// [`Error::Io`] while storing its outputs, ...), shared so outcomes can be cloned. Displays
/// as the error with its `Caused by:` chain.
#[derive(Clone, Debug)]
pub struct Failure(Arc<Error>);

impl Failure {
    /// The error.
    pub fn error(&self) -> &Error {
        &self.0
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure(Arc::new(e))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.render_with_causes())
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Failure) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

impl Eq for Failure {}

/// A failure of node `node` that is not its rule's: `message` names what is wrong.
fn node_failure(node: &NodeId, message: String) -> Failure {
    Failure::from(Error::Node {
        node: node.to_string(),
        message,
    })
}

/// Progress of a build, for the reporter.
#[derive(Debug)]
pub enum Event<'a> {
    /// The build starts with this many nodes selected.
    Plan {
        /// Nodes in the selected subgraph.
        total: usize,
        /// Nodes recovered from the journal of an interrupted build.
        recovered: usize,
    },
    /// A node's rule starts running.
    Started {
        /// The node.
        node: &'a NodeId,
    },
    /// A node is done.
    Finished {
        /// The node.
        node: &'a NodeId,
        /// What happened.
        outcome: &'a Outcome,
        /// Why it was not fresh.
        reasons: &'a [DirtyReason],
        /// Wall time of the work.
        elapsed: Duration,
    },
    /// Something the user should know that does not fail the build (the remote cache failed
    /// and was disabled; a remote object did not verify).
    Warning {
        /// The message.
        message: &'a str,
    },
}

/// Receives build events, on the coordinator thread only.
pub trait Reporter {
    /// One event.
    fn event(&mut self, event: Event<'_>);
}

/// Counts at the end of a build.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Nodes in the selected subgraph.
    pub total: usize,
    /// Rules run.
    pub ran: usize,
    /// Restored from the local cache.
    pub cached: usize,
    /// Restored from the remote cache.
    pub remote: usize,
    /// Already fresh.
    pub fresh: usize,
    /// Blocked on this host.
    pub blocked: usize,
    /// Failed.
    pub failed: usize,
    /// Not attempted.
    pub skipped: usize,
    /// Dry run: would run or be restored.
    pub would_run: usize,
    /// Wall time.
    #[serde(skip)]
    pub elapsed: Duration,
    /// First failed node.
    #[serde(skip)]
    pub first_failed: Option<String>,
    /// The build was interrupted (every completed node was kept).
    pub interrupted: bool,
    /// What the remote cache did, when one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_cache: Option<RemoteStats>,
}

impl Summary {
    /// The process exit code: 0 ok, 1 a node failed, 130 interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }
}

/// Builds `targets` (and what they need) and returns the summary, whose exit code says whether
/// a node failed or the build was interrupted. `Err` is for the build itself going wrong
/// (state unreadable or unwritable).
/// Takes the build lock (waiting for another build), unless a dry run.
pub fn build(
    ws: &Workspace,
    targets: &[NodeIx],
    opts: &BuildOptions,
    cancel: &AtomicBool,
    reporter: &mut dyn Reporter,
) -> Result<Summary> {
    let guard = if opts.dry_run {
        None
    } else {
        BuildLock::acquire(ws.cache.dir(), true, &mut |_| {})?
    };
    build_with_state(
        ws,
        ws.load_state()?,
        guard.as_ref(),
        targets,
        opts,
        cancel,
        reporter,
    )
}

/// [`build`] from a state already loaded under the build lock `guard` (required unless a dry
/// run) by [`Workspace::load_state`] or [`Workspace::recover`].
pub fn build_with_state(
    ws: &Workspace,
    state: (Hasher, Lock, usize),
    guard: Option<&BuildLock>,
    targets: &[NodeIx],
    opts: &BuildOptions,
    cancel: &AtomicBool,
    reporter: &mut dyn Reporter,
) -> Result<Summary> {
    build_keeping_state(ws, state, guard, targets, opts, cancel, reporter).map(|(s, ..)| s)
}

/// [`build_with_state`], also giving back the state the build ended with: the lock it wrote
/// (as on disk, unless a dry run) and its hasher, whose stat cache it saved.
pub(crate) fn build_keeping_state(
    ws: &Workspace,
    (hasher, lock, recovered): (Hasher, Lock, usize),
    guard: Option<&BuildLock>,
    targets: &[NodeIx],
    opts: &BuildOptions,
    cancel: &AtomicBool,
    reporter: &mut dyn Reporter,
) -> Result<(Summary, Lock, Hasher)> {
    if guard.is_none() && !opts.dry_run {
        return Err(Error::Internal(
            "a build that writes needs the build lock".into(),
        ));
    }
    let started = Instant::now();
    let tmp = ws.cache.dir().join("tmp");
    let slots = crate::sandbox::Pool::new(tmp.clone(), &ws.dir, ws.root());
    let lock = std::sync::RwLock::new(lock);
    let selection = ws.graph.closure(targets);
    reporter.event(Event::Plan {
        total: selection.len(),
        recovered,
    });
    let forced: std::collections::HashSet<NodeIx> = if opts.force {
        targets.iter().copied().collect()
    } else {
        Default::default()
    };
    let remote = opts.remote.as_deref();
    let executor: &dyn Executor = if opts.dry_run {
        &DryRunExecutor
    } else {
        &RealExecutor
    };
    // The journal file is created when the first node completes with an entry to record: a
    // no-op build never creates it.
    let mut journal: Option<Journal> = None;
    let mut summary = Summary {
        total: selection.len(),
        ..Summary::default()
    };

    // Evaluate the whole selection up front, level by level in parallel. A node that is fresh
    // and whose dependencies are all fresh would be evaluated by its task exactly so (same lock
    // entry, same dependency views): the scheduler completes it inline, without a task.
    let prefresh: Vec<Option<Duration>> = {
        let is_forced = |ix: NodeIx| forced.contains(&ix);
        let lock = read(&lock)?;
        let mut fresh: Vec<Option<Duration>> = vec![None; ws.graph.nodes.len()];
        // Dependencies come first: whether they are all fresh is known when a node arrives.
        let mut keep = |ix: NodeIx, done: crate::workspace::Evaluated| {
            if done.state == crate::workspace::State::Fresh
                && !forced.contains(&ix)
                && ws.graph.deps[ix].iter().all(|&d| fresh[d].is_some())
            {
                fresh[ix] = Some(done.elapsed);
            }
        };
        if !ws.evaluate_all(&hasher, &lock, &selection, &is_forced, &mut keep)? {
            fresh.fill(None);
        }
        fresh
    };
    let mut sched = Scheduler::new(ws, &selection);
    // Workers are started only when a node must be worked on.
    let all_fresh = sched_is_all_fresh(&prefresh, &selection);
    let pool = if all_fresh {
        None
    } else {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(opts.jobs.max(1))
                .thread_name(|i| format!("parity-worker-{i}"))
                .build()
                .map_err(|e| Error::Internal(format!("cannot start worker threads: {e}")))?,
        )
    };
    let (tx, rx) = mpsc::channel::<Msg>();
    let cx = Ctx {
        ws,
        hasher: &hasher,
        lock: &lock,
        cancel,
        remote,
        adopt: opts.adopt,
        tx,
        pool: &slots,
    };
    if !opts.dry_run && !all_fresh {
        crate::sandbox::sweep(&tmp, &slots.tag())?;
    }
    let mut stop = false;
    let mut waits = Waits::default();
    // Journal lines of one batch of completions, written with one `write`.
    let mut batch: Vec<(NodeId, LockEntry)> = Vec::new();
    let mut schedule = one_scope(|scope| -> Result<()> {
        loop {
            while !stop && sched.running < opts.jobs.max(1) {
                let work = match waits.queue.pop_front() {
                    Some(work) => work,
                    None => {
                        let Some(ix) = sched.pop_ready() else { break };
                        if let Some(elapsed) = prefresh[ix] {
                            let outcome = Outcome::Fresh;
                            count(&mut summary, &outcome, &ws.graph.nodes[ix].id);
                            reporter.event(Event::Finished {
                                node: &ws.graph.nodes[ix].id,
                                outcome: &outcome,
                                reasons: &[],
                                elapsed,
                            });
                            let state = built(&*read(&lock)?, &ws.graph.nodes[ix].id);
                            sched.complete(ix, state);
                            if cancel.load(Ordering::Relaxed) {
                                stop = true;
                            }
                            continue;
                        }
                        Work::Build(ix)
                    }
                };
                let ix = work.node();
                let task = Task {
                    work,
                    view: sched.views(ix),
                    entry: read(&lock)?
                        .nodes
                        .get(ws.graph.nodes[ix].id.as_str())
                        .cloned(),
                    forced: forced.contains(&ix),
                };
                let cx = &cx;
                let scope =
                    scope.ok_or_else(|| Error::Internal("a node to run, but no workers".into()))?;
                sched.running += 1;
                scope.spawn(move |_| {
                    let result = run_task(cx, executor, &task);
                    let _ = cx.tx.send(Msg::Done(task.work, Box::new(result)));
                });
            }
            if sched.running == 0 {
                break;
            }
            // Everything that completed meanwhile is one batch: one journal write.
            let mut first = Some(rx.recv());
            loop {
                let msg = match first.take() {
                    Some(msg) => msg,
                    None => match rx.try_recv() {
                        Ok(msg) => Ok(msg),
                        Err(_) => break,
                    },
                };
                match msg {
                    Ok(Msg::Started(ix)) => reporter.event(Event::Started {
                        node: &ws.graph.nodes[ix].id,
                    }),
                    Ok(Msg::Done(work, result)) => {
                        sched.running -= 1;
                        let done = match *result {
                            Ok(done) => done,
                            Err(e) => task_done(Outcome::Failed(e.into()), None),
                        };
                        for message in &done.warnings {
                            reporter.event(Event::Warning { message });
                        }
                        if !done.needs.is_empty() {
                            waits.wait(work, &done.needs);
                            continue;
                        }
                        let ix = work.node();
                        if let Some(entry) = &done.entry {
                            let id = &ws.graph.nodes[ix].id;
                            write(&lock)?.nodes.insert(id.to_string(), entry.clone());
                            if !opts.dry_run {
                                batch.push((id.clone(), entry.clone()));
                            }
                        }
                        let mut finished = Vec::new();
                        match work {
                            Work::Build(ix) => finished.push((ix, done)),
                            Work::Materialize(p) => {
                                if done.entry.is_some() {
                                    // A consumer keys on the outputs as re-made.
                                    sched.states[p] =
                                        Some(built(&*read(&lock)?, &ws.graph.nodes[p].id));
                                }
                                let failed = match &done.outcome {
                                    Outcome::Failed(m) => Some(format!(
                                        "`{}` had to be re-run to materialize its outputs and failed: {m}",
                                        ws.graph.nodes[p].id
                                    )),
                                    _ => None,
                                };
                                for ix in waits.done(p, failed.as_deref()) {
                                    let outcome = Outcome::Failed(node_failure(
                                        &ws.graph.nodes[ix].id,
                                        failed.clone().unwrap_or_default(),
                                    ));
                                    finished.push((ix, task_done(outcome, None)));
                                }
                            }
                        }
                        for (ix, done) in finished {
                            count(&mut summary, &done.outcome, &ws.graph.nodes[ix].id);
                            reporter.event(Event::Finished {
                                node: &ws.graph.nodes[ix].id,
                                outcome: &done.outcome,
                                reasons: &done.reasons,
                                elapsed: done.elapsed,
                            });
                            let failed = matches!(done.outcome, Outcome::Failed(_));
                            let state = dep_state(&done, &*read(&lock)?, &ws.graph.nodes[ix].id);
                            sched.complete(ix, state);
                            if failed && !opts.keep_going {
                                stop = true;
                            }
                        }
                    }
                    Err(_) => return Err(Error::Internal("the worker channel closed".into())),
                }
            }
            if cancel.load(Ordering::Relaxed) {
                stop = true;
            }
            if !batch.is_empty() {
                if journal.is_none() {
                    journal = Some(Journal::open(&ws.journal_path())?);
                }
                if let Some(j) = journal.as_mut() {
                    j.append(&batch)?;
                }
                batch.clear();
            }
            report_warnings(remote, reporter);
        }
        Ok(())
    });
    match &pool {
        Some(pool) => pool.in_place_scope(|scope| schedule(Some(scope)))?,
        None => schedule(None)?,
    }
    report_warnings(remote, reporter);
    if slots.used()
        && let crate::sandbox::Isolation::Copies { why } = slots.isolation()
    {
        let message = format!(
            "no sandbox confines `command` recipes here ({why}): they ran with private copies of their inputs, but could write anywhere"
        );
        reporter.event(Event::Warning { message: &message });
    }

    for ix in sched.unfinished() {
        let outcome = Outcome::Skipped(if cancel.load(Ordering::Relaxed) {
            "interrupted".into()
        } else if summary.failed > 0 && !opts.keep_going {
            "the build stopped after a failure".into()
        } else {
            "a dependency failed".into()
        });
        count(&mut summary, &outcome, &ws.graph.nodes[ix].id);
        reporter.event(Event::Finished {
            node: &ws.graph.nodes[ix].id,
            outcome: &outcome,
            reasons: &[],
            elapsed: Duration::ZERO,
        });
    }

    let mut lock = lock.into_inner().map_err(|_| poisoned())?;
    if !opts.dry_run {
        // Nothing recorded, recovered or dropped: the lock on disk is already what it would be.
        let mut changed = recovered > 0 || journal.is_some();
        if let Some(mut j) = journal {
            j.sync()?;
            drop(j);
        }
        changed |= lock.retain(|id| ws.graph.find(id).is_some());
        if changed {
            lock.write(&ws.lock_path)?;
        }
        Journal::remove(&ws.journal_path())?;
        hasher.save()?;
        if slots.used() {
            crate::sandbox::mark_clean(&tmp, &slots.tag());
        }
    }
    summary.elapsed = started.elapsed();
    summary.interrupted = cancel.load(Ordering::Relaxed);
    summary.remote_cache = remote.map(RemoteCache::stats);
    Ok((summary, lock, hasher))
}

/// Pins the scope lifetime of the scheduling loop to one (the pool's), so tasks may borrow
/// the build's state; `None` when no task will be spawned.
fn one_scope<'s, F: FnMut(Option<&rayon::Scope<'s>>) -> Result<()>>(f: F) -> F {
    f
}

/// Whether every node of `selection` is known fresh before scheduling (nothing will run).
fn sched_is_all_fresh(prefresh: &[Option<Duration>], selection: &[NodeIx]) -> bool {
    selection.iter().all(|&ix| prefresh[ix].is_some())
}

fn report_warnings(remote: Option<&RemoteCache>, reporter: &mut dyn Reporter) {
    for message in remote.map(RemoteCache::take_warnings).unwrap_or_default() {
        reporter.event(Event::Warning { message: &message });
    }
}

type SharedLock = std::sync::RwLock<Lock>;

fn read(lock: &SharedLock) -> Result<std::sync::RwLockReadGuard<'_, Lock>> {
    lock.read().map_err(|_| poisoned())
}

fn write(lock: &SharedLock) -> Result<std::sync::RwLockWriteGuard<'_, Lock>> {
    lock.write().map_err(|_| poisoned())
}

fn poisoned() -> Error {
    Error::Internal("a worker panicked while holding the build state".into())
}

fn count(s: &mut Summary, outcome: &Outcome, id: &NodeId) {
    match outcome {
        Outcome::Fresh => s.fresh += 1,
        Outcome::Ran => s.ran += 1,
        Outcome::Cached => s.cached += 1,
        Outcome::Remote => s.remote += 1,
        Outcome::Blocked(_) => s.blocked += 1,
        Outcome::Failed(_) => {
            s.failed += 1;
            s.first_failed.get_or_insert_with(|| id.to_string());
        }
        Outcome::Skipped(_) => s.skipped += 1,
        Outcome::WouldRun | Outcome::WouldRestore => s.would_run += 1,
    }
}

/// A node that is built, as its consumers see it: its recorded outputs.
fn built(lock: &Lock, id: &NodeId) -> DepState {
    DepState::Built(
        lock.nodes
            .get(id.as_str())
            .map(|e| e.outputs.clone())
            .unwrap_or_default(),
    )
}

fn dep_state(done: &TaskDone, lock: &Lock, id: &NodeId) -> DepState {
    match &done.outcome {
        Outcome::Fresh | Outcome::Ran | Outcome::Cached | Outcome::Remote => built(lock, id),
        Outcome::Blocked(_) => DepState::Blocked,
        Outcome::Failed(_) | Outcome::Skipped(_) => DepState::Failed,
        Outcome::WouldRun | Outcome::WouldRestore => DepState::Unknown,
    }
}

enum Msg {
    Started(NodeIx),
    Done(Work, Box<Result<TaskDone>>),
}

/// What a task does for a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    /// Makes the node fresh: restores or runs it.
    Build(NodeIx),
    /// Puts the node's recorded cache-only outputs (`{cache}/...`, built without the bytes) on
    /// disk for a consumer that runs: from the local store, the remote cache, or by running
    /// the node again.
    Materialize(NodeIx),
}

impl Work {
    fn node(self) -> NodeIx {
        match self {
            Work::Build(ix) | Work::Materialize(ix) => ix,
        }
    }
}

/// Tasks waiting for cache-only inputs to be materialized, and the materializations to start:
/// the scheduler's, so a producer re-run is ordinary work (a worker of its own, the journal).
#[derive(Default)]
struct Waits {
    /// How many materializations each waiting task still needs.
    count: BTreeMap<Work, usize>,
    /// Who waits for each producer being materialized.
    waiters: BTreeMap<NodeIx, Vec<Work>>,
    /// Tasks to start before any newly ready node.
    queue: std::collections::VecDeque<Work>,
}

impl Waits {
    /// `work` needs the cache-only outputs of `producers` on disk first.
    fn wait(&mut self, work: Work, producers: &[NodeIx]) {
        self.count.insert(work, producers.len());
        for &p in producers {
            let waiters = self.waiters.entry(p).or_default();
            if waiters.is_empty() {
                self.queue.push_back(Work::Materialize(p));
            }
            waiters.push(work);
        }
    }

    /// The materialization of `p` ended: its waiters that need nothing more are queued; if it
    /// `failed`, its waiters fail, and the builds among them (through failed
    /// materializations too) are returned.
    fn done(&mut self, p: NodeIx, failed: Option<&str>) -> Vec<NodeIx> {
        let mut failing = Vec::new();
        for w in self.waiters.remove(&p).unwrap_or_default() {
            if failed.is_some() {
                if self.count.remove(&w).is_none() {
                    continue;
                }
                match w {
                    Work::Build(ix) => failing.push(ix),
                    Work::Materialize(q) => failing.extend(self.done(q, failed)),
                }
            } else if let Some(n) = self.count.get_mut(&w) {
                *n -= 1;
                if *n == 0 {
                    self.count.remove(&w);
                    self.queue.push_back(w);
                }
            }
        }
        failing
    }
}

struct Task {
    work: Work,
    view: BTreeMap<NodeIx, DepState>,
    entry: Option<LockEntry>,
    forced: bool,
}

/// What a worker reports for one node.
struct TaskDone {
    outcome: Outcome,
    reasons: Vec<DirtyReason>,
    entry: Option<LockEntry>,
    /// Producers whose cache-only outputs must be on disk before the task can go on (it is
    /// started again once they are); `outcome` means nothing then.
    needs: Vec<NodeIx>,
    elapsed: Duration,
    /// Things to tell the user (files a recipe wrote without declaring them).
    warnings: Vec<String>,
}

/// The order in which a build of `selection` reports its nodes when every one is fresh: the
/// scheduler's, each node completing as soon as it is ready (for the no-op memo).
pub fn noop_order(ws: &Workspace, selection: &[NodeIx]) -> Vec<NodeIx> {
    let mut sched = Scheduler::new(ws, selection);
    let mut order = Vec::with_capacity(selection.len());
    while let Some(ix) = sched.pop_ready() {
        order.push(ix);
        sched.complete(ix, DepState::Unknown);
    }
    order
}

/// The ready queue and the dependency counts of the selected subgraph.
struct Scheduler<'a> {
    ws: &'a Workspace,
    pending: Vec<usize>,
    in_selection: Vec<bool>,
    ready: BinaryHeap<std::cmp::Reverse<(usize, NodeIx)>>,
    topo_pos: Vec<usize>,
    states: Vec<Option<DepState>>,
    running: usize,
}

impl<'a> Scheduler<'a> {
    fn new(ws: &'a Workspace, selection: &[NodeIx]) -> Scheduler<'a> {
        let n = ws.graph.nodes.len();
        let mut in_selection = vec![false; n];
        for &ix in selection {
            in_selection[ix] = true;
        }
        let mut topo_pos = vec![0; n];
        for (pos, &ix) in ws.graph.topo.iter().enumerate() {
            topo_pos[ix] = pos;
        }
        let mut pending = vec![0; n];
        let mut ready = BinaryHeap::new();
        for &ix in selection {
            pending[ix] = ws.graph.deps[ix]
                .iter()
                .filter(|d| in_selection[**d])
                .count();
            if pending[ix] == 0 {
                ready.push(std::cmp::Reverse((topo_pos[ix], ix)));
            }
        }
        Scheduler {
            ws,
            pending,
            in_selection,
            ready,
            topo_pos,
            states: vec![None; n],
            running: 0,
        }
    }

    fn pop_ready(&mut self) -> Option<NodeIx> {
        self.ready.pop().map(|std::cmp::Reverse((_, ix))| ix)
    }

    fn views(&self, ix: NodeIx) -> BTreeMap<NodeIx, DepState> {
        self.ws.graph.deps[ix]
            .iter()
            .map(|&d| (d, self.states[d].clone().unwrap_or(DepState::Unknown)))
            .collect()
    }

    fn complete(&mut self, ix: NodeIx, state: DepState) {
        self.states[ix] = Some(state);
        for &r in &self.ws.graph.rdeps[ix] {
            if self.in_selection[r] {
                self.pending[r] -= 1;
                if self.pending[r] == 0 {
                    self.ready.push(std::cmp::Reverse((self.topo_pos[r], r)));
                }
            }
        }
    }

    fn unfinished(&self) -> Vec<NodeIx> {
        self.ws
            .graph
            .topo
            .iter()
            .copied()
            .filter(|&ix| self.in_selection[ix] && self.states[ix].is_none())
            .collect()
    }
}

/// What every task of one build shares.
struct Ctx<'a> {
    ws: &'a Workspace,
    hasher: &'a Hasher,
    lock: &'a SharedLock,
    cancel: &'a AtomicBool,
    remote: Option<&'a RemoteCache>,
    adopt: bool,
    tx: mpsc::Sender<Msg>,
    /// The process slots of `command` recipes.
    pool: &'a crate::sandbox::Pool,
}

/// One node that is not fresh, evaluated, with its record in `pipeline.lock`.
struct Job<'a> {
    ix: NodeIx,
    eval: &'a Evaluation,
    recorded: Option<&'a LockEntry>,
    forced: bool,
}

fn run_task(cx: &Ctx<'_>, executor: &dyn Executor, task: &Task) -> Result<TaskDone> {
    let ix = match task.work {
        Work::Build(ix) => ix,
        Work::Materialize(p) => return materialize(cx, p, task.entry.as_ref()),
    };
    let started = Instant::now();
    let view = |d: NodeIx| {
        task.view
            .get(&d)
            .map_or(Cow::Owned(DepState::Unknown), Cow::Borrowed)
    };
    let mut eval = cx
        .ws
        .evaluate(cx.hasher, ix, task.entry.as_ref(), &view, task.forced)?;
    // The reasons move into the result (a node of 20,000 changed inputs has as many).
    let done = |outcome, reasons| TaskDone {
        reasons,
        elapsed: started.elapsed(),
        ..task_done(outcome, None)
    };
    let early = match &eval.unavailable {
        Some(Unavailable::DepFailed(d)) => {
            Some(Outcome::Skipped(format!("dependency `{d}` failed")))
        }
        Some(Unavailable::DepBlocked(d)) => {
            Some(Outcome::Blocked(format!("needs `{d}`, which is blocked")))
        }
        Some(u @ (Unavailable::MissingInput(_) | Unavailable::NoEpoch)) => Some(Outcome::Failed(
            node_failure(&cx.ws.graph.nodes[ix].id, u.to_string()),
        )),
        _ if eval.is_fresh() => Some(Outcome::Fresh),
        _ if cx.cancel.load(Ordering::Relaxed) => Some(Outcome::Skipped("interrupted".into())),
        _ => None,
    };
    if let Some(outcome) = early {
        return Ok(done(outcome, eval.reasons));
    }
    let job = Job {
        ix,
        eval: &eval,
        recorded: task.entry.as_ref(),
        forced: task.forced,
    };
    let mut result = executor.execute(cx, &job)?;
    result.reasons = std::mem::take(&mut eval.reasons);
    result.elapsed = started.elapsed();
    Ok(result)
}

/// Does the work of a node that is not fresh.
trait Executor: Sync {
    fn execute(&self, cx: &Ctx<'_>, job: &Job<'_>) -> Result<TaskDone>;
}

/// The outcome of a node whose own host constraint excludes this machine.
fn host_blocked(ws: &Workspace, ix: NodeIx) -> Outcome {
    Outcome::Blocked(host_reason(ws, ix))
}

/// Why a node whose own host constraint excludes this machine cannot run here.
fn host_reason(ws: &Workspace, ix: NodeIx) -> String {
    let host = ws.graph.nodes[ix]
        .host
        .as_deref()
        .unwrap_or_default()
        .to_string();
    Unavailable::Host(host).to_string()
}

fn task_done(outcome: Outcome, entry: Option<LockEntry>) -> TaskDone {
    TaskDone {
        outcome,
        reasons: Vec::new(),
        entry,
        needs: Vec::new(),
        elapsed: Duration::ZERO,
        warnings: Vec::new(),
    }
}

/// The warning for files a recipe wrote beside its declared outputs (they were discarded).
fn undeclared_warning(node: &crate::graph::Node, names: &[String]) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let shown: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    vec![format!(
        "`{}` wrote {} beside its declared outputs; discarded (declare what a node produces in `outputs`)",
        node.id,
        shown.join(", ")
    )]
}

/// Says what would happen; touches nothing (but asks the remote cache what it has).
struct DryRunExecutor;

impl Executor for DryRunExecutor {
    fn execute(&self, cx: &Ctx<'_>, job: &Job<'_>) -> Result<TaskDone> {
        let (ws, ix) = (cx.ws, job.ix);
        let restorable = |k: crate::fingerprint::ActionKey| -> Result<bool> {
            Ok(ws
                .cache
                .get_action(&k, &ws.graph.nodes[ix].outputs)
                .is_some()
                || match cx.remote {
                    Some(r) => r.lookup(&k, &output_names(ws, ix))?.is_some(),
                    None => false,
                })
        };
        if !job.forced
            && let Some(key) = job.eval.key()
            && restorable(key)?
        {
            return Ok(task_done(Outcome::WouldRestore, None));
        }
        if !ws.can_run_here(ix) {
            return Ok(task_done(host_blocked(ws, ix), None));
        }
        Ok(task_done(Outcome::WouldRun, None))
    }
}

/// Restores from the local or remote cache or runs the rule, then commits (and uploads) the
/// outputs.
struct RealExecutor;

impl Executor for RealExecutor {
    fn execute(&self, cx: &Ctx<'_>, job: &Job<'_>) -> Result<TaskDone> {
        let (ws, ix) = (cx.ws, job.ix);
        let material = job.eval.material.as_ref().ok_or_else(|| {
            Error::Internal(format!("`{}` has unknown inputs", ws.graph.nodes[ix].id))
        })?;
        let key = material.key();
        let entry_for = |outputs| lock_entry(key, material, outputs);
        if !job.forced
            && let Some(action) = ws.cache.get_action(&key, &ws.graph.nodes[ix].outputs)
        {
            match restore(cx, ix, job.recorded, &action, OutputKind::Committed) {
                Ok(()) => {
                    // A run that must publish publishes what it restored locally too.
                    if let Some(remote) = cx.remote.filter(|r| r.required()) {
                        remote.upload(&ws.cache, &key, &action)?;
                    }
                    return Ok(task_done(
                        Outcome::Cached,
                        Some(entry_for(digests(&action))),
                    ));
                }
                Err(Restore::Refused(message)) => {
                    return Ok(task_done(
                        Outcome::Failed(node_failure(&ws.graph.nodes[ix].id, message)),
                        None,
                    ));
                }
                Err(Restore::Miss) => ws.cache.remove_action(&key),
            }
        }
        if !job.forced
            && let Some(remote) = cx.remote
        {
            match restore_remote(cx, remote, job, &key)? {
                Ok(Some(action)) => {
                    return Ok(task_done(
                        Outcome::Remote,
                        Some(entry_for(digests(&action))),
                    ));
                }
                Ok(None) => {}
                Err(message) => {
                    return Ok(task_done(
                        Outcome::Failed(node_failure(&ws.graph.nodes[ix].id, message)),
                        None,
                    ));
                }
            }
        }
        if !ws.can_run_here(ix) {
            if let Some(remote) = cx.remote.filter(|r| r.required()) {
                let why = host_reason(ws, ix);
                return Err(
                    remote.required_error(format!("it has no result for this node ({why})"))
                );
            }
            return Ok(task_done(host_blocked(ws, ix), None));
        }
        let needs = missing_inputs(cx, ix)?;
        if !needs.is_empty() {
            return Ok(TaskDone {
                needs,
                ..task_done(Outcome::WouldRun, None)
            });
        }
        let _ = cx.tx.send(Msg::Started(ix));
        let outcome = match run_rule(cx, ix, job.eval, job.recorded) {
            Ok((action, undeclared)) => {
                if let Some(remote) = cx.remote {
                    remote.upload(&ws.cache, &key, &action)?;
                }
                let mut done = task_done(Outcome::Ran, Some(entry_for(digests(&action))));
                done.warnings = undeclared_warning(&ws.graph.nodes[ix], &undeclared);
                return Ok(done);
            }
            Err(_) if cx.cancel.load(Ordering::Relaxed) => Outcome::Skipped("interrupted".into()),
            Err(e) => Outcome::Failed(e.into()),
        };
        Ok(task_done(outcome, None))
    }
}

/// What the lock records of a node built from `material` with these outputs.
fn lock_entry(
    key: crate::fingerprint::ActionKey,
    material: &crate::fingerprint::KeyMaterial,
    outputs: crate::hash::DigestMap,
) -> LockEntry {
    LockEntry {
        key,
        rule: crate::state::intern_rule(&material.rule_id()),
        settings: material.settings_digest(),
        inputs: material.inputs.clone().into_iter().collect(),
        outputs,
    }
}

fn digests(action: &ActionEntry) -> crate::hash::DigestMap {
    action
        .outputs
        .iter()
        .map(|(k, v)| (k.clone(), v.digest))
        .collect()
}

/// Why outputs could not be restored from a cache entry.
enum Restore {
    /// An object is missing or corrupt, or a file could not be written: the entry is useless
    /// (deleted by the caller) and the node runs.
    Miss,
    /// Restoring would overwrite a file that is not the node's (see [`check_destination`]):
    /// the node fails with this message, whether it is restored or run.
    Refused(String),
}

/// Puts the outputs of kind `kind` of a cached action in place, skipping those already there
/// (committed outputs when restoring a node; cache-only ones stay in the store until a
/// consumer needs them).
fn restore(
    cx: &Ctx<'_>,
    ix: NodeIx,
    recorded: Option<&LockEntry>,
    action: &ActionEntry,
    kind: OutputKind,
) -> std::result::Result<(), Restore> {
    let node = &cx.ws.graph.nodes[ix];
    for o in node.outputs.iter().filter(|o| o.kind == kind) {
        let rec = action.outputs.get(&o.name()).ok_or(Restore::Miss)?;
        let dest = cx.ws.output_path(o);
        check_destination(cx, ix, recorded, o, &rec.digest).map_err(Restore::Refused)?;
        if cx.hasher.digest(&dest).map_err(|_| Restore::Miss)? == Some(rec.digest) {
            continue;
        }
        if !cx
            .ws
            .cache
            .restore_output(rec, &dest)
            .map_err(|_| Restore::Miss)?
        {
            return Err(Restore::Miss);
        }
        cx.hasher.invalidate(&dest);
    }
    Ok(())
}

/// Whether output `o` of node `ix` may be written with content `new`: never through a symbolic
/// link (a directory of its path that is a link would take the bytes out of the workspace), and
/// never over an existing file that `pipeline.lock` does not record as the node's (a
/// hand-written file at an output path) unless it already holds those bytes or `--adopt`.
fn check_destination(
    cx: &Ctx<'_>,
    ix: NodeIx,
    recorded: Option<&LockEntry>,
    o: &crate::graph::Output,
    new: &crate::hash::FileDigest,
) -> std::result::Result<(), String> {
    let node = &cx.ws.graph.nodes[ix];
    let base = match o.kind {
        OutputKind::Committed => cx.ws.root().to_path_buf(),
        OutputKind::Cache => cx.ws.cache.dir().join("out"),
    };
    if let Some(link) = fsutil::symlinked_dir(&base, &o.path) {
        return Err(format!(
            "output `{}` of `{}` lies under `{}`, a symbolic link: outputs are written only to plain directories of the workspace",
            o.name(),
            node.id,
            link.display()
        ));
    }
    if o.kind == OutputKind::Cache
        || cx.adopt
        || recorded.is_some_and(|e| e.outputs.get(&o.name()).is_some())
    {
        return Ok(());
    }
    let dest = cx.ws.output_path(o);
    match cx.hasher.digest(&dest) {
        Ok(None) => Ok(()),
        Ok(Some(d)) if d == *new => Ok(()),
        Ok(Some(_)) => Err(format!(
            "output `{}` of `{}` already exists and `pipeline.lock` does not record it as the node's: it may be a hand-written file; move it away, or pass `--adopt` to let the node overwrite it",
            o.name(),
            node.id
        )),
        Err(e) => Err(e.render_with_causes()),
    }
}

/// The declared output names of a node.
fn output_names(ws: &Workspace, ix: NodeIx) -> Vec<String> {
    ws.graph.nodes[ix]
        .outputs
        .iter()
        .map(|o| o.name())
        .collect()
}

/// Looks the node up in the remote cache; on a hit, downloads (verified) the objects of the
/// node's committed outputs into the local store, records the action locally and puts the
/// committed outputs in place. Cache-only outputs stay remote until a consumer needs them.
/// `Err` (inner): restoring would overwrite a file that is not the node's.
fn restore_remote(
    cx: &Ctx<'_>,
    remote: &RemoteCache,
    job: &Job<'_>,
    key: &crate::fingerprint::ActionKey,
) -> Result<std::result::Result<Option<ActionEntry>, String>> {
    let (ws, ix) = (cx.ws, job.ix);
    let Some(entry) = remote.lookup(key, &output_names(ws, ix))? else {
        return Ok(Ok(None));
    };
    let node = &ws.graph.nodes[ix];
    let committed = |name: &str| {
        node.outputs
            .iter()
            .any(|o| o.name() == name && o.kind == OutputKind::Committed)
    };
    if !remote.fetch(&ws.cache, &entry, &committed)? {
        return Ok(Ok(None));
    }
    let action = entry.to_action();
    if action
        .validate(node.outputs.iter().map(|o| (o.name(), o.dir)))
        .is_err()
    {
        return Ok(Ok(None));
    }
    ws.cache.put_action(key, &action)?;
    match restore(cx, ix, job.recorded, &action, OutputKind::Committed) {
        Ok(()) => Ok(Ok(Some(action))),
        Err(Restore::Refused(message)) => Ok(Err(message)),
        Err(Restore::Miss) => {
            ws.cache.remove_action(key);
            Ok(Ok(None))
        }
    }
}

/// The producers of cache-only inputs of node `ix` whose recorded bytes are not on disk under
/// `cache/out/` (built without the bytes): they must be materialized before `ix` runs.
fn missing_inputs(cx: &Ctx<'_>, ix: NodeIx) -> Result<Vec<NodeIx>> {
    let ws = cx.ws;
    let mut missing = Vec::new();
    for input in &ws.graph.nodes[ix].inputs {
        let Input::Node { node: p, .. } = input else {
            continue;
        };
        let producer = &ws.graph.nodes[*p];
        if missing.contains(p) || !producer.outputs.iter().any(|o| o.kind == OutputKind::Cache) {
            continue;
        }
        let lock = read(cx.lock)?;
        let Some(entry) = lock.nodes.get(producer.id.as_str()) else {
            continue;
        };
        for o in producer
            .outputs
            .iter()
            .filter(|o| o.kind == OutputKind::Cache)
        {
            if cx.hasher.digest(&ws.output_path(o))?.as_ref() != entry.outputs.get(&o.name()) {
                missing.push(*p);
                break;
            }
        }
    }
    Ok(missing)
}

/// The task of [`Work::Materialize`]: puts the cache-only outputs `recorded` for node `p` on
/// disk, restored from the local store, else from the remote cache, or, if both lost them, by
/// running `p` again (once its own cache-only inputs are there: `needs`). Its entry, when it
/// ran, is the new record of `p`.
fn materialize(cx: &Ctx<'_>, p: NodeIx, recorded: Option<&LockEntry>) -> Result<TaskDone> {
    let ws = cx.ws;
    let producer = &ws.graph.nodes[p];
    let Some(entry) = recorded else {
        return Ok(task_done(Outcome::Fresh, None));
    };
    let mut there = true;
    for o in producer
        .outputs
        .iter()
        .filter(|o| o.kind == OutputKind::Cache)
    {
        there &= cx.hasher.digest(&ws.output_path(o))?.as_ref() == entry.outputs.get(&o.name());
    }
    if there {
        return Ok(task_done(Outcome::Fresh, None));
    }
    if let Some(action) = ws.cache.get_action(&entry.key, &producer.outputs) {
        match restore(cx, p, Some(entry), &action, OutputKind::Cache) {
            Ok(()) => return Ok(task_done(Outcome::Cached, None)),
            Err(_) => ws.cache.remove_action(&entry.key),
        }
    }
    if let Some(remote) = cx.remote
        && let Some(re) = remote.lookup(&entry.key, &output_names(ws, p))?
        && remote.fetch(&ws.cache, &re, &|_| true)?
    {
        let action = re.to_action();
        if action
            .validate(producer.outputs.iter().map(|o| (o.name(), o.dir)))
            .is_ok()
            && restore(cx, p, Some(entry), &action, OutputKind::Cache).is_ok()
        {
            return Ok(task_done(Outcome::Remote, None));
        }
    }
    // The stores lost the bytes: run the producer again, here.
    let needs = missing_inputs(cx, p)?;
    if !needs.is_empty() {
        return Ok(TaskDone {
            needs,
            ..task_done(Outcome::WouldRun, None)
        });
    }
    let snapshot: BTreeMap<NodeIx, DepState> = {
        let lock = read(cx.lock)?;
        ws.graph.deps[p]
            .iter()
            .map(|&d| {
                let id = ws.graph.nodes[d].id.as_str();
                let state = lock
                    .nodes
                    .get(id)
                    .map_or(DepState::Unknown, |e| DepState::Built(e.outputs.clone()));
                (d, state)
            })
            .collect()
    };
    let view = |d: NodeIx| {
        snapshot
            .get(&d)
            .map_or(Cow::Owned(DepState::Unknown), Cow::Borrowed)
    };
    let eval = ws.evaluate(cx.hasher, p, Some(entry), &view, true)?;
    let material = eval.material.as_ref().ok_or_else(|| {
        Error::Internal(format!(
            "cannot re-run `{}`: its inputs are unknown",
            producer.id
        ))
    })?;
    Ok(match run_rule(cx, p, &eval, Some(entry)) {
        Ok((action, _)) => task_done(
            Outcome::Ran,
            Some(lock_entry(material.key(), material, digests(&action))),
        ),
        Err(e) => task_done(Outcome::Failed(e.into()), None),
    })
}

/// Runs the node's rule in a sandbox; on success checks and stores the outputs, records the
/// action and moves the outputs into place; returns it with the names of files the rule wrote
/// without declaring them (discarded). The error is the rendered message.
fn run_rule(
    cx: &Ctx<'_>,
    ix: NodeIx,
    eval: &Evaluation,
    recorded: Option<&LockEntry>,
) -> Result<(ActionEntry, Vec<String>)> {
    let ws = cx.ws;
    let node = &ws.graph.nodes[ix];
    let material = eval
        .material
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("the inputs of `{}` are not known", node.id)))?;
    let key = material.key();
    let rule = ws
        .registry
        .get(&node.rule)
        .ok_or_else(|| Error::Internal(format!("unknown rule `{}`", node.rule)))?;
    let rule_failed = |source| Error::RuleFailed {
        node: node.id.to_string(),
        rule: node.rule.to_string(),
        source,
    };
    crate::sandbox::log_run(node.id.as_str());
    let inputs: Vec<String> = eval.input_paths.iter().map(|(n, _)| n.clone()).collect();
    // Called once, on whichever path runs: the names move into the context.
    let ctx = move |root, cache, outputs| RuleContext {
        node,
        inputs,
        epoch: material.epoch,
        env: material.env.clone(),
        cancelled: cx.cancel,
        root,
        cache,
        outputs,
        slot: None,
    };
    match rule.sandbox() {
        SandboxKind::Mirror => {
            let sandbox = Sandbox::create(&ws.cache.dir().join("tmp"))?;
            for (name, path) in &eval.input_paths {
                sandbox.add_input(name, path)?;
            }
            let outputs: Vec<PathBuf> = node
                .outputs
                .iter()
                .map(|o| sandbox.output_path(o))
                .collect();
            let c = ctx(sandbox.root.clone(), sandbox.cache.clone(), outputs.clone());
            rule.run(&c).map_err(rule_failed)?;
            Ok((
                commit_outputs(cx, ix, &key, recorded, &outputs)?,
                Vec::new(),
            ))
        }
        SandboxKind::Process => {
            let mut slot = cx.pool.take()?;
            let outputs: Vec<PathBuf> = node
                .outputs
                .iter()
                .enumerate()
                .map(|(k, o)| slot.output_path(k, o))
                .collect();
            let (root, cache) = (slot.root().to_path_buf(), slot.path("{cache}/"));
            let committed = slot.prepare(&eval.input_paths).and_then(|()| {
                let c = RuleContext {
                    slot: Some(std::cell::RefCell::new(&mut slot)),
                    ..ctx(root, cache, outputs.clone())
                };
                rule.run(&c).map_err(rule_failed)?;
                commit_outputs(cx, ix, &key, recorded, &outputs)
            });
            // Whatever is left in the slot goes; what the rule wrote besides its declared
            // outputs is reported when it succeeded.
            let undeclared = slot.clean(&outputs);
            cx.pool.give(slot);
            Ok((committed?, undeclared?))
        }
    }
}

/// Checks the outputs a rule left at `produced` (one per declared output), stores them,
/// records the action and moves them into place.
fn commit_outputs(
    cx: &Ctx<'_>,
    ix: NodeIx,
    key: &crate::fingerprint::ActionKey,
    recorded: Option<&LockEntry>,
    produced: &[PathBuf],
) -> Result<ActionEntry> {
    let ws = cx.ws;
    let node = &ws.graph.nodes[ix];
    let mut outputs = BTreeMap::new();
    for (o, produced) in node.outputs.iter().zip(produced) {
        crate::exec::check_output(produced, o).map_err(|why| Error::RuleFailed {
            node: node.id.to_string(),
            rule: node.rule.to_string(),
            source: why.into(),
        })?;
        fsutil::normalize_modes(produced)?;
        let rec = ws.cache.store_output(produced)?;
        check_destination(cx, ix, recorded, o, &rec.digest).map_err(|message| Error::Node {
            node: node.id.to_string(),
            message,
        })?;
        outputs.insert(o.name(), rec);
    }
    let action = ActionEntry { outputs };
    ws.cache.put_action(key, &action)?;
    for (o, produced) in node.outputs.iter().zip(produced) {
        let dest = ws.output_path(o);
        fsutil::rename_into_place(produced, &dest)?;
        cx.hasher.invalidate(&dest);
        if !o.dir {
            cx.hasher.remember(&dest, action.outputs[&o.name()].digest);
        }
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_materialization_fails_its_waiters_through_other_materializations() {
        let mut waits = Waits::default();
        // Build 5 needs 1 and 2; materializing 1 needs 0 first.
        waits.wait(Work::Build(5), &[1, 2]);
        waits.wait(Work::Materialize(1), &[0]);
        waits.wait(Work::Build(6), &[2]);
        assert_eq!(
            waits.queue.drain(..).collect::<Vec<_>>(),
            [
                Work::Materialize(1),
                Work::Materialize(2),
                Work::Materialize(0)
            ]
        );
        // 2 is there: 6 goes on, 5 still waits for 1.
        assert!(waits.done(2, None).is_empty());
        assert_eq!(waits.queue.drain(..).collect::<Vec<_>>(), [Work::Build(6)]);
        // 0 cannot be made: 1 cannot be re-run, so 5 fails.
        assert_eq!(waits.done(0, Some("no")), [5]);
        assert!(waits.queue.is_empty() && waits.count.is_empty() && waits.waiters.is_empty());
    }
}
