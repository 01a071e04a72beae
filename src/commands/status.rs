//! `parity status [TARGET...] [--json]`

use std::collections::BTreeMap;

use clap::Args;
use parity_engine::ops;
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
    if g.verbose {
        eprintln!(
            "sandbox: {}",
            parity_engine::sandbox::Isolation::current().describe()
        );
    }
    cli::ensure_pipeline(g)?;
    let registry = cli::registry(g);
    let mut counts = BTreeMap::<State, usize>::new();
    let total = match ops::status(&cli::session(g, &registry), &a.targets)? {
        ops::Status::Memo(m) => {
            for v in &m.nodes {
                *counts.entry(v.state).or_default() += 1;
                if a.json {
                    let reasons: serde_json::Value =
                        serde_json::from_str(&v.reasons_json).unwrap_or_default();
                    println!(
                        "{}",
                        json_line(v.id.as_str(), v.state, reasons, v.message.as_deref())
                    );
                } else if v.state != State::Fresh || g.verbose {
                    println!("{}", human_line(v.id.as_str(), v.state, &v.why));
                }
            }
            let total = m.nodes.len();
            std::mem::forget(m);
            total
        }
        ops::Status::Evaluated { ws, statuses } => {
            for s in &statuses {
                *counts.entry(s.state).or_default() += 1;
                let id = ws.graph.nodes[s.node].id.as_str();
                if a.json {
                    let reasons = serde_json::to_value(&s.reasons)?;
                    let message = s.unavailable.as_ref().map(|u| u.to_string());
                    println!("{}", json_line(id, s.state, reasons, message.as_deref()));
                } else if s.state != State::Fresh || g.verbose {
                    println!("{}", human_line(id, s.state, &s.why()));
                }
            }
            let total = statuses.len();
            // The process exits now: freeing the graph node by node is wasted time.
            std::mem::forget((ws, statuses));
            total
        }
    };
    print_summary(a.json, total, &counts);
    Ok(0)
}

/// One node's `status --json` record.
fn json_line(
    id: &str,
    state: State,
    reasons: serde_json::Value,
    message: Option<&str>,
) -> serde_json::Value {
    let mut v = serde_json::json!({"node": id, "state": state, "reasons": reasons});
    if let Some(m) = message {
        v["message"] = m.into();
    }
    v
}

/// One node's `status` line.
fn human_line(id: &str, state: State, why: &str) -> String {
    if why.is_empty() {
        format!("{:<9}{id}", state.as_str())
    } else {
        format!("{:<9}{id}  {why}", state.as_str())
    }
}

fn print_summary(json: bool, total: usize, counts: &BTreeMap<State, usize>) {
    if json {
        let mut v = serde_json::json!({"event": "summary", "total": total});
        for (state, n) in counts {
            v[state.as_str()] = (*n).into();
        }
        println!("{v}");
        return;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    println!(
        "{total} node{}: {}",
        if total == 1 { "" } else { "s" },
        if parts.is_empty() {
            "nothing declared".into()
        } else {
            parts.join(", ")
        }
    );
}
