//! `parity status [TARGET...] [--json]`

use std::collections::BTreeMap;

use clap::Args;
use parity_engine::memo;
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
    let started = std::time::SystemTime::now();
    if g.verbose {
        eprintln!(
            "sandbox: {}",
            parity_engine::sandbox::Isolation::current().describe()
        );
    }
    if a.targets.is_empty()
        && let Some(m) = load_memo(g)
    {
        let mut counts = BTreeMap::<State, usize>::new();
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
        print_summary(a.json, m.nodes.len(), &counts);
        std::mem::forget(m);
        return Ok(0);
    }
    let (ws, hasher, lock) = cli::workspace_with_state(g)?;
    let nodes = cli::select(&ws, &a.targets)?;
    let statuses = ws.status(&hasher, &lock, &nodes)?;
    let _ = hasher.save();
    let mut counts = BTreeMap::<State, usize>::new();
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
    print_summary(a.json, statuses.len(), &counts);
    if a.targets.is_empty() && !memo::disabled() {
        let order = parity_engine::build::noop_order(&ws, &nodes);
        let written = memo::write(
            &ws,
            &g.pipeline,
            &memo_identity(),
            started,
            &statuses,
            &order,
        );
        trace_write(written);
    }
    // The process exits now: freeing the graph and the state node by node is wasted time.
    std::mem::forget((ws, lock, hasher, statuses));
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

/// What, besides the pipeline, its files and the rules, decides verdicts: this binary's
/// version (where release assets come from, `--mirror` or the API URL, never does).
pub fn memo_identity() -> String {
    format!("parity {}", env!("CARGO_PKG_VERSION"))
}

/// The no-op memo of the workspace, when it is enabled and still valid (`PARITY_MEMO_TRACE=1`
/// says on stderr why it was or was not used).
pub fn load_memo(g: &GlobalArgs) -> Option<memo::Memo> {
    if memo::disabled() {
        return None;
    }
    match memo::load(&g.pipeline, &memo_identity(), &cli::registry(g)) {
        Ok(m) => {
            trace("memo: used");
            Some(m)
        }
        Err(why) => {
            trace(&format!("memo: not used: {why}"));
            None
        }
    }
}

/// Traces the outcome of [`memo::write`].
pub fn trace_write(written: parity_engine::Result<bool>) {
    match written {
        Ok(true) => trace("memo: written"),
        Ok(false) => trace("memo: not written"),
        Err(e) => trace(&format!("memo: not written: {e}")),
    }
}

fn trace(msg: &str) {
    if std::env::var_os("PARITY_MEMO_TRACE").is_some_and(|v| v == "1") {
        eprintln!("{msg}");
    }
}
