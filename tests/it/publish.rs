//! `parity publish V` against a real git remote (a bare repository) and a loopback GitHub API:
//! idempotent, never forced, never over commits it did not make.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::http::{Reply, Server};
use crate::support::{Project, Run};
use crate::support::{clone_workspace as clone_of, repo};

const BRANCH: &str = "automation/codex-cli-0.97.0";
const LIST: &str = "/repos/me/wrapper/pulls?head=me:automation/codex-cli-0.97.0&state=open";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Maintainer",
            "-c",
            "user.email=maintainer@example.com",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn publish(p: &Project, github: &Server) -> Run {
    p.parity_env(
        &[
            ("PARITY_GITHUB_API", github.base()),
            ("GITHUB_TOKEN", "t0k3n"),
            ("GITHUB_REPOSITORY", "me/wrapper"),
            ("GITHUB_REF_NAME", "main"),
        ],
        &["publish", "codex:0.97.0", "--changed-files", "_changed"],
    )
}

fn remote_tip(origin: &Path) -> Option<String> {
    let out = git(origin, &["ls-remote", "--heads", ".", BRANCH]);
    out.split('\t')
        .next()
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn writes(github: &Server) -> Vec<(String, String, Value)> {
    github
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| {
            (
                r.method,
                r.target,
                serde_json::from_str(&r.body).unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[test]
fn publish_pushes_once_updates_on_top_and_never_over_a_maintainers_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin.git");
    git(
        tmp.path(),
        &["init", "--quiet", "--bare", "-b", "main", "origin.git"],
    );
    let work = clone_of(&repo());
    let w = work.root();
    git(w, &["init", "--quiet", "-b", "main"]);
    work.write(".gitignore", "cache/\n_changed/\n");
    git(w, &["add", "-A"]);
    git(w, &["commit", "--quiet", "-m", "main"]);
    git(w, &["remote", "add", "origin", &origin.to_string_lossy()]);
    git(w, &["push", "--quiet", "origin", "main"]);
    let main = git(w, &["rev-parse", "HEAD"]);

    let github = Server::start();
    github.route(LIST, vec![Reply::json(&json!([]))]);
    github.route(
        "/repos/me/wrapper/pulls",
        vec![Reply::json(&json!({"number": 7})).status_code(201)],
    );
    github.route(
        "/repos/me/wrapper/pulls/7",
        vec![Reply::json(&json!({"number": 7}))],
    );

    // Nothing differs from main: nothing to propose.
    let run = publish(&work, &github);
    run.ok();
    assert!(run.stderr.contains("nothing to propose"), "{}", run.stderr);
    assert_eq!(remote_tip(&origin), None);

    // The night's result: a commit on main, pushed, and the pull request opened.
    work.write("cli_manifests/codex/notes.txt", "night 1\n");
    let run = publish(&work, &github);
    run.ok();
    assert!(
        run.stderr.contains("opened pull request #7"),
        "{}",
        run.stderr
    );
    let tip = remote_tip(&origin).expect("the branch was pushed");
    assert_eq!(git(&origin, &["rev-parse", &format!("{tip}^")]), main);
    assert_eq!(
        git(&origin, &["log", "-1", "--format=%an <%ae>%n%s", &tip]),
        "parity-automation <parity-automation@users.noreply.github.com>\ncodex 0.97.0: snapshots, reports and metadata (validated)"
    );
    assert_eq!(
        git(
            &origin,
            &["show", &format!("{tip}:cli_manifests/codex/notes.txt")]
        ),
        "night 1"
    );
    let w1 = writes(&github);
    assert_eq!(w1.len(), 1, "{w1:?}");
    assert_eq!(
        (w1[0].0.as_str(), w1[0].1.as_str()),
        ("POST", "/repos/me/wrapper/pulls")
    );
    assert_eq!(w1[0].2["head"], BRANCH);
    assert_eq!(w1[0].2["base"], "main");
    assert!(
        w1[0].2["body"]
            .as_str()
            .unwrap()
            .contains("## codex 0.97.0: `validated`")
    );
    assert_eq!(
        work.read("_changed/changed-files.txt"),
        "cli_manifests/codex/notes.txt\n"
    );
    assert_eq!(
        work.read("_changed/cli_manifests/codex/notes.txt"),
        "night 1\n"
    );

    // Re-run with nothing changed: no push, no write to the API.
    github.route(LIST, vec![Reply::json(&json!([{"number": 7}]))]);
    let run = publish(&work, &github);
    run.ok();
    assert!(
        run.stderr.contains("already holds this result"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("pull request #7 is open"),
        "{}",
        run.stderr
    );
    assert_eq!(remote_tip(&origin).as_deref(), Some(tip.as_str()));
    assert_eq!(writes(&github).len(), 1);

    // A new result: a normal push on top of parity's own commit, the pull request updated.
    work.write("cli_manifests/codex/notes.txt", "night 1, re-run\n");
    publish(&work, &github).ok();
    let tip2 = remote_tip(&origin).unwrap();
    assert_eq!(git(&origin, &["rev-parse", &format!("{tip2}^")]), tip);
    let w2 = writes(&github);
    assert_eq!(
        (w2[1].0.as_str(), w2[1].1.as_str()),
        ("PATCH", "/repos/me/wrapper/pulls/7")
    );

    // A maintainer commits on the branch: the next run stops, naming it, and pushes nothing.
    let m = tmp.path().join("maintainer");
    git(
        tmp.path(),
        &[
            "clone",
            "--quiet",
            "-b",
            BRANCH,
            &origin.to_string_lossy(),
            "maintainer",
        ],
    );
    std::fs::write(m.join("cli_manifests/codex/notes.txt"), "fixed by hand\n").unwrap();
    git(
        &m,
        &["commit", "--quiet", "-am", "wrapper: cover the new flag"],
    );
    git(&m, &["push", "--quiet", "origin", BRANCH]);
    let theirs = remote_tip(&origin).unwrap();
    work.write("cli_manifests/codex/notes.txt", "night 1, again\n");
    let run = publish(&work, &github);
    run.code(1);
    assert!(
        run.stderr.contains("has commits parity did not make")
            && run
                .stderr
                .contains("Maintainer: wrapper: cover the new flag"),
        "{}",
        run.stderr
    );
    assert_eq!(remote_tip(&origin).as_deref(), Some(theirs.as_str()));

    // Merged: main holds the result, the branch is gone. Nothing to propose, nothing pushed.
    work.write("cli_manifests/codex/notes.txt", "fixed by hand\n");
    git(w, &["add", "-A"]);
    git(w, &["commit", "--quiet", "-m", "merge"]);
    git(
        w,
        &["push", "--quiet", "origin", "main", &format!(":{BRANCH}")],
    );
    let run = publish(&work, &github);
    run.ok();
    assert!(run.stderr.contains("nothing to propose"), "{}", run.stderr);
    assert_eq!(remote_tip(&origin), None);

    // A token that may not open pull requests: the branch is pushed, the run succeeds with a
    // warning pointing at the artifact.
    work.write("cli_manifests/codex/notes.txt", "night 3\n");
    github.route(LIST, vec![Reply::json(&json!([]))]);
    github.route(
        "/repos/me/wrapper/pulls",
        vec![Reply::json(&json!({"message": "GitHub Actions is not permitted to create or approve pull requests."})).status_code(403)],
    );
    let run = publish(&work, &github);
    run.ok();
    assert!(
        run.stderr
            .contains("warning: this token may not open pull requests"),
        "{}",
        run.stderr
    );
    assert!(remote_tip(&origin).is_some());
}
