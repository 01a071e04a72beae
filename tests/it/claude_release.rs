//! Claude Code's release channel through `parity pin`, `parity watch` and the `pins`, `lock`
//! and `binary` nodes of a workspace member, against a loopback bucket (its root passed to the
//! child through PARITY_CLAUDE_BUCKET): the `stable` pointer, per-version `manifest.json` with
//! per-platform checksums, and the binaries.

use serde_json::json;

use crate::http::{Reply, Server};
use crate::support::{Project, Run};

const BUCKET: &str = "https://bucket.invalid/claude-code-releases";

/// A workspace: the codex member of the release tests (GitHub) and a Claude Code member.
fn workspace() -> Project {
    let claude = format!(
        r#"[params]
version = {{ from = "versions.toml", key = "tracked" }}
pinned = {{ from = "versions.toml", key = "pinned" }}
target = ["linux-x64", "win32-x64"]

[artifact.pins]
rule = "claude-release-pin"
params = ["pinned", "target"]
outputs = ["pins/{{pinned}}/{{target}}.json"]
config = {{ bucket = "{BUCKET}", version = "{{pinned}}" }}

[artifact.lock]
rule = "merge-lock"
inputs = ["pins@*/*?"]
outputs = ["artifacts.lock.json"]
config = {{ bucket_root = "{BUCKET}" }}

[artifact.binary]
rule = "acquire"
params = ["pinned", "target"]
inputs = ["pins@{{pinned}}/{{target}}"]
outputs = ["{{cache}}/bin/{{pinned}}/claude-{{target}}"]
config = {{ version = "{{pinned}}" }}
"#
    );
    let codex = r#"[params]
version = ["0.97.0"]
target = ["x86_64-unknown-linux-musl"]

[artifact.pins]
rule = "github-release-pin"
params = ["version", "target"]
outputs = ["pins/{version}/{target}.json"]
config = { repo = "o/codex", tag = "rust-v{version}" }
"#;
    Project::new()
        .file(
            "pipeline.toml",
            "[members]\ncodex = \"m/codex/pipeline.toml\"\nclaude = \"m/claude_code/pipeline.toml\"\n",
        )
        .file("m/codex/pipeline.toml", codex)
        .file("m/codex/latest_validated.txt", "0.97.0\n")
        .file("m/claude_code/pipeline.toml", &claude)
        .file(
            "m/claude_code/versions.toml",
            "tracked = [\"2.1.29\"]\npinned = []\n\n[epoch]\n\"2.1.29\" = 1769890483\n",
        )
        .file("m/claude_code/latest_validated.txt", "none\n")
}

fn binary(platform: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho '2.1.30 (Claude Code)' {platform}\n").into_bytes()
}

/// Serves 2.1.30: its manifest (three platforms, two of which the pipeline uses) and binaries.
fn serve(server: &Server) {
    let mut platforms = serde_json::Map::new();
    for (p, asset) in [
        ("linux-x64", "claude"),
        ("win32-x64", "claude.exe"),
        ("darwin-arm64", "claude"),
    ] {
        let bytes = binary(p);
        platforms.insert(
            p.into(),
            json!({"checksum": parity_engine::hash::sha256_hex(&bytes), "size": bytes.len()}),
        );
        server.route(&format!("/b/2.1.30/{p}/{asset}"), vec![Reply::ok(bytes)]);
    }
    let manifest = json!({"version": "2.1.30", "buildDate": "2026-02-10T08:00:00.500Z",
                          "platforms": platforms});
    server.route("/b/2.1.30/manifest.json", vec![Reply::json(&manifest)]);
    server.route("/b/stable", vec![Reply::ok("2.1.30\n")]);
}

fn parity(p: &Project, server: &Server, args: &[&str]) -> Run {
    let bucket = server.url("/b");
    p.parity_env(
        &[
            ("PARITY_CLAUDE_BUCKET", bucket.as_str()),
            ("PARITY_GITHUB_API", server.base()),
        ],
        args,
    )
}

#[test]
fn pin_takes_the_checksums_from_the_manifest_and_writes_the_reference_lock_shape() {
    let (p, server) = (workspace(), Server::start());
    serve(&server);
    parity(&p, &server, &["pin", "claude:2.1.30"]).ok();
    assert_eq!(
        p.read("m/claude_code/versions.toml"),
        "tracked = [\"2.1.29\", \"2.1.30\"]\npinned = [\"2.1.30\"]\n\n[epoch]\n\"2.1.29\" = 1769890483\n\"2.1.30\" = 1770710400\n"
    );
    let sha = parity_engine::hash::sha256_hex(&binary("linux-x64"));
    let size = binary("linux-x64").len();
    assert_eq!(
        p.read("m/claude_code/pins/2.1.30/linux-x64.json"),
        format!(
            "{{\n  \"claude_code_version\": \"2.1.30\",\n  \"target_triple\": \"linux-x64\",\n  \"asset_name\": \"claude\",\n  \"download_url\": \"{}\",\n  \"sha256\": \"{sha}\",\n  \"size_bytes\": {size},\n  \"build_date\": \"2026-02-10T08:00:00.500Z\"\n}}\n",
            server.url("/b/2.1.30/linux-x64/claude")
        )
    );
    let lock = p.read("m/claude_code/artifacts.lock.json");
    assert!(
        lock.starts_with(&format!(
            "{{\n  \"schema_version\": 1,\n  \"upstream\": {{\n    \"channel\": \"stable\",\n    \"bucket_root\": \"{BUCKET}\"\n  }},\n  \"artifacts\": [\n    {{\n      \"claude_code_version\": \"2.1.30\",\n      \"target_triple\": \"linux-x64\",\n      \"asset_name\": \"claude\","
        )),
        "{lock}"
    );
    assert!(lock.contains("\"asset_name\": \"claude.exe\""), "{lock}");
    // A pin is the manifest's word: no binary was downloaded.
    assert_eq!(server.hits("/b/2.1.30/linux-x64/claude"), 0);
    // The committed pins are fresh from then on, and the lock does not change.
    let status = parity(&p, &server, &["status", "claude:pins", "claude:lock"]);
    status.ok();
    assert_eq!(status.stdout, "3 nodes: 3 fresh\n");
}

#[test]
fn the_binary_is_verified_against_the_manifest_before_use() {
    let (p, server) = (workspace(), Server::start());
    serve(&server);
    parity(&p, &server, &["pin", "claude:2.1.30"]).ok();
    parity(&p, &server, &["build", "claude:binary@2.1.30/linux-x64"]).ok();
    assert_eq!(
        std::fs::read(p.path("cache/out/m/claude_code/bin/2.1.30/claude-linux-x64")).unwrap(),
        binary("linux-x64")
    );
    // The bucket now serves other bytes under the same name: refused, nothing installed.
    server.route(
        "/b/2.1.30/win32-x64/claude.exe",
        vec![Reply::ok(binary("evil!!!!!"))],
    );
    let run = parity(&p, &server, &["build", "claude:binary@2.1.30/win32-x64"]);
    run.code(1);
    assert!(
        run.stderr.contains("does not match its pin"),
        "{}",
        run.stderr
    );
    assert!(!p.exists("cache/out/m/claude_code/bin/2.1.30/claude-win32-x64"));
    // A mirror laid out as the bucket (`V/platform/asset`) is looked up first.
    let mirror = p.path("mirror/2.1.30/win32-x64");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(mirror.join("claude.exe"), binary("win32-x64")).unwrap();
    let m = p.path("mirror");
    parity(
        &p,
        &server,
        &["build", "--mirror", m.to_str().unwrap(), "claude:binary"],
    )
    .ok();
    assert_eq!(
        std::fs::read(p.path("cache/out/m/claude_code/bin/2.1.30/claude-win32-x64")).unwrap(),
        binary("win32-x64")
    );
}

#[test]
fn watch_follows_the_bucket_stable_pointer() {
    let (p, server) = (workspace(), Server::start());
    serve(&server);
    let run = parity(&p, &server, &["watch", "claude"]);
    run.ok();
    assert_eq!(run.stdout, "2.1.30\n");
    assert!(
        run.stderr.contains("nothing is validated yet"),
        "{}",
        run.stderr
    );
    p.write("m/claude_code/latest_validated.txt", "2.1.30\n");
    parity(&p, &server, &["watch", "claude"]).code(3);
    let json = parity(&p, &server, &["watch", "claude", "--json"]);
    json.code(3);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (v["latest"].as_str(), v["new"].as_bool()),
        (Some("2.1.30"), Some(false))
    );
    let lag = parity(
        &p,
        &server,
        &["watch", "claude", "--policy", "stable-minus-one"],
    );
    lag.code(2);
    assert!(
        lag.stderr.contains("publishes only a `stable` pointer"),
        "{}",
        lag.stderr
    );
    // Two members with a release source: the member must be named.
    let unnamed = parity(&p, &server, &["watch"]);
    unnamed.code(2);
    assert!(
        unnamed
            .stderr
            .contains("name the member pipeline (codex, claude)"),
        "{}",
        unnamed.stderr
    );
    parity(&p, &server, &["watch", "nope"]).code(2);
}

#[test]
fn a_platform_missing_from_the_manifest_fails_the_pin_and_restores_the_versions() {
    let (p, server) = (workspace(), Server::start());
    let manifest = json!({"buildDate": "2026-02-10T08:00:00Z",
                          "platforms": {"linux-x64": {"checksum": "ab".repeat(32), "size": 7}}});
    server.route("/b/2.1.31/manifest.json", vec![Reply::json(&manifest)]);
    let before = p.read("m/claude_code/versions.toml");
    let run = parity(&p, &server, &["pin", "claude:2.1.31"]);
    run.code(1);
    assert!(
        run.stderr
            .contains("the manifest has no platform `win32-x64`"),
        "{}",
        run.stderr
    );
    assert_eq!(p.read("m/claude_code/versions.toml"), before);
    assert!(!p.exists("m/claude_code/pins/2.1.31/linux-x64.json"));
    let missing = parity(&p, &server, &["pin", "claude:2.1.99"]);
    missing.code(1);
    assert!(
        missing.stderr.contains("2.1.99/manifest.json"),
        "{}",
        missing.stderr
    );
}

/// release-watch.yml and update-snapshot.yml serve every member from one definition: `parity
/// watch --all` offers each member's candidate as the dispatch matrix, and `parity jobs
/// PIPELINE:V` lays out the member's runners (from its targets), the pattern each builds, the
/// raw outputs it uploads, its root and its automation branch.
#[test]
fn watch_all_offers_every_member_and_jobs_lays_out_the_member_runners() {
    let (p, server) = (workspace(), Server::start());
    serve(&server);
    let listed = |v: &str| {
        json!({"tag_name": format!("rust-v{v}"), "draft": false, "prerelease": false,
               "published_at": "2026-04-01T00:00:00Z", "assets": []})
    };
    server.route(
        "/repos/o/codex/releases?per_page=100",
        vec![Reply::json(&json!([
            listed("0.99.0"),
            listed("0.98.0"),
            listed("0.97.0")
        ]))],
    );
    let out = p.path("gh-output");
    let bucket = server.url("/b");
    let env = [
        ("PARITY_CLAUDE_BUCKET", bucket.as_str()),
        ("PARITY_GITHUB_API", server.base()),
        ("GITHUB_OUTPUT", out.to_str().unwrap()),
    ];
    let run = p.parity_env(&env, &["watch", "--all", "--github-output"]);
    run.ok();
    assert_eq!(run.stdout, "codex:0.98.0\nclaude:2.1.30\n");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "new=true\ncandidates=[{\"pipeline\":\"codex\",\"version\":\"0.98.0\"},{\"pipeline\":\"claude\",\"version\":\"2.1.30\"}]\n"
    );
    // A member and --all together are a usage error.
    parity(&p, &server, &["watch", "claude", "--all"]).code(2);

    // Before the pin, 2.1.30 has no node to run anywhere.
    let early = parity(&p, &server, &["jobs", "claude:2.1.30"]);
    early.code(2);
    assert!(
        early
            .stderr
            .contains("is it pinned (`parity pin claude:2.1.30`)?"),
        "{}",
        early.stderr
    );
    // A host-bound node per target, as the snapshot and validation nodes are.
    let mut member = p.read("m/claude_code/pipeline.toml");
    member.push_str(
        r#"
[artifact.probe]
rule = "command"
params = ["pinned", "target"]
host = "{target}"
inputs = ["binary@{pinned}/{target}"]
outputs = ["{cache}/probe/{pinned}/{target}/"]
config = { command = "mkdir -p $out && cp $in $out/" }
"#,
    );
    p.write("m/claude_code/pipeline.toml", &member);
    parity(&p, &server, &["pin", "claude:2.1.30"]).ok();
    let run = parity(&p, &server, &["jobs", "claude:2.1.30", "--json"]);
    run.ok();
    let jobs: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        jobs,
        json!({
            "pipeline": "claude",
            "version": "2.1.30",
            "root": "m/claude_code",
            "branch": "automation/claude-code-2.1.30",
            "artifact": "automation-claude-code-2.1.30",
            "matrix": {"include": [
                {"target": "linux-x64", "runner": "ubuntu-latest",
                 "nodes": "claude:*@2.1.30/linux-x64",
                 "uploads": "cache/out/m/claude_code/probe/2.1.30/linux-x64"},
                {"target": "win32-x64", "runner": "windows-latest",
                 "nodes": "claude:*@2.1.30/win32-x64",
                 "uploads": "cache/out/m/claude_code/probe/2.1.30/win32-x64"},
            ]},
        })
    );
    // The step outputs, for the matrix of the snapshot job.
    std::fs::remove_file(&out).unwrap();
    p.parity_env(&env, &["jobs", "claude:2.1.30", "--github-output"])
        .ok();
    let outputs = std::fs::read_to_string(&out).unwrap();
    assert!(
        outputs.starts_with("pipeline=claude\nversion=2.1.30\nroot=m/claude_code\nbranch=automation/claude-code-2.1.30\nartifact=automation-claude-code-2.1.30\nmatrix={\"include\":[{\"target\":\"linux-x64\",\"runner\":\"ubuntu-latest\","),
        "{outputs}"
    );
    // The Linux runner's pattern builds exactly its target's nodes, the uploaded one included.
    let built = parity(&p, &server, &["build", "claude:*@2.1.30/linux-x64"]);
    built.ok();
    assert_eq!(
        std::fs::read(p.path("cache/out/m/claude_code/probe/2.1.30/linux-x64/claude-linux-x64"))
            .unwrap(),
        binary("linux-x64")
    );
    assert!(!p.exists("cache/out/m/claude_code/bin/2.1.30/claude-win32-x64"));
    // A target no GitHub-hosted runner has is refused, naming it.
    p.write(
        "m/claude_code/pipeline.toml",
        &member.replace("\"win32-x64\"]", "\"win32-x64\", \"freebsd-x64\"]"),
    );
    let odd = parity(&p, &server, &["jobs", "claude:2.1.30"]);
    odd.code(2);
    assert!(
        odd.stderr
            .contains("no GitHub-hosted runner for the host `freebsd-x64` of claude:2.1.30"),
        "{}",
        odd.stderr
    );
}
