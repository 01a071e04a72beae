//! `parity pr-body V [--title]`: the title and Markdown body of the pull request proposing
//! version V, made from the committed artifacts (status, validation results, upstream changes
//! since the baseline, coverage deltas as a task list). Stdout: the title, a blank line, the
//! body; `--title`: the title only.

use clap::Args;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct PrBodyArgs {
    /// The version, `X.Y.Z`; `PIPELINE:X.Y.Z` names a workspace's member pipeline.
    #[arg(value_name = "[PIPELINE:]VERSION", value_parser = cli::member_version_arg)]
    version: cli::MemberVersion,
    /// Print the title only.
    #[arg(long)]
    title: bool,
}

pub fn exec(g: &GlobalArgs, a: PrBodyArgs) -> anyhow::Result<i32> {
    let workspace = cli::pipeline(g)?;
    let pinned = cli::upstream(&workspace, a.version.member.as_deref())?;
    let pr = parity_rules::pr_body::render(
        &pinned.pipeline.root,
        pinned.upstream.tool(),
        &a.version.version.to_string(),
    )?;
    if a.title {
        println!("{}", pr.title);
    } else {
        print!("{}\n\n{}", pr.title, pr.body);
    }
    Ok(0)
}
