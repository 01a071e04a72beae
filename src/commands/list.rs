//! `parity list [TARGET...]`

use clap::Args;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Nodes or patterns; default: all.
    targets: Vec<String>,
}

pub fn exec(g: &GlobalArgs, a: ListArgs) -> anyhow::Result<i32> {
    let ws = cli::workspace(g)?;
    let selected: std::collections::HashSet<usize> =
        cli::select(&ws, &a.targets)?.into_iter().collect();
    for &ix in ws.graph.topo.iter().filter(|ix| selected.contains(ix)) {
        let node = &ws.graph.nodes[ix];
        if g.verbose {
            let outputs: Vec<String> = node.outputs.iter().map(|o| o.name()).collect();
            let host = node
                .host
                .as_deref()
                .map(|h| format!(" host={h}"))
                .unwrap_or_default();
            println!(
                "{}  rule={}{host}  -> {}",
                node.id,
                node.rule,
                outputs.join(" ")
            );
        } else {
            println!("{}", node.id);
        }
    }
    Ok(0)
}
