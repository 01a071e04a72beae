//! `parity watch [PIPELINE | --all] [--policy latest|stable-minus-one] [--json] [--repo
//! OWNER/NAME] [--github-output]`: is there a new upstream release to pin? Exit 0 = yes (its
//! version on stdout; `--all`: `PIPELINE:VERSION` lines), 3 = no, 1 = error, 2 = usage.
//!
//! The release source is the pipeline's (its pin artifact): GitHub releases, whose default
//! policy is the reference's `stable-minus-one`, or a release bucket, whose `stable` pointer is
//! the candidate (`latest`, the only policy a bucket supports).
//!
//! Idempotent: a candidate that is already tracked (in the `version` param's list), or whose
//! automation branch (`automation/codex-cli-V`, `automation/claude-code-V`) already exists in
//! `--repo`, is nothing new, so a night after a merge, or while the proposal is open, does
//! nothing.

use anyhow::Context;
use clap::{Args, ValueEnum};
use parity_rules::release::github::{self, GitHub, Policy, Watch};
use parity_rules::release::{Settings, versions};

use crate::cli::{self, GlobalArgs};

/// Exit code when there is no new candidate.
pub const NO_CANDIDATE: i32 = 3;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The member pipeline of a workspace (default: the only one with a release source).
    #[arg(value_name = "PIPELINE", conflicts_with = "all")]
    member: Option<String>,
    /// Every member pipeline with a release source, each with its own policy (the nightly
    /// loop's one definition for every CLI of the workspace).
    #[arg(long)]
    all: bool,
    /// `latest` proposes the newest stable release; `stable-minus-one` (the reference's lag for
    /// GitHub releases, their default) the one before it, or the only one. A release bucket
    /// supports `latest` only (its default).
    #[arg(long, value_enum)]
    policy: Option<PolicyArg>,
    /// Print the decision as one JSON object on stdout (`--all`: an array of them, each with
    /// its `pipeline`).
    #[arg(long)]
    json: bool,
    /// The repository automation branches are pushed to: a candidate whose automation branch
    /// (`automation/codex-cli-V`) exists there is nothing new (not checked when unset).
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    repo: Option<String>,
    /// GitHub Actions: append `new`, `candidate` and `reason` (`--all`: `new`, whether any
    /// member has a candidate, and `candidates`, a JSON array of `{"pipeline", "version"}`) to
    /// the file `$GITHUB_OUTPUT` names, and exit 0 when there is nothing new too.
    #[arg(long)]
    github_output: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    Latest,
    StableMinusOne,
}

/// One pipeline's decision, as `--all --json` prints it.
#[derive(serde::Serialize)]
struct Decision<'a> {
    /// The member (empty for a pipeline that is no workspace).
    pipeline: &'a str,
    #[serde(flatten)]
    watch: &'a Watch,
}

pub fn exec(g: &GlobalArgs, a: WatchArgs) -> anyhow::Result<i32> {
    let outputs = if a.github_output {
        Some(cli::github_output_file("--github-output")?)
    } else {
        None
    };
    let pipeline = cli::pipeline(g)?;
    let members = if a.all {
        cli::upstreams(&pipeline)?
    } else {
        vec![cli::upstream(&pipeline, a.member.as_deref())?]
    };
    let settings = Settings::from_env();
    let mut decisions = Vec::new();
    for pinned in &members {
        let watch = decide(pinned, &a, &settings)?;
        let name = pinned.member.as_deref().unwrap_or("");
        eprintln!(
            "{}{}: {} (latest {}, policy {})",
            if name.is_empty() {
                String::new()
            } else {
                format!("{name}: ")
            },
            if watch.new {
                "new candidate"
            } else {
                "nothing new"
            },
            watch.reason,
            watch.latest,
            watch.policy
        );
        decisions.push((name, watch));
    }
    let any_new = decisions.iter().any(|(_, w)| w.new);
    if a.all {
        if a.json {
            let all: Vec<Decision<'_>> = (decisions.iter())
                .map(|(pipeline, watch)| Decision { pipeline, watch })
                .collect();
            println!("{}", serde_json::to_string(&all)?);
        } else {
            for (name, w) in decisions.iter().filter(|(_, w)| w.new) {
                println!("{}{}", member_prefix(name), w.candidate);
            }
        }
    } else if let Some((_, watch)) = decisions.first() {
        if a.json {
            println!("{}", serde_json::to_string(watch)?);
        } else if watch.new {
            println!("{}", watch.candidate);
        }
    }
    if let Some(file) = outputs {
        let text = if a.all {
            let candidates: Vec<serde_json::Value> = (decisions.iter())
                .filter(|(_, w)| w.new)
                .map(|(name, w)| serde_json::json!({"pipeline": name, "version": w.candidate}))
                .collect();
            format!(
                "new={any_new}\ncandidates={}\n",
                serde_json::Value::Array(candidates)
            )
        } else {
            let w = &decisions[0].1;
            format!(
                "new={}\ncandidate={}\nreason={}\n",
                w.new,
                w.candidate,
                w.reason.replace('\n', " ")
            )
        };
        cli::append_github_output(&file, &text)?;
        return Ok(0);
    }
    Ok(if any_new { 0 } else { NO_CANDIDATE })
}

fn member_prefix(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("{name}:")
    }
}

/// The decision for one pipeline: its release source's stable releases against its
/// `latest_validated.txt`, then whether the candidate is already tracked or proposed.
fn decide(pinned: &cli::Pinned<'_>, a: &WatchArgs, settings: &Settings) -> anyhow::Result<Watch> {
    let upstream = &pinned.upstream;
    let policy = match a.policy {
        None => upstream.default_policy(),
        Some(PolicyArg::Latest) => Policy::Latest,
        Some(PolicyArg::StableMinusOne) if upstream.default_policy() == Policy::Latest => {
            return Err(parity_engine::Error::Usage(format!(
                "`{}` publishes only a `stable` pointer, so `--policy stable-minus-one` has no release before it to propose",
                upstream.name()
            ))
            .into());
        }
        Some(PolicyArg::StableMinusOne) => Policy::StableMinusOne,
    };
    let (stable, seen) = upstream.stable_versions(settings)?;
    let pointer = pinned.pipeline.root.join("latest_validated.txt");
    let validated = std::fs::read_to_string(&pointer)
        .with_context(|| format!("failed to read `{}`", pointer.display()))?;
    let mut watch = github::decide(&stable, &validated, policy)
        .with_context(|| format!("in `{}` ({seen} releases seen)", upstream.name()))?;
    if watch.new
        && let Some((file, key)) = upstream.lists.first()
    {
        let path = pinned.pipeline.root.join(file);
        if versions::list(&path, key)?.contains(&watch.candidate) {
            watch.already(format!(
                "the candidate {} is already tracked (`{key}` in `{file}`)",
                watch.candidate
            ));
        }
    }
    if watch.new
        && let Some(repo) = a.repo.as_deref().filter(|r| !r.is_empty())
    {
        let branch = upstream.automation_branch(&watch.candidate.to_string());
        let http = settings.http()?;
        let gh = GitHub::new(&http, settings.api(upstream.github_api()));
        if gh.has_branch(repo, &branch)? {
            watch.already(format!(
                "the candidate {} is already proposed: `{branch}` exists in `{repo}`",
                watch.candidate
            ));
        }
    }
    Ok(watch)
}
