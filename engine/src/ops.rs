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
    /// The no-op memo, when enabled and its identity and environment still hold (its files
    /// are checked by the caller).
    fn memo(&self) -> Option<Memo> {
        if memo::disabled() {
            return None;
        }
        match memo::read(self.pipeline, self.identity, self.registry) {
            Ok(m) => Some(m),
            Err(why) => {
                (self.trace)(&format!("memo: not used: {why}"));
                None
            }
        }
    }

    /// The memo's positions of the nodes `targets` select (every node when there are none),
    /// when it can tell them without the graph.
    fn memo_selection(&self, m: &Memo, targets: &[String]) -> Option<Vec<u32>> {
        if targets.is_empty() {
            return Some((0..m.nodes.len() as u32).collect());
        }
        let found = m.select(targets);
        if found.is_none() {
            (self.trace)("memo: not used: a target is not a node id");
        }
        found
    }

    /// Writes the memo after a full evaluation of every node found all fresh (or blocked).
    fn remember(
        &self,
        ws: &Workspace,
        started: SystemTime,
        verdicts: memo::Verdicts<'_>,
        order: &[NodeIx],
        vouch: memo::Vouch<'_>,
    ) {
        if memo::disabled() {
            return;
        }
        match memo::write(
            ws,
            self.pipeline,
            self.identity,
            started,
            verdicts,
            order,
            vouch,
        ) {
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

/// `status [TARGET...]`: the memo answers when none of the files its verdicts rest on changed
/// (with targets: those of the targets' closure), and when only files of some nodes changed,
/// it keeps the verdicts of the nodes they do not reach and only those they reach are
/// evaluated. Otherwise every selected node is evaluated (no lock needed), and the memo is
/// written when all of them turn out fresh.
pub fn status(session: &Session<'_>, targets: &[String]) -> Result<Status> {
    let started = SystemTime::now();
    if let Some(m) = session.memo()
        && let Some(selection) = session.memo_selection(&m, targets)
        && let Some(m) = memo_status(session, m, &selection, targets.is_empty())
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
        // A racy file has the digest the evaluation used (memoized by the hasher), if it is
        // the one the lock records. Not the lock itself: a build may have rewritten it since.
        let vouch = lock_vouch(&ws, &lock, &hasher);
        session.remember(
            &ws,
            started,
            memo::Verdicts::Each(&statuses),
            &order,
            &vouch,
        );
    }
    std::mem::forget((lock, hasher));
    Ok(Status::Evaluated {
        ws: Box::new(ws),
        statuses,
    })
}

/// [`Memo::settle`], said when it settled anything.
fn settle(session: &Session<'_>, m: &Memo, scope: Option<&[u32]>) {
    let n = m.settle(session.pipeline, scope);
    if n > 0 {
        (session.trace)(&format!("memo: settled {n} racy paths"));
    }
}

/// `status` answered by the memo `m` for the nodes `selection` (positions): its verdicts, with
/// those of the nodes an edited file reaches evaluated anew. `None`: the full path must answer.
fn memo_status(session: &Session<'_>, mut m: Memo, selection: &[u32], all: bool) -> Option<Memo> {
    let dir = fsutil::parent_dir(session.pipeline);
    let scope = (!all).then(|| m.closure(selection));
    match m.changed(dir, scope.as_deref(), false) {
        memo::Changed::Nothing => {
            (session.trace)("memo: used");
            settle(session, &m, scope.as_deref());
        }
        memo::Changed::Global(path) => {
            (session.trace)(&format!("memo: not used: `{path}` changed"));
            return None;
        }
        memo::Changed::Files(files) => {
            let mut dirty = m.dependents(&m.owners(&files));
            if let Some(scope) = &scope {
                dirty.retain(|i| scope.binary_search(i).is_ok());
            }
            match reevaluate(session, &mut m, &dirty) {
                Ok(()) => (session.trace)(&format!(
                    "memo: partly used: {} of {} nodes evaluated",
                    dirty.len(),
                    m.nodes.len()
                )),
                Err(why) => {
                    (session.trace)(&format!("memo: not used: {why}"));
                    return None;
                }
            }
        }
    }
    if !all {
        let mut keep = selection.iter().peekable();
        let mut i = 0u32;
        m.nodes.retain(|_| {
            let kept = keep.next_if_eq(&&i).is_some();
            i += 1;
            kept
        });
    }
    Some(m)
}

/// Evaluates the memo's nodes `dirty` (positions, closed under dependents) with the graph and
/// puts their verdicts in `m`; every other node they depend on stands as recorded. `Err` says
/// why the full path must answer instead (an error is then reported by it).
///
/// A dependency's recorded outputs are needed only by a node that waits on nothing: one that
/// waits on a dependency that is not fresh gets no key, whatever the others' outputs are. So
/// the lock is read for the dirty nodes and for the dependencies of those that depend on no
/// other dirty node (on a second thread, while the graph is expanded: the memo records the
/// dependencies); a dirty node behind another is first evaluated with its other fresh
/// dependencies deferred (seen as not fresh), which is its verdict, less the reasons those
/// gave, as long as something else keeps it waiting. Otherwise (an edit that left a node
/// fresh) the deferred entries are read and the nodes evaluated again.
fn reevaluate(
    session: &Session<'_>,
    m: &mut Memo,
    dirty: &[u32],
) -> std::result::Result<(), String> {
    let read = |wanted: &std::collections::HashSet<&str>| {
        let path = crate::workspace::lock_path(session.pipeline);
        crate::state::Lock::read_only(&path, &|id| wanted.contains(id)).map_err(|e| e.to_string())
    };
    let mut is_dirty = vec![false; m.nodes.len()];
    for &i in dirty {
        is_dirty[i as usize] = true;
    }
    let mut first: std::collections::HashSet<&str> = Default::default();
    for &i in dirty {
        first.insert(m.nodes[i as usize].id.as_str());
        let deps = m.deps(i);
        if deps.iter().all(|&d| !is_dirty[d as usize]) {
            first.extend(deps.iter().map(|&d| m.nodes[d as usize].id.as_str()));
        }
    }
    let (ws, lock) = std::thread::scope(|s| {
        let reader = std::thread::Builder::new().spawn_scoped(s, || read(&first));
        let ws = session.open().map_err(|e| e.to_string());
        let lock = match reader {
            Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            Err(_) => read(&first),
        };
        (ws, lock)
    });
    let (ws, lock) = (ws?, lock?);
    if ws.graph.nodes.len() != m.nodes.len() {
        return Err("the graph differs".into());
    }
    let ix_of = |i: u32| ws.graph.find(m.nodes[i as usize].id.as_str());
    let id = |ix: NodeIx| ws.graph.nodes[ix].id.as_str();
    let mut nodes = Vec::with_capacity(dirty.len());
    for &i in dirty {
        nodes.push(ix_of(i).ok_or("the graph differs")?);
    }
    // The recorded verdicts of what the dirty nodes depend on, by graph index.
    let mut known: std::collections::HashMap<NodeIx, State> = Default::default();
    let mut ids: std::collections::HashSet<&str> = Default::default();
    for &ix in &nodes {
        ids.insert(id(ix));
        ids.extend(ws.graph.deps[ix].iter().map(|&d| id(d)));
    }
    for (i, v) in m.nodes.iter().enumerate() {
        if !is_dirty[i] && ids.contains(v.id.as_str()) {
            let ix = ix_of(i as u32).ok_or("the graph differs")?;
            known.insert(ix, v.state);
        }
    }
    // Neither the whole stat cache nor the whole lock: only what these few nodes need.
    let hasher = Hasher::without_cache(ws.dir.clone());
    let fresh = |d: NodeIx| known.get(&d) == Some(&State::Fresh);
    let deferred = |d: NodeIx| fresh(d) && !lock.nodes.contains_key(id(d));
    let given = |lock: &crate::state::Lock, defer: bool, d: NodeIx| match known.get(&d) {
        Some(State::Fresh) if defer && deferred(d) => crate::workspace::DepState::Unknown,
        Some(State::Fresh) => crate::workspace::DepState::Built(
            lock.nodes
                .get(id(d))
                .map(|e| e.outputs.clone())
                .unwrap_or_default(),
        ),
        Some(_) => crate::workspace::DepState::Blocked,
        None => crate::workspace::DepState::Unknown,
    };
    let mut statuses = ws
        .status_given(&hasher, &lock, &nodes, &|d| given(&lock, true, d))
        .map_err(|e| e.to_string())?;
    // Whether a node with deferred dependencies waits on another one anyway (and so never
    // looked at their outputs): a dirty dependency found not fresh, or one the memo has no
    // verdict of.
    let state: std::collections::HashMap<NodeIx, State> =
        statuses.iter().map(|s| (s.node, s.state)).collect();
    let waits = |d: NodeIx| match state.get(&d) {
        Some(s) => !matches!(s, State::Fresh | State::Broken | State::Blocked),
        None => !known.contains_key(&d),
    };
    let mut again = false;
    for s in &mut statuses {
        let deps = ws.graph.nodes[s.node]
            .inputs
            .iter()
            .filter_map(|i| match i {
                crate::graph::Input::Node { node, file, .. } => Some((*node, file.is_some())),
                crate::graph::Input::Source { .. } => None,
            });
        if !deps.clone().any(|(d, _)| deferred(d)) {
            continue;
        }
        // A file of a deferred dependency may not be among its recorded outputs (one inside a
        // directory output is read from disk): no guessing, the entries are read.
        if deps.clone().any(|(d, file)| deferred(d) && file) || !deps.clone().any(|(d, _)| waits(d))
        {
            again = true;
            break;
        }
        s.reasons.retain(|r| {
            !matches!(r, crate::fingerprint::DirtyReason::DependencyStale { dependency }
                if ws.graph.find(dependency).is_some_and(deferred))
        });
    }
    if again {
        let lock = read(&ids)?;
        statuses = ws
            .status_given(&hasher, &lock, &nodes, &|d| given(&lock, false, d))
            .map_err(|e| e.to_string())?;
        std::mem::forget(lock);
    }
    // The stat cache is not saved: rewriting it whole for the few files an edit touched costs
    // more than hashing them again next time.
    for (s, &i) in statuses.iter().zip(dirty) {
        m.nodes[i as usize] =
            memo::Verdict::of(&ws.graph.nodes[s.node].id, s).map_err(|e| e.to_string())?;
    }
    std::mem::forget((ws, lock, hasher));
    Ok(())
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
    let simple = !opts.dry_run && !opts.force && opts.remote.is_none();
    let plain = targets.is_empty() && simple;
    if simple
        && let Some(m) = session.memo()
        && let Some(selection) = session.memo_selection(&m, targets)
    {
        let scope = m.closure(&selection);
        let dir = fsutil::parent_dir(session.pipeline);
        let all_fresh = scope
            .iter()
            .all(|&i| m.nodes[i as usize].state == State::Fresh);
        if !all_fresh {
            (session.trace)("memo: not used: a node is blocked");
        } else {
            match m.changed(dir, (!plain).then_some(&scope[..]), true) {
                memo::Changed::Nothing => {
                    (session.trace)("memo: used");
                    settle(session, &m, (!plain).then_some(&scope[..]));
                    return Ok((report_memo(&m, &m.build_order_of(&scope), reporter), None));
                }
                memo::Changed::Global(path) => {
                    (session.trace)(&format!("memo: not used: `{path}` changed"))
                }
                memo::Changed::Files(files) => {
                    (session.trace)(&format!("memo: not used: `{}` changed", m.file(files[0])))
                }
            }
        }
    }
    let (ws, nodes, guard, state) = open_locked(session, targets, opts.dry_run, on_wait)?;
    let (summary, lock, hasher) = crate::build::build_keeping_state(
        &ws,
        state,
        guard.as_ref(),
        &nodes,
        opts,
        cancel,
        reporter,
    )?;
    let built = summary.fresh + summary.ran + summary.cached + summary.remote;
    if plain && built == summary.total && !summary.interrupted && !memo::disabled() {
        // Every node is fresh now: remember so. The files this build wrote are racy: each is
        // vouched for by its digest in the lock this build wrote (the one in memory, as
        // written; under the build lock), if it still has that content: the hasher forgets
        // all it knew (its stat cache, saved, is freed before the memo is built) and hashes
        // the racy files again.
        hasher.restart();
        let recorded = lock_vouch(&ws, &lock, &hasher);
        let vouch = |p: &Path| {
            if p == ws.lock_path {
                return crate::hash::hash_file(p).ok();
            }
            recorded(p)
        };
        let order = crate::build::noop_order(&ws, &nodes);
        session.remember(&ws, started, memo::Verdicts::AllFresh, &order, &vouch);
        // Freed by the exit of the process, faster than by dropping them.
        std::mem::forget(recorded);
        std::mem::forget((lock, hasher));
    } else if summary.ran + summary.cached + summary.remote > 0 && !opts.dry_run {
        // The state changed: the memo no longer describes it (its stat tuples would say so
        // too; this is belt and braces).
        memo::remove(session.pipeline);
    }
    Ok((summary, Some(ws)))
}

/// Vouches for a racy path with the digest `lock` records for it, if the file has that content
/// now (its digest memoized by `hasher`). A committed output is found through the graph's
/// index of outputs; a source by looking through the nodes' inputs for the first few racy
/// sources (a build right after an edit has one or two), and through a map of every recorded
/// source digest, made then, for the rest (a fresh checkout is racy throughout).
fn lock_vouch<'a>(
    ws: &'a Workspace,
    lock: &'a Lock,
    hasher: &'a Hasher,
) -> impl Fn(&Path) -> Option<crate::hash::FileDigest> + 'a {
    const SCANS: usize = 8;
    let scans = std::cell::Cell::new(0);
    let sources = std::cell::OnceCell::new();
    move |p: &Path| {
        let name = rel_name(ws.root(), p)?;
        let want = match recorded_output(ws, lock, &name) {
            Some(d) => d,
            None if scans.get() < SCANS && sources.get().is_none() => {
                scans.set(scans.get() + 1);
                recorded_source(ws, lock, &name)?
            }
            None => *sources
                .get_or_init(|| recorded_sources(ws, lock))
                .get(name.as_str())?,
        };
        (hasher.digest_transient(p).ok()? == Some(want)).then_some(want)
    }
}

/// `p` as a `/`-separated path relative to `root` (the inverse of [`fsutil::join_rel`]).
fn rel_name(root: &Path, p: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = p
        .strip_prefix(root)
        .ok()?
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

/// What `lock` records of the committed file output called `name`.
fn recorded_output(ws: &Workspace, lock: &Lock, name: &str) -> Option<crate::hash::FileDigest> {
    let (producer, i) = ws.graph.output(name)?;
    let node = &ws.graph.nodes[producer];
    let o = &node.outputs[i];
    if o.kind != crate::graph::OutputKind::Committed || o.dir {
        return None;
    }
    lock.nodes
        .get(node.id.as_str())?
        .outputs
        .get(&o.path)
        .copied()
}

/// What `lock` records of the source file `name`, from the last node that reads it (as the
/// map of [`recorded_sources`] keeps).
fn recorded_source(ws: &Workspace, lock: &Lock, name: &str) -> Option<crate::hash::FileDigest> {
    ws.graph.nodes.iter().rev().find_map(|node| {
        let reads = node.inputs.iter().any(|input| {
            matches!(input, crate::graph::Input::Source { path, dir: false, .. } if path == name)
        });
        if !reads {
            return None;
        }
        lock.nodes.get(node.id.as_str())?.inputs.get(name).copied()
    })
}

/// What `lock` records of each source file input of `ws`, by path: the digests the verdicts
/// rest on.
fn recorded_sources<'a>(
    ws: &'a Workspace,
    lock: &'a Lock,
) -> crate::hash::FxHashMap<&'a str, crate::hash::FileDigest> {
    let mut out = crate::hash::FxHashMap::default();
    for node in &ws.graph.nodes {
        let Some(entry) = lock.nodes.get(node.id.as_str()) else {
            continue;
        };
        for input in &node.inputs {
            if let crate::graph::Input::Source {
                path, dir: false, ..
            } = input
                && let Some(d) = entry.inputs.get(path)
            {
                out.insert(path.as_str(), *d);
            }
        }
    }
    out
}

/// What a no-op build answered from the memo reports: the plan, every node of `order` (the
/// scheduler's order) fresh.
fn report_memo(m: &Memo, order: &[u32], reporter: &mut dyn Reporter) -> Summary {
    let started = std::time::Instant::now();
    reporter.event(Event::Plan {
        total: order.len(),
        recovered: 0,
    });
    for &i in order {
        reporter.event(Event::Finished {
            node: &m.nodes[i as usize].id,
            outcome: &Outcome::Fresh,
            reasons: &[],
            elapsed: std::time::Duration::ZERO,
        });
    }
    Summary {
        total: order.len(),
        fresh: order.len(),
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
