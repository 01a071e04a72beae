//! `parity watch [--policy latest|stable-minus-one] [--json]`: is there a new upstream release
//! to pin? Exit 0 = yes (its version on stdout), 3 = no, 1 = error, 2 = usage.

use anyhow::Context;
use clap::{Args, ValueEnum};
use parity_rules::release::Settings;
use parity_rules::release::github::{self, GitHub, Policy};

use crate::cli::{self, GlobalArgs};

/// Exit code when there is no new candidate.
pub const NO_CANDIDATE: i32 = 3;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// `latest` proposes the newest stable release; `stable-minus-one` (the reference's lag)
    /// the one before it, or the only one.
    #[arg(long, value_enum, default_value = "stable-minus-one")]
    policy: PolicyArg,
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
    let upstream = cli::upstream(&pipeline)?;
    let settings = Settings::from_env();
    let http = settings.http()?;
    let releases =
        GitHub::new(&http, settings.api(upstream.api.as_deref())).releases(&upstream.repo)?;
    let stable = github::stable_versions(&releases, &upstream.tag_prefix);
    let pointer = pipeline.root.join("latest_validated.txt");
    let validated = std::fs::read_to_string(&pointer)
        .with_context(|| format!("failed to read `{}`", pointer.display()))?;
    let policy = match a.policy {
        PolicyArg::Latest => Policy::Latest,
        PolicyArg::StableMinusOne => Policy::StableMinusOne,
    };
    let watch = github::decide(&stable, &validated, policy)
        .with_context(|| format!("in `{}` ({} releases seen)", upstream.repo, releases.len()))?;
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
