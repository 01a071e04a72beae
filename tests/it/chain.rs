//! The whole release chain of this repository's pipeline, through the CLI, in a temp copy of
//! the repository layout: `parity pin` -> `pins@V/T` + `lock` -> `binary@V/T` (downloaded from
//! a loopback "GitHub") -> `snapshot@V/T` -> `union@V` (incomplete on Linux, complete once the
//! macOS and Windows snapshots come from a remote cache filled by runs "on" those hosts) ->
//! `parity verify`. Plus the opt-in real-bytes test (`PARITY_REAL_CODEX_DIR`).

use std::collections::BTreeMap;
use std::path::PathBuf;

// The loopback server of the rules tests, loaded once (by `release`) for the whole binary.
use crate::http::{Reply, Server};
use crate::release::tar_gz;
use parity_engine::hash::sha256_hex;
use serde_json::{Value, json};

use crate::cache_server::CacheServer;
use crate::support::{Project, Run, clone_workspace as clone_of, repo};

pub(crate) const ROOT: &str = "cli_manifests/codex";
pub(crate) const LINUX: &str = "x86_64-unknown-linux-musl";
pub(crate) const MAC: &str = "aarch64-apple-darwin";
pub(crate) const WINDOWS: &str = "x86_64-pc-windows-msvc";
pub(crate) const TARGETS: [&str; 3] = [LINUX, MAC, WINDOWS];

pub(crate) fn at(rel: &str) -> String {
    format!("{ROOT}/{rel}")
}

/// `parity ARGS` in `p` with the GitHub API at `github` and the extra `env`.
pub(crate) fn parity(p: &Project, github: &Server, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut all = vec![("PARITY_GITHUB_API", github.base())];
    all.extend_from_slice(env);
    let run = p.parity_env(&all, args);
    assert!(
        !run.stderr.contains("panicked"),
        "parity {args:?} panicked:\n{}",
        run.stderr
    );
    run
}

/// The fake codex of the snapshot tests, answering `--version` with `codex {version}`, marked
/// with `target` so each target's binary has its own bytes. It runs on Linux whatever the
/// target: `PARITY_HOST` decides which host-bound nodes run, not what the binary is.
fn fake_codex(version: &str, target: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(repo().join("rules/tests/fixtures/snapshot/fake_codex.sh"))
        .unwrap();
    let text = text.replace(
        "echo \"codex 0.77.0\"",
        &format!("echo \"codex {version}\""),
    );
    assert!(
        text.contains(&format!("codex {version}")),
        "the fixture changed"
    );
    format!("{text}# fake build for {target}\n").into_bytes()
}

/// Serves the stable release `rust-v{version}` of `openai/codex` with one asset per target:
/// `.tar.gz` of `binary(target)`, `.exe` (the bytes as is) on Windows.
pub(crate) fn serve_release(
    github: &Server,
    version: &str,
    published_at: &str,
    binary: impl Fn(&str) -> Vec<u8>,
) {
    let mut assets = Vec::new();
    for target in TARGETS {
        let (name, bytes) = if target == WINDOWS {
            (format!("codex-{target}.exe"), binary(target))
        } else {
            (
                format!("codex-{target}.tar.gz"),
                tar_gz(&binary(target), target),
            )
        };
        let path = format!("/download/rust-v{version}/{name}");
        github.route(&path, vec![Reply::ok(bytes.clone())]);
        assets.push(json!({"name": name, "size": bytes.len(),
                           "browser_download_url": github.url(&path)}));
    }
    let release = json!({"tag_name": format!("rust-v{version}"), "draft": false,
                         "prerelease": false, "published_at": published_at, "assets": assets});
    github.route(
        &format!("/repos/openai/codex/releases/tags/rust-v{version}"),
        vec![Reply::json(&release)],
    );
}

pub(crate) fn read_json(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `status --json` states that are not `fresh`.
pub(crate) fn not_fresh(p: &Project, github: &Server) -> BTreeMap<String, String> {
    let run = parity(p, github, &[], &["status", "--json"]);
    run.ok();
    run.states()
        .into_iter()
        .filter(|(_, s)| s != "fresh")
        .collect()
}

const V: &str = "9.9.9";
/// `2026-04-01T00:00:00Z` in Unix seconds.
const EPOCH: i64 = 1_775_001_600;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn pin_build_snapshot_union_through_the_remote_cache_then_verify() {
    let github = Server::start();
    serve_release(&github, V, "2026-04-01T00:00:00Z", |t| fake_codex(V, t));
    let p = clone_of(&repo());
    parity(&p, &github, &[], &["build"]).ok();

    // pin: both lists and the epoch, a pin per target, the lock.
    parity(&p, &github, &[], &["pin", &format!("codex:{V}")]).ok();
    let versions = p.read(&at("versions.toml"));
    for line in [
        format!("tracked = [\"0.61.0\", \"0.92.0\", \"0.97.0\", \"{V}\"]\n"),
        format!("\npinned = [\"{V}\"]\n"),
        format!("\n\"{V}\" = {EPOCH}\n"),
    ] {
        assert!(versions.contains(&line), "no `{line}` in:\n{versions}");
    }
    let lock = read_json(&p, &at("artifacts.lock.json"));
    let locked: Vec<(&str, &str)> = lock["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["codex_version"].as_str().unwrap(),
                a["target_triple"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(locked, [(V, MAC), (V, WINDOWS), (V, LINUX)]);
    for t in TARGETS {
        let pin = read_json(&p, &at(&format!("pins/{V}/{t}.json")));
        assert_eq!(pin["published_at"], "2026-04-01T00:00:00Z");
    }

    // build on Linux: the Linux binary is acquired and crawled, macOS and Windows are blocked,
    // the union is built without them.
    let run = parity(&p, &github, &[], &["build", "--json"]);
    run.ok();
    let outcomes = run.outcomes();
    for (node, want) in [
        (format!("codex:binary@{V}/{LINUX}"), "ran"),
        (format!("codex:snapshot@{V}/{LINUX}"), "ran"),
        (format!("codex:snapshot@{V}/{MAC}"), "blocked"),
        (format!("codex:snapshot@{V}/{WINDOWS}"), "blocked"),
        (format!("codex:validation@{V}/{LINUX}"), "ran"),
        (format!("codex:validation@{V}/{MAC}"), "blocked"),
        (format!("codex:union@{V}"), "ran"),
        (format!("codex:report@{V}"), "ran"),
        (format!("codex:version@{V}"), "ran"),
        ("codex:validate".to_string(), "ran"),
    ] {
        assert_eq!(
            outcomes.get(&node).map(String::as_str),
            Some(want),
            "{node}: {outcomes:?}"
        );
    }
    let snapshot = read_json(&p, &at(&format!("snapshots/{V}/{LINUX}.json")));
    assert_eq!(snapshot["binary"]["semantic_version"], V);
    assert_eq!(snapshot["binary"]["target_triple"], LINUX);
    assert_eq!(snapshot["collected_at"], "2026-04-01T00:00:00Z");
    assert!(!p.exists(&at(&format!("snapshots/{V}/{MAC}.json"))));
    let union = read_json(&p, &at(&format!("snapshots/{V}/union.json")));
    assert_eq!(union["complete"], false);
    assert_eq!(union["missing_targets"], json!([MAC, WINDOWS]));
    assert!(p.exists(&at(&format!("versions/{V}.json"))));
    assert!(p.exists(&at(&format!("reports/{V}"))));

    let blocked: BTreeMap<String, String> = [MAC, WINDOWS]
        .iter()
        .flat_map(|t| {
            [
                format!("codex:snapshot@{V}/{t}"),
                format!("codex:validation@{V}/{t}"),
            ]
        })
        .map(|n| (n, "blocked".to_string()))
        .collect();
    assert_eq!(not_fresh(&p, &github), blocked);

    // The macOS and Windows runners (PARITY_HOST = their target) build their snapshot from the
    // pinned tree, into the remote cache.
    let cache = CacheServer::start();
    let url = cache.url();
    for host in [MAC, WINDOWS] {
        let runner = clone_of(p.root());
        let node = format!("codex:snapshot@{V}/{host}");
        let validation = format!("codex:validation@{V}/{host}");
        let run = parity(
            &runner,
            &github,
            &[("PARITY_HOST", host)],
            &[
                "build",
                "--json",
                "--remote-cache",
                &url,
                &node,
                &validation,
            ],
        );
        run.ok();
        assert_eq!(run.outcomes()[&node], "ran", "{}", run.stderr);
        assert_eq!(run.outcomes()[&validation], "ran", "{}", run.stderr);
        assert!(run.summary()["remote_cache"]["uploads"].as_u64().unwrap() > 0);
    }

    // Back on Linux, the remote cache restores both snapshots and the union is complete.
    let downloads = github.auth().len();
    let run = parity(
        &p,
        &github,
        &[],
        &["build", "--json", "--remote-cache", &url],
    );
    run.ok();
    let outcomes = run.outcomes();
    assert_eq!(outcomes[&format!("codex:snapshot@{V}/{MAC}")], "remote");
    assert_eq!(outcomes[&format!("codex:snapshot@{V}/{WINDOWS}")], "remote");
    assert_eq!(outcomes[&format!("codex:union@{V}")], "ran");
    assert_eq!(
        github.auth().len(),
        downloads,
        "no binary was downloaded again"
    );
    let union = read_json(&p, &at(&format!("snapshots/{V}/union.json")));
    assert_eq!(union["complete"], true);
    assert_eq!(union.get("missing_targets"), None);
    assert_eq!(union["inputs"].as_array().unwrap().len(), 3);
    let mac = read_json(&p, &at(&format!("snapshots/{V}/{MAC}.json")));
    assert_eq!(mac["binary"]["target_triple"], MAC);
    assert_eq!(mac["binary"]["sha256"], sha256_hex(&fake_codex(V, MAC)));
    assert!(not_fresh(&p, &github).is_empty());
    parity(&p, &github, &[], &["verify"]).ok();

    // A rebuild from scratch neither re-measures the pins nor downloads the binary again: the
    // acquired one comes from the local cache (the Linux snapshot is rebuilt from it).
    let requests = github.auth().len();
    let run = parity(&p, &github, &[], &["verify", "--rebuild"]);
    run.ok();
    assert!(
        run.stderr
            .contains("pinned outputs reused from the local cache"),
        "{}",
        run.stderr
    );
    assert_eq!(
        github.auth().len(),
        requests,
        "verify --rebuild went to GitHub"
    );

    // Without cache/, everything is still known fresh from pipeline.lock: no request at all.
    std::fs::remove_dir_all(p.path("cache")).unwrap();
    let (requests, cached) = (github.auth().len(), cache.counts());
    assert!(not_fresh(&p, &github).is_empty());
    parity(&p, &github, &[], &["verify"]).ok();
    assert_eq!(github.auth().len(), requests);
    assert_eq!(cache.counts(), cached);

    // A clone of the result is fresh too, and `parity pin` of the same release changes nothing.
    let again = clone_of(p.root());
    assert!(not_fresh(&again, &github).is_empty());
    let before = again.read(&at("versions.toml"));
    let run = parity(&again, &github, &[], &["pin", &format!("codex:{V}")]);
    run.ok();
    assert!(run.stderr.contains("already pinned"), "{}", run.stderr);
    assert_eq!(again.read(&at("versions.toml")), before);
}

/// Opt-in (`PARITY_REAL_CODEX_DIR` = a `fetch-codex 0.92.0` directory): the real Linux binary
/// served as the release asset goes through pin -> binary -> snapshot and yields exactly the
/// committed snapshot of 0.92.0 (taken with `parity rule snapshot` from the same binary).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
#[ignore = "needs PARITY_REAL_CODEX_DIR (a `fetch-codex 0.92.0` directory; .ci/run sets it)"]
fn real_linux_binary_through_the_chain_reproduces_the_committed_snapshot() {
    let dir = std::env::var_os("PARITY_REAL_CODEX_DIR")
        .expect("set PARITY_REAL_CODEX_DIR to a `fetch-codex 0.92.0` directory");
    let dir = PathBuf::from(dir);
    let real = std::fs::read(dir.join(format!("codex-{LINUX}")))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let github = Server::start();
    // published_at = the repository's epoch of 0.92.0 (1769990400).
    serve_release(&github, "0.92.0", "2026-02-02T00:00:00Z", |t| {
        if t == LINUX {
            real.clone()
        } else {
            format!("not run: {t}\n").into_bytes()
        }
    });
    let p = clone_of(&repo());
    let committed = p.read(&at(&format!("snapshots/0.92.0/{LINUX}.json")));
    p.remove(&at(&format!("snapshots/0.92.0/{LINUX}.json")));

    parity(&p, &github, &[], &["pin", "codex:0.92.0"]).ok();
    let versions = p.read(&at("versions.toml"));
    assert!(versions.contains("\npinned = [\"0.92.0\"]\n"), "{versions}");
    assert!(
        versions.contains("\n\"0.92.0\" = 1769990400\n"),
        "{versions}"
    );
    let node = format!("codex:snapshot@0.92.0/{LINUX}");
    let run = parity(&p, &github, &[], &["build", "--json", &node]);
    run.ok();
    assert_eq!(
        run.outcomes()[&format!("codex:binary@0.92.0/{LINUX}")],
        "ran"
    );
    assert_eq!(run.outcomes()[&node], "ran");
    let built = p.read(&at(&format!("snapshots/0.92.0/{LINUX}.json")));
    assert!(
        built == committed,
        "the snapshot built through binary@ differs from the committed one"
    );
}
