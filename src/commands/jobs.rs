//! `parity jobs [PIPELINE:]V [--json] [--github-output]`: what the nightly loop's workflow
//! (update-snapshot.yml) needs to know to propose version V of one member pipeline, so that one
//! workflow serves every CLI of the workspace with nothing member-specific in it:
//!
//! - `pipeline`, `version`, `root` (the member's directory), `branch` (its automation branch),
//!   `artifact` (the name of the changed-files artifact: the branch, `/` as `-`);
//! - `matrix`: one runner per host of V's host-bound nodes (`snapshot@V/T`, `validation@V/T`):
//!   `target` (the host), `runner` (the GitHub-hosted runner label of that OS and architecture),
//!   `nodes` (the pattern `parity build` takes: every node of V on that target) and `uploads`
//!   (the cache outputs of its host-bound nodes, newline-separated: the raw help, uploaded as an
//!   artifact and never committed).
//!
//! V must be tracked and pinned (run after `parity pin`): a version with no host-bound node is a
//! usage error, and so is a host with no GitHub-hosted runner.

use std::collections::BTreeMap;

use clap::Args;
use parity_engine::graph::OutputKind;
use serde::Serialize;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// The version, `X.Y.Z`; `PIPELINE:X.Y.Z` names a workspace's member pipeline.
    #[arg(value_name = "[PIPELINE:]VERSION", value_parser = cli::member_version_arg)]
    version: cli::MemberVersion,
    /// Print the plan as one JSON object (the default is one `key=value` line per output).
    #[arg(long)]
    json: bool,
    /// GitHub Actions: append the outputs to the file `$GITHUB_OUTPUT` names.
    #[arg(long)]
    github_output: bool,
}

/// The jobs of one version.
#[derive(Debug, Serialize)]
pub struct Jobs {
    pipeline: String,
    version: String,
    root: String,
    branch: String,
    artifact: String,
    matrix: Matrix,
}

#[derive(Debug, Serialize)]
struct Matrix {
    include: Vec<Runner>,
}

/// One runner of the matrix.
#[derive(Debug, Serialize)]
struct Runner {
    target: String,
    runner: String,
    nodes: String,
    uploads: String,
}

/// The GitHub-hosted runner of an OS and architecture (`std::env::consts` names).
fn runner_label(os: &str, arch: &str) -> Option<&'static str> {
    Some(match (os, arch) {
        ("linux", "x86_64") => "ubuntu-latest",
        ("linux", "aarch64") => "ubuntu-24.04-arm",
        ("macos", "aarch64") => "macos-latest",
        ("macos", "x86_64") => "macos-13",
        ("windows", "x86_64") => "windows-latest",
        ("windows", "aarch64") => "windows-11-arm",
        _ => return None,
    })
}

pub fn exec(g: &GlobalArgs, a: JobsArgs) -> anyhow::Result<i32> {
    let outputs = if a.github_output {
        Some(cli::github_output_file("--github-output")?)
    } else {
        None
    };
    let jobs = plan(g, &a.version)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&jobs)?);
    }
    let lines = format!(
        "pipeline={}\nversion={}\nroot={}\nbranch={}\nartifact={}\nmatrix={}\n",
        jobs.pipeline,
        jobs.version,
        jobs.root,
        jobs.branch,
        jobs.artifact,
        serde_json::to_string(&jobs.matrix)?
    );
    if !a.json {
        print!("{lines}");
    }
    if let Some(file) = outputs {
        cli::append_github_output(&file, &lines)?;
    }
    Ok(0)
}

fn plan(g: &GlobalArgs, v: &cli::MemberVersion) -> anyhow::Result<Jobs> {
    let usage = |m: String| -> anyhow::Error { parity_engine::Error::Usage(m).into() };
    let version = v.version.to_string();
    let pipeline = cli::pipeline(g)?;
    let pinned = cli::upstream(&pipeline, v.member.as_deref())?;
    let ws = cli::workspace(g)?;
    let nodes = match &pinned.member {
        Some(name) => (ws.graph.members.iter())
            .find(|m| &m.name == name)
            .map(|m| m.nodes.clone())
            .ok_or_else(|| usage(format!("no member `{name}` in the graph")))?,
        None => 0..ws.graph.nodes.len(),
    };
    // Host -> (the `@…` part of its nodes' ids, their cache outputs).
    let mut hosts: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for ix in nodes {
        let node = &ws.graph.nodes[ix];
        let Some(host) = &node.host else { continue };
        if !node.params.values().any(|p| *p == version) {
            continue;
        }
        let at = node.id.as_str().split_once('@').map_or("", |(_, s)| s);
        let (ats, uploads) = hosts.entry(host.to_string()).or_default();
        if !ats.iter().any(|s| s == at) {
            ats.push(at.to_string());
        }
        for o in node.outputs.iter().filter(|o| o.kind == OutputKind::Cache) {
            let path = ws.output_path(o);
            let rel = path.strip_prefix(&ws.dir).unwrap_or(&path);
            uploads.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    if hosts.is_empty() {
        return Err(usage(format!(
            "{}{version} has no host-bound node: is it pinned (`parity pin {}{version}`)?",
            pinned.prefix, pinned.prefix
        )));
    }
    let mut include = Vec::new();
    for (host, (ats, uploads)) in hosts {
        let runner = parity_engine::workspace::host_platform(&host)
            .and_then(|(os, arch)| runner_label(os, arch))
            .ok_or_else(|| {
                usage(format!(
                    "no GitHub-hosted runner for the host `{host}` of {}{version}",
                    pinned.prefix
                ))
            })?;
        let [at] = ats.as_slice() else {
            return Err(usage(format!(
                "the nodes of {}{version} on `{host}` have different parameters ({}): one pattern cannot select them",
                pinned.prefix,
                ats.join(", ")
            )));
        };
        include.push(Runner {
            target: host.clone(),
            runner: runner.to_string(),
            nodes: format!("{}*@{at}", pinned.prefix),
            uploads: uploads.join("\n"),
        });
    }
    let branch = pinned.upstream.automation_branch(&version);
    Ok(Jobs {
        pipeline: pinned.member.clone().unwrap_or_default(),
        version,
        root: pinned.root.clone(),
        artifact: branch.replace('/', "-"),
        branch,
        matrix: Matrix { include },
    })
}
