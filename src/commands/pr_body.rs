//! `parity pr-body V [--title]`: the title and Markdown body of the pull request proposing
//! version V, made from the committed artifacts (status, validation results, upstream changes
//! since the baseline, coverage deltas as a task list). Stdout: the title, a blank line, the
//! body; `--title`: the title only.

use clap::Args;
use parity_rules::release::github::Version;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct PrBodyArgs {
    /// The version, `X.Y.Z`.
    #[arg(value_parser = cli::version_arg)]
    version: Version,
    /// Print the title only.
    #[arg(long)]
    title: bool,
}

pub fn exec(g: &GlobalArgs, a: PrBodyArgs) -> anyhow::Result<i32> {
    let version = a.version;
    let pipeline = cli::pipeline(g)?;
    let upstream = cli::upstream(&pipeline)?;
    let pr = parity_rules::pr_body::render(&pipeline.root, upstream.tool(), &version.to_string())?;
    if a.title {
        println!("{}", pr.title);
    } else {
        print!("{}\n\n{}", pr.title, pr.body);
    }
    Ok(0)
}
