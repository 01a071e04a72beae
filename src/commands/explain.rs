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
            match r {
                DirtyReason::InputChanged { input, old, new } => {
                    println!(
                        "  input `{input}` {}",
                        match (old, new) {
                            (Some(_), Some(_)) => "changed",
                            (None, _) => "added",
                            (_, None) => "removed",
                        }
                    );
                    if let Some(o) = old {
                        println!("      old {} ({} bytes)", o.blake3, o.size);
                    }
                    if let Some(n) = new {
                        println!("      new {} ({} bytes)", n.blake3, n.size);
                    }
                }
                DirtyReason::OutputModified {
                    output,
                    recorded,
                    actual,
                    file,
                } => {
                    println!("  output `{output}` was modified by hand");
                    if let Some(f) = file {
                        println!("      `{f}` differs");
                    }
                    println!(
                        "      recorded {} ({} bytes)",
                        recorded.blake3, recorded.size
                    );
                    println!("      on disk  {} ({} bytes)", actual.blake3, actual.size);
                }
                other => println!("  {other}"),
            }
        }
    }
    Ok(0)
}
