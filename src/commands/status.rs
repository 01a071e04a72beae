//! `parity status [TARGET...] [--json]`

use clap::Args;
use parity_engine::workspace::State;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Nodes or patterns; default: all.
    targets: Vec<String>,
    /// One JSON record per node on stdout, ending with a `summary` record.
    #[arg(long)]
    json: bool,
}

pub fn exec(g: &GlobalArgs, a: StatusArgs) -> anyhow::Result<i32> {
    let (ws, hasher, lock) = cli::workspace_with_state(g)?;
    let nodes = cli::select(&ws, &a.targets)?;
    let statuses = ws.status(&hasher, &lock, &nodes)?;
    let _ = hasher.save();
    let mut counts = std::collections::BTreeMap::<State, usize>::new();
    for s in &statuses {
        *counts.entry(s.state).or_default() += 1;
        let id = &ws.graph.nodes[s.node].id;
        if a.json {
            let mut v = serde_json::json!({
                "node": id, "state": s.state, "reasons": s.reasons,
            });
            if let Some(u) = &s.unavailable {
                v["message"] = u.to_string().into();
            }
            println!("{v}");
        } else if s.state != State::Fresh || g.verbose {
            let why = match (&s.unavailable, s.reasons.first()) {
                (Some(u), _) => u.to_string(),
                (None, Some(r)) => r.to_string(),
                (None, None) => String::new(),
            };
            println!(
                "{:<9}{id}{}",
                s.state.as_str(),
                if why.is_empty() {
                    why
                } else {
                    format!("  {why}")
                }
            );
        }
    }
    if a.json {
        let mut v = serde_json::json!({"event": "summary", "total": statuses.len()});
        for (state, n) in &counts {
            v[state.as_str()] = (*n).into();
        }
        println!("{v}");
    } else {
        let parts: Vec<String> = counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        println!(
            "{} node{}: {}",
            statuses.len(),
            if statuses.len() == 1 { "" } else { "s" },
            if parts.is_empty() {
                "nothing declared".into()
            } else {
                parts.join(", ")
            }
        );
    }
    // The process exits now: freeing the graph and the state node by node is wasted time.
    std::mem::forget((ws, lock, hasher, statuses));
    Ok(0)
}
