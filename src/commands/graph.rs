//! `parity graph [TARGET...] [--format dot|mermaid|json]`

use clap::{Args, ValueEnum};

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Nodes or patterns (with what they need); default: all.
    targets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
}

pub fn exec(g: &GlobalArgs, a: GraphArgs) -> anyhow::Result<i32> {
    let ws = cli::workspace(g)?;
    let roots = cli::select(&ws, &a.targets)?;
    let nodes = ws.graph.closure(&roots);
    let keep: std::collections::HashSet<usize> = nodes.iter().copied().collect();
    let edges: Vec<(usize, usize)> = nodes
        .iter()
        .flat_map(|&n| {
            ws.graph.deps[n]
                .iter()
                .filter(|d| keep.contains(d))
                .map(move |&d| (d, n))
        })
        .collect();
    let id = |n: usize| ws.graph.nodes[n].id.as_str();
    let mut out = String::new();
    match a.format {
        Format::Dot => {
            out.push_str("digraph parity {\n  rankdir=LR;\n");
            for &n in &nodes {
                out.push_str(&format!(
                    "  {:?} [label={:?}];\n",
                    id(n),
                    format!("{}\n({})", id(n), ws.graph.nodes[n].rule)
                ));
            }
            for (d, n) in &edges {
                out.push_str(&format!("  {:?} -> {:?};\n", id(*d), id(*n)));
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("graph LR\n");
            for &n in &nodes {
                out.push_str(&format!("  n{n}[\"{}\"]\n", id(n)));
            }
            for (d, n) in &edges {
                out.push_str(&format!("  n{d} --> n{n}\n"));
            }
        }
        Format::Json => {
            let list: Vec<_> = nodes
                .iter()
                .map(|&n| {
                    let node = &ws.graph.nodes[n];
                    serde_json::json!({
                        "id": node.id,
                        "rule": node.rule,
                        "host": node.host,
                        "deps": ws.graph.deps[n].iter().map(|&d| id(d)).collect::<Vec<_>>(),
                        "outputs": node.outputs.iter().map(|o| o.name()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            out = serde_json::to_string_pretty(&serde_json::json!({ "nodes": list }))?;
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(0)
}
