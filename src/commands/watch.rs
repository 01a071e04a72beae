//! `parity watch [PIPELINE] [--policy latest|stable-minus-one] [--json] [--repo OWNER/NAME]
//! [--github-output]`: is there a new upstream release to pin? Exit 0 = yes (its version on
//! stdout), 3 = no, 1 = error, 2 = usage.
//!
//! The release source is the pipeline's (its pin artifact): GitHub releases, whose default
//! policy is the reference's `stable-minus-one`, or a release bucket, whose `stable` pointer is
//! the candidate (`latest`, the only policy a bucket supports).
//!
//! Idempotent: a candidate that is already tracked (in the `version` param's list), or whose
//! automation branch (`automation/codex-cli-V`, `automation/claude-code-V`) already exists in
//! `--repo`, is nothing new, so a night after a merge, or while the proposal is open, does
//! nothing.

use std::io::Write as _;

use anyhow::Context;
use clap::{Args, ValueEnum};
use parity_rules::release::github::{self, GitHub, Policy};
use parity_rules::release::{Settings, versions};

use crate::cli::{self, GlobalArgs};

/// Exit code when there is no new candidate.
pub const NO_CANDIDATE: i32 = 3;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The member pipeline of a workspace (default: the only one with a release source).
    #[arg(value_name = "PIPELINE")]
    member: Option<String>,
    /// `latest` proposes the newest stable release; `stable-minus-one` (the reference's lag for
    /// GitHub releases, their default) the one before it, or the only one. A release bucket
    /// supports `latest` only (its default).
    #[arg(long, value_enum)]
    policy: Option<PolicyArg>,
    /// Print the decision as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// The repository automation branches are pushed to: a candidate whose automation branch
    /// (`automation/codex-cli-V`) exists there is nothing new (not checked when unset).
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    repo: Option<String>,
    /// GitHub Actions: append `new`, `candidate` and `reason` to the file `$GITHUB_OUTPUT`
    /// names, and exit 0 when there is nothing new too (the outputs say which).
    #[arg(long)]
    github_output: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    Latest,
    StableMinusOne,
}

pub fn exec(g: &GlobalArgs, a: WatchArgs) -> anyhow::Result<i32> {
    let outputs = if a.github_output {
        let file = std::env::var_os("GITHUB_OUTPUT")
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                parity_engine::Error::Usage(
                    "--github-output needs the variable GITHUB_OUTPUT".into(),
                )
            })?;
        Some(std::path::PathBuf::from(file))
    } else {
        None
    };
    let pipeline = cli::pipeline(g)?;
    let pinned = cli::upstream(&pipeline, a.member.as_deref())?;
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
    let settings = Settings::from_env();
    let (stable, seen) = upstream.stable_versions(&settings)?;
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
    if a.json {
        println!("{}", serde_json::to_string(&watch)?);
    } else if watch.new {
        println!("{}", watch.candidate);
    }
    eprintln!(
        "{}: {} (latest {}, policy {})",
        if watch.new {
            "new candidate"
        } else {
            "nothing new"
        },
        watch.reason,
        watch.latest,
        watch.policy
    );
    if let Some(file) = outputs {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&file)
            .with_context(|| format!("failed to open `{}`", file.display()))?;
        write!(
            f,
            "new={}\ncandidate={}\nreason={}\n",
            watch.new,
            watch.candidate,
            watch.reason.replace('\n', " ")
        )
        .with_context(|| format!("failed to write `{}`", file.display()))?;
        return Ok(0);
    }
    Ok(if watch.new { 0 } else { NO_CANDIDATE })
}
