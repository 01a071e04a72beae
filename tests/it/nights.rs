//! The nightly loop, closed, through the real CLI: a loopback GitHub (releases API and assets,
//! with a draft, a prerelease and an `-alpha` tag among the stable releases), a directory
//! remote cache carried between "jobs" as update-snapshot.yml carries it (one directory per
//! runner, merged for the assembling job), and workspaces standing for the Linux, macOS and
//! Windows runners (`PARITY_HOST`). Every step is a `parity` command a workflow step runs.
//!
//! The binaries are a "replay codex": a shell script that answers `--help`, `help <path>`,
//! `<path> --help`, `--version` and `features list` with help rendered from the committed
//! snapshot of codex 0.97.0, so the example wrapper's claims hold against it and its union is
//! covered as 0.97.0's is; a version can drop units to change what upstream offers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::chain::{LINUX, MAC, TARGETS, WINDOWS, at, not_fresh, parity, read_json, serve_release};
use crate::http::{Reply, Server};
use crate::support::{Project, Run, clone_workspace as clone_of, repo};

/// Decides what a replayed binary keeps: `(command path, None)` for a command, `(path,
/// Some(flag key or arg name))` for its units.
type Keep<'a> = &'a dyn Fn(&[String], Option<&str>) -> bool;

fn keep_all(_: &[String], _: Option<&str>) -> bool {
    true
}

fn snapshot_097() -> Value {
    let path = repo().join("cli_manifests/codex/snapshots/0.97.0/x86_64-unknown-linux-musl.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// clap-style help of one command of `snapshot`, with the children `keep` leaves.
fn render_help(cmd: &Value, children: &[&str], keep: Keep<'_>) -> String {
    let path = strings(&cmd["path"]);
    let mut out = vec![format!("About {}", path.join(" ")), String::new()];
    if let Some(about) = cmd["about"].as_str() {
        out.extend(about.lines().map(String::from));
        out.push(String::new());
    }
    if let Some(usage) = cmd["usage"].as_str() {
        for (i, line) in usage.lines().enumerate() {
            out.push(if i == 0 {
                format!("Usage: {line}")
            } else {
                format!("       {line}")
            });
        }
        out.push(String::new());
    }
    if !children.is_empty() {
        out.push("Commands:".into());
        out.extend(children.iter().map(|c| format!("  {c}  Run {c}")));
        out.push(String::new());
    }
    let args: Vec<&Value> = cmd["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| keep(&path, a["name"].as_str()))
        .collect();
    if !args.is_empty() {
        out.push("Arguments:".into());
        for a in args {
            let name = a["name"].as_str().unwrap();
            let mut head = if a["required"] == true {
                format!("<{name}>")
            } else {
                format!("[{name}]")
            };
            if a["variadic"] == true {
                head.push_str("...");
            }
            let note = a["note"].as_str().and_then(|n| n.lines().next());
            out.push(format!("  {head}  {}", note.unwrap_or("An argument")));
        }
        out.push(String::new());
    }
    let flags: Vec<&Value> = cmd["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| keep(&path, f["long"].as_str().or(f["short"].as_str())))
        .collect();
    if !flags.is_empty() {
        out.push("Options:".into());
        for f in flags {
            let mut head = match (f["short"].as_str(), f["long"].as_str()) {
                (Some(s), Some(l)) => format!("{s}, {l}"),
                (Some(s), None) => s.to_string(),
                (None, Some(l)) => format!("    {l}"),
                (None, None) => unreachable!("a flag has a name"),
            };
            if let Some(v) = f["value_name"].as_str() {
                head.push_str(&format!(" <{v}>"));
                if f["repeatable"] == true {
                    head.push_str("...");
                }
            }
            out.push(format!("  {head}  A flag"));
        }
    }
    out.join("\n")
}

/// The replay codex of `version` for `target`: a shell script (its own bytes per target).
fn replay_codex(version: &str, target: &str, keep: Keep<'_>) -> Vec<u8> {
    let snapshot = snapshot_097();
    let commands: BTreeMap<Vec<String>, &Value> = snapshot["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (strings(&c["path"]), c))
        .filter(|(p, _)| keep(p, None))
        .collect();
    let mut sh = vec![
        "#!/usr/bin/env bash".to_string(),
        format!("# replay of codex {version} for {target}"),
        r#"while [[ "${1:-}" == "--enable" ]]; do shift 2; done"#.into(),
        r#"case "$*" in"#.into(),
        format!("  --version) echo \"codex-cli {version}\" ;;"),
        "  \"features list\")".into(),
        "    cat <<'HELP'".into(),
    ];
    for f in snapshot["features"]["listed"].as_array().unwrap() {
        sh.push(format!(
            "{}  {}  {}",
            f["name"].as_str().unwrap(),
            f["stage"].as_str().unwrap(),
            f["effective"]
        ));
    }
    sh.extend(["HELP".into(), "    ;;".into()]);
    for (path, cmd) in &commands {
        let children: Vec<&str> = commands
            .keys()
            .filter(|p| p.len() == path.len() + 1 && p.starts_with(path))
            .map(|p| p[path.len()].as_str())
            .collect();
        let pattern = if path.is_empty() {
            "--help".to_string()
        } else {
            format!("\"help {0}\"|\"{0} --help\"", path.join(" "))
        };
        sh.push(format!("  {pattern})"));
        sh.push("    cat <<'HELP'".into());
        sh.push(render_help(cmd, &children, keep));
        sh.extend(["HELP".into(), "    ;;".into()]);
    }
    sh.push(r#"  *) echo "error: unrecognized subcommand '$*'" >&2; exit 2 ;;"#.into());
    sh.push("esac".into());
    (sh.join("\n") + "\n").into_bytes()
}

/// `rust-v{version}` as the release list has it.
fn listed(version: &str, draft: bool, prerelease: bool) -> Value {
    json!({"tag_name": format!("rust-v{version}"), "draft": draft, "prerelease": prerelease,
           "published_at": if draft { Value::Null } else { json!("2026-04-01T00:00:00Z") },
           "assets": []})
}

/// The release list: the stable `versions` (newest first) around a draft, a prerelease and an
/// `-alpha` tag that would each be the newest if they counted.
fn serve_list(github: &Server, stable: &[&str]) {
    let mut list = vec![
        listed("99.0.0", true, false),
        listed("98.0.0", false, true),
        listed("97.0.0-alpha.1", false, false),
    ];
    list.extend(stable.iter().map(|v| listed(v, false, false)));
    list.push(listed("0.97.0", false, false));
    github.route(
        "/repos/openai/codex/releases?per_page=100",
        vec![Reply::json(&Value::Array(list))],
    );
}

/// `file:///…` of a directory.
fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Copies every file of `from` into `to` (a downloaded artifact merged into another).
fn merge_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            merge_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Every file of a project but `cache/`, with its bytes.
fn tree_bytes(p: &Project) -> BTreeMap<String, Vec<u8>> {
    p.tree()
        .into_iter()
        .filter(|f| !f.starts_with("cache") && p.path(f).is_file())
        .map(|f| {
            let bytes = std::fs::read(p.path(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// The env of a runner of `target`: the host it stands for.
fn host(target: &str) -> Vec<(&'static str, &str)> {
    if target == LINUX {
        Vec::new()
    } else {
        vec![("PARITY_HOST", target)]
    }
}

/// What one update-snapshot.yml run does for `version`, as its jobs do it; returns the
/// assembling job's workspace (the pull request's tree). `cache_for` is the remote directory of
/// each runner's job (made unwritable by a fault test).
struct Update<'a> {
    github: &'a Server,
    tmp: &'a Path,
    version: &'a str,
}

impl Update<'_> {
    /// setup job: `parity pin V` in a checkout of `main`; its tree goes to every other job.
    fn setup(&self, main: &Project) -> Project {
        let setup = clone_of(main.root());
        parity(
            &setup,
            self.github,
            &[],
            &["pin", &format!("codex:{}", self.version)],
        )
        .ok();
        setup
    }

    fn remote(&self, target: &str) -> PathBuf {
        self.tmp.join(format!("remote-{}-{target}", self.version))
    }

    /// setup job: `parity jobs codex:V`, the runner of each target and the pattern it builds.
    fn jobs(&self, pinned: &Project) -> BTreeMap<String, Value> {
        let run = parity(
            pinned,
            self.github,
            &[],
            &["jobs", &format!("codex:{}", self.version), "--json"],
        );
        run.ok();
        let jobs: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(jobs["root"], crate::chain::ROOT);
        assert_eq!(
            jobs["branch"],
            format!("automation/codex-cli-{}", self.version)
        );
        jobs["matrix"]["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["target"].as_str().unwrap().to_string(), r.clone()))
            .collect()
    }

    /// snapshot job of `target`, as its entry of the jobs' matrix says: every node of the
    /// version on that target, its snapshot and validation published (required).
    fn runner(&self, pinned: &Project, target: &str) -> Run {
        let job = &self.jobs(pinned)[target];
        let work = clone_of(pinned.root());
        let url = file_url(&self.remote(target));
        parity(
            &work,
            self.github,
            &host(target),
            &[
                "build",
                "--json",
                "--remote-cache",
                &url,
                "--remote-required",
                job["nodes"].as_str().unwrap(),
            ],
        )
    }

    /// assemble job: the directories the runners of `published` uploaded, merged; the rest
    /// built on Linux (required).
    fn assemble(&self, pinned: &Project, published: &[&str]) -> (Project, Run) {
        let merged = self
            .tmp
            .join(format!("remote-{}-{}", self.version, published.join("+")));
        std::fs::create_dir_all(&merged).unwrap();
        for t in published {
            merge_dir(&self.remote(t), &merged);
        }
        let job = clone_of(pinned.root());
        let url = file_url(&merged);
        let run = parity(
            &job,
            self.github,
            &[],
            &[
                "build",
                "--json",
                "--remote-cache",
                &url,
                "--remote-required",
                "codex",
            ],
        );
        (job, run)
    }
}

/// The pull request merged: its tree becomes `main`'s.
fn merge(pr: &Project, main: &Project) {
    for f in ["pipeline.toml", "pipeline.lock"] {
        std::fs::copy(pr.path(f), main.path(f)).unwrap();
    }
    std::fs::remove_dir_all(main.path(crate::chain::ROOT)).unwrap();
    crate::support::copy_dir(&pr.path(crate::chain::ROOT), &main.path(crate::chain::ROOT));
}

/// release-watch.yml's `parity watch --all --github-output`: every member with a release
/// source (the Claude Code member's bucket says `stable` is 2.1.29, which it already tracks);
/// returns the codex member's decision, after checking that the step outputs agree with it.
fn watch(main: &Project, github: &Server) -> BTreeMap<String, String> {
    github.route("/bucket/stable", vec![Reply::ok("2.1.29\n")]);
    let out = main.path("gh-output");
    let _ = std::fs::remove_file(&out);
    let out_s = out.to_string_lossy().into_owned();
    let bucket = github.url("/bucket");
    let run = parity(
        main,
        github,
        &[("GITHUB_OUTPUT", &out_s), ("PARITY_CLAUDE_BUCKET", &bucket)],
        &["watch", "--all", "--json", "--github-output"],
    );
    run.ok();
    let text = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let outputs: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let all: Value = serde_json::from_str(&run.stdout).unwrap();
    let of = |name: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|d| d["pipeline"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {all}"))
            .clone()
    };
    let (codex, claude) = (of("codex"), of("claude"));
    assert_eq!(claude["new"], false, "{claude}");
    let new = codex["new"].as_bool().unwrap();
    let candidates = if new {
        json!([{"pipeline": "codex", "version": codex["candidate"]}])
    } else {
        json!([])
    };
    assert_eq!(outputs["new"], new.to_string(), "{text}");
    assert_eq!(outputs["candidates"], candidates.to_string(), "{text}");
    ["new", "candidate", "reason"]
        .iter()
        .map(|k| {
            let v = &codex[*k];
            (
                k.to_string(),
                v.as_str().map_or(v.to_string(), String::from),
            )
        })
        .collect()
}

/// One night with a new release `version`: watch proposes it, setup pins it, every runner
/// publishes its snapshot and validation, the assembling job builds the rest; returns the
/// assembled tree and the outcomes of its build.
fn new_version_night(
    main: &Project,
    github: &Server,
    tmp: &Path,
    version: &str,
) -> (Project, BTreeMap<String, String>) {
    let decision = watch(main, github);
    assert_eq!(decision["new"], "true", "{decision:?}");
    assert_eq!(decision["candidate"], version);
    let update = Update {
        github,
        tmp,
        version,
    };
    let pinned = update.setup(main);
    let jobs = update.jobs(&pinned);
    assert_eq!(jobs.len(), TARGETS.len(), "{jobs:?}");
    for (t, runner) in [
        (LINUX, "ubuntu-latest"),
        (MAC, "macos-latest"),
        (WINDOWS, "windows-latest"),
    ] {
        assert_eq!(jobs[t]["runner"], runner);
        assert_eq!(
            jobs[t]["uploads"],
            format!("cache/out/{}/raw_help/{version}/{t}", crate::chain::ROOT)
        );
    }
    for t in TARGETS {
        let run = update.runner(&pinned, t);
        run.ok();
        let outcomes = run.outcomes();
        for node in [
            format!("codex:snapshot@{version}/{t}"),
            format!("codex:validation@{version}/{t}"),
        ] {
            assert_eq!(
                outcomes.get(&node).map(String::as_str),
                Some("ran"),
                "{node}: {outcomes:?}"
            );
        }
        assert!(run.summary()["remote_cache"]["uploads"].as_u64().unwrap() >= 3);
    }
    let downloads = asset_hits(github, version);
    let (pr, run) = update.assemble(&pinned, &TARGETS);
    run.ok();
    assert_eq!(
        asset_hits(github, version),
        downloads,
        "the assembling job downloads no release asset"
    );
    let outcomes = run.outcomes();
    for t in TARGETS {
        for node in [
            format!("codex:snapshot@{version}/{t}"),
            format!("codex:validation@{version}/{t}"),
            format!("codex:binary@{version}/{t}"),
        ] {
            assert_eq!(outcomes[&node], "remote", "{node}: {outcomes:?}");
        }
    }
    for node in [
        format!("codex:union@{version}"),
        format!("codex:report@{version}"),
        format!("codex:version@{version}"),
    ] {
        assert_eq!(outcomes[&node], "ran", "{node}");
    }
    parity(&pr, github, &[], &["verify"]).ok();
    (pr, outcomes)
}

fn asset_hits(github: &Server, version: &str) -> usize {
    TARGETS
        .iter()
        .map(|t| {
            let ext = if *t == WINDOWS { "exe" } else { "tar.gz" };
            github.hits(&format!("/download/rust-v{version}/codex-{t}.{ext}"))
        })
        .sum()
}

fn assert_promoted(pr: &Project, github: &Server, version: &str) {
    let meta = read_json(pr, &at(&format!("versions/{version}.json")));
    assert_eq!(meta["status"], "validated", "{meta}");
    assert_eq!(meta["validation"]["passed_targets"], json!(TARGETS));
    assert_eq!(meta["artifacts"]["union_complete"], true);
    let union = read_json(pr, &at(&format!("snapshots/{version}/union.json")));
    assert_eq!(union["complete"], true);
    assert_eq!(pr.read(&at("latest_validated.txt")), format!("{version}\n"));
    assert_eq!(
        pr.read(&at(&format!("pointers/latest_validated/{LINUX}.txt"))),
        format!("{version}\n")
    );
    assert_eq!(
        pr.read(&at("current.json")),
        pr.read(&at(&format!("snapshots/{version}/union.json")))
    );
    for t in TARGETS {
        let result = read_json(pr, &at(&format!("validation/{version}/{t}.json")));
        assert_eq!(result["result"], "passed", "{t}: {result}");
        assert_eq!(result["check"], "help-surface");
    }
    let body = parity(pr, github, &[], &["pr-body", &format!("codex:{version}")]);
    body.ok();
    assert!(
        body.stdout.starts_with(&format!(
            "codex {version}: snapshots, reports and metadata (validated)\n"
        )),
        "{}",
        body.stdout
    );
    assert!(
        body.stdout.contains(&format!(
            "Promoted: `latest_validated.txt`, the pointers and `current.json` now point at {version}."
        )),
        "{}",
        body.stdout
    );
}

const V1: &str = "9.9.9";
const V2: &str = "9.9.10";
const V3: &str = "9.9.11";

/// Serves `version` with replay binaries: what `keep` leaves, and on Linux only what
/// `linux_keep` leaves too.
fn publish_release(github: &Server, version: &str, keep: Keep<'_>, linux_keep: Keep<'_>) {
    serve_release(github, version, "2026-04-01T00:00:00Z", |t| {
        let both = |p: &[String], u: Option<&str>| keep(p, u) && (t != LINUX || linux_keep(p, u));
        replay_codex(version, t, &both)
    });
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn three_nights_release_pin_snapshots_validation_promotion_then_nothing_then_again() {
    let github = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let main = clone_of(&repo());

    // Night 1: 9.9.9 and 9.9.10 are out; stable-minus-one proposes 9.9.9.
    serve_list(&github, &[V2, V1]);
    publish_release(&github, V1, &keep_all, &keep_all);
    let (pr, _) = new_version_night(&main, &github, tmp.path(), V1);
    assert_promoted(&pr, &github, V1);
    let body = parity(&pr, &github, &[], &["pr-body", &format!("codex:{V1}")]).stdout;
    assert!(body.contains("### Upstream changes since 0.97.0"), "{body}");
    merge(&pr, &main);
    assert!(not_fresh(&main, &github).is_empty());

    // Night 2: nothing new. The watch says so (exit 0 for the workflow), and the CI build of
    // main runs no rule and changes no byte.
    let decision = watch(&main, &github);
    assert_eq!(decision["new"], "false");
    assert_eq!(
        decision["reason"],
        format!("the candidate {V1} is already the latest validated version")
    );
    let before = tree_bytes(&main);
    let requests = github.auth().len();
    let run = parity(&main, &github, &[], &["build", "--json"]);
    run.ok();
    assert!(
        run.outcomes().values().all(|o| o == "fresh"),
        "{:?}",
        run.outcomes()
    );
    assert_eq!(run.summary()["ran"], 0);
    assert_eq!(tree_bytes(&main), before, "no file changed");
    parity(&main, &github, &[], &["verify"]).ok();
    assert_eq!(github.auth().len(), requests, "no request but the watch's");

    // Night 3: 9.9.11 is out, so 9.9.10 is proposed; upstream dropped `completion` (which the
    // wrapper leaves unsupported on purpose, so the version is still validated).
    serve_list(&github, &[V3, V2, V1]);
    let no_completion = |p: &[String], _: Option<&str>| p.first().is_none_or(|c| c != "completion");
    publish_release(&github, V2, &no_completion, &keep_all);
    let (pr, _) = new_version_night(&main, &github, tmp.path(), V2);
    assert_promoted(&pr, &github, V2);
    let body = parity(&pr, &github, &[], &["pr-body", &format!("codex:{V2}")]).stdout;
    assert!(
        body.contains(&format!("### Upstream changes since {V1}")),
        "{body}"
    );
    assert!(
        body.contains("- commands removed (1): `completion`"),
        "{body}"
    );
    assert!(
        body.contains("- [ ] wrapper-only command `completion`"),
        "{body}"
    );
    // 9.9.9 is still validated, its pointers moved on.
    assert_eq!(
        read_json(&pr, &at(&format!("versions/{V1}.json")))["status"],
        "validated"
    );
    merge(&pr, &main);
    assert!(not_fresh(&main, &github).is_empty());
    parity(&main, &github, &[], &["verify"]).ok();
    assert_eq!(watch(&main, &github)["new"], "false");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn an_unwritable_cache_fails_the_macos_job_and_a_linux_validation_failure_keeps_the_version_reported()
 {
    let github = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let main = clone_of(&repo());
    serve_list(&github, &[V2, V1]);
    // The Linux binary of 9.9.9 lacks `exec resume --all`, which the wrapper claims.
    let no_resume_all =
        |p: &[String], u: Option<&str>| !(p == ["exec", "resume"] && u == Some("--all"));
    publish_release(&github, V1, &keep_all, &no_resume_all);
    let update = Update {
        github: &github,
        tmp: tmp.path(),
        version: V1,
    };
    let pinned = update.setup(&main);

    // The macOS job cannot write its cache directory (its `cas` is a file): that job fails,
    // naming the node and the directory, instead of passing and leaving the union incomplete.
    let mac_dir = update.remote(MAC);
    std::fs::create_dir_all(mac_dir.join("ac")).unwrap();
    std::fs::write(mac_dir.join("cas"), "not a directory\n").unwrap();
    let run = update.runner(&pinned, MAC);
    run.code(1);
    let failed: Vec<String> = run
        .outcomes()
        .into_iter()
        .filter(|(_, o)| o == "failed")
        .map(|(n, _)| n)
        .collect();
    assert!(!failed.is_empty(), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("remote cache `{}", file_url(&mac_dir))),
        "{}",
        run.stdout
    );
    // Had the assembling job run anyway, it would stop there too, not build a partial union.
    for t in [LINUX, WINDOWS] {
        update.runner(&pinned, t).ok();
    }
    let (partial, run) = update.assemble(&pinned, &[LINUX, WINDOWS]);
    run.code(1);
    assert_eq!(
        run.outcomes()[&format!("codex:snapshot@{V1}/{MAC}")],
        "failed"
    );
    assert!(!partial.exists(&at(&format!("snapshots/{V1}/union.json"))));

    // The macOS job re-run with a working directory: the night completes, but Linux failed
    // validation, so 9.9.9 stays `reported` and nothing is promoted.
    std::fs::remove_file(mac_dir.join("cas")).unwrap();
    update.runner(&pinned, MAC).ok();
    let (pr, run) = update.assemble(&pinned, &TARGETS);
    run.ok();
    let linux = read_json(&pr, &at(&format!("validation/{V1}/{LINUX}.json")));
    assert_eq!(linux["result"], "failed");
    assert_eq!(
        linux["failures"],
        json!([{"claim": "flag `exec resume --all`", "reason": "not in the command's help"}])
    );
    let meta = read_json(&pr, &at(&format!("versions/{V1}.json")));
    assert_eq!(meta["status"], "reported");
    assert_eq!(meta["validation"]["failed_targets"], json!([LINUX]));
    assert_eq!(meta["validation"]["passed_targets"], json!([MAC, WINDOWS]));
    for f in [
        "latest_validated.txt".to_string(),
        format!("pointers/latest_validated/{LINUX}.txt"),
        format!("pointers/latest_supported/{LINUX}.txt"),
        "current.json".to_string(),
    ] {
        assert_eq!(pr.read(&at(&f)), main.read(&at(&f)), "{f} moved");
    }
    parity(&pr, &github, &[], &["verify"]).ok();
    let body = parity(&pr, &github, &[], &["pr-body", &format!("codex:{V1}")]);
    body.ok();
    for line in [
        format!("codex {V1}: snapshots, reports and metadata (reported)"),
        "**Not promoted**: the status is `reported`, so `latest_validated.txt` and the pointers stay at 0.97.0: validation failed on `x86_64-unknown-linux-musl`.".to_string(),
        format!("| `{LINUX}` | **failed** | help-surface: 21 commands, 64 flags/args |"),
        format!("- `{LINUX}`: flag `exec resume --all`: not in the command's help"),
    ] {
        assert!(body.stdout.contains(&line), "no `{line}` in:\n{}", body.stdout);
    }

    // Merged as reported: the next night does not propose it again.
    merge(&pr, &main);
    let decision = watch(&main, &github);
    assert_eq!(decision["new"], "false");
    assert_eq!(
        decision["reason"],
        format!("the candidate {V1} is already tracked (`tracked` in `versions.toml`)")
    );
}
