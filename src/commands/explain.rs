//! `parity explain TARGET`

use clap::Args;
use parity_engine::fingerprint::DirtyReason;
use parity_engine::workspace::State;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A node or pattern.
    target: String,
}

pub fn exec(g: &GlobalArgs, a: ExplainArgs) -> anyhow::Result<i32> {
    let ws = cli::workspace(g)?;
    let nodes = ws.graph.select(std::slice::from_ref(&a.target))?;
    let hasher = ws.hasher();
    let (lock, _) = ws.recorded_state(&hasher)?;
    for s in ws.status(&hasher, &lock, &nodes)? {
        let node = &ws.graph.nodes[s.node];
        println!("{}: {}", node.id, s.state.as_str());
        println!("  rule: {}", node.rule);
        if let Some(entry) = lock.nodes.get(node.id.as_str()) {
            println!("  recorded key: {}", entry.key);
        }
        if let Some(u) = &s.unavailable {
            println!("  {u}");
        }
        if s.state == State::Fresh {
            println!("  every input and output matches pipeline.lock");
        }
        for r in &s.reasons {
            println!("  {r}");
            for line in r.details() {
                println!("      {line}");
            }
            if *r == DirtyReason::ConfigChanged {
                // `pipeline.lock` records one digest of them all: show what they are now.
                for line in settings(node) {
                    println!("      now {line}");
                }
            }
        }
    }
    Ok(0)
}

/// The node's settings as they are now: params, epoch, the names of the environment variables
/// its config declares (set or unset; values are never printed), config, outputs.
fn settings(node: &parity_engine::graph::Node) -> Vec<String> {
    let mut out = Vec::new();
    if !node.params.is_empty() {
        let params: Vec<String> = node
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push(format!("params  {}", params.join(" ")));
    }
    if let Some(e) = node.epoch {
        out.push(format!("epoch   {e}"));
    }
    let env: Vec<String> = node
        .config
        .get("env")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .map(|name| {
            let set = std::env::var_os(name).is_some();
            format!("{name} ({})", if set { "set" } else { "unset" })
        })
        .collect();
    if !env.is_empty() {
        out.push(format!("env     {}", env.join(" ")));
    }
    out.push(format!("config  {}", node.config));
    let outputs: Vec<String> = node.outputs.iter().map(|o| o.name()).collect();
    out.push(format!("outputs {}", outputs.join(" ")));
    out
}
