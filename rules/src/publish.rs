//! Proposing a version (`parity publish V`): the pipeline's files as they are now, committed on
//! `automation/codex-cli-V` and pushed without force, then a pull request opened (or updated)
//! through the GitHub API. Idempotent:
//!
//! | the branch on the remote                              | what happens                        |
//! |-------------------------------------------------------|-------------------------------------|
//! | absent, and the files equal the base                  | nothing to propose (exit 0)         |
//! | absent                                                | a commit on the base, pushed        |
//! | holds exactly these files                             | nothing pushed; the PR ensured      |
//! | differs, every commit since the base made by parity   | a commit on top of it, pushed       |
//! | differs, with a commit parity did not make            | stop, naming it (exit 1), no push   |
//!
//! Git runs as a child process (`git` on PATH) in the checkout; the push uses the checkout's
//! credentials, the API the token of [`Http`].

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::release::http::Http;

/// The identity of the commits parity makes (and recognizes as its own).
pub const AUTHOR_NAME: &str = "parity-automation";
/// See [`AUTHOR_NAME`].
pub const AUTHOR_EMAIL: &str = "parity-automation@users.noreply.github.com";

/// What to publish and where.
#[derive(Debug, Clone)]
pub struct Publish {
    /// The checkout (its HEAD is the base commit).
    pub dir: PathBuf,
    /// The paths committed, relative to `dir` (the pipeline file, its lock, its root).
    pub paths: Vec<String>,
    /// The version proposed.
    pub version: String,
    /// The branch it is proposed on (`automation/codex-cli-V`: [`Upstream::automation_branch`]).
    ///
    /// [`Upstream::automation_branch`]: crate::release::Upstream::automation_branch
    pub branch: String,
    /// The git remote pushed to.
    pub remote: String,
    /// The branch the pull request targets.
    pub base: String,
    /// `owner/name` for the pull request; `None`: push only.
    pub repo: Option<String>,
    /// The API base URL.
    pub api: String,
    /// Title and body of the commit and the pull request.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Where to copy the files that differ from the base (the artifact fallback).
    pub changed_files: Option<PathBuf>,
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The files equal the base: nothing to propose.
    NothingToPropose,
    /// The branch already held these files.
    UpToDate {
        /// The pull request, when one was ensured.
        pr: Option<PullRequest>,
    },
    /// A commit was pushed.
    Pushed {
        /// The commit.
        commit: String,
        /// The pull request, when one was ensured.
        pr: Option<PullRequest>,
    },
}

/// The pull request of the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequest {
    /// Opened by this run.
    Opened(u64),
    /// Already open (its title and body updated when a commit was pushed).
    Open(u64),
    /// The token may not open pull requests (an organization setting): the branch is pushed,
    /// the changed files are in the artifact.
    NotPermitted(String),
}

/// Commits, pushes and opens or updates the pull request, as the table above says.
pub fn publish(p: &Publish, http: &Http) -> Result<Outcome> {
    let git = Git { dir: &p.dir };
    let branch = p.branch.clone();
    let base = git.out(&["rev-parse", "HEAD"])?;
    let tree = git.tree_of_paths(&p.paths)?;
    let base_tree = git.out(&["rev-parse", "HEAD^{tree}"])?;
    let remote_tip = git.remote_branch(&p.remote, &branch)?;
    if let Some(dir) = &p.changed_files {
        git.copy_changed(&base_tree, &tree, dir)?;
    }
    let parent = match &remote_tip {
        None if tree == base_tree => return Ok(Outcome::NothingToPropose),
        None => vec![base.clone()],
        Some(tip) => {
            git.run(&[
                "fetch",
                "--no-tags",
                "--quiet",
                &p.remote,
                &format!("refs/heads/{branch}"),
            ])?;
            if git.out(&["rev-parse", &format!("{tip}^{{tree}}")])? == tree {
                let pr = ensure_pr(p, http, &branch, false)?;
                return Ok(Outcome::UpToDate { pr });
            }
            let foreign = git.foreign_commits(&base, tip)?;
            if !foreign.is_empty() {
                bail!(
                    "`{branch}` on `{}` has commits parity did not make:\n{}\nnot pushing over them: merge or close its pull request, or delete the branch, then run again",
                    p.remote,
                    foreign.join("\n")
                );
            }
            // A base that moved since the branch was made is merged in, so the pull request
            // shows only what this version changes.
            let mut parents = vec![tip.clone()];
            if !git.is_ancestor(&base, tip)? {
                parents.push(base.clone());
            }
            parents
        }
    };
    let message = format!("{}\n\n{}", p.title, p.body);
    let commit = git.commit_tree(&tree, &parent, &message)?;
    git.run(&[
        "push",
        "--quiet",
        &p.remote,
        &format!("{commit}:refs/heads/{branch}"),
    ])
    .with_context(|| {
        format!("failed to push `{branch}` (never forced: has it moved meanwhile?)")
    })?;
    let pr = ensure_pr(p, http, &branch, true)?;
    Ok(Outcome::Pushed { commit, pr })
}

/// Opens the pull request of `branch`, or finds the open one (and, when `update`, sets its
/// title and body). `None` without a repository.
fn ensure_pr(p: &Publish, http: &Http, branch: &str, update: bool) -> Result<Option<PullRequest>> {
    let Some(repo) = &p.repo else { return Ok(None) };
    let owner = repo.split('/').next().unwrap_or(repo);
    let api = p.api.trim_end_matches('/');
    let list = format!("{api}/repos/{repo}/pulls?head={owner}:{branch}&state=open");
    let open = match http.call_api(reqwest::Method::GET, &list, None)? {
        (200, Value::Array(prs)) => prs.first().and_then(|pr| pr["number"].as_u64()),
        (status, body) => bail!("`{list}` answered HTTP {status}: {body}"),
    };
    let content = json!({"title": p.title, "body": p.body});
    if let Some(n) = open {
        if update {
            let url = format!("{api}/repos/{repo}/pulls/{n}");
            match http.call_api(reqwest::Method::PATCH, &url, Some(&content))? {
                (200, _) => {}
                (status, body) => bail!("`{url}` answered HTTP {status}: {body}"),
            }
        }
        return Ok(Some(PullRequest::Open(n)));
    }
    let url = format!("{api}/repos/{repo}/pulls");
    let mut create = content;
    create["head"] = branch.into();
    create["base"] = p.base.clone().into();
    match http.call_api(reqwest::Method::POST, &url, Some(&create))? {
        (201, body) => Ok(Some(PullRequest::Opened(
            body["number"]
                .as_u64()
                .ok_or_else(|| anyhow!("`{url}` answered no `number`"))?,
        ))),
        (403 | 422, body)
            if body["message"].as_str().is_some_and(|m| {
                m.contains("not permitted to create or approve pull requests")
            }) =>
        {
            Ok(Some(PullRequest::NotPermitted(
                body["message"].as_str().unwrap_or_default().to_string(),
            )))
        }
        (status, body) => bail!("`{url}` answered HTTP {status}: {body}"),
    }
}

/// `git` in one checkout.
struct Git<'a> {
    dir: &'a Path,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(self.dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .env("GIT_TERMINAL_PROMPT", "0");
        cmd
    }

    fn output(&self, cmd: &mut Command, args: &[&str]) -> Result<std::process::Output> {
        let out = cmd
            .output()
            .with_context(|| format!("cannot run `git {}` (is git installed?)", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "`git {}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }

    /// Runs git; its trimmed stdout.
    fn out(&self, args: &[&str]) -> Result<String> {
        let out = self.output(&mut self.command(args), args)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn run(&self, args: &[&str]) -> Result<()> {
        self.out(args).map(drop)
    }

    /// The tree of HEAD with `paths` as they are in the work tree (a private index: the
    /// checkout's own index is not touched).
    fn tree_of_paths(&self, paths: &[String]) -> Result<String> {
        let index = tempfile::Builder::new()
            .prefix("parity-index-")
            .tempdir()
            .context("failed to create a temp dir for a git index")?;
        let index = index.path().join("index");
        let with_index = |args: &[&str]| -> Result<String> {
            let mut cmd = self.command(args);
            cmd.env("GIT_INDEX_FILE", &index);
            let out = self.output(&mut cmd, args)?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        with_index(&["read-tree", "HEAD"])?;
        let mut add = vec!["add", "--all", "--"];
        add.extend(paths.iter().map(String::as_str));
        with_index(&add)?;
        with_index(&["write-tree"])
    }

    /// The commit `refs/heads/{branch}` points at on `remote`, if the branch exists.
    fn remote_branch(&self, remote: &str, branch: &str) -> Result<Option<String>> {
        let refname = format!("refs/heads/{branch}");
        let out = self.out(&["ls-remote", "--heads", remote, &refname])?;
        Ok(out
            .lines()
            .find_map(|l| l.split_once('\t').filter(|(_, r)| *r == refname))
            .map(|(sha, _)| sha.to_string()))
    }

    /// Commits reachable from `tip` but not from `base` whose author is not parity, one line
    /// each (`sha author: subject`).
    fn foreign_commits(&self, base: &str, tip: &str) -> Result<Vec<String>> {
        let range = format!("{base}..{tip}");
        let log = self.out(&["log", "--format=%h%x09%ae%x09%an: %s", &range])?;
        Ok(log
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, '\t');
                let (sha, email, rest) = (parts.next()?, parts.next()?, parts.next()?);
                (email != AUTHOR_EMAIL).then(|| format!("  {sha} {rest}"))
            })
            .collect())
    }

    fn commit_tree(&self, tree: &str, parents: &[String], message: &str) -> Result<String> {
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.extend(["-p", p.as_str()]);
        }
        args.extend(["-m", message]);
        self.out(&args)
    }

    fn is_ancestor(&self, ancestor: &str, of: &str) -> Result<bool> {
        let args = ["merge-base", "--is-ancestor", ancestor, of];
        let status = self
            .command(&args)
            .status()
            .context("cannot run `git merge-base` (is git installed?)")?;
        match status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => bail!("`git {}` failed ({status})", args.join(" ")),
        }
    }

    /// Copies every file that differs between the trees `from` and `to` into `dir` (at its
    /// path), with the list in `dir/changed-files.txt`.
    fn copy_changed(&self, from: &str, to: &str, dir: &Path) -> Result<()> {
        let names = self.out(&["diff", "--name-only", "--no-renames", from, to])?;
        if names.is_empty() {
            return Ok(());
        }
        let mut list = String::new();
        for name in names.lines() {
            list.push_str(name);
            list.push('\n');
            let src = self.dir.join(name);
            if !src.is_file() {
                continue; // deleted
            }
            let dest = dir.join(name);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("failed to create `{}`", parent.display()))?;
            }
            std::fs::copy(&src, &dest)
                .with_context(|| format!("failed to copy `{}`", src.display()))?;
        }
        parity_engine::fsutil::write_atomic(&dir.join("changed-files.txt"), list.as_bytes())?;
        Ok(())
    }
}
