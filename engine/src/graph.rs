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

use std::collections::BTreeMap;
use std::fmt;

/// A node id: `name` or `name@p1/p2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
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
    },
    /// Another node's outputs: all of them, or only `file` when the input named a file that
    /// the other node produces (make-style edge).
    Node {
        /// The producer.
        node: NodeIx,
        /// The one output consumed, when the input named a file; `None` = every output.
        file: Option<String>,
        /// Declared with `?` (optional fan-in): the producer may be blocked (host) or have
        /// failed; then this input is simply absent and the consumer runs with the rest.
        optional: bool,
    },
}

/// One node of the graph: an artifact instantiated with concrete param values.
#[derive(Debug, Clone)]
pub struct Node {
    /// `name@p1/p2`.
    pub id: NodeId,
    /// Index of the artifact in [`crate::pipeline::Pipeline::artifacts`].
    pub artifact: usize,
    /// Param name -> value, for this node.
    pub params: BTreeMap<String, String>,
    /// Rule name (checked against the registry when the graph is built).
    pub rule: String,
    /// Rule config with `{param}` placeholders substituted in every string; canonical JSON
    /// (objects are BTreeMap-sorted by serde_json).
    pub config: serde_json::Value,
    /// Host constraint after substitution (`x86_64-unknown-linux-musl`, `linux`, `macos`, ...).
    pub host: Option<String>,
    /// SOURCE_DATE_EPOCH for this node, if the artifact declares one (`epoch = ...`).
    pub epoch: Option<i64>,
    /// Inputs in declaration order (patterns expanded in node order).
    pub inputs: Vec<Input>,
    /// Outputs in declaration order.
    pub outputs: Vec<Output>,
}

/// The expanded, checked DAG.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every node, in deterministic order (see the module docs).
    pub nodes: Vec<Node>,
    /// For each node, the nodes it depends on (deduplicated, ascending).
    pub deps: Vec<Vec<NodeIx>>,
    /// For each node, the nodes that depend on it (ascending).
    pub rdeps: Vec<Vec<NodeIx>>,
    /// A topological order of all nodes (dependencies first), stable with respect to node order.
    pub topo: Vec<NodeIx>,
    /// Lookup by id.
    pub by_id: std::collections::HashMap<NodeId, NodeIx>,
}
