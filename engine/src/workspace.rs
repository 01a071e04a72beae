//! A loaded workspace: `pipeline.toml`, its graph, `pipeline.lock`, `cache/`; and the
//! evaluation of a node's freshness, shared by `status`, `explain`, `build` and `--dry-run`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cache::LocalCache;
use crate::error::{Error, Result};
use crate::exec::Registry;
use crate::fingerprint::{ActionKey, DirtyReason, KeyMaterial, KeyView, diff_key};
use crate::fsutil;
use crate::graph::{Graph, Input, NodeIx, Output, OutputKind};
use crate::hash::{DigestMap, FileDigest, Hasher};
use crate::pipeline::Pipeline;
use crate::state::{Journal, Lock, LockEntry};

/// Everything a command needs, loaded once.
pub struct Workspace {
    /// The directory holding `pipeline.toml` (paths of state files are relative to it).
    pub dir: PathBuf,
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The expanded graph.
    pub graph: Graph,
    /// The rules.
    pub registry: Registry,
    /// `pipeline.lock` (next to `pipeline.toml`, same stem).
    pub lock_path: PathBuf,
    /// `cache/` next to `pipeline.toml`.
    pub cache: LocalCache,
}

/// The recorded state as stored, read before (or while) the graph is known: the stat cache
/// and `pipeline.lock` ([`Workspace::recover`] then applies the journal of an interrupted
/// build, which needs the graph).
pub struct StoredState {
    hasher: Hasher,
    lock: Result<Lock>,
}

impl StoredState {
    /// Reads the state of the workspace of `pipeline_file` (the stat cache and the lock,
    /// concurrently). Writes nothing; a lock that cannot be read is reported by
    /// [`Workspace::recover`].
    pub fn read(pipeline_file: &Path) -> StoredState {
        let dir = fsutil::parent_dir(pipeline_file);
        StoredState::read_at(
            dir,
            dir.join("cache").join("stat"),
            &lock_path_of(pipeline_file, dir),
        )
    }

    fn read_at(dir: &Path, stat_path: PathBuf, lock_path: &Path) -> StoredState {
        if !crate::state_is_large(lock_path) {
            let hasher = Hasher::load(stat_path, dir.to_path_buf());
            let lock = Lock::read(lock_path);
            return StoredState { hasher, lock };
        }
        std::thread::scope(|s| {
            let lock = s.spawn(|| Lock::read(lock_path));
            let hasher = Hasher::load(stat_path, dir.to_path_buf());
            let lock = lock
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("the lock reader panicked".into())));
            StoredState { hasher, lock }
        })
    }
}

/// How a node stands, as `status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Key and outputs match the record.
    Fresh,
    /// Must be rebuilt (see the reasons).
    Stale,
    /// An output does not exist.
    Missing,
    /// An output was edited by hand.
    Modified,
    /// Cannot run on this host and no cache has its outputs.
    Blocked,
    /// Cannot be evaluated: an input file does not exist.
    Broken,
}

impl State {
    /// The word printed by `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Fresh => "fresh",
            State::Stale => "stale",
            State::Missing => "missing",
            State::Modified => "modified",
            State::Blocked => "blocked",
            State::Broken => "broken",
        }
    }
}

/// What a dependency looks like to its consumer while evaluating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepState {
    /// Fresh or built: its current output digests.
    Built(DigestMap),
    /// Will (or would) be rebuilt: its outputs are not known yet.
    Unknown,
    /// Cannot run here.
    Blocked,
    /// Failed, or cannot be built.
    Failed,
}

/// Why a node cannot be evaluated or run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// A (non-optional) source input does not exist.
    MissingInput(String),
    /// A non-optional dependency is blocked on this host.
    DepBlocked(String),
    /// A dependency failed.
    DepFailed(String),
    /// The node's own host constraint excludes this machine.
    Host(String),
    /// The rule stamps a time and no SOURCE_DATE_EPOCH is known.
    NoEpoch,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::MissingInput(p) => write!(f, "input `{p}` does not exist"),
            Unavailable::DepBlocked(d) => write!(f, "needs `{d}`, which is blocked on this host"),
            Unavailable::DepFailed(d) => write!(f, "dependency `{d}` failed"),
            Unavailable::Host(h) => write!(f, "needs host `{h}`"),
            Unavailable::NoEpoch => f.write_str(
                "the rule stamps a time: declare `epoch` for the artifact or set SOURCE_DATE_EPOCH",
            ),
        }
    }
}

/// The outcome of evaluating one node against its record.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The key material, when every dependency's outputs are known (for a verdict-only
    /// evaluation: only when the key differs from the recorded one, to explain it).
    pub material: Option<Box<KeyMaterial>>,
    /// The action key, when every dependency's outputs are known.
    pub key: Option<ActionKey>,
    /// Why the node is not fresh; empty = fresh.
    pub reasons: Vec<DirtyReason>,
    /// Why it cannot be evaluated or run at all.
    pub unavailable: Option<Unavailable>,
    /// Present inputs: name -> where the bytes are (for the sandbox).
    pub input_paths: Vec<(String, PathBuf)>,
}

impl Evaluation {
    /// The action key, when known.
    pub fn key(&self) -> Option<ActionKey> {
        self.key
    }

    /// Whether the node is fresh: its key and every committed output match its record, and
    /// nothing keeps it from being evaluated. The one definition every command uses.
    pub fn is_fresh(&self) -> bool {
        self.reasons.is_empty() && self.unavailable.is_none()
    }
}

impl Workspace {
    /// Loads `pipeline_file`, expands the graph and checks every node's rule and config.
    pub fn open(pipeline_file: &Path, registry: Registry) -> Result<Workspace> {
        let pipeline = Pipeline::load(pipeline_file)?;
        let graph = Graph::build(&pipeline, &registry.names())?;
        if pipeline.artifacts.is_empty() && pipeline.members.is_empty() {
            return Err(pipeline.no_artifact_error());
        }
        for node in &graph.nodes {
            let rule = registry.get(&node.rule).ok_or_else(|| {
                Error::Internal(format!("rule `{}` vanished from the registry", node.rule))
            })?;
            rule.check(node).map_err(|msg| {
                Error::Usage(format!(
                    "invalid config for `{}` (rule `{}`): {msg}",
                    node.id, node.rule
                ))
            })?;
        }
        let dir = fsutil::parent_dir(pipeline_file).to_path_buf();
        Ok(Workspace {
            lock_path: lock_path_of(pipeline_file, &dir),
            cache: LocalCache::new(dir.join("cache")),
            dir,
            pipeline,
            graph,
            registry,
        })
    }

    /// Opens the workspace ([`Workspace::open`]) and, on a second thread meanwhile, loads its
    /// recorded state: the stat cache and `pipeline.lock` with the journal applied
    /// ([`Workspace::recorded_state`]). For commands that only read the state; a build reads
    /// the lock after taking the build lock.
    pub fn open_with_state(
        pipeline_file: &Path,
        registry: Registry,
    ) -> Result<(Workspace, Hasher, Lock)> {
        let dir = fsutil::parent_dir(pipeline_file);
        if !crate::state_is_large(&lock_path_of(pipeline_file, dir)) {
            let ws = Workspace::open(pipeline_file, registry)?;
            let (hasher, lock, _) = ws.recover(StoredState::read(pipeline_file))?;
            return Ok((ws, hasher, lock));
        }
        std::thread::scope(|s| {
            let loader = s.spawn(|| StoredState::read(pipeline_file));
            let ws = Workspace::open(pipeline_file, registry);
            let stored = loader
                .join()
                .map_err(|_| Error::Internal("the state loader panicked".into()))?;
            let ws = ws?;
            let (hasher, lock, _) = ws.recover(stored)?;
            Ok((ws, hasher, lock))
        })
    }

    /// The stat-cache-backed hasher of this workspace.
    pub fn hasher(&self) -> Hasher {
        Hasher::load(self.cache.dir().join("stat"), self.dir.clone())
    }

    /// The stat cache and [`Workspace::recorded_state`], read concurrently.
    pub fn load_state(&self) -> Result<(Hasher, Lock, usize)> {
        self.recover(StoredState::read_at(
            &self.dir,
            self.cache.dir().join("stat"),
            &self.lock_path,
        ))
    }

    /// [`Workspace::load_state`] for a build of `nodes` (and what they depend on) only: the
    /// entries of other nodes are kept in the lock unparsed.
    pub fn load_state_for(&self, nodes: &[NodeIx]) -> Result<(Hasher, Lock, usize)> {
        if nodes.len() == self.graph.nodes.len() {
            return self.load_state();
        }
        let ids: std::collections::HashSet<&str> = self
            .graph
            .closure(nodes)
            .into_iter()
            .map(|ix| self.graph.nodes[ix].id.as_str())
            .collect();
        let hasher = Hasher::load(self.cache.dir().join("stat"), self.dir.clone());
        let lock = Lock::read_some(&self.lock_path, &|id| ids.contains(id));
        self.recover(StoredState { hasher, lock })
    }

    /// The state read by [`StoredState::read`] with the journal of an interrupted build
    /// applied: the stat cache, the lock and how many nodes the journal gave back.
    pub fn recover(&self, stored: StoredState) -> Result<(Hasher, Lock, usize)> {
        let (lock, recovered) = self.apply_journal(stored.lock?, &stored.hasher)?;
        Ok((stored.hasher, lock, recovered))
    }

    /// `pipeline.lock` with the journal of an interrupted build applied (entries whose
    /// committed outputs are on disk as recorded).
    pub fn recorded_state(&self, hasher: &Hasher) -> Result<(Lock, usize)> {
        self.apply_journal(Lock::read(&self.lock_path)?, hasher)
    }

    fn apply_journal(&self, mut lock: Lock, hasher: &Hasher) -> Result<(Lock, usize)> {
        let mut recovered = 0;
        for (id, entry) in Journal::replay(&self.journal_path())? {
            let Some(ix) = self.graph.find(id.as_str()) else {
                continue;
            };
            if self.outputs_match(hasher, ix, &entry)? {
                lock.nodes.insert(id, entry);
                recovered += 1;
            }
        }
        Ok((lock, recovered))
    }

    fn outputs_match(&self, hasher: &Hasher, ix: NodeIx, entry: &LockEntry) -> Result<bool> {
        for o in &self.graph.nodes[ix].outputs {
            if o.kind == OutputKind::Committed
                && hasher.digest(&self.output_path(o))?.as_ref() != entry.outputs.get(&o.name())
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `cache/journal`.
    pub fn journal_path(&self) -> PathBuf {
        self.cache.dir().join("journal")
    }

    /// The pipeline root.
    pub fn root(&self) -> &Path {
        &self.pipeline.root
    }

    /// Where an output lives: under the root, or under `cache/out/`.
    pub fn output_path(&self, o: &Output) -> PathBuf {
        match o.kind {
            OutputKind::Committed => fsutil::join_rel(&self.pipeline.root, &o.path),
            OutputKind::Cache => fsutil::join_rel(&self.cache.dir().join("out"), &o.path),
        }
    }

    /// Where the input or output called `name` lives.
    pub fn path_of(&self, name: &str) -> PathBuf {
        fsutil::name_path(&self.pipeline.root, &self.cache.dir().join("out"), name)
    }

    /// Whether `node` may run on this machine.
    pub fn can_run_here(&self, ix: NodeIx) -> bool {
        self.graph.nodes[ix]
            .host
            .as_deref()
            .is_none_or(host_matches)
    }

    /// Evaluates node `ix`: its key material from its inputs (dependencies seen through
    /// `dep`), and every reason it is not fresh with respect to `recorded`.
    pub fn evaluate<'d>(
        &self,
        hasher: &Hasher,
        ix: NodeIx,
        recorded: Option<&LockEntry>,
        dep: &dyn Fn(NodeIx) -> Cow<'d, DepState>,
        forced: bool,
    ) -> Result<Evaluation> {
        self.evaluate_as(hasher, ix, recorded, dep, forced, true)
    }

    /// [`Workspace::evaluate`]; with `full` false only the verdict is wanted: the key material
    /// is kept only to explain a changed key, and the inputs' paths are not collected.
    fn evaluate_as<'d>(
        &self,
        hasher: &Hasher,
        ix: NodeIx,
        recorded: Option<&LockEntry>,
        dep: &dyn Fn(NodeIx) -> Cow<'d, DepState>,
        forced: bool,
        full: bool,
    ) -> Result<Evaluation> {
        let node = &self.graph.nodes[ix];
        let mut eval = Evaluation {
            material: None,
            key: None,
            reasons: Vec::new(),
            unavailable: None,
            input_paths: Vec::new(),
        };
        if forced {
            eval.reasons.push(DirtyReason::Forced);
        }
        let mut inputs: BTreeMap<Cow<'_, str>, FileDigest> = BTreeMap::new();
        let mut pending = false;
        for input in &node.inputs {
            match input {
                Input::Source { path, optional, .. } => {
                    let abs = fsutil::join_rel(self.root(), path);
                    match hasher.digest(&abs)? {
                        Some(d) => {
                            inputs.insert(Cow::Borrowed(path), d);
                            if full {
                                eval.input_paths.push((path.clone(), abs));
                            }
                        }
                        None if *optional => {}
                        None => {
                            eval.unavailable = Some(Unavailable::MissingInput(path.clone()));
                        }
                    }
                }
                Input::Node {
                    node: p,
                    file,
                    optional,
                } => {
                    let producer = &self.graph.nodes[*p];
                    match &*dep(*p) {
                        DepState::Built(outputs) => {
                            let names: Vec<Cow<'_, str>> = match file {
                                Some(f) => vec![Cow::Borrowed(f)],
                                None => producer.outputs.iter().map(output_name).collect(),
                            };
                            for name in names {
                                let digest = match outputs.get(name.as_ref()) {
                                    Some(d) => Some(*d),
                                    None => hasher.digest(&self.path_of(&name))?,
                                };
                                if let Some(d) = digest {
                                    if full {
                                        eval.input_paths
                                            .push((name.to_string(), self.path_of(&name)));
                                    }
                                    inputs.insert(name, d);
                                } else {
                                    eval.unavailable =
                                        Some(Unavailable::MissingInput(name.into_owned()));
                                }
                            }
                        }
                        DepState::Unknown => {
                            pending = true;
                            eval.reasons.push(DirtyReason::DependencyStale {
                                dependency: producer.id.to_string(),
                            });
                        }
                        DepState::Blocked if *optional => {}
                        DepState::Blocked => {
                            eval.unavailable =
                                Some(Unavailable::DepBlocked(producer.id.to_string()));
                        }
                        DepState::Failed => {
                            eval.unavailable =
                                Some(Unavailable::DepFailed(producer.id.to_string()));
                        }
                    }
                }
            }
        }
        let rule = self
            .registry
            .get(&node.rule)
            .ok_or_else(|| Error::Internal(format!("unknown rule `{}`", node.rule)))?;
        let epoch = if rule.reads_time() {
            let epoch = match node.epoch {
                Some(e) => Some(e),
                None => env_epoch()?,
            };
            if epoch.is_none() {
                eval.unavailable.get_or_insert(Unavailable::NoEpoch);
            }
            epoch
        } else if rule.passes_epoch() {
            node.epoch
        } else {
            None
        };
        if !pending {
            let env = rule
                .env(node)
                .into_iter()
                .map(|k| {
                    let v = std::env::var(&k).ok();
                    (k, v)
                })
                .collect();
            let view = KeyView {
                rule: &node.rule,
                rule_version: rule.version(),
                params: &node.params,
                config: &node.config,
                epoch,
                env: &env,
                outputs: &node.outputs,
                inputs,
            };
            let key = view.key();
            eval.key = Some(key);
            if full || recorded.is_some_and(|e| e.key != key) {
                eval.material = Some(Box::new(view.into_material()));
            }
        }
        self.compare(hasher, ix, recorded, &mut eval)?;
        Ok(eval)
    }

    fn compare(
        &self,
        hasher: &Hasher,
        ix: NodeIx,
        recorded: Option<&LockEntry>,
        eval: &mut Evaluation,
    ) -> Result<()> {
        let Some(entry) = recorded else {
            eval.reasons.insert(0, DirtyReason::NeverBuilt);
            for o in &self.graph.nodes[ix].outputs {
                if o.kind == OutputKind::Committed && hasher.digest(&self.output_path(o))?.is_none()
                {
                    eval.reasons
                        .push(DirtyReason::OutputMissing { output: o.name() });
                }
            }
            return Ok(());
        };
        if let (Some(key), Some(material)) = (eval.key, &eval.material)
            && key != entry.key
        {
            let mut diff = diff_key(&entry.rule, entry.settings, &entry.inputs, material);
            if diff.is_empty() {
                diff.push(DirtyReason::ConfigChanged);
            }
            eval.reasons.extend(diff);
        }
        for o in &self.graph.nodes[ix].outputs {
            let name = o.name();
            let Some(want) = entry.outputs.get(&name) else {
                eval.reasons
                    .push(DirtyReason::OutputMissing { output: name });
                continue;
            };
            if o.kind == OutputKind::Cache {
                continue; // build without the bytes: materialized only when a consumer runs
            }
            match hasher.digest(&self.output_path(o))? {
                None => eval
                    .reasons
                    .push(DirtyReason::OutputMissing { output: name }),
                Some(actual) if actual != *want => {
                    let file = if o.dir {
                        self.changed_file(ix, entry, o)
                    } else {
                        None
                    };
                    eval.reasons.push(DirtyReason::OutputModified {
                        output: name,
                        recorded: *want,
                        actual,
                        file,
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The first file (path under the root) of the directory output `o` that differs from the
    /// tree its recorded build produced, when the local action cache still has that tree.
    fn changed_file(&self, ix: NodeIx, entry: &LockEntry, o: &Output) -> Option<String> {
        let action = self
            .cache
            .get_action(&entry.key, &self.graph.nodes[ix].outputs)?;
        let recorded = action.outputs.get(&o.name())?.tree.as_ref()?;
        let now = crate::hash::tree_entries(&self.output_path(o)).ok()?;
        let by_path = |t: &[crate::hash::TreeEntry]| -> BTreeMap<String, crate::hash::FileDigest> {
            t.iter().map(|e| (e.path.clone(), e.digest)).collect()
        };
        let (then, now) = (by_path(recorded), by_path(&now));
        let changed = then
            .iter()
            .find(|(p, d)| now.get(*p) != Some(d))
            .map(|(p, _)| p)
            .or_else(|| now.keys().find(|p| !then.contains_key(*p)))?;
        Some(format!("{}/{changed}", o.path))
    }

    /// The state of every node in `nodes` (any order), without building: dependencies that
    /// are not fresh make their consumers stale. Returned in topological order.
    ///
    /// Nodes are evaluated level by level (a node's level is one more than its deepest
    /// dependency's), each level in parallel. Should any node fail to evaluate, the whole pass
    /// is redone in topological order so that the error reported is the same one a sequential
    /// pass would meet first.
    pub fn status(
        &self,
        hasher: &Hasher,
        lock: &Lock,
        nodes: &[NodeIx],
    ) -> Result<Vec<NodeStatus>> {
        let mut keep = vec![false; self.graph.nodes.len()];
        for &ix in nodes {
            keep[ix] = true;
        }
        let closure = self.graph.closure(nodes);
        let mut found: Vec<Option<NodeStatus>> = Vec::new();
        found.resize_with(self.graph.nodes.len(), || None);
        let mut keep_one = |ix: NodeIx, done: Evaluated| {
            if keep[ix] {
                found[ix] = Some(NodeStatus {
                    node: ix,
                    state: done.state,
                    key: done.eval.key,
                    reasons: done.eval.reasons,
                    unavailable: done.eval.unavailable,
                });
            }
        };
        if !self.evaluate_all(hasher, lock, &closure, &|_| false, &mut keep_one)? {
            return self.status_sequential(hasher, lock, nodes);
        }
        Ok(self
            .graph
            .topo
            .iter()
            .filter_map(|&ix| found[ix].take())
            .collect())
    }

    /// Evaluates every node of `selection` (which must hold the dependencies of each of its
    /// nodes), level by level in parallel; `forced` nodes are evaluated as forced. Each result
    /// goes to `sink` as soon as its piece of a level is done, dependencies before their
    /// consumers: the caller keeps what it needs of it (a build, one bit and a duration), not
    /// every node's evaluation at once. `false` when a node could not be evaluated (an error):
    /// the caller then drops what it was given and takes the sequential path.
    pub(crate) fn evaluate_all(
        &self,
        hasher: &Hasher,
        lock: &Lock,
        selection: &[NodeIx],
        forced: &(dyn Fn(NodeIx) -> bool + Sync),
        sink: &mut dyn FnMut(NodeIx, Evaluated),
    ) -> Result<bool> {
        let n = self.graph.nodes.len();
        let mut wanted = vec![false; n];
        for &ix in selection {
            wanted[ix] = true;
        }
        let mut level = vec![0usize; n];
        let mut levels: Vec<Vec<NodeIx>> = Vec::new();
        for &ix in &self.graph.topo {
            if !wanted[ix] {
                continue;
            }
            let l = self.graph.deps[ix]
                .iter()
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
            level[ix] = l;
            if levels.len() <= l {
                levels.resize_with(l + 1, Vec::new);
            }
            levels[l].push(ix);
        }
        // Each node's record, found once by hashing its id (not by comparing long ids down the
        // lock's tree for every node).
        let mut recorded: Vec<Option<&LockEntry>> = vec![None; n];
        for (id, entry) in &lock.nodes {
            if let Some(ix) = self.graph.find(id.as_str()) {
                recorded[ix] = Some(entry);
            }
        }
        let mut dep_states: Vec<Option<DepState>> = vec![None; n];
        let parallel = selection.len() >= crate::PARALLEL_MIN;
        // A level in pieces: the results of a piece wait to be handed to `sink`, and a level
        // of 60,000 nodes waiting whole cost 12 MB.
        for nodes in levels.iter().flat_map(|l| l.chunks(4096)) {
            let states = &dep_states;
            let one = |&ix: &NodeIx| -> Result<(Evaluated, DepState)> {
                let started = std::time::Instant::now();
                let entry = recorded[ix];
                let view = |d: NodeIx| match &states[d] {
                    Some(s) => Cow::Borrowed(s),
                    None => Cow::Owned(DepState::Unknown),
                };
                let eval = self.evaluate_as(hasher, ix, entry, &view, forced(ix), false)?;
                let (state, dep_state) = self.classify(ix, &eval, entry);
                // Callers keep only the verdict: holding every node's key material at
                // once would cost tens of MB, and so would room for four reasons where
                // there is one.
                let mut eval = Evaluation {
                    material: None,
                    input_paths: Vec::new(),
                    ..eval
                };
                eval.reasons.shrink_to_fit();
                let elapsed = started.elapsed();
                Ok((
                    Evaluated {
                        eval,
                        state,
                        elapsed,
                    },
                    dep_state,
                ))
            };
            let done: Vec<Result<(Evaluated, DepState)>> = if parallel {
                nodes.par_iter().with_min_len(32).map(one).collect()
            } else {
                nodes.iter().map(one).collect()
            };
            for (&ix, done) in nodes.iter().zip(done) {
                let Ok((done, dep_state)) = done else {
                    return Ok(false);
                };
                dep_states[ix] = Some(dep_state);
                sink(ix, done);
            }
        }
        Ok(true)
    }

    /// [`Workspace::status`], one node at a time in topological order.
    fn status_sequential(
        &self,
        hasher: &Hasher,
        lock: &Lock,
        nodes: &[NodeIx],
    ) -> Result<Vec<NodeStatus>> {
        let mut out = self.status_given(hasher, lock, &self.graph.closure(nodes), &|_| {
            DepState::Unknown
        })?;
        let keep: std::collections::HashSet<NodeIx> = nodes.iter().copied().collect();
        out.retain(|s| keep.contains(&s.node));
        Ok(out)
    }

    /// The state of each node of `nodes`, one at a time in topological order; a dependency
    /// outside `nodes` is seen as `known` says (the no-op memo's recorded verdicts, when it
    /// re-evaluates only what an edit reaches).
    pub(crate) fn status_given(
        &self,
        hasher: &Hasher,
        lock: &Lock,
        nodes: &[NodeIx],
        known: &dyn Fn(NodeIx) -> DepState,
    ) -> Result<Vec<NodeStatus>> {
        let mut wanted = vec![false; self.graph.nodes.len()];
        for &ix in nodes {
            wanted[ix] = true;
        }
        let mut dep_states: Vec<Option<DepState>> = vec![None; self.graph.nodes.len()];
        let mut out = Vec::new();
        for &ix in &self.graph.topo {
            if !wanted[ix] {
                continue;
            }
            let node = &self.graph.nodes[ix];
            let entry = lock.nodes.get(node.id.as_str());
            let view = |d: NodeIx| match &dep_states[d] {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(known(d)),
            };
            let eval = self.evaluate_as(hasher, ix, entry, &view, false, false)?;
            let (state, dep_state) = self.classify(ix, &eval, entry);
            dep_states[ix] = Some(dep_state);
            out.push(NodeStatus {
                node: ix,
                state,
                key: eval.key,
                reasons: eval.reasons,
                unavailable: eval.unavailable,
            });
        }
        Ok(out)
    }

    fn classify(
        &self,
        ix: NodeIx,
        eval: &Evaluation,
        entry: Option<&LockEntry>,
    ) -> (State, DepState) {
        if eval.is_fresh() {
            let outputs = entry.map(|e| e.outputs.clone()).unwrap_or_default();
            return (State::Fresh, DepState::Built(outputs));
        }
        match &eval.unavailable {
            Some(Unavailable::MissingInput(_)) | Some(Unavailable::DepFailed(_)) => {
                return (State::Broken, DepState::Failed);
            }
            Some(Unavailable::DepBlocked(_)) => return (State::Blocked, DepState::Blocked),
            _ => {}
        }
        let restorable = eval.key().is_some_and(|k| {
            self.cache
                .get_action(&k, &self.graph.nodes[ix].outputs)
                .is_some()
        });
        if !self.can_run_here(ix) && !restorable {
            return (State::Blocked, DepState::Blocked);
        }
        let state = if eval
            .reasons
            .iter()
            .any(|r| matches!(r, DirtyReason::OutputModified { .. }))
        {
            State::Modified
        } else if eval
            .reasons
            .iter()
            .any(|r| matches!(r, DirtyReason::OutputMissing { .. }))
        {
            State::Missing
        } else {
            State::Stale
        };
        (state, DepState::Unknown)
    }
}

/// [`Output::name`], borrowed when it is the path itself.
fn output_name(o: &Output) -> Cow<'_, str> {
    match o.kind {
        OutputKind::Committed => Cow::Borrowed(&o.path),
        OutputKind::Cache => Cow::Owned(o.name()),
    }
}

/// `pipeline.lock` next to `pipeline_file`, same stem.
pub(crate) fn lock_path(pipeline_file: &Path) -> PathBuf {
    lock_path_of(pipeline_file, fsutil::parent_dir(pipeline_file))
}

/// `pipeline.lock` next to `pipeline_file` (in `dir`), same stem.
fn lock_path_of(pipeline_file: &Path, dir: &Path) -> PathBuf {
    let stem = pipeline_file
        .file_stem()
        .map_or("pipeline".into(), |s| s.to_string_lossy());
    dir.join(format!("{stem}.lock"))
}

/// A node evaluated by [`Workspace::evaluate_all`].
pub(crate) struct Evaluated {
    /// The evaluation.
    pub eval: Evaluation,
    /// How it stands.
    pub state: State,
    /// Time the evaluation took.
    #[allow(dead_code)]
    pub elapsed: std::time::Duration,
}

/// One line of `status`.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    /// The node.
    pub node: NodeIx,
    /// Its state.
    pub state: State,
    /// Why it is not fresh.
    pub reasons: Vec<DirtyReason>,
    /// Why it cannot be evaluated or run.
    pub unavailable: Option<Unavailable>,
    /// Its action key, when every dependency's outputs were known.
    pub key: Option<ActionKey>,
}

impl NodeStatus {
    /// What `status` prints after the id: why it cannot run, else its first reason.
    pub fn why(&self) -> String {
        match (&self.unavailable, self.reasons.first()) {
            (Some(u), _) => u.to_string(),
            (None, Some(r)) => r.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// SOURCE_DATE_EPOCH from the environment: `None` if unset, an error if unparsable.
pub fn env_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            Error::Usage(format!(
                "invalid SOURCE_DATE_EPOCH `{v}`: expected whole seconds since 1970"
            ))
        }),
        Err(_) => Ok(None),
    }
}

/// Whether a `host` constraint admits this machine: an OS name (`linux`, `macos`, `windows`),
/// an `os-arch` pair (`linux-x86_64`), a target triple whose OS and architecture match
/// (`x86_64-unknown-linux-musl`, `aarch64-apple-darwin`, `x86_64-pc-windows-msvc`), or a
/// Node.js platform name as Claude Code's releases use (`linux-x64`, `darwin-arm64`,
/// `win32-x64`). The env variable `PARITY_HOST` (comma-separated) adds names this machine
/// answers to.
pub fn host_matches(host: &str) -> bool {
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    if let Ok(extra) = std::env::var("PARITY_HOST")
        && extra.split(',').any(|h| h.trim() == host)
    {
        return true;
    }
    if host == os || host == format!("{os}-{arch}") {
        return true;
    }
    host_platform(host) == Some((os, arch))
}

/// The OS and architecture (as `std::env::consts` names them: `linux`/`macos`/`windows`,
/// `x86_64`/`aarch64`) of a target triple or a Node.js platform name (see [`host_matches`]);
/// `None` for anything else (a bare OS name, an unknown triple).
pub fn host_platform(host: &str) -> Option<(&'static str, &'static str)> {
    if let Some((node_os, rest)) = host.split_once('-') {
        let os = match node_os {
            "linux" => Some("linux"),
            "darwin" => Some("macos"),
            "win32" => Some("windows"),
            _ => None,
        };
        let arch = match rest.split('-').next() {
            Some("x64") => Some("x86_64"),
            Some("arm64") => Some("aarch64"),
            _ => None,
        };
        if let (Some(o), Some(a)) = (os, arch) {
            return Some((o, a));
        }
    }
    let os = if host.contains("-linux") {
        "linux"
    } else if host.contains("-apple-darwin") {
        "macos"
    } else if host.contains("-windows") {
        "windows"
    } else {
        return None;
    };
    match host.split('-').next() {
        Some("x86_64") => Some((os, "x86_64")),
        Some("aarch64") => Some((os, "aarch64")),
        _ => None,
    }
}
