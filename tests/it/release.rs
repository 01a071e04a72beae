//! `parity watch`, `parity pin`, the `pins`/`lock`/`binary` nodes and `parity rule acquire`,
//! against a loopback GitHub (the API base is passed to the child through PARITY_GITHUB_API).

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};
use sha2::Digest;

use crate::http::{Reply, Server};
use crate::support::{Project, Run};

const LINUX: &str = "x86_64-unknown-linux-musl";
const WINDOWS: &str = "x86_64-pc-windows-msvc";

const PIPELINE: &str = r#"[pipeline]
root = "m"

[params]
version = { from = "versions.toml", key = "tracked" }
target = ["x86_64-unknown-linux-musl", "x86_64-pc-windows-msvc"]

[artifact.pins]
rule = "github-release-pin"
params = ["version", "target"]
outputs = ["pins/{version}/{target}.json"]
config = { repo = "o/codex", tag = "rust-v{version}" }

[artifact.lock]
rule = "merge-lock"
inputs = ["pins@*/*"]
outputs = ["artifacts.lock.json"]
config = { upstream_repo = "o/codex" }

[artifact.binary]
rule = "acquire"
params = ["version", "target"]
inputs = ["pins@{version}/{target}"]
outputs = ["{cache}/bin/{version}/codex-{target}"]
"#;

const VERSIONS: &str = "# tracked versions\ntracked = [\"0.97.0\"]\n\n[epoch]\n\"0.97.0\" = 1\n";

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The binary of (version, target), and its release asset (a tar.gz with a directory first
/// on Linux, the bytes themselves on Windows).
fn binary(version: &str, target: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho codex-cli {version} {target}\n").into_bytes()
}

fn asset(version: &str, target: &str) -> (String, Vec<u8>) {
    let bin = binary(version, target);
    if target == WINDOWS {
        return (format!("codex-{target}.exe"), bin);
    }
    (format!("codex-{target}.tar.gz"), tar_gz(&bin, target))
}

/// A `.tar.gz` whose first member is a directory and second `bin` (`dist/codex-{target}`), as
/// the real release assets.
pub(crate) fn tar_gz(bin: &[u8], target: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    b.append_data(&mut h, "dist/", &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(bin.len() as u64);
    h.set_mode(0o755);
    b.append_data(&mut h, format!("dist/codex-{target}"), bin)
        .unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

/// Serves release `rust-v{version}` (published at `published`, stable unless `draft`) with
/// both assets under `/dl/...`.
fn serve_release(server: &Server, version: &str, published: &str, draft: bool) -> Value {
    let mut assets = Vec::new();
    for target in [LINUX, WINDOWS] {
        let (name, bytes) = asset(version, target);
        let path = format!("/dl/rust-v{version}/{name}");
        server.route(&path, vec![Reply::ok(bytes.clone())]);
        assets.push(json!({"name": name, "size": bytes.len(),
                           "browser_download_url": server.url(&path)}));
    }
    let release = json!({"tag_name": format!("rust-v{version}"), "draft": draft,
                         "prerelease": false, "published_at": published, "assets": assets});
    server.route(
        &format!("/repos/o/codex/releases/tags/rust-v{version}"),
        vec![Reply::json(&release)],
    );
    release
}

fn project() -> Project {
    Project::new()
        .file("pipeline.toml", PIPELINE)
        .file("m/versions.toml", VERSIONS)
        .file("m/latest_validated.txt", "0.97.0\n")
}

/// `parity ARGS` in the project with the API at `server` and only the given extra env.
fn parity(p: &Project, server: &Server, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = crate::support::parity_command();
    cmd.current_dir(p.root())
        .env("PARITY_GITHUB_API", server.base())
        .args(args)
        .envs(env.iter().copied());
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("run parity");
    Run::of(&out)
}

fn release_list(server: &Server) {
    let r = |tag: &str, draft: bool, pre: bool| {
        json!({"tag_name": tag, "draft": draft, "prerelease": pre,
               "published_at": "2026-03-01T12:00:00Z", "assets": []})
    };
    let page2 = server.url("/repos/o/codex/releases?per_page=100&page=2");
    server.route(
        "/repos/o/codex/releases?per_page=100",
        vec![
            Reply::json(&json!([
                r("rust-v1.0.0", false, true),
                r("rust-v0.99.0", false, false),
                r("rust-v0.99.1-alpha.2", false, false),
                r("rust-v0.98.0", false, false),
            ]))
            .header("Link", &format!("<{page2}>; rel=\"next\"")),
        ],
    );
    server.route(
        "/repos/o/codex/releases?per_page=100&page=2",
        vec![Reply::json(&json!([
            r("rust-v0.100.0", true, false),
            r("rust-v0.97.0", false, false),
        ]))],
    );
}

#[test]
fn watch_proposes_stable_minus_one_and_exits_3_when_nothing_is_new() {
    let server = Server::start();
    release_list(&server);
    let p = project();
    let run = parity(&p, &server, &["watch"], &[("GITHUB_TOKEN", "t0ps3cret")]);
    run.ok();
    assert_eq!(run.stdout, "0.98.0\n");
    assert!(
        run.stderr.contains("new candidate: the candidate 0.98.0 is newer than the latest validated 0.97.0 (latest 0.99.0, policy stable-minus-one)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("t0ps3cret") && !run.stdout.contains("t0ps3cret"));
    assert!(
        server
            .auth()
            .iter()
            .all(|a| a.as_deref() == Some("Bearer t0ps3cret"))
    );

    let run = parity(&p, &server, &["watch", "--policy", "latest", "--json"], &[]);
    run.ok();
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        v,
        json!({"policy": "latest", "latest": "0.99.0", "candidate": "0.99.0",
               "latest_validated": "0.97.0", "new": true, "stable_releases": 3,
               "reason": "the candidate 0.99.0 is newer than the latest validated 0.97.0"})
    );

    p.write("m/latest_validated.txt", "0.98.0\n");
    let run = parity(&p, &server, &["watch"], &[]);
    run.code(3);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("nothing new: the candidate 0.98.0 is already the latest validated version"),
        "{}",
        run.stderr
    );

    p.write("m/latest_validated.txt", "0.98\n");
    let run = parity(&p, &server, &["watch"], &[]);
    run.code(1);
    assert!(
        run.stderr.contains("`0.98` is not a version"),
        "{}",
        run.stderr
    );

    let run = parity(&p, &server, &["watch", "--policy", "newest"], &[]);
    run.code(2);
}

#[test]
fn watch_says_nothing_new_for_a_tracked_candidate_or_an_open_automation_branch() {
    let server = Server::start();
    release_list(&server);
    let p = project();
    let repo = ["watch", "--repo", "me/wrapper"];
    let branch = "/repos/me/wrapper/branches/automation/codex-cli-0.98.0";
    // No branch yet (404): new.
    let run = parity(&p, &server, &repo, &[]);
    run.ok();
    assert_eq!(run.stdout, "0.98.0\n");
    assert_eq!(server.hits(branch), 1);

    // The branch exists (a proposal is open, or was pushed for the artifact fallback).
    server.route(
        branch,
        vec![Reply::json(&json!({"name": "automation/codex-cli-0.98.0"}))],
    );
    let run = parity(
        &p,
        &server,
        &repo,
        &[("GITHUB_REPOSITORY", "ignored/by-flag")],
    );
    run.code(3);
    assert!(
        run.stderr.contains(
            "nothing new: the candidate 0.98.0 is already proposed: `automation/codex-cli-0.98.0` exists in `me/wrapper`"
        ),
        "{}",
        run.stderr
    );
    // GITHUB_REPOSITORY (set in every Actions job) is the default.
    let run = parity(
        &p,
        &server,
        &["watch"],
        &[("GITHUB_REPOSITORY", "me/wrapper")],
    );
    run.code(3);

    // Already tracked (merged, or validation failed so latest_validated did not move).
    p.write(
        "m/versions.toml",
        "tracked = [\"0.97.0\", \"0.98.0\"]\n\n[epoch]\n\"0.97.0\" = 1\n\"0.98.0\" = 2\n",
    );
    let run = parity(&p, &server, &["watch", "--json"], &[]);
    run.code(3);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["new"], false);
    assert_eq!(
        v["reason"],
        "the candidate 0.98.0 is already tracked (`tracked` in `versions.toml`)"
    );

    // --github-output: the decision as step outputs, exit 0 either way.
    let out = p.path("gh-output");
    let out_s = out.to_string_lossy().into_owned();
    let run = parity(
        &p,
        &server,
        &["watch", "--github-output"],
        &[("GITHUB_OUTPUT", &out_s)],
    );
    run.ok();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "new=false\ncandidate=0.98.0\nreason=the candidate 0.98.0 is already tracked (`tracked` in `versions.toml`)\n"
    );
    p.write("m/versions.toml", VERSIONS);
    std::fs::remove_file(&out).unwrap();
    parity(
        &p,
        &server,
        &["watch", "--github-output"],
        &[("GITHUB_OUTPUT", &out_s)],
    )
    .ok();
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("new=true\ncandidate=0.98.0\n")
    );
    let run = parity(&p, &server, &["watch", "--github-output"], &[]);
    run.code(2);
    assert!(run.stderr.contains("GITHUB_OUTPUT"), "{}", run.stderr);
}

#[test]
fn watch_reports_a_rate_limit_with_its_reset_time() {
    let server = Server::start();
    server.route(
        "/repos/o/codex/releases?per_page=100",
        vec![
            Reply::status(403)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", "4102444800"),
        ],
    );
    let p = project();
    let run = parity(&p, &server, &["watch"], &[]);
    run.code(1);
    assert!(
        run.stderr.contains(&format!(
            "GitHub API rate limit exceeded for `{}` (HTTP 403 Forbidden): resets at 2100-01-01T00:00:00Z (in ",
            server.url("/repos/o/codex/releases?per_page=100")
        )),
        "{}",
        run.stderr
    );
}

fn pin_json(server: &Server, version: &str, target: &str, published: &str) -> String {
    let (name, bytes) = asset(version, target);
    format!(
        "{{\n  \"codex_version\": \"{version}\",\n  \"target_triple\": \"{target}\",\n  \"asset_name\": \"{name}\",\n  \"download_url\": \"{}\",\n  \"sha256\": \"{}\",\n  \"size_bytes\": {},\n  \"published_at\": \"{published}\"\n}}\n",
        server.url(&format!("/dl/rust-v{version}/{name}")),
        sha256(&bytes),
        bytes.len()
    )
}

fn states(p: &Project, server: &Server) -> BTreeMap<String, String> {
    let run = parity(p, server, &["status", "-v", "--json"], &[]);
    run.ok();
    run.states()
}

#[test]
fn pin_tracks_the_version_pins_every_target_and_binaries_stay_fresh_without_the_network() {
    let server = Server::start();
    serve_release(&server, "0.97.0", "2026-02-20T08:30:00Z", false);
    serve_release(&server, "0.98.0", "2026-03-01T12:00:00Z", false);
    let p = project();

    let run = parity(&p, &server, &["pin", "0.98.0"], &[]);
    run.ok();
    assert_eq!(
        p.read("m/versions.toml"),
        "# tracked versions\ntracked = [\"0.97.0\", \"0.98.0\"]\n\n[epoch]\n\"0.97.0\" = 1\n\"0.98.0\" = 1772366400\n"
    );
    for (v, published) in [
        ("0.97.0", "2026-02-20T08:30:00Z"),
        ("0.98.0", "2026-03-01T12:00:00Z"),
    ] {
        for t in [LINUX, WINDOWS] {
            assert_eq!(
                p.read(&format!("m/pins/{v}/{t}.json")),
                pin_json(&server, v, t, published)
            );
        }
    }
    // The lock: the reference shape, sorted by version then target, pins minus published_at.
    let lock: Value = serde_json::from_str(&p.read("m/artifacts.lock.json")).unwrap();
    assert_eq!(lock["version"], 1);
    assert_eq!(lock["upstream_repo"], "o/codex");
    let order: Vec<String> = lock["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["codex_version"], a["target_triple"]))
        .collect();
    assert_eq!(
        order,
        [
            format!("\"0.97.0\" \"{WINDOWS}\""),
            format!("\"0.97.0\" \"{LINUX}\""),
            format!("\"0.98.0\" \"{WINDOWS}\""),
            format!("\"0.98.0\" \"{LINUX}\""),
        ]
    );
    let text = p.read("m/artifacts.lock.json");
    assert!(text.starts_with("{\n  \"version\": 1,\n  \"upstream_repo\": \"o/codex\",\n  \"artifacts\": [\n    {\n      \"codex_version\": \"0.97.0\",\n      \"target_triple\": \"x86_64-pc-windows-msvc\",\n      \"asset_name\""), "{text}");
    assert!(text.ends_with("}\n  ]\n}\n") && !text.contains("published_at"));
    let dl = |v: &str, t: &str| server.hits(&format!("/dl/rust-v{v}/{}", asset(v, t).0));
    assert_eq!(dl("0.98.0", LINUX), 1, "measured once");

    // Acquire the binaries of 0.98.0: verified, extracted, in the cache.
    let run = parity(&p, &server, &["build", "binary@0.98.0"], &[]);
    run.ok();
    for t in [LINUX, WINDOWS] {
        let path = p.path(&format!("cache/out/bin/0.98.0/codex-{t}"));
        assert_eq!(std::fs::read(&path).unwrap(), binary("0.98.0", t));
        assert_eq!(dl("0.98.0", t), 2);
    }
    parity(&p, &server, &["build", "binary@0.98.0"], &[]).ok();
    assert_eq!(
        dl("0.98.0", LINUX),
        2,
        "a fresh binary is not downloaded again"
    );

    // Pinning another version leaves the old binaries fresh.
    serve_release(&server, "0.99.0", "2026-03-10T00:00:00Z", false);
    parity(&p, &server, &["pin", "0.99.0"], &[]).ok();
    let s = states(&p, &server);
    assert_eq!(s[&format!("binary@0.98.0/{LINUX}")], "fresh", "{s:?}");
    assert_eq!(s["lock"], "fresh", "{s:?}");

    // A fresh clone (no cache): freshness is decided from the pins, with no request at all.
    std::fs::remove_dir_all(p.path("cache")).unwrap();
    let before = server.auth().len();
    let s = states(&p, &server);
    assert_eq!(s[&format!("binary@0.98.0/{WINDOWS}")], "fresh", "{s:?}");
    assert_eq!(s[&format!("pins@0.99.0/{LINUX}")], "fresh", "{s:?}");
    assert_eq!(server.auth().len(), before, "status made requests");

    // `parity rule acquire` reads the same entry from the lock; the mirror is tried first.
    let out = p.path("out/codex.exe");
    let acquire = [
        "rule",
        "acquire",
        "--lock",
        "m/artifacts.lock.json",
        "--version",
        "0.98.0",
        "--target",
        WINDOWS,
        "--out",
        "out/codex.exe",
    ];
    parity(&p, &server, &acquire, &[]).ok();
    assert_eq!(std::fs::read(&out).unwrap(), binary("0.98.0", WINDOWS));
    assert_eq!(dl("0.98.0", WINDOWS), 3);
    let mirror = p.path("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(
        mirror.join(format!("codex-{WINDOWS}.exe")),
        binary("0.98.0", WINDOWS),
    )
    .unwrap();
    std::fs::remove_file(&out).unwrap();
    parity(
        &p,
        &server,
        &acquire,
        &[("PARITY_MIRROR", mirror.to_str().unwrap())],
    )
    .ok();
    assert_eq!(dl("0.98.0", WINDOWS), 3, "the mirror had it");
}

#[test]
fn build_with_mirror_takes_verified_assets_from_the_mirror_and_refuses_a_wrong_one() {
    let server = Server::start();
    serve_release(&server, "0.97.0", "2026-02-20T08:30:00Z", false);
    serve_release(&server, "0.98.0", "2026-03-01T12:00:00Z", false);
    let p = project();
    parity(&p, &server, &["pin", "0.98.0"], &[]).ok();
    let dl = |t: &str| server.hits(&format!("/dl/rust-v0.98.0/{}", asset("0.98.0", t).0));
    assert_eq!((dl(LINUX), dl(WINDOWS)), (1, 1), "measured once by pin");

    // `--mirror DIR` holding both assets.
    let mirror = p.path("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    for t in [LINUX, WINDOWS] {
        let (name, bytes) = asset("0.98.0", t);
        std::fs::write(mirror.join(name), bytes).unwrap();
    }
    let run = parity(
        &p,
        &server,
        &["build", "--mirror", "mirror", "binary@0.98.0"],
        &[],
    );
    run.ok();
    for t in [LINUX, WINDOWS] {
        let path = p.path(&format!("cache/out/bin/0.98.0/codex-{t}"));
        assert_eq!(std::fs::read(&path).unwrap(), binary("0.98.0", t));
    }
    assert_eq!((dl(LINUX), dl(WINDOWS)), (1, 1), "nothing downloaded");

    // A mirror file that does not match its pin is an error, not a fall-back to the network.
    let (name, mut bytes) = asset("0.98.0", WINDOWS);
    bytes[0] ^= 0xff;
    std::fs::write(mirror.join(&name), bytes).unwrap();
    let run = parity(
        &p,
        &server,
        &[
            "build",
            "--mirror",
            "mirror",
            "--force",
            &format!("binary@0.98.0/{WINDOWS}"),
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&name) && run.stderr.contains("sha256 mismatch"),
        "{}",
        run.stderr
    );
    assert_eq!(dl(WINDOWS), 1, "no fall-back to the pinned URL");
    assert_eq!(
        std::fs::read(p.path(&format!("cache/out/bin/0.98.0/codex-{WINDOWS}"))).unwrap(),
        binary("0.98.0", WINDOWS),
        "the verified binary is still in place"
    );
}

#[test]
fn pin_refuses_a_draft_and_restores_versions_toml_when_a_pin_fails() {
    let server = Server::start();
    serve_release(&server, "0.97.0", "2026-02-20T08:30:00Z", false);
    serve_release(&server, "0.98.0", "2026-03-01T12:00:00Z", true);
    let p = project();
    let run = parity(&p, &server, &["pin", "0.98.0"], &[]);
    run.code(1);
    assert!(
        run.stderr.contains("release `rust-v0.98.0` is a draft"),
        "{}",
        run.stderr
    );
    assert_eq!(p.read("m/versions.toml"), VERSIONS);

    let run = parity(&p, &server, &["pin", "0.98"], &[]);
    run.code(2);

    // A release whose Windows asset is gone: the pin node fails, versions.toml is put back.
    serve_release(&server, "0.98.0", "2026-03-01T12:00:00Z", false);
    let (name, _) = asset("0.98.0", WINDOWS);
    server.route(
        &format!("/dl/rust-v0.98.0/{name}"),
        vec![Reply::status(404)],
    );
    let run = parity(&p, &server, &["pin", "0.98.0"], &[]);
    run.code(1);
    assert!(
        run.stderr.contains(&format!(
            "`{}` answered HTTP 404",
            server.url(&format!("/dl/rust-v0.98.0/{name}"))
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`versions.toml` restored"),
        "{}",
        run.stderr
    );
    assert_eq!(p.read("m/versions.toml"), VERSIONS);
    assert!(!p.exists(&format!("m/pins/0.98.0/{WINDOWS}.json")));
    assert!(
        !p.exists("m/pins/0.98.0"),
        "the pin that succeeded is left behind for a version no longer tracked"
    );
    let run = parity(&p, &server, &["status"], &[]);
    assert!(!run.stdout.contains("0.98.0"), "{}", run.stdout);
}

#[test]
fn a_binary_whose_download_does_not_match_its_pin_fails_and_caches_nothing() {
    let server = Server::start();
    serve_release(&server, "0.97.0", "2026-02-20T08:30:00Z", false);
    let p = project();
    parity(&p, &server, &["build", "lock"], &[]).ok();
    let (name, bytes) = asset("0.97.0", WINDOWS);
    let mut evil = bytes.clone();
    evil[3] ^= 0x20;
    let url = format!("/dl/rust-v0.97.0/{name}");
    server.route(&url, vec![Reply::ok(evil.clone())]);
    let run = parity(
        &p,
        &server,
        &["build", &format!("binary@0.97.0/{WINDOWS}")],
        &[],
    );
    run.code(1);
    assert!(
        run.stderr.contains(&format!(
            "`{}` does not match its pin: sha256 mismatch: expected {}, actual {}",
            server.url(&url),
            sha256(&bytes),
            sha256(&evil)
        )),
        "{}",
        run.stderr
    );
    assert!(!p.exists(&format!("cache/out/bin/0.97.0/codex-{WINDOWS}")));
    let leftovers: Vec<String> = p
        .tree()
        .into_iter()
        .filter(|f| f.starts_with("cache/tmp/") || f.starts_with("cache/out/bin"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::io::stderr().flush();
}

/// Opt-in, real bytes: `PARITY_REAL_MIRROR=DIR` holding the codex 0.92.0 Windows asset (as
/// `../shared/tools/fetch-codex 0.92.0` prints). The pin is the GitHub release asset's.
#[test]
#[ignore = "needs PARITY_REAL_MIRROR (a `fetch-codex 0.92.0` directory; .ci/run sets it)"]
fn real_windows_asset_through_the_mirror() {
    let dir = std::env::var_os("PARITY_REAL_MIRROR")
        .expect("set PARITY_REAL_MIRROR=DIR (a `fetch-codex 0.92.0` directory) to run");
    let server = Server::start();
    let p = project().file(
        "lock.json",
        &json!({"version": 1, "upstream_repo": "openai/codex", "artifacts": [{
            "codex_version": "0.92.0",
            "target_triple": WINDOWS,
            "asset_name": "codex-x86_64-pc-windows-msvc.exe",
            "download_url": "https://github.com/openai/codex/releases/download/rust-v0.92.0/codex-x86_64-pc-windows-msvc.exe",
            "sha256": "80d00dc77b4dc3aa8c3a6291db2b37fa43bc3a6bfa8c6e28524a6eecae073fec",
            "size_bytes": 68868584u64
        }]})
        .to_string(),
    );
    let run = parity(
        &p,
        &server,
        &[
            "rule",
            "acquire",
            "--lock",
            "lock.json",
            "--version",
            "0.92.0",
            "--target",
            WINDOWS,
            "--out",
            "bin/codex.exe",
            "--mirror",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    run.ok();
    let bytes = std::fs::read(p.path("bin/codex.exe")).unwrap();
    assert_eq!(bytes.len(), 68868584);
    assert_eq!(
        sha256(&bytes),
        "80d00dc77b4dc3aa8c3a6291db2b37fa43bc3a6bfa8c6e28524a6eecae073fec"
    );
}

#[test]
fn pin_stops_reading_an_asset_at_the_size_the_api_lists() {
    let server = Server::start();
    serve_release(&server, "0.97.0", "2026-02-20T08:30:00Z", false);
    serve_release(&server, "0.98.0", "2026-03-01T12:00:00Z", false);
    let (name, _) = asset("0.98.0", WINDOWS);
    let path = format!("/dl/rust-v0.98.0/{name}");
    let flood = 1 << 30;
    server.route(
        &path,
        vec![Reply::Flood {
            len: flood,
            announce: false,
        }],
    );
    let p = project();
    let run = parity(&p, &server, &["pin", "0.98.0"], &[]);
    run.code(1);
    assert!(run.stderr.contains(&server.url(&path)), "{}", run.stderr);
    assert!(server.sent(&path) < flood / 8, "the asset was read on");
    assert_eq!(p.read("m/versions.toml"), VERSIONS);
}
