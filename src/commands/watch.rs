//! `parity watch [PIPELINE] [--policy latest|stable-minus-one] [--json]`: is there a new
//! upstream release to pin? Exit 0 = yes (its version on stdout), 3 = no, 1 = error, 2 = usage.
//!
//! The release source is the pipeline's (its pin artifact): GitHub releases, whose default
//! policy is the reference's `stable-minus-one`, or a release bucket, whose `stable` pointer is
//! the candidate (`latest`, the only policy a bucket supports).

use anyhow::Context;
use clap::{Args, ValueEnum};
use parity_rules::release::Settings;
use parity_rules::release::github::{self, Policy};

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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    Latest,
    StableMinusOne,
}

pub fn exec(g: &GlobalArgs, a: WatchArgs) -> anyhow::Result<i32> {
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
    let watch = github::decide(&stable, &validated, policy)
        .with_context(|| format!("in `{}` ({seen} releases seen)", upstream.name()))?;
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
    Ok(if watch.new { 0 } else { NO_CANDIDATE })
}
