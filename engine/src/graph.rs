//! Nodes and the DAG.
//!
//! An artifact of `pipeline.toml` with params expands into one node per combination of param
//! values (cartesian product, in the order the params are listed, each param's values in their
//! declared order). Node ids are `name@p1/p2` (`union@0.92.0`, `snapshot@0.92.0/x86_64-…`) or
//! just `name` for an artifact without params. Nodes are kept in a deterministic order:
//! artifact declaration order, then the param combinations in that order.
//!
//! Edges come from node inputs (`union@{version}`, patterns `snapshot@{version}/*`) and, as in
//! make, from file inputs that are another node's declared output.
//!
//! A workspace's graph is its members' graphs side by side: each member is expanded on its
//! own (its errors point into its file), then its node ids and artifact names get the prefix
//! `member:` and its paths (inputs and outputs, `{cache}/` ones too) its root relative to the
//! workspace, so one `pipeline.lock` and one cache hold them all without ambiguity. Members
//! do not depend on each other. A target without `member:` matches in every member; a member's
//! name selects all its nodes.

use std::collections::BTreeMap;
use std::fmt;

/// A node id: `name` or `name@p1/p2`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl NodeId {
    /// The artifact name: the part before `@`.
    pub fn artifact(&self) -> &str {
        self.0.split('@').next().unwrap_or(&self.0)
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Index of a node in [`Graph::nodes`].
pub type NodeIx = usize;

/// Where an output lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutputKind {
    /// Under the pipeline root; committed to the repository and recorded in `pipeline.lock`.
    Committed,
    /// `{cache}/...`: lives only in the cache, materialized under `cache/out/` when a consumer
    /// must run ("build without the bytes"). Still recorded (digest) in `pipeline.lock`.
    Cache,
}

/// One declared output of a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Output {
    /// Path with `/` separators: relative to the pipeline root for committed outputs, relative
    /// to the cache output dir (`{cache}/` stripped) for cache outputs. No trailing `/`.
    pub path: String,
    /// Committed or cache-only.
    pub kind: OutputKind,
    /// Declared with a trailing `/`: a directory whose whole content is the output.
    pub dir: bool,
}

impl Output {
    /// The name used in keys, the lock and messages: the path, or `{cache}/path`.
    pub fn name(&self) -> String {
        match self.kind {
            OutputKind::Committed => self.path.clone(),
            OutputKind::Cache => format!("{{cache}}/{}", self.path),
        }
    }
}

/// One resolved input of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A source file (or directory, with a trailing `/` in the declaration) produced by no
    /// node; path relative to the pipeline root, `/` separators.
    Source {
        /// The path.
        path: String,
        /// Declared with a trailing `/`.
        dir: bool,
        /// Declared with `?`: a missing file is simply absent (and its presence is part of
        /// the key, so the node rebuilds when it appears).
        optional: bool,
    },
    /// Another node's outputs: all of them, or only `file` when the input named a file that
    /// the other node produces (make-style edge).
    Node {
        /// The producer.
        node: NodeIx,
        /// The one output consumed, when the input named a file; `None` = every output.
        file: Option<String>,
        /// Declared with `?` (optional fan-in): the producer may be blocked on this host; then
        /// this input is simply absent and the consumer runs with the rest. A producer that
        /// failed still skips its consumers: a broken build never yields an incomplete union.
        optional: bool,
    },
}

/// One node of the graph: an artifact instantiated with concrete param values.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Node {
    /// `name@p1/p2`.
    pub id: NodeId,
    /// Index of its artifact in [`Graph::artifacts`] (for a single pipeline, also in
    /// [`crate::pipeline::Pipeline::artifacts`]).
    pub artifact: usize,
    /// The directory its artifact's paths are relative to, relative to the workspace root:
    /// empty for a single pipeline, the member's root in a workspace (rules that lay out a
    /// tree of their own, as the parity rules do, work below it).
    pub root: std::sync::Arc<str>,
    /// Param name -> value, for this node.
    pub params: Params,
    /// Rule name (checked against the registry when the graph is built), shared by every
    /// node of the artifact.
    pub rule: std::sync::Arc<str>,
    /// Rule config with `{param}` placeholders substituted in every string; canonical JSON
    /// (objects are BTreeMap-sorted by serde_json).
    /// Shared by every node of the artifact when it holds no placeholder.
    pub config: std::sync::Arc<serde_json::Value>,
    /// Host constraint after substitution (`x86_64-unknown-linux-musl`, `linux`, `macos`, ...).
    pub host: Option<Box<str>>,
    /// SOURCE_DATE_EPOCH for this node, if the artifact declares one (`epoch = ...`).
    pub epoch: Option<i64>,
    /// The deadline of its recipe (`timeout = SECONDS`), if the artifact declares one.
    pub timeout: Option<std::time::Duration>,
    /// Inputs in declaration order (patterns expanded in node order). A boxed slice of exactly
    /// their number, like the outputs: a graph holds hundreds of thousands of nodes.
    pub inputs: Box<[Input]>,
    /// Outputs in declaration order.
    pub outputs: Box<[Output]>,
}

/// A node's params, name -> value, sorted by name. A short list, not a `BTreeMap` (whose
/// smallest allocation is about half a kilobyte: that was a third of a node's memory), the
/// names shared by every node of the artifact. Serialized as a JSON object, like the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Box<[(std::sync::Arc<str>, std::sync::Arc<str>)]>);

impl Params {
    /// `names` and `values` paired (same length), sorted by name.
    pub fn new(names: &[std::sync::Arc<str>], values: &[&str]) -> Params {
        Params::shared(names, values.iter().map(|&v| v.into()))
    }

    /// `names` and `values` paired, sorted by name; the values are shared with whoever holds
    /// them (the graph's lists of param values: an allocation per node and param otherwise).
    fn shared(
        names: &[std::sync::Arc<str>],
        values: impl Iterator<Item = std::sync::Arc<str>>,
    ) -> Params {
        let mut pairs: Vec<_> = names.iter().cloned().zip(values).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Params(pairs.into_boxed_slice())
    }

    /// The value of param `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.0.binary_search_by(|(k, _)| (**k).cmp(name)).ok()?;
        Some(&self.0[i].1)
    }

    /// (name, value), sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The values, in the order of their names.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, v)| &**v)
    }

    /// Whether the node has no params.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many params.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// As a map.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Params {
    fn from(pairs: [(&str, &str); N]) -> Params {
        let names: Vec<std::sync::Arc<str>> = pairs.iter().map(|(k, _)| (*k).into()).collect();
        let values: Vec<&str> = pairs.iter().map(|(_, v)| *v).collect();
        Params::new(&names, &values)
    }
}

impl serde::Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// A list of nodes for each node (its dependencies, or its dependents), all in one buffer: a
/// `Vec` per node cost 24 bytes and an allocation each, twice (10 MB at 100k nodes). Indexed by
/// node, it gives the node's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adjacency {
    /// Where each node's list ends in `all` (it starts where the previous node's ends).
    ends: Vec<usize>,
    all: Vec<NodeIx>,
}

impl Adjacency {
    /// Adds the list of the next node.
    fn push(&mut self, list: &[NodeIx]) {
        self.all.extend_from_slice(list);
        self.ends.push(self.all.len());
    }

    /// The lists the other way round: node `i` is in node `j`'s list of the result when `j`
    /// is in `i`'s list here (each list ascending, as `i`s are visited in order).
    fn reversed(&self) -> Adjacency {
        // Counts per node, then where each node's list starts, then filled in place: `next`
        // ends up where each list ends.
        let mut next = vec![0usize; self.len()];
        for &j in &self.all {
            next[j] += 1;
        }
        let mut start = 0;
        for slot in &mut next {
            (*slot, start) = (start, start + *slot);
        }
        let mut all = vec![0; self.all.len()];
        for (i, list) in self.iter().enumerate() {
            for &j in list {
                all[next[j]] = i;
                next[j] += 1;
            }
        }
        Adjacency { ends: next, all }
    }

    /// How many nodes have a list.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no node.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Each node's list, in node order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[NodeIx]> + '_ {
        (0..self.len()).map(|i| &self[i])
    }
}

impl std::ops::Index<NodeIx> for Adjacency {
    type Output = [NodeIx];

    fn index(&self, node: NodeIx) -> &[NodeIx] {
        let start = if node == 0 { 0 } else { self.ends[node - 1] };
        &self.all[start..self.ends[node]]
    }
}

/// The expanded, checked DAG.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Graph {
    /// Every node, in deterministic order (see the module docs).
    pub nodes: Vec<Node>,
    /// For each node, the nodes it depends on (deduplicated, ascending).
    pub deps: Adjacency,
    /// For each node, the nodes that depend on it (ascending).
    pub rdeps: Adjacency,
    /// A topological order of all nodes (dependencies first), stable with respect to node order.
    pub topo: Vec<NodeIx>,
    /// The nodes of each artifact, in declaration order (index = artifact index).
    pub artifacts: Vec<ArtifactNodes>,
    /// Every declared output: found by [`Output::name`] with [`Graph::output`].
    outputs: OutputIndex,
    /// The members of a workspace, in declaration order (empty for a single pipeline).
    pub members: Vec<GraphMember>,
}

/// Every declared output, by name: positions `(node, output)` in a hash table whose hashes and
/// comparisons read the names from the nodes (a map keyed by owned names held a second copy
/// of every output path: 8 bytes a slot instead of 40 and a string).
#[derive(Debug, Clone, Default)]
struct OutputIndex(hashbrown::HashTable<(u32, u32)>);

/// An output name as a kind and a path: `{cache}/path` is a cache output's.
fn split_name(name: &str) -> (OutputKind, &str) {
    match name.strip_prefix("{cache}/") {
        Some(path) => (OutputKind::Cache, path),
        None => (OutputKind::Committed, name),
    }
}

fn name_hash(kind: OutputKind, path: &str) -> u64 {
    use std::hash::Hasher as _;
    let mut h = crate::hash::FxHasher::default();
    h.write_u8(kind as u8);
    h.write(path.as_bytes());
    h.finish()
}

impl OutputIndex {
    fn with_capacity(n: usize) -> OutputIndex {
        OutputIndex(hashbrown::HashTable::with_capacity(n))
    }

    fn get(&self, nodes: &[Node], name: &str) -> Option<(NodeIx, usize)> {
        let (kind, path) = split_name(name);
        self.get_as(nodes, kind, path)
    }

    /// The output of `kind` at `path`.
    fn get_as(&self, nodes: &[Node], kind: OutputKind, path: &str) -> Option<(NodeIx, usize)> {
        self.0
            .find(name_hash(kind, path), |&(n, o)| {
                let out = &nodes[n as usize].outputs[o as usize];
                out.kind == kind && out.path == path
            })
            .map(|&(n, o)| (n as usize, o as usize))
    }

    /// Adds output `o` of node `n`; an output of the same name already there is returned
    /// instead.
    fn insert(&mut self, nodes: &[Node], n: NodeIx, o: usize) -> Option<(NodeIx, usize)> {
        let out = &nodes[n].outputs[o];
        let hash = name_hash(out.kind, &out.path);
        let same = |&(m, p): &(u32, u32)| {
            let other = &nodes[m as usize].outputs[p as usize];
            other.kind == out.kind && other.path == out.path
        };
        if let Some(&(m, p)) = self.0.find(hash, same) {
            return Some((m as usize, p as usize));
        }
        let at = |(m, p): &(u32, u32)| {
            let other = &nodes[*m as usize].outputs[*p as usize];
            name_hash(other.kind, &other.path)
        };
        // Node and output positions fit in u32: a graph is indexed by u32 elsewhere too.
        self.0.insert_unique(hash, (n as u32, o as u32), at);
        None
    }
}

/// One member of a workspace in the graph.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GraphMember {
    /// Its name, the prefix of its ids.
    pub name: String,
    /// Its nodes.
    pub nodes: std::ops::Range<NodeIx>,
}

use std::collections::{BinaryHeap, HashMap};

use std::ops::Range;

use crate::error::{Located, did_you_mean};
use crate::pipeline::{ConfigValue, DataFiles, Epoch, Lookup, Pipeline, Spanned};
use crate::{Error, Result};

/// The nodes of one artifact: a contiguous run of [`Graph::nodes`] laid out as the cartesian
/// product of its params' values, so a node's index is computed from its values' indices
/// (patterns enumerate their matches without scanning other nodes).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ArtifactNodes {
    /// The artifact name.
    pub name: String,
    /// Index of its first node.
    pub first: NodeIx,
    /// How many nodes it has (the product of its params' value counts; 1 without params).
    pub len: usize,
    /// Its params, in order.
    pub params: Vec<String>,
    /// Each param's values, in declared order (shared by every artifact with the param, and
    /// by its nodes' [`Params`]).
    pub values: Vec<Vec<std::sync::Arc<str>>>,
    /// Each param's value -> position in `values`.
    value_ix: Vec<crate::hash::FxHashMap<std::sync::Arc<str>, usize>>,
}

impl ArtifactNodes {
    /// The nodes whose i-th value is one of `allowed[i]` (positions in `values[i]`), ascending.
    fn product(&self, allowed: &[Vec<usize>]) -> Vec<NodeIx> {
        let mut strides = vec![1; self.values.len()];
        for i in (0..self.values.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.values[i + 1].len();
        }
        let mut out = vec![self.first];
        for (options, &stride) in allowed.iter().zip(&strides) {
            out = out
                .iter()
                .flat_map(|base| options.iter().map(move |v| base + v * stride))
                .collect();
        }
        if self.len == 0 {
            out.clear();
        }
        out
    }

    /// Positions of the values of param `k` matching one pattern segment (`*`, a glob, a value).
    fn segment(&self, k: usize, seg: &str) -> Vec<usize> {
        if seg == "*" {
            (0..self.values[k].len()).collect()
        } else if seg.contains(['*', '?']) {
            (0..self.values[k].len())
                .filter(|&i| glob_match(seg, &self.values[k][i]))
                .collect()
        } else {
            self.value_ix[k]
                .get(seg)
                .map(|&i| vec![i])
                .unwrap_or_default()
        }
    }

    /// The node `name@rest` when `rest` names one value per param (no patterns), without
    /// allocating.
    fn exact(&self, rest: &str) -> Option<NodeIx> {
        let mut ix = 0;
        let mut segs = rest.split('/');
        for (k, values) in self.value_ix.iter().enumerate() {
            ix = ix * self.values[k].len() + values.get(segs.next()?)?;
        }
        segs.next()
            .is_none()
            .then_some(self.first + ix)
            .filter(|_| !self.params.is_empty())
    }

    /// `name@{p1}/{p2}`, for messages.
    fn template_id(&self) -> String {
        let ps: Vec<String> = self.params.iter().map(|p| format!("{{{p}}}")).collect();
        format!("{}@{}", self.name, ps.join("/"))
    }

    fn params_list(&self) -> String {
        let ps: Vec<String> = self.params.iter().map(|p| format!("`{p}`")).collect();
        ps.join(", ")
    }
}

/// `*` (any run) and `?` (any one char) glob over a whole string.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A piece of a compiled `{param}` template.
#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    Param(usize),
}

/// A string of `pipeline.toml` with its placeholders resolved to the artifact's param positions.
#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
    /// Where it is in `pipeline.toml`.
    span: Range<usize>,
    /// Started with `{cache}/` (outputs only; the prefix is not in `pieces`).
    cache: bool,
}

impl Template {
    /// The string for `values`, in an allocation of exactly its length (a string grown piece
    /// by piece has room for up to twice as much, and the graph keeps hundreds of thousands).
    fn render(&self, values: &[&str]) -> String {
        let len = self.pieces.iter().map(|p| match p {
            Piece::Lit(s) => s.len(),
            Piece::Param(i) => values[*i].len(),
        });
        let mut out = String::with_capacity(len.sum());
        self.render_into(values, &mut out);
        out
    }

    /// Renders into `out` (cleared first), reusing its allocation.
    fn render_into(&self, values: &[&str], out: &mut String) {
        out.clear();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Param(i) => out.push_str(values[*i]),
            }
        }
    }
}

/// The rule config with its strings compiled.
#[derive(Debug, Clone)]
enum ConfigTemplate {
    String(Template),
    Array(Vec<ConfigTemplate>),
    Table(Vec<(String, ConfigTemplate)>),
    Scalar(serde_json::Value),
}

impl ConfigTemplate {
    /// Whether it renders the same for every node (no placeholder anywhere).
    fn is_constant(&self) -> bool {
        match self {
            ConfigTemplate::String(t) => t.pieces.iter().all(|p| matches!(p, Piece::Lit(_))),
            ConfigTemplate::Array(items) => items.iter().all(ConfigTemplate::is_constant),
            ConfigTemplate::Table(entries) => entries.iter().all(|(_, v)| v.is_constant()),
            ConfigTemplate::Scalar(_) => true,
        }
    }

    fn render(&self, values: &[&str]) -> serde_json::Value {
        match self {
            ConfigTemplate::String(t) => serde_json::Value::String(t.render(values)),
            ConfigTemplate::Array(items) => items.iter().map(|i| i.render(values)).collect(),
            ConfigTemplate::Table(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.render(values)))
                    .collect(),
            ),
            ConfigTemplate::Scalar(v) => v.clone(),
        }
    }
}

/// `epoch` with its strings compiled.
enum EpochTemplate<'p> {
    None,
    Integer(i64),
    Template(Template),
    File {
        from: &'p Spanned<String>,
        lookup: &'p Lookup,
        path: Vec<Template>,
    },
}

/// One artifact with every string compiled against its params.
struct CompiledArtifact<'p> {
    /// The param names, shared by the nodes' [`Params`].
    params: Vec<std::sync::Arc<str>>,
    /// The rule's name, shared by the nodes.
    rule: std::sync::Arc<str>,
    inputs: Vec<Template>,
    outputs: Vec<Template>,
    host: Option<Template>,
    epoch: EpochTemplate<'p>,
    config: CompiledConfig,
}

/// An artifact's rule config: rendered once when it holds no placeholder, else per node.
enum CompiledConfig {
    Shared(std::sync::Arc<serde_json::Value>),
    PerNode(ConfigTemplate),
}

/// Expansion state shared by the steps of [`Graph::build`].
struct Builder<'p> {
    p: &'p Pipeline,
    artifact_names: crate::hash::FxHashMap<&'p str, usize>,
    /// Paths relative to the root that no output may be or lie under (see [`reserved_paths`]).
    reserved: Vec<(String, &'static str)>,
    /// The empty root every node starts with, shared (an `Arc` each was 4 MB at 100k nodes).
    root: std::sync::Arc<str>,
}

/// The state files of the workspace of `p` that lie inside its root, relative to it, with what
/// each is: `pipeline.toml`, `pipeline.lock` and `cache/` are never outputs.
fn reserved_paths(p: &Pipeline) -> Vec<(String, &'static str)> {
    let dir = p
        .file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let stem = p
        .file
        .file_stem()
        .map_or("pipeline".into(), |s| s.to_string_lossy());
    let root = lexical(&p.root);
    [
        (p.file.clone(), "the pipeline file"),
        (dir.join(format!("{stem}.lock")), "the lock file"),
        (dir.join("cache"), "the cache directory"),
    ]
    .into_iter()
    .filter_map(|(path, what)| {
        let path = lexical(&path);
        let rest = path.strip_prefix(root.as_slice())?;
        (!rest.is_empty()).then(|| (rest.join("/"), what))
    })
    .collect()
}

/// The components of `path` with `.` dropped and `..` applied, without touching the disk.
fn lexical(path: &std::path::Path) -> Vec<String> {
    use std::path::Component;
    let mut out: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.last().is_some_and(|l| l != ".." && l != "/") => {
                out.pop();
            }
            Component::RootDir => out.push("/".into()),
            c => out.push(c.as_os_str().to_string_lossy().into_owned()),
        }
    }
    out
}

impl<'p> Builder<'p> {
    /// Compiles `s`, allowing only `params` and, for outputs, a leading `{cache}`.
    fn template(
        &self,
        s: &'p Spanned<String>,
        params: &[String],
        artifact: &str,
        output: bool,
    ) -> Result<Template> {
        self.template_part(s, 0..s.value.len(), params, artifact, output)
    }

    /// Compiles the part `part` (a byte range of the value) of `s`.
    fn template_part(
        &self,
        s: &'p Spanned<String>,
        part: Range<usize>,
        params: &[String],
        artifact: &str,
        output: bool,
    ) -> Result<Template> {
        let (mut pieces, mut cache, mut lit) = (Vec::new(), false, String::new());
        let v = &s.value[part.clone()];
        let mut i = 0;
        while i < v.len() {
            let rest = &v[i..];
            let close = rest
                .strip_prefix('{')
                .and_then(|r| r.find('}'))
                .map(|c| c + 1);
            let name = close.map(|c| &rest[1..c]).filter(|n| is_ident(n));
            let (Some(name), Some(close)) = (name, close) else {
                let ch = rest.chars().next().unwrap_or_default();
                lit.push(ch);
                i += ch.len_utf8();
                continue;
            };
            let span = self.sub_span(s, part.start + i..part.start + i + close + 1);
            if let Some(k) = params.iter().position(|p| p == name) {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                pieces.push(Piece::Param(k));
            } else if name == "cache" && output && i == 0 && rest[close + 1..].starts_with('/') {
                cache = true;
                i += close + 2;
                continue;
            } else if name == "cache" {
                let msg = format!(
                    "`{{cache}}` may only start an output path (in `[artifact.{artifact}]`)"
                );
                return Err(self.p.error(
                    msg,
                    span,
                    Some("write `{cache}/path` in `outputs`".into()),
                ));
            } else {
                return Err(self.unknown_placeholder(name, span, params, artifact));
            }
            i += close + 1;
        }
        pieces.push(Piece::Lit(lit));
        pieces.retain(|p| !matches!(p, Piece::Lit(l) if l.is_empty()));
        let span = if part.len() == s.value.len() {
            s.span.clone()
        } else {
            self.sub_span(s, part)
        };
        Ok(Template {
            pieces,
            span,
            cache,
        })
    }

    fn unknown_placeholder(
        &self,
        name: &str,
        span: Range<usize>,
        params: &[String],
        artifact: &str,
    ) -> Error {
        if self.p.params.iter().any(|p| p.name.value == name) {
            let msg = format!("placeholder `{{{name}}}` is not a param of `[artifact.{artifact}]`");
            return self
                .p
                .error(msg, span, Some(format!("add `{name}` to its `params`")));
        }
        let listed: Vec<String> = params.iter().map(|p| format!("`{p}`")).collect();
        let msg = if listed.is_empty() {
            format!("unknown placeholder `{{{name}}}`: `[artifact.{artifact}]` has no params")
        } else {
            format!(
                "unknown placeholder `{{{name}}}`: the params of `[artifact.{artifact}]` are {}",
                listed.join(", ")
            )
        };
        let help = did_you_mean(name, params.iter().map(String::as_str).chain(["cache"]));
        self.p.error(msg, span, help)
    }

    /// The span of `inner` (a byte range of the string's value) in the file, when the string
    /// is written without escapes; else the whole string.
    fn sub_span(&self, s: &Spanned<String>, inner: Range<usize>) -> Range<usize> {
        let body = s.span.start + 1..s.span.end.saturating_sub(1);
        match self.p.text.get(body.clone()) {
            Some(raw) if raw == s.value => body.start + inner.start..body.start + inner.end,
            _ => s.span.clone(),
        }
    }

    fn config(
        &self,
        c: &'p ConfigValue,
        params: &[String],
        artifact: &str,
    ) -> Result<ConfigTemplate> {
        Ok(match c {
            ConfigValue::String(s) => {
                ConfigTemplate::String(self.template(s, params, artifact, false)?)
            }
            ConfigValue::Array(items) => ConfigTemplate::Array(
                items
                    .iter()
                    .map(|i| self.config(i, params, artifact))
                    .collect::<Result<_>>()?,
            ),
            ConfigValue::Table(entries) => ConfigTemplate::Table(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.config(v, params, artifact)?)))
                    .collect::<Result<_>>()?,
            ),
            ConfigValue::Scalar(v) => ConfigTemplate::Scalar(v.clone()),
        })
    }

    fn compile(&self, ix: usize, params: &[String]) -> Result<CompiledArtifact<'p>> {
        let a = &self.p.artifacts[ix];
        let config = match &a.config {
            None => CompiledConfig::Shared(std::sync::Arc::new(serde_json::Value::Object(
                Default::default(),
            ))),
            Some(c) => match self.config(c, params, &a.name)? {
                t if t.is_constant() => CompiledConfig::Shared(std::sync::Arc::new(t.render(&[]))),
                t => CompiledConfig::PerNode(t),
            },
        };
        let t = |s: &'p Spanned<String>, output| self.template(s, params, &a.name, output);
        let epoch = match &a.epoch {
            None => EpochTemplate::None,
            Some(Epoch::Integer(n)) => EpochTemplate::Integer(n.value),
            Some(Epoch::Template(s)) => EpochTemplate::Template(t(s, false)?),
            Some(Epoch::File { from, lookup }) => {
                let s = lookup.spanned();
                let path = match lookup {
                    Lookup::Pointer(_) => vec![t(s, false)?],
                    Lookup::Key(_) => key_segments(&s.value)
                        .map(|seg| self.template_part(s, seg, params, &a.name, false))
                        .collect::<Result<_>>()?,
                };
                EpochTemplate::File { from, lookup, path }
            }
        };
        Ok(CompiledArtifact {
            params: params.iter().map(|p| p.as_str().into()).collect(),
            rule: a.rule.value.as_str().into(),
            inputs: a
                .inputs
                .iter()
                .map(|s| t(s, false))
                .collect::<Result<_>>()?,
            outputs: a
                .outputs
                .iter()
                .map(|s| t(s, true))
                .collect::<Result<_>>()?,
            host: a.host.as_ref().map(|s| t(s, false)).transpose()?,
            epoch,
            config,
        })
    }
}

/// Byte ranges of the dotted segments of a key.
fn key_segments(key: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    key.split('.').map(move |seg| {
        let r = start..start + seg.len();
        start = r.end + 1;
        r
    })
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `s` as a clean relative path (`/` separators, no `.`/`..`, no trailing `/`) and whether it
/// ended with `/`; `None` when it is empty, absolute or escapes with `..`.
fn clean_path(s: &str) -> Option<(String, bool)> {
    clean_owned_path(s.to_string())
}

/// [`clean_path`] reusing the allocation of `s` in the common case.
fn clean_owned_path(mut s: String) -> Option<(String, bool)> {
    let dir = s.ends_with('/');
    if s.starts_with('/') || s.contains('\\') || std::path::Path::new(&s).is_absolute() {
        return None;
    }
    let trimmed = s.trim_end_matches('/');
    if !trimmed.is_empty() && trimmed.split('/').all(|c| !matches!(c, "" | "." | "..")) {
        s.truncate(trimmed.len());
        return Some((s, dir));
    }
    let mut parts = Vec::new();
    for part in s.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| (parts.join("/"), dir))
}

impl Builder<'_> {
    /// Creates node `ix` of artifact `ai` with param values `vals`, at positions `digits` of
    /// `an.values` (inputs come later).
    fn node(
        &self,
        ai: usize,
        an: &ArtifactNodes,
        c: &CompiledArtifact,
        vals: &[&str],
        digits: &[usize],
        files: &mut DataFiles,
    ) -> Result<Node> {
        // `name@v1/v2`, in an allocation of exactly its length.
        let mut id =
            String::with_capacity(an.name.len() + vals.iter().map(|v| v.len() + 1).sum::<usize>());
        id.push_str(&an.name);
        for (i, v) in vals.iter().enumerate() {
            id.push(if i == 0 { '@' } else { '/' });
            id.push_str(v);
        }
        let mut outputs = Vec::with_capacity(c.outputs.len());
        for t in &c.outputs {
            let Some((path, dir)) = clean_owned_path(t.render(vals)) else {
                let rendered = t.render(vals);
                let shown = if t.cache {
                    format!("{{cache}}/{rendered}")
                } else {
                    rendered
                };
                let msg = format!("output `{shown}` of `{id}` is outside the workspace");
                return Err(self.p.error(
                    msg,
                    t.span.clone(),
                    Some("outputs are relative paths below the root".into()),
                ));
            };
            let kind = if t.cache {
                OutputKind::Cache
            } else {
                OutputKind::Committed
            };
            if kind == OutputKind::Committed
                && let Some((r, what)) = self.reserved.iter().find(|(r, _)| {
                    path == *r
                        || path
                            .strip_prefix(r.as_str())
                            .is_some_and(|x| x.starts_with('/'))
                })
            {
                let msg = format!("output `{path}` of `{id}` is {what} (`{r}`)");
                return Err(self.p.error(
                    msg,
                    t.span.clone(),
                    Some("parity's own files are never outputs of a node".into()),
                ));
            }
            outputs.push(Output { path, kind, dir });
        }
        Ok(Node {
            epoch: self.epoch(&c.epoch, vals, &id, files)?,
            params: Params::shared(
                &c.params,
                digits
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| an.values[k][d].clone()),
            ),
            rule: c.rule.clone(),
            config: match &c.config {
                CompiledConfig::Shared(config) => config.clone(),
                CompiledConfig::PerNode(t) => std::sync::Arc::new(t.render(vals)),
            },
            host: c.host.as_ref().map(|t| t.render(vals).into()),
            timeout: self.p.artifacts[ai].timeout.as_ref().map(|t| t.value),
            inputs: Box::new([]),
            outputs: outputs.into(),
            artifact: ai,
            root: self.root.clone(),
            id: NodeId(id),
        })
    }

    fn epoch(
        &self,
        e: &EpochTemplate,
        vals: &[&str],
        id: &str,
        files: &mut DataFiles,
    ) -> Result<Option<i64>> {
        let (text, span) = match e {
            EpochTemplate::None => return Ok(None),
            EpochTemplate::Integer(n) => return Ok(Some(*n)),
            EpochTemplate::Template(t) => (t.render(vals), t.span.clone()),
            EpochTemplate::File { from, lookup, path } => {
                let path: Vec<String> = path.iter().map(|t| t.render(vals)).collect();
                let span = lookup.spanned().span.clone();
                match files.get(self.p, from, lookup, &path)? {
                    serde_json::Value::Number(n) if n.is_i64() => return Ok(n.as_i64()),
                    serde_json::Value::String(s) => (s.clone(), span),
                    other => (other.to_string(), span),
                }
            }
        };
        text.trim().parse::<i64>().map(Some).map_err(|_| {
            let msg = format!("`epoch` of `{id}` is `{text}`, not an integer (seconds since 1970)");
            self.p.error(msg, span, None)
        })
    }

    /// Resolves one input of node `ni` (rendered text `rendered`) into `out`.
    /// Where in `pipeline.toml` node `from` takes node `to` as an input: the first declared
    /// input of its artifact that resolves to `to` (for the caret of a cycle).
    fn edge_at(
        &self,
        g: &Graph,
        compiled: &[CompiledArtifact],
        from: NodeIx,
        to: NodeIx,
    ) -> Option<Located> {
        let ai = g.nodes[from].artifact;
        let (an, c) = (&g.artifacts[ai], &compiled[ai]);
        let vals = an.values_of(from);
        let mut buf = String::new();
        for (k, t) in c.inputs.iter().enumerate() {
            let mut resolved = Vec::new();
            t.render_into(&vals, &mut buf);
            if self.input(g, from, t, &buf, &mut resolved).is_err() {
                continue;
            }
            if resolved
                .iter()
                .any(|i| matches!(i, Input::Node { node, .. } if *node == to))
            {
                return Some(Located {
                    file: self.p.file.clone(),
                    text: self.p.text.clone(),
                    span: Some(self.p.artifacts[ai].inputs.get(k)?.span.clone()),
                });
            }
        }
        None
    }

    fn input(
        &self,
        g: &Graph,
        ni: NodeIx,
        t: &Template,
        rendered: &str,
        out: &mut Vec<Input>,
    ) -> Result<()> {
        let (s, optional) = rendered
            .strip_suffix('?')
            .map_or((rendered, false), |r| (r, true));
        let node = &g.nodes[ni].id;
        let err = |msg: String, help: Option<String>| Err(self.p.error(msg, t.span.clone(), help));
        // `./path` is always a file: the way to name a path that contains `@`.
        let node_ref = if s.starts_with("./") {
            None
        } else {
            s.split_once('@')
        };
        if let Some((name, rest)) = node_ref {
            let Some(&ai) = self.artifact_names.get(name) else {
                let help = did_you_mean(name, self.artifact_names.keys().copied());
                return err(
                    format!("input `{s}` of `{node}` names an unknown artifact `{name}`"),
                    help,
                );
            };
            let an = &g.artifacts[ai];
            if let Some(node) = an.exact(rest) {
                out.push(Input::Node {
                    node,
                    file: None,
                    optional,
                });
                return Ok(());
            }
            let segs: Vec<&str> = rest.split('/').collect();
            if an.params.is_empty() {
                return err(
                    format!("input `{s}` of `{node}`: `{name}` has no params"),
                    Some(format!("write `{name}`")),
                );
            }
            if segs.len() != an.params.len() {
                let msg = format!(
                    "input `{s}` of `{node}` gives {} segment(s) but `{name}` has {} param(s): {}",
                    segs.len(),
                    an.params.len(),
                    an.params_list()
                );
                return err(msg, Some(format!("write `{}`", an.template_id())));
            }
            let allowed: Vec<Vec<usize>> = segs
                .iter()
                .enumerate()
                .map(|(k, seg)| an.segment(k, seg))
                .collect();
            let matched = an.product(&allowed);
            // An optional pattern may match nothing (a fan-in over a param that is empty, or a
            // glob no value matches); a literal segment naming no value is a typo all the same.
            let unknown_value = segs
                .iter()
                .zip(&allowed)
                .any(|(seg, ok)| ok.is_empty() && !seg.contains(['*', '?']));
            if matched.is_empty() && (!optional || unknown_value) {
                let ids = g.nodes[an.first..an.first + an.len]
                    .iter()
                    .map(|n| n.id.as_str());
                return err(
                    format!("pattern `{s}` (input of `{node}`) matches no node"),
                    did_you_mean(s, ids),
                );
            }
            out.extend(matched.into_iter().map(|node| Input::Node {
                node,
                file: None,
                optional,
            }));
        } else if let Some(&ai) = self.artifact_names.get(s) {
            let an = &g.artifacts[ai];
            if !an.params.is_empty() {
                let msg = format!("input `{s}` of `{node}` names artifact `{s}`, which has params");
                return err(msg, Some(format!("name its nodes: `{}`", an.template_id())));
            }
            out.push(Input::Node {
                node: an.first,
                file: None,
                optional,
            });
        } else {
            let Some((path, dir)) = clean_path(s) else {
                return err(
                    format!("input `{s}` of `{node}` is outside the workspace"),
                    None,
                );
            };
            out.push(match g.producer_of_path(&path) {
                Some((node, _)) => Input::Node {
                    node,
                    file: Some(path),
                    optional,
                },
                None => Input::Source {
                    path,
                    dir,
                    optional,
                },
            });
        }
        Ok(())
    }
}

/// The parent of a `/`-separated path, if any.
fn parent(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

impl Graph {
    /// Expands `pipeline` into nodes and checks everything: rules (against `known_rules`),
    /// params, placeholders, inputs, outputs, cycles. Reads params files; writes nothing.
    pub fn build(pipeline: &Pipeline, known_rules: &[&str]) -> Result<Graph> {
        if !pipeline.members.is_empty() {
            return Self::build_workspace(pipeline, known_rules);
        }
        let p = pipeline;
        let mut files = DataFiles::default();
        let values: Vec<Vec<std::sync::Arc<str>>> = p
            .resolve_params(&mut files)?
            .into_iter()
            .map(|vs| vs.into_iter().map(Into::into).collect())
            .collect();
        let b = Builder {
            p,
            reserved: reserved_paths(p),
            root: std::sync::Arc::from(""),
            artifact_names: p
                .artifacts
                .iter()
                .enumerate()
                .map(|(i, a)| (a.name.as_str(), i))
                .collect(),
        };
        let mut g = Graph {
            artifacts: Self::layout(p, &values, known_rules)?,
            ..Graph::default()
        };
        let compiled: Vec<CompiledArtifact> = g
            .artifacts
            .iter()
            .enumerate()
            .map(|(i, an)| b.compile(i, &an.params))
            .collect::<Result<_>>()?;
        g.nodes.reserve(g.artifacts.iter().map(|a| a.len).sum());
        for (ai, (an, c)) in g.artifacts.iter().zip(&compiled).enumerate() {
            let mut digits = vec![0; an.values.len()];
            let mut vals: Vec<&str> = Vec::with_capacity(digits.len());
            for _ in 0..an.len {
                vals.clear();
                vals.extend(digits.iter().enumerate().map(|(k, &d)| &*an.values[k][d]));
                g.nodes.push(b.node(ai, an, c, &vals, &digits, &mut files)?);
                for k in (0..digits.len()).rev() {
                    digits[k] += 1;
                    if digits[k] < an.values[k].len() {
                        break;
                    }
                    digits[k] = 0;
                }
            }
        }
        g.index_outputs(p)?;
        let mut inputs = Vec::with_capacity(g.nodes.len());
        let mut buf = String::new();
        for (an, c) in g.artifacts.iter().zip(&compiled) {
            // Inputs without placeholders resolve the same for every node: once.
            let mut constant: Vec<Option<Vec<Input>>> = vec![None; c.inputs.len()];
            for ni in an.first..an.first + an.len {
                let vals = an.values_of(ni);
                let mut resolved = Vec::with_capacity(c.inputs.len());
                for (t, constant) in c.inputs.iter().zip(&mut constant) {
                    if let Some(known) = constant {
                        resolved.extend(known.iter().cloned());
                        continue;
                    }
                    let start = resolved.len();
                    t.render_into(&vals, &mut buf);
                    b.input(&g, ni, t, &buf, &mut resolved)?;
                    if t.pieces.iter().all(|p| matches!(p, Piece::Lit(_))) {
                        *constant = Some(resolved[start..].to_vec());
                    }
                }
                inputs.push(resolved);
            }
        }
        for (node, inputs) in g.nodes.iter_mut().zip(inputs) {
            node.inputs = inputs.into();
        }
        if let Err(cycle) = g.link() {
            let at = match cycle.as_slice() {
                [from, to, ..] => b.edge_at(&g, &compiled, *from, *to),
                _ => None,
            };
            return Err(g.cycle_error(&cycle, at));
        }
        Ok(g)
    }

    /// The members' graphs side by side, ids and paths prefixed (see the module docs).
    fn build_workspace(p: &Pipeline, known_rules: &[&str]) -> Result<Graph> {
        let mut g = Graph::default();
        for m in &p.members {
            let sub = Graph::build(&m.pipeline, known_rules)?;
            g.absorb(p, m, sub)?;
        }
        if let Err(cycle) = g.link() {
            return Err(g.cycle_error(&cycle, None));
        }
        Ok(g)
    }

    /// Appends the graph of member `m`, prefixed.
    fn absorb(&mut self, p: &Pipeline, m: &crate::pipeline::Member, sub: Graph) -> Result<()> {
        let name = &m.name.value;
        let (offset, artifacts) = (self.nodes.len(), self.artifacts.len());
        let path = |rel: &str| -> String {
            if m.root.is_empty() {
                rel.to_string()
            } else {
                format!("{}/{rel}", m.root)
            }
        };
        let output_name = |n: &str| match n.strip_prefix("{cache}/") {
            Some(rest) => format!("{{cache}}/{}", path(rest)),
            None => path(n),
        };
        let root: std::sync::Arc<str> = std::sync::Arc::from(m.root.as_str());
        for mut node in sub.nodes {
            node.id = NodeId(format!("{name}:{}", node.id));
            node.root = root.clone();
            node.artifact += artifacts;
            for input in &mut node.inputs {
                match input {
                    Input::Source { path: p, .. } => *p = path(p),
                    Input::Node { node: n, file, .. } => {
                        *n += offset;
                        if let Some(f) = file {
                            *f = output_name(f);
                        }
                    }
                }
            }
            for o in &mut node.outputs {
                o.path = path(&o.path);
            }
            self.nodes.push(node);
        }
        for mut an in sub.artifacts {
            an.name = format!("{name}:{}", an.name);
            an.first += offset;
            self.artifacts.push(an);
        }
        // In node order: the first duplicate is the one reported.
        for n in offset..self.nodes.len() {
            for i in 0..self.nodes[n].outputs.len() {
                if let Some((other, _)) = self.outputs.insert(&self.nodes, n, i) {
                    let msg = format!(
                        "duplicate output path `{}`: declared by `{}` and `{}`",
                        self.nodes[n].outputs[i].name(),
                        self.nodes[other].id,
                        self.nodes[n].id
                    );
                    return Err(p.error(msg, m.name.span.clone(), None));
                }
            }
        }
        self.members.push(GraphMember {
            name: name.clone(),
            nodes: offset..self.nodes.len(),
        });
        Ok(())
    }

    /// Checks rules and params of every artifact and lays out its nodes.
    fn layout(
        p: &Pipeline,
        values: &[Vec<std::sync::Arc<str>>],
        known_rules: &[&str],
    ) -> Result<Vec<ArtifactNodes>> {
        let mut first = 0;
        let mut out = Vec::with_capacity(p.artifacts.len());
        for a in &p.artifacts {
            if !known_rules.contains(&a.rule.value.as_str()) {
                let msg = format!("unknown rule `{}` in `[artifact.{}]`", a.rule.value, a.name);
                return Err(p.error(
                    msg,
                    a.rule.span.clone(),
                    did_you_mean(&a.rule.value, known_rules.iter().copied()),
                ));
            }
            let (mut params, mut vals) = (Vec::new(), Vec::new());
            for name in &a.params {
                let Some(k) = p.params.iter().position(|q| q.name.value == name.value) else {
                    let msg = format!("unknown param `{}` in `[artifact.{}]`", name.value, a.name);
                    let help =
                        did_you_mean(&name.value, p.params.iter().map(|q| q.name.value.as_str()))
                            .or_else(|| Some("declare it in `[params]`".into()));
                    return Err(p.error(msg, name.span.clone(), help));
                };
                if params.contains(&name.value) {
                    let msg = format!(
                        "param `{}` is listed twice in `[artifact.{}]`",
                        name.value, a.name
                    );
                    return Err(p.error(msg, name.span.clone(), None));
                }
                params.push(name.value.clone());
                vals.push(values[k].clone());
            }
            let len = vals.iter().map(Vec::len).product();
            let value_ix = vals
                .iter()
                .map(|vs| vs.iter().enumerate().map(|(i, v)| (v.clone(), i)).collect())
                .collect();
            out.push(ArtifactNodes {
                name: a.name.clone(),
                first,
                len,
                params,
                values: vals,
                value_ix,
            });
            first += len;
        }
        Ok(out)
    }

    /// Fills [`Graph::outputs`], rejecting a path declared twice or inside a directory output.
    fn index_outputs(&mut self, p: &Pipeline) -> Result<()> {
        let span = |ni: NodeIx, oi: usize| {
            p.artifacts[self.nodes[ni].artifact].outputs[oi]
                .span
                .clone()
        };
        let mut map = OutputIndex::with_capacity(self.nodes.iter().map(|n| n.outputs.len()).sum());
        for (ni, node) in self.nodes.iter().enumerate() {
            for (oi, o) in node.outputs.iter().enumerate() {
                if let Some((other, _)) = map.insert(&self.nodes, ni, oi) {
                    let msg = format!(
                        "duplicate output path `{}`: declared by `{}` and `{}`",
                        o.name(),
                        self.nodes[other].id,
                        node.id
                    );
                    return Err(p.error(msg, span(ni, oi), None));
                }
            }
        }
        let is_dir = |kind: OutputKind, path: &str| {
            map.get_as(&self.nodes, kind, path)
                .filter(|&(n, i)| self.nodes[n].outputs[i].dir)
        };
        // The first (in node order) output lying inside a directory output, if any: its
        // parents are walked as paths of its own kind, no name made for each.
        let nested = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(ni, node)| {
                node.outputs
                    .iter()
                    .enumerate()
                    .map(move |(oi, o)| (ni, oi, o))
            })
            .find_map(|(ni, oi, o)| {
                let mut dir = parent(&o.path);
                while let Some(d) = dir {
                    if let Some((owner, _)) = is_dir(o.kind, d) {
                        return Some((ni, oi, owner, d));
                    }
                    dir = parent(d);
                }
                None
            });
        if let Some((ni, oi, owner, d)) = nested {
            let out = &self.nodes[ni].outputs[oi];
            let d = match out.kind {
                OutputKind::Committed => d.to_string(),
                OutputKind::Cache => format!("{{cache}}/{d}"),
            };
            let msg = format!(
                "duplicate output path `{}`: `{}` declares it inside the directory output `{d}/` of `{}`",
                out.name(),
                self.nodes[ni].id,
                self.nodes[owner].id
            );
            return Err(p.error(msg, span(ni, oi), None));
        }
        self.outputs = map;
        Ok(())
    }

    /// Fills [`Graph::deps`], [`Graph::rdeps`] and [`Graph::topo`] from the node inputs; on a
    /// cycle, the whole loop (`a, b, a`: each node depends on the next).
    fn link(&mut self) -> std::result::Result<(), Vec<NodeIx>> {
        let n = self.nodes.len();
        let mut deps = Adjacency::default();
        deps.ends.reserve_exact(n);
        let mut d: Vec<NodeIx> = Vec::new();
        for node in &self.nodes {
            d.clear();
            d.extend(node.inputs.iter().filter_map(|i| match i {
                Input::Node { node, .. } => Some(*node),
                Input::Source { .. } => None,
            }));
            d.sort_unstable();
            d.dedup();
            deps.push(&d);
        }
        deps.all.shrink_to_fit();
        self.rdeps = deps.reversed();
        self.deps = deps;
        let mut pending: Vec<usize> = self.deps.iter().map(<[_]>::len).collect();
        let mut ready: BinaryHeap<std::cmp::Reverse<NodeIx>> = (0..n)
            .filter(|&i| pending[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        self.topo = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            self.topo.push(i);
            for &r in &self.rdeps[i] {
                pending[r] -= 1;
                if pending[r] == 0 {
                    ready.push(std::cmp::Reverse(r));
                }
            }
        }
        if self.topo.len() < n {
            return Err(self.find_cycle(&pending));
        }
        Ok(())
    }

    /// The error for the cycle `path` (from [`Graph::link`]), pointing at `at` when known.
    fn cycle_error(&self, path: &[NodeIx], at: Option<Located>) -> Error {
        let names: Vec<&str> = path.iter().map(|&i| self.nodes[i].id.as_str()).collect();
        Error::Cycle {
            cycle: names.join(" -> "),
            at: at.map(Box::new),
        }
    }

    /// One whole concrete cycle among the nodes Kahn's algorithm could not order
    /// (`pending > 0`): `a -> b -> a`, each node depending on the next.
    fn find_cycle(&self, pending: &[usize]) -> Vec<NodeIx> {
        let stuck: Vec<NodeIx> = (0..self.nodes.len()).filter(|&i| pending[i] > 0).collect();
        let local: HashMap<NodeIx, usize> =
            stuck.iter().enumerate().map(|(l, &i)| (i, l)).collect();
        let mut pg = petgraph::graph::DiGraph::<NodeIx, ()>::with_capacity(stuck.len(), 0);
        let ixs: Vec<_> = stuck.iter().map(|&i| pg.add_node(i)).collect();
        for (l, &i) in stuck.iter().enumerate() {
            for d in self.deps[i].iter().filter_map(|d| local.get(d)) {
                pg.add_edge(ixs[l], ixs[*d], ());
            }
        }
        let cyclic = petgraph::algo::tarjan_scc(&pg)
            .into_iter()
            .map(|scc| scc.into_iter().map(|x| pg[x]).collect::<Vec<_>>())
            .filter(|scc| scc.len() > 1 || self.deps[scc[0]].contains(&scc[0]))
            .min_by_key(|scc| scc.iter().copied().min());
        let Some(scc) = cyclic else {
            return Vec::new();
        };
        let members: std::collections::HashSet<NodeIx> = scc.iter().copied().collect();
        let mut path: Vec<NodeIx> = Vec::new();
        let mut cur = scc.iter().copied().min().unwrap_or_default();
        while !path.contains(&cur) {
            path.push(cur);
            cur = self.deps[cur]
                .iter()
                .copied()
                .find(|d| members.contains(d))
                .unwrap_or(cur);
        }
        let start = path.iter().position(|&x| x == cur).unwrap_or(0);
        let mut cycle = path.split_off(start);
        cycle.push(cur);
        cycle
    }

    /// The node declaring the output called `name` ([`Output::name`]), with the output's index.
    pub fn output(&self, name: &str) -> Option<(NodeIx, usize)> {
        self.outputs.get(&self.nodes, name)
    }

    /// The node producing `path` (an output name: a committed path, or `{cache}/path`), directly
    /// or inside one of its directory outputs, with the output's index.
    pub fn producer_of_path(&self, path: &str) -> Option<(NodeIx, usize)> {
        if let Some(found) = self.output(path) {
            return Some(found);
        }
        let mut dir = parent(path);
        while let Some(d) = dir {
            if let Some((n, i)) = self
                .output(d)
                .filter(|&(n, i)| self.nodes[n].outputs[i].dir)
            {
                return Some((n, i));
            }
            dir = parent(d);
        }
        None
    }

    /// The nodes matching command-line `patterns` (ascending, deduplicated): `name` (all its
    /// nodes), `name@seg/seg` with `*` or glob segments (missing trailing segments match
    /// anything), an exact id, or a glob over ids (`*`, `report@*`).
    pub fn select(&self, patterns: &[String]) -> Result<Vec<NodeIx>> {
        let mut out = Vec::new();
        for pattern in patterns {
            let found = self.select_one(pattern);
            if found.is_empty() {
                return Err(Error::UnknownTarget {
                    pattern: pattern.clone(),
                    help: self.target_help(pattern),
                });
            }
            out.extend(found);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// What to say about a pattern that matched nothing: why an artifact has no such node (an
    /// empty param, or the closest of its nodes), else a "did you mean" over names and ids.
    fn target_help(&self, pattern: &str) -> Option<String> {
        let name = pattern.split_once('@').map_or(pattern, |(n, _)| n);
        let Some(a) = self.artifacts.iter().find(|a| a.name == name) else {
            let names = self.artifacts.iter().map(|a| a.name.as_str());
            return did_you_mean(
                pattern,
                names.chain(self.nodes.iter().map(|n| n.id.as_str())),
            );
        };
        if a.len == 0 {
            let empty: Vec<String> = a
                .params
                .iter()
                .zip(&a.values)
                .filter(|(_, v)| v.is_empty())
                .map(|(p, _)| format!("`{p}`"))
                .collect();
            return Some(format!(
                "artifact `{name}` has no nodes: its param {} has no values",
                empty.join(", ")
            ));
        }
        let own = &self.nodes[a.first..a.first + a.len];
        did_you_mean(pattern, own.iter().map(|n| n.id.as_str())).or_else(|| {
            Some(format!(
                "artifact `{name}` has {} node(s), none like this; the first is `{}`",
                a.len, own[0].id
            ))
        })
    }

    /// [`Graph::select_in`]; in a workspace, a target without `member:` is looked up in every
    /// member, and a member's name selects its nodes.
    fn select_one(&self, pattern: &str) -> Vec<NodeIx> {
        let found = self.select_in(pattern);
        if !found.is_empty() || self.members.is_empty() || pattern.contains(':') {
            return found;
        }
        if let Some(m) = self.members.iter().find(|m| m.name == pattern) {
            return m.nodes.clone().collect();
        }
        self.members
            .iter()
            .flat_map(|m| self.select_in(&format!("{}:{pattern}", m.name)))
            .collect()
    }

    /// The nodes `pattern` names: an artifact (with segments), an id, or a glob over ids.
    fn select_in(&self, pattern: &str) -> Vec<NodeIx> {
        let (name, rest) = pattern
            .split_once('@')
            .map_or((pattern, None), |(n, r)| (n, Some(r)));
        if let Some(an) = self.artifacts.iter().find(|a| a.name == name) {
            let segs: Vec<&str> = rest.map_or(Vec::new(), |r| r.split('/').collect());
            if segs.len() <= an.params.len() && !(rest.is_some() && an.params.is_empty()) {
                let allowed: Vec<Vec<usize>> = (0..an.params.len())
                    .map(|k| an.segment(k, segs.get(k).copied().unwrap_or("*")))
                    .collect();
                return an.product(&allowed);
            }
        }
        if let Some(i) = self.find(pattern) {
            return vec![i];
        }
        if pattern.contains(['*', '?']) {
            return (0..self.nodes.len())
                .filter(|&i| glob_match(pattern, self.nodes[i].id.as_str()))
                .collect();
        }
        Vec::new()
    }

    /// The node whose id is `id`, found from the id itself: its artifact, then the position of
    /// each param value (ids are `name@v1/v2`, and no name or value holds a `@` or a `/`). No
    /// table of ids: at 100,000 nodes one cost 7 MB.
    pub fn find(&self, id: &str) -> Option<NodeIx> {
        let (name, rest) = id.split_once('@').map_or((id, None), |(n, r)| (n, Some(r)));
        self.artifacts
            .iter()
            .filter(|a| a.name == name)
            .find_map(|a| match rest {
                Some(rest) => a.exact(rest),
                None => (a.params.is_empty() && a.len == 1).then_some(a.first),
            })
            .filter(|&ix| self.nodes[ix].id.as_str() == id)
    }

    /// Whether the target equal to node `ix`'s id selects exactly that node (the no-op memo
    /// answers such targets without the graph). The id of a node whose param values hold a
    /// `/`, `*` or `?` may select others too.
    pub fn selected_by_id(&self, ix: NodeIx) -> bool {
        let id = self.nodes[ix].id.as_str();
        if id.contains(['*', '?']) {
            return false;
        }
        let a = &self.artifacts[self.nodes[ix].artifact];
        if let Some((name, rest)) = id.split_once('@')
            && name == a.name
            && a.exact(rest) == Some(ix)
            && self.artifacts.iter().filter(|b| b.name == name).count() == 1
        {
            return true;
        }
        self.select(&[id.to_string()]).is_ok_and(|s| s == [ix])
    }

    /// `roots` and everything they transitively depend on, in topological order.
    pub fn closure(&self, roots: &[NodeIx]) -> Vec<NodeIx> {
        let mut keep = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeIx> = roots.to_vec();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut keep[i], true) {
                stack.extend(self.deps[i].iter().copied().filter(|&d| !keep[d]));
            }
        }
        self.topo.iter().copied().filter(|&i| keep[i]).collect()
    }
}

impl ArtifactNodes {
    /// The param values of node `ni` (one of this artifact's), in param order.
    pub fn values_of(&self, ni: NodeIx) -> Vec<&str> {
        let mut offset = ni - self.first;
        let mut out = vec![""; self.values.len()];
        for k in (0..self.values.len()).rev() {
            let len = self.values[k].len();
            out[k] = &self.values[k][offset % len];
            offset /= len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_share_their_param_values_and_root_and_hold_strings_of_exact_size() {
        let text = "[params]\nversion = [\"0.1.0\", \"0.22.0\"]\ntarget = [\"linux\", \"macos\"]\n\
            [artifact.snap]\nrule = \"pin\"\nparams = [\"version\", \"target\"]\n\
            inputs = [\"src/{version}/{target}.txt\"]\noutputs = [\"snap/{version}/{target}.json\"]\n\
            [artifact.union]\nrule = \"pin\"\nparams = [\"version\"]\ninputs = [\"snap@{version}/*\"]\n\
            outputs = [\"union/{version}.json\"]\n";
        let p = crate::pipeline::Pipeline::parse(std::path::Path::new("pipeline.toml"), text)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let g = Graph::build(&p, &["pin"]).unwrap_or_else(|e| panic!("{}", e.render()));
        let value = |n: &Node, name: &str| {
            let i = n.params.0.iter().position(|(k, _)| &**k == name).unwrap();
            n.params.0[i].1.clone()
        };
        let (snap, union) = (&g.nodes[2], &g.nodes[5]);
        assert_eq!(
            (snap.id.as_str(), union.id.as_str()),
            ("snap@0.22.0/linux", "union@0.22.0")
        );
        assert!(std::sync::Arc::ptr_eq(
            &value(snap, "version"),
            &value(union, "version")
        ));
        assert!(std::sync::Arc::ptr_eq(&snap.root, &union.root));
        for n in &g.nodes {
            assert_eq!(n.id.0.capacity(), n.id.0.len(), "{}", n.id);
            for o in &n.outputs {
                assert_eq!(o.path.capacity(), o.path.len(), "{}", o.path);
            }
        }
    }

    #[test]
    fn adjacency_lists_read_back_as_pushed_and_reverse_in_ascending_order() {
        // Node i depends on the nodes below it whose index divides it, and on 0; empty lists
        // first, in the middle (1 has only 0) and last.
        let n = 60;
        let lists: Vec<Vec<NodeIx>> = (0..n)
            .map(|i: usize| match i {
                0 | 59 => Vec::new(),
                _ => (0..i).filter(|&d| d == 0 || i.is_multiple_of(d)).collect(),
            })
            .collect();
        let mut adj = Adjacency::default();
        for list in &lists {
            adj.push(list);
        }
        assert_eq!(adj.len(), n);
        assert!(adj.iter().map(<[_]>::to_vec).eq(lists.iter().cloned()));
        let mut naive = vec![Vec::new(); n];
        for (i, list) in lists.iter().enumerate() {
            for &d in list {
                naive[d].push(i);
            }
        }
        let rev = adj.reversed();
        assert!(rev.iter().map(<[_]>::to_vec).eq(naive));
        assert_eq!(rev.reversed(), adj);
        assert!(Adjacency::default().reversed().is_empty());
    }
}
