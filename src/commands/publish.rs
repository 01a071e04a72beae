//! `parity publish V`: proposes version V: the pipeline's files as they are now committed on
//! `automation/codex-cli-V`, pushed (never forced) and a pull request opened or updated with
//! the title and body of `parity pr-body V`. Re-running it with nothing changed does nothing;
//! a branch holding commits parity did not make is never pushed over (exit 1, naming them).

use std::path::PathBuf;

use clap::Args;
use parity_rules::publish::{self, Outcome, Publish, PullRequest};
use parity_rules::release::Settings;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The version, `X.Y.Z`; `PIPELINE:X.Y.Z` names a workspace's member pipeline.
    #[arg(value_name = "[PIPELINE:]VERSION", value_parser = cli::member_version_arg)]
    version: cli::MemberVersion,
    /// The git remote to push to.
    #[arg(long, default_value = "origin")]
    remote: String,
    /// The branch the pull request targets.
    #[arg(long, value_name = "BRANCH", env = "GITHUB_REF_NAME")]
    base: String,
    /// The repository of the pull request; without it the branch is only pushed.
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    repo: Option<String>,
    /// Copy the files that differ from the base into DIR first, with their list in
    /// `DIR/changed-files.txt` (for an artifact, when the token may not push or open PRs).
    #[arg(long, value_name = "DIR")]
    changed_files: Option<PathBuf>,
}

pub fn exec(g: &GlobalArgs, a: PublishArgs) -> anyhow::Result<i32> {
    let version = a.version.version.to_string();
    let workspace = cli::pipeline(g)?;
    let pinned = cli::upstream(&workspace, a.version.member.as_deref())?;
    let (pipeline, upstream) = (pinned.pipeline, &pinned.upstream);
    let pr = parity_rules::pr_body::render(&pipeline.root, upstream.tool(), &version)?;
    let lock = parity_engine::fsutil::parent_dir(&g.pipeline).join("pipeline.lock");
    let settings = Settings::from_env();
    let p = Publish {
        dir: std::env::current_dir()?,
        paths: [
            g.pipeline.as_path(),
            lock.as_path(),
            pipeline.root.as_path(),
        ]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect(),
        version: version.clone(),
        branch: upstream.automation_branch(&version),
        remote: a.remote,
        base: a.base,
        repo: a.repo.filter(|r| !r.is_empty()),
        api: settings.api(upstream.github_api()).to_string(),
        title: pr.title,
        body: pr.body,
        changed_files: a.changed_files,
    };
    let branch = p.branch.clone();
    let pr = match publish::publish(&p, &settings.http()?)? {
        Outcome::NothingToPropose => {
            eprintln!("publish: nothing to propose: the files equal `{}`", p.base);
            return Ok(0);
        }
        Outcome::UpToDate { pr } => {
            eprintln!("publish: `{branch}` already holds this result: nothing pushed");
            pr
        }
        Outcome::Pushed { commit, pr } => {
            eprintln!("publish: pushed {commit} to `{branch}` on `{}`", p.remote);
            pr
        }
    };
    match pr {
        Some(PullRequest::Opened(n)) => eprintln!("publish: opened pull request #{n}"),
        Some(PullRequest::Open(n)) => eprintln!("publish: pull request #{n} is open"),
        Some(PullRequest::NotPermitted(why)) => eprintln!(
            "warning: this token may not open pull requests ({why}): `{branch}` is pushed and the changed files are in the workflow's artifact; set the CODEX_AUTOMATION_TOKEN secret (docs/ci-workflows.md)"
        ),
        None => eprintln!("publish: no --repo (GITHUB_REPOSITORY): no pull request"),
    }
    Ok(0)
}
