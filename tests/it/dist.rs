//! The dist pipeline (`dist/pipeline.toml`, the repository's own file) over staged binaries,
//! and the consumer commands `parity dist resolve|verify|assets` over what it builds.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cache_server::CacheServer;
use crate::http::{Reply, Server};
use crate::support::Project;

const PIPELINE: &str = include_str!("../../dist/pipeline.toml");
const LINUX: &str = "x86_64-unknown-linux-gnu";
const WINDOWS: &str = "x86_64-pc-windows-msvc";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const EPOCH: i64 = 1_767_225_600;

/// A release plan as `dist/release.sh plan` writes it.
fn plan(version: &str, revision: &str, targets: &[&str]) -> String {
    let list = |ts: Vec<&str>| {
        let q: Vec<String> = ts.iter().map(|t| format!("{t:?}")).collect();
        format!("[{}]", q.join(", "))
    };
    let (zip, tar): (Vec<&str>, Vec<&str>) = targets.iter().partition(|t| t.contains("-windows"));
    let mut s = format!(
        r#"version = ["{version}"]
git_sha = ["{sha}"]
profile = ["release"]
toolchain = ["1.95.0"]
dist_revision = ["{revision}"]
targets = {all}
tar_gz_targets = {tar}
zip_targets = {zip}
source_date_epoch = {EPOCH}
git_commit = "{COMMIT}"
git_ref = "refs/tags/v{version}"
repository = "example/parity"
builder = "local"

[build]
rustc = "rustc 1.95.0 (59807616e 2026-04-14)"
cargo = ["build", "--release", "--locked", "--target", "<target>"]
"#,
        sha = &COMMIT[..12],
        all = list(targets.to_vec()),
        tar = list(tar),
        zip = list(zip),
    );
    for t in targets {
        s.push_str(&format!(
            "\n[build.targets.\"{t}\"]\nrustflags = [\"--remap-path-prefix=<workspace>=/parity\"]\ncflags = []\n"
        ));
    }
    s
}

/// A repository with the dist pipeline, a plan and a staged binary per target.
fn repo(version: &str, targets: &[&str]) -> Project {
    let p = Project::new()
        .file("dist/pipeline.toml", PIPELINE)
        .file("dist/release.toml", &plan(version, "r1", targets))
        .file("README.md", "# parity\n")
        .file("Cargo.lock", "# lock\n");
    for t in targets {
        p.write(
            &format!("dist/bin/{t}/parity"),
            &format!("binary {version} {t}\n"),
        );
    }
    p
}

fn tuple_dir(version: &str, target: &str, revision: &str) -> String {
    format!(
        "dist/distribution-contract@1.0/{version}/{target}/release/1.95.0/{}/{revision}",
        &COMMIT[..12]
    )
}

fn archive(version: &str, target: &str) -> String {
    let ext = if target.contains("-windows") {
        "zip"
    } else {
        "tar.gz"
    };
    format!(
        "{}/parity-v{version}-{target}-release-1.95.0-{}-r1.{ext}",
        tuple_dir(version, target, "r1"),
        &COMMIT[..12]
    )
}

/// Every file under `dist/` that the pipeline writes, with its bytes.
fn outputs(p: &Project) -> BTreeMap<String, Vec<u8>> {
    p.tree()
        .into_iter()
        .filter(|f| f.starts_with("dist/distribution-contract@1.0/") || f == "dist/index.json")
        .filter(|f| p.path(f).is_file())
        .map(|f| {
            let bytes = std::fs::read(p.path(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

fn index(p: &Project) -> Value {
    serde_json::from_str(&p.read("dist/index.json")).unwrap()
}

fn build(p: &Project) -> BTreeMap<String, String> {
    let run = p.parity(&["-C", "dist", "build", "--json"]);
    run.ok();
    run.outcomes()
}

#[test]
fn dist_build_lays_out_the_contract_and_is_incremental_and_reproducible() {
    let a = repo("0.3.0", &[LINUX, WINDOWS]);
    let first = build(&a);
    assert_eq!(first.len(), 9, "{first:?}");
    assert!(first.values().all(|o| o == "ran"), "{first:?}");
    for t in [LINUX, WINDOWS] {
        let dir = tuple_dir("0.3.0", t, "r1");
        for f in ["manifest.json", "checksums.json", "provenance.json"] {
            assert!(a.exists(&format!("{dir}/{f}")), "{dir}/{f}");
        }
        assert!(a.exists(&archive("0.3.0", t)));
    }
    assert!(
        !a.exists("dist/distribution-contract@1.0/index.json"),
        "the retired alias"
    );
    #[cfg(unix)]
    for f in [archive("0.3.0", LINUX), "dist/index.json".to_string()] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.path(&f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{f} is served to everyone");
    }
    let rows = index(&a)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["tuple"]["target"], WINDOWS, "sorted by target");
    assert_eq!(
        rows[1]["artifact"],
        archive("0.3.0", LINUX).strip_prefix("dist/").unwrap()
    );
    assert_eq!(rows[1]["source_date_epoch"], EPOCH);
    let manifest: Value = serde_json::from_str(&a.read(&format!(
        "{}/manifest.json",
        tuple_dir("0.3.0", LINUX, "r1")
    )))
    .unwrap();
    assert_eq!(manifest["artifact"]["sha256"], rows[1]["sha256"]);
    assert_eq!(manifest["reproducibility"]["cargo"][4], LINUX);
    assert_eq!(
        manifest["binary"]["file"],
        format!(
            "parity-v0.3.0-{LINUX}-release-1.95.0-{}-r1/parity",
            &COMMIT[..12]
        )
    );

    // Nothing changed: nothing runs.
    let again = a.parity(&["-C", "dist", "build"]);
    again.ok();
    assert!(again.stderr.contains("no work to do."), "{}", again.stderr);
    a.parity(&["-C", "dist", "verify"]).ok();

    // One staged binary changes: its archive and what depends on it, nothing of the other.
    a.write(
        &format!("dist/bin/{LINUX}/parity"),
        "binary 0.3.0 rebuilt\n",
    );
    let after = build(&a);
    let ran: Vec<&str> = after
        .iter()
        .filter(|(_, o)| *o == "ran")
        .map(|(n, _)| n.split('@').next().unwrap())
        .collect();
    assert_eq!(
        ran,
        ["checksums", "index", "manifest", "provenance", "tar-gz"],
        "{after:?}"
    );
    assert!(
        after
            .keys()
            .filter(|n| n.contains(WINDOWS))
            .all(|n| after[n] == "fresh")
    );

    // Another checkout at another path, same inputs: the same bytes.
    let b = repo("0.3.0", &[LINUX, WINDOWS]);
    b.write(
        &format!("dist/bin/{LINUX}/parity"),
        "binary 0.3.0 rebuilt\n",
    );
    build(&b);
    assert_eq!(outputs(&a), outputs(&b));
    // And `verify --rebuild` rebuilds it all from scratch, byte for byte.
    a.parity(&["-C", "dist", "verify", "--rebuild"]).ok();
}

#[test]
fn dist_verify_accepts_a_good_tree_and_rejects_a_flipped_byte_a_missing_row_and_two_matching_rows()
{
    let p = repo("0.3.0", &[LINUX, WINDOWS]);
    build(&p);
    let verify = |extra: &[&str]| {
        let mut args = vec!["dist", "verify", "--index", "dist/index.json"];
        args.extend_from_slice(extra);
        p.parity(&args)
    };
    let ok = verify(&["--version", "0.3.0", "--target", LINUX]);
    ok.ok();
    assert_eq!(ok.stdout.trim(), archive("0.3.0", LINUX));
    verify(&["--all"]).ok();
    let resolved = p.parity(&[
        "dist",
        "resolve",
        "--version",
        "v0.3.0",
        "--target",
        WINDOWS,
    ]);
    resolved.ok();
    assert_eq!(resolved.stdout.trim(), archive("0.3.0", WINDOWS));

    // A flipped byte in the archive: exit 1, naming the file and both digests.
    let path = p.path(&archive("0.3.0", LINUX));
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let flipped = verify(&["--version", "0.3.0", "--target", LINUX]);
    flipped.code(1);
    assert!(
        flipped.stderr.contains("the index says") && flipped.stderr.contains(".tar.gz` has sha256"),
        "{}",
        flipped.stderr
    );
    verify(&["--all"]).code(1);
    std::fs::write(&path, &good).unwrap();

    // A flipped byte in a manifest: its checksum no longer matches.
    let manifest = format!("{}/manifest.json", tuple_dir("0.3.0", WINDOWS, "r1"));
    let text = p.read(&manifest);
    p.write(&manifest, &text.replace("\"release\"", "\"releasf\""));
    let edited = verify(&["--version", "0.3.0", "--target", WINDOWS]);
    edited.code(1);
    assert!(
        edited.stderr.contains("manifest.json` has sha256"),
        "{}",
        edited.stderr
    );
    p.write(&manifest, &text);

    // A missing row: exit 3, saying what the index holds.
    let full = index(&p);
    let mut one = full.clone();
    one["rows"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["tuple"]["target"] != LINUX);
    p.write(
        "dist/index.json",
        &serde_json::to_string_pretty(&one).unwrap(),
    );
    let missing = verify(&["--version", "0.3.0", "--target", LINUX]);
    missing.code(3);
    assert!(
        missing
            .stderr
            .contains("no row of `dist/index.json` matches version 0.3.0"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains(WINDOWS), "{}", missing.stderr);

    // Two matching rows (r1 and an r2 of the same sources): exit 4, listing both.
    let mut two = full.clone();
    let mut r2 = two["rows"][1].clone();
    r2["tuple"]["dist_revision"] = "r2".into();
    for key in ["artifact", "manifest", "checksums", "provenance"] {
        let v = r2[key]
            .as_str()
            .unwrap()
            .replace("/r1/", "/r2/")
            .replace("-r1.", "-r2.");
        r2[key] = v.into();
    }
    two["rows"].as_array_mut().unwrap().push(r2);
    p.write(
        "dist/index.json",
        &serde_json::to_string_pretty(&two).unwrap(),
    );
    let ambiguous = verify(&["--version", "0.3.0", "--target", LINUX]);
    ambiguous.code(4);
    assert!(
        ambiguous
            .stderr
            .contains("2 rows of `dist/index.json` match"),
        "{}",
        ambiguous.stderr
    );
    assert!(ambiguous.stderr.contains("/r2"), "{}", ambiguous.stderr);
    // Narrowed, it is one row again.
    verify(&[
        "--version",
        "0.3.0",
        "--target",
        LINUX,
        "--dist-revision",
        "r1",
    ])
    .ok();
    p.parity(&[
        "dist",
        "resolve",
        "--version",
        "0.3.0",
        "--target",
        LINUX,
        "--git",
        "0123456",
    ])
    .code(4);

    // The same tuple twice is not an index at all: exit 2.
    let mut dup = full.clone();
    let row = dup["rows"][0].clone();
    dup["rows"].as_array_mut().unwrap().push(row);
    p.write(
        "dist/index.json",
        &serde_json::to_string_pretty(&dup).unwrap(),
    );
    let invalid = verify(&["--all"]);
    invalid.code(2);
    assert!(
        invalid.stderr.contains("has two rows"),
        "{}",
        invalid.stderr
    );

    // The retired alias is refused on sight.
    p.write(
        "dist/index.json",
        &serde_json::to_string_pretty(&full).unwrap(),
    );
    p.write("dist/distribution-contract@1.0/index.json", "{}");
    let alias = verify(&["--all"]);
    alias.code(1);
    assert!(
        alias.stderr.contains("retired on 2026-07-01"),
        "{}",
        alias.stderr
    );
    p.remove("dist/distribution-contract@1.0/index.json");

    // Usage: no tuple named.
    verify(&[]).code(2);
}

#[test]
fn dist_index_keeps_six_generations_and_never_republishes_a_tuple_with_other_bytes() {
    let p = repo("0.9.0", &[LINUX]);
    // A published index of seven older versions, each a valid row.
    let old: Vec<Value> = (1..=7)
        .map(|minor| {
            let v = format!("0.{minor}.0");
            let dir = tuple_dir(&v, LINUX, "r1");
            let t = dir.strip_prefix("dist/").unwrap();
            serde_json::json!({
                "tuple": {"version": v, "target": LINUX, "profile": "release", "toolchain": "1.95.0",
                          "git_sha": &COMMIT[..12], "dist_revision": "r1"},
                "artifact": archive(&v, LINUX).strip_prefix("dist/").unwrap(),
                "manifest": format!("{t}/manifest.json"),
                "checksums": format!("{t}/checksums.json"),
                "provenance": format!("{t}/provenance.json"),
                "sha256": "ab".repeat(32),
                "size": 1,
                "source_date_epoch": 1,
            })
        })
        .collect();
    let published = serde_json::json!({
        "contract": "distribution-contract@1.0",
        "retention": {"generations": 6},
        "rows": old,
    });
    p.write(
        "dist/published-index.json",
        &serde_json::to_string_pretty(&published).unwrap(),
    );
    build(&p);
    let versions: Vec<String> = index(&p)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tuple"]["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        versions,
        ["0.9.0", "0.7.0", "0.6.0", "0.5.0", "0.4.0", "0.3.0"]
    );

    // The published index already has this very tuple with other bytes: the build fails.
    let mut clash = published.clone();
    let mut row = index(&p)["rows"][0].clone();
    row["sha256"] = "cd".repeat(32).into();
    clash["rows"].as_array_mut().unwrap().push(row);
    p.write(
        "dist/published-index.json",
        &serde_json::to_string_pretty(&clash).unwrap(),
    );
    let run = p.parity(&["-C", "dist", "build"]);
    run.code(1);
    assert!(
        run.stderr
            .contains("was already published with sha256 cdcd")
            && run.stderr.contains("bump the dist revision"),
        "{}",
        run.stderr
    );

    // A retention below the contract's six is refused when the pipeline is loaded.
    let text = PIPELINE.replace("retain = 6", "retain = 5");
    p.write("dist/pipeline.toml", &text);
    let five = p.parity(&["-C", "dist", "status"]);
    five.code(2);
    assert!(
        five.stderr.contains("keeps at least 6 generations"),
        "{}",
        five.stderr
    );
    // So is the retired alias as the index's path.
    let alias = PIPELINE.replace(
        "outputs = [\"dist/index.json\"]",
        "outputs = [\"dist/distribution-contract@1.0/index.json\"]",
    );
    p.write("dist/pipeline.toml", &alias);
    let retired = p.parity(&["-C", "dist", "status"]);
    retired.code(2);
    assert!(
        retired.stderr.contains("retired on 2026-07-01"),
        "{}",
        retired.stderr
    );
}

#[test]
fn dist_assets_are_the_verified_files_under_flat_release_names() {
    let p = repo("0.3.0", &[LINUX, WINDOWS]);
    build(&p);
    let run = p.parity(&["dist", "assets", "--version", "0.3.0", "--out", "assets"]);
    run.ok();
    let stem = |t: &str| format!("parity-v0.3.0-{t}-release-1.95.0-{}-r1", &COMMIT[..12]);
    let mut want = vec!["SHA256SUMS".to_string(), "index.json".to_string()];
    for t in [LINUX, WINDOWS] {
        let ext = if t == WINDOWS { "zip" } else { "tar.gz" };
        want.push(format!("{}.{ext}", stem(t)));
        for f in ["checksums.json", "manifest.json", "provenance.json"] {
            want.push(format!("{}.{f}", stem(t)));
        }
    }
    want.sort();
    let mut got: Vec<String> = std::fs::read_dir(p.path("assets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, want);
    // SHA256SUMS is what `sha256sum -c` reads, and what stdout printed.
    let sums = p.read("assets/SHA256SUMS");
    assert_eq!(sums, run.stdout);
    for line in sums.lines() {
        let (sha, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(p.path(&format!("assets/{name}"))).unwrap();
        assert_eq!(sha, parity_sha256(&bytes), "{name}");
    }
    assert_eq!(
        std::fs::read(p.path(&format!("assets/{}.tar.gz", stem(LINUX)))).unwrap(),
        std::fs::read(p.path(&archive("0.3.0", LINUX))).unwrap()
    );

    // The downloaded assets verify as they are (no tree beside the index: flat names).
    let flat = p.parity(&[
        "dist",
        "verify",
        "--index",
        "assets/index.json",
        "--version",
        "0.3.0",
        "--all",
    ]);
    flat.ok();
    assert!(
        flat.stdout
            .contains(&format!("assets/{}.tar.gz", stem(LINUX))),
        "{}",
        flat.stdout
    );
    let asset = p.path(&format!("assets/{}.manifest.json", stem(WINDOWS)));
    let text = std::fs::read_to_string(&asset).unwrap();
    std::fs::write(&asset, text.replace("\"release\"", "\"releasf\"")).unwrap();
    let edited = p.parity(&["dist", "verify", "--index", "assets/index.json", "--all"]);
    edited.code(1);
    assert!(
        edited
            .stderr
            .contains(&format!("{}.manifest.json` has sha256", stem(WINDOWS))),
        "{}",
        edited.stderr
    );

    // A tree that does not verify writes no asset.
    let path = p.path(&archive("0.3.0", WINDOWS));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    p.parity(&["dist", "assets", "--version", "0.3.0", "--out", "assets2"])
        .code(1);
    assert!(!p.exists("assets2"));
}

#[test]
fn dist_artifacts_travel_through_the_remote_cache() {
    let server = CacheServer::start();
    let url = server.url();
    let a = repo("0.3.0", &[LINUX]);
    let first = a.parity(&["-C", "dist", "build", "--json", "--remote-cache", &url]);
    first.ok();
    assert!(first.outcomes().values().all(|o| o == "ran"));
    let b = repo("0.3.0", &[LINUX]);
    let second = b.parity(&["-C", "dist", "build", "--json", "--remote-cache", &url]);
    second.ok();
    let outcomes = second.outcomes();
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes.values().all(|o| o == "remote"), "{outcomes:?}");
    assert_eq!(outputs(&a), outputs(&b));
    b.parity(&["dist", "verify", "--all"]).ok();
}

#[test]
fn dist_plan_that_disagrees_with_the_tuple_fails_the_node_naming_the_plan() {
    let p = repo("0.3.0", &[LINUX]);
    let text = p.read("dist/release.toml");
    p.write(
        "dist/release.toml",
        &text.replace(
            &format!("git_commit = \"{COMMIT}\""),
            "git_commit = \"ffff\"",
        ),
    );
    let run = p.parity(&["-C", "dist", "build"]);
    run.code(1);
    assert!(
        run.stderr
            .contains("`dist/release.toml` is not a valid release plan")
            && run.stderr.contains("is not the 40-digit commit"),
        "{}",
        run.stderr
    );
}

fn parity_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `docs/distribution-contract.json`, `docs/distribution.md`, the changelog and the code agree:
/// the contract id, the path templates, the files beside the archive, retention, the alias.
#[test]
fn the_contract_documents_agree_with_the_code() {
    use parity_rules::dist::contract::{self, Tuple};
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/{f}")).unwrap();
    let json: Value = serde_json::from_str(&read("docs/distribution-contract.json")).unwrap();
    let human = read("docs/distribution.md");
    let changelog = read("docs/distribution-changelog.md");
    assert_eq!(json["contract"], contract::CONTRACT);
    assert!(human.contains(contract::CONTRACT) && changelog.contains(contract::CONTRACT));
    let tuple = Tuple {
        version: "0.3.0".into(),
        target: WINDOWS.into(),
        profile: "release".into(),
        toolchain: "1.95.0".into(),
        git_sha: COMMIT[..12].into(),
        dist_revision: "r2".into(),
    };
    let render = |template: &str| {
        template
            .replace("{contract}", contract::CONTRACT)
            .replace("{version}", &tuple.version)
            .replace("{target}", &tuple.target)
            .replace("{profile}", &tuple.profile)
            .replace("{toolchain}", &tuple.toolchain)
            .replace("{rust}", &tuple.toolchain)
            .replace("{gitsha}", &tuple.git_sha)
            .replace("{dist_revision}", &tuple.dist_revision)
            .replace("{ext}", tuple.format().ext())
    };
    let paths = &json["paths"];
    let dir = paths["tuple_dir"].as_str().unwrap();
    let file = paths["artifact"].as_str().unwrap();
    assert_eq!(render(dir), format!("dist/{}/", tuple.dir()));
    assert_eq!(render(file), tuple.file_name());
    assert!(
        human.contains(dir) && human.contains(file),
        "docs/distribution.md shows both templates"
    );
    assert!(changelog.contains(dir) && changelog.contains(file));
    assert_eq!(paths["index"], format!("dist/{}", contract::INDEX));
    assert!(PIPELINE.contains(&format!("outputs = [\"dist/{}\"]", contract::INDEX)));
    let beside: Vec<&str> = paths["beside_artifact"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        beside,
        [
            contract::CHECKSUMS,
            contract::MANIFEST,
            contract::PROVENANCE
        ]
    );
    assert_eq!(
        json["retention"]["min_generations"],
        contract::MIN_GENERATIONS
    );
    assert!(human.contains("at least six") && changelog.contains("At least 6"));
    let alias = json["retired_aliases"][0]["path"].as_str().unwrap();
    assert_eq!(render(alias), format!("dist/{}", contract::RETIRED_ALIAS));
    assert!(human.contains("retired on 2026-07-01"));
    assert_eq!(json["hash"], "sha256");
    // The dist pipeline writes its archives where the templates say.
    assert!(PIPELINE.contains(
        "dist/distribution-contract@1.0/{version}/{tar_target}/{profile}/{toolchain}/{gitsha}/{revision}/parity-v{version}-{tar_target}-{profile}-{toolchain}-{gitsha}-{revision}.tar.gz"
    ));
    // The exit codes the docs list are the ones the CLI returns (tested above).
    for code in ["0", "1", "2", "3", "4"] {
        assert!(json["consumer_exit_codes"][code].is_string(), "exit {code}");
    }
}

/// `verify --rebuild` of a pipeline whose root is above it (`root = ".."`, as the dist
/// pipeline's): the copy once went to the scratch directory's parent (the system temp
/// directory), beside it, and stayed there.
#[test]
fn verify_rebuild_with_the_root_above_the_pipeline_stays_in_its_scratch_directory() {
    let p = repo("0.3.0", &[LINUX]);
    build(&p);
    let tmp = tempfile::tempdir().unwrap();
    let run = p.parity_env(
        &[("TMPDIR", tmp.path().to_str().unwrap())],
        &["-C", "dist", "verify", "--rebuild"],
    );
    run.ok();
    assert!(run.stderr.contains("rebuild done: 5 ran"), "{}", run.stderr);
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "written beside the scratch directory: {left:?}"
    );
}

// The release workflows' steps (release.yml, container.yml, python.yml): each decision is one
// of these commands.

/// Asserts the exit code and that stderr says `want`.
#[track_caller]
fn said(run: &crate::support::Run, code: i32, want: &str) {
    run.code(code);
    assert!(run.stderr.contains(want), "{}", run.stderr);
}

/// `$GITHUB_OUTPUT` of a run of `args` (with the extra `env`), which must succeed.
fn step_outputs(p: &Project, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = p.path("gh-output");
    let _ = std::fs::remove_file(&out);
    let out_s = out.to_string_lossy().into_owned();
    let mut all = vec![("GITHUB_OUTPUT", out_s.as_str())];
    all.extend_from_slice(env);
    p.parity_env(&all, args).ok();
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn release_plan_outputs_check_the_tag_and_name_the_image_tags() {
    let p = repo("1.2.3", &[LINUX, WINDOWS]);
    assert_eq!(
        step_outputs(
            &p,
            &[],
            &["dist", "outputs", "--tag", "v1.2.3", "--github-output"]
        ),
        format!(
            "version=1.2.3\ntoolchain=1.95.0\ngit_sha={}\ntargets=[\"{LINUX}\",\"{WINDOWS}\"]\n",
            &COMMIT[..12]
        )
    );
    for (tag, want) in [
        (
            "v1.2.4",
            "the tag `v1.2.4` is not the plan's version `1.2.3`",
        ),
        ("1.2.3", "the tag `1.2.3` is not a release tag `vX.Y.Z`"),
        ("v1.2.3-rc.1", "is not a release tag"),
    ] {
        said(&p.parity(&["dist", "outputs", "--tag", tag]), 2, want);
    }
    p.write("dist/release.toml", "version = [\"1.2.3\"]\n");
    said(&p.parity(&["dist", "outputs"]), 2, "dist/release.toml");

    let p = repo("1.2.3", &[LINUX]);
    let image = step_outputs(
        &p,
        &[("GITHUB_REPOSITORY", "Some-Org/Parity")],
        &["dist", "image", "--registry", "ghcr.io", "--github-output"],
    );
    let i = "ghcr.io/some-org/parity";
    assert_eq!(
        image,
        format!(
            "image={i}\ntags<<PARITY_TAGS_END\n{i}:v1.2.3\n{i}:v1.2\n{i}:v1\n{i}:latest\n{i}:sha-{sha}\nPARITY_TAGS_END\nrefs=[\"{i}:v1.2.3\",\"{i}:v1.2\",\"{i}:v1\",\"{i}:latest\",\"{i}:sha-{sha}\"]\n",
            sha = &COMMIT[..12]
        )
    );
}

/// The dist job's assets and their sums, as the publish and verify jobs receive them.
fn release_assets(p: &Project) -> String {
    build(p);
    let outputs = step_outputs(
        p,
        &[],
        &[
            "dist",
            "assets",
            "--version",
            "0.3.0",
            "--out",
            "assets",
            "--github-output",
        ],
    );
    let sums = p.read("assets/SHA256SUMS");
    assert_eq!(
        outputs,
        format!("sums<<PARITY_SUMS_END\n{sums}PARITY_SUMS_END\n")
    );
    // As a step output the value loses its last newline.
    sums.trim_end().to_string()
}

#[test]
fn release_assets_are_checked_against_their_sums_before_publishing() {
    let p = repo("0.3.0", &[LINUX, WINDOWS]);
    let sums = release_assets(&p);
    let check = |dir: &str, extra: &[&str]| {
        let mut args = vec!["dist", "check-sums", "--dir", dir, "--sums", &sums];
        args.extend_from_slice(extra);
        p.parity(&args)
    };
    check("assets", &[]).ok();
    // A flipped byte, a missing file, a file nobody built: each fails, named.
    let copy = |to: &str| crate::support::copy_dir(&p.path("assets"), &p.path(to));
    copy("flipped");
    let name = sums.lines().next().unwrap().split_once("  ").unwrap().1;
    let path = p.path(&format!("flipped/{name}"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let run = check("flipped", &[]);
    said(&run, 1, &format!("`{name}` has sha256"));
    copy("missing");
    std::fs::remove_file(p.path(&format!("missing/{name}"))).unwrap();
    let run = check("missing", &[]);
    said(&run, 1, &format!("`{name}` is missing"));
    // ... unless only a subset is expected there (a wheel downloaded on one OS).
    check("missing", &["--subset"]).ok();
    copy("extra");
    p.write("extra/notes.txt", "hi\n");
    let run = check("extra", &[]);
    said(&run, 1, "`notes.txt` is in `extra` but not in the sums");
    p.write("assets/SHA256SUMS", "0000\n");
    let run = check("assets", &[]);
    said(&run, 1, "`SHA256SUMS` does not hold the expected lines");
    said(
        &p.parity(&["dist", "check-sums", "--dir", "extra", "--sums", "abc  x"]),
        2,
        "line 1 of the sums",
    );
}

/// A GitHub release as the API returns it, its assets served from `server`.
fn serve_release(server: &Server, p: &Project, tag: &str, dir: &str, draft: bool) -> Value {
    let mut assets = Vec::new();
    for e in std::fs::read_dir(p.path(dir)).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let path = format!("/download/{tag}/{name}");
        server.route(
            &path,
            vec![Reply::ok(
                std::fs::read(p.path(&format!("{dir}/{name}"))).unwrap(),
            )],
        );
        assets.push(
            serde_json::json!({"name": name, "browser_download_url": server.url(&path), "size": 1}),
        );
    }
    let release = serde_json::json!({"tag_name": tag, "draft": draft, "prerelease": false,
        "published_at": "2026-04-01T00:00:00Z", "assets": assets});
    server.route(
        &format!("/repos/o/p/releases/tags/{tag}"),
        vec![Reply::json(&release)],
    );
    release
}

#[test]
fn the_published_release_is_read_back_and_the_previous_index_feeds_retention() {
    let server = Server::start();
    let p = repo("0.3.0", &[LINUX, WINDOWS]);
    let sums = release_assets(&p);
    let api = [("PARITY_GITHUB_API", server.base())];
    let read_back = |out: &str| {
        p.parity_env(
            &api,
            &[
                "dist",
                "verify-release",
                "--repo",
                "o/p",
                "--tag",
                "v0.3.0",
                "--sums",
                &sums,
                "--out",
                out,
            ],
        )
    };
    let published = serve_release(&server, &p, "v0.3.0", "assets", false);
    read_back("published").ok();
    assert_eq!(p.read("published/SHA256SUMS"), p.read("assets/SHA256SUMS"));
    // Every planned target resolves to exactly one row of the published index, and verifies.
    let verify_plan = |plan: &str| {
        p.parity(&[
            "dist",
            "verify",
            "--index",
            "published/index.json",
            "--plan",
            plan,
        ])
    };
    let run = verify_plan("dist/release.toml");
    run.ok();
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    // A plan target the index lacks fails (exit 3), naming it.
    p.write(
        "dist/other.toml",
        &plan("0.3.0", "r1", &[LINUX, WINDOWS, "aarch64-apple-darwin"]),
    );
    said(&verify_plan("dist/other.toml"), 3, "aarch64-apple-darwin");

    // A draft, an asset served with other bytes, an asset missing: each fails.
    serve_release(&server, &p, "v0.3.0", "assets", true);
    let run = read_back("draft");
    said(&run, 1, "release `v0.3.0` is a draft");
    serve_release(&server, &p, "v0.3.0", "assets", false);
    let name = sums.lines().next().unwrap().split_once("  ").unwrap().1;
    server.route(
        &format!("/download/v0.3.0/{name}"),
        vec![Reply::ok("tampered")],
    );
    let run = read_back("tampered");
    said(&run, 1, &format!("`{name}` has sha256"));
    let mut fewer = published.clone();
    fewer["assets"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["name"] != "index.json");
    server.route("/repos/o/p/releases/tags/v0.3.0", vec![Reply::json(&fewer)]);
    let run = read_back("fewer");
    said(&run, 1, "release `v0.3.0` has no asset `index.json`");

    // Retention: the newest published release other than the tag being released, that has an
    // index, is fetched; a draft never is.
    let list = |releases: Vec<Value>| {
        server.route(
            "/repos/o/p/releases?per_page=100",
            vec![Reply::json(&Value::Array(releases))],
        );
    };
    let older = serde_json::json!({"tag_name": "v0.2.0", "draft": false, "prerelease": false,
        "published_at": "2026-03-01T00:00:00Z",
        "assets": [{"name": "index.json", "browser_download_url": server.url("/download/v0.2.0/index.json"), "size": 1}]});
    server.route(
        "/download/v0.2.0/index.json",
        vec![Reply::ok(p.read("dist/index.json"))],
    );
    let mut draft = older.clone();
    draft["tag_name"] = "v0.4.0".into();
    draft["draft"] = true.into();
    draft["assets"][0]["browser_download_url"] = server.url("/nowhere").into();
    let previous = |args: &[&str]| {
        let mut all = vec![
            "dist",
            "previous-index",
            "--repo",
            "o/p",
            "--tag",
            "v0.3.0",
            "--out",
            "dist/published-index.json",
        ];
        all.extend_from_slice(args);
        p.parity_env(&api, &all)
    };
    list(vec![draft.clone(), published.clone(), older.clone()]);
    previous(&[]).ok();
    assert_eq!(
        p.read("dist/published-index.json"),
        p.read("dist/index.json")
    );
    assert_eq!(server.hits("/nowhere"), 0);
    // A first release: nothing written, success.
    std::fs::remove_file(p.path("dist/published-index.json")).unwrap();
    list(vec![published]);
    let run = previous(&[]);
    run.ok();
    assert!(run.stderr.contains("a first release"), "{}", run.stderr);
    assert!(!p.exists("dist/published-index.json"));
    // An index that is not one fails, and writes nothing.
    server.route("/download/v0.2.0/index.json", vec![Reply::ok("{}")]);
    list(vec![older]);
    previous(&[]).code(1);
    assert!(!p.exists("dist/published-index.json"));
}

#[test]
fn python_files_are_one_wheel_per_planned_target_and_the_sdist() {
    let mac = "aarch64-apple-darwin";
    let p = repo("1.2.3", &[LINUX, WINDOWS, mac])
        .file("pyproject.toml", "[project]\nname = \"parity-build\"\n");
    let files = [
        "parity_build-1.2.3-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "parity_build-1.2.3-py3-none-win_amd64.whl",
        "parity_build-1.2.3-py3-none-macosx_11_0_arm64.whl",
        "parity_build-1.2.3.tar.gz",
    ];
    for f in files {
        p.write(&format!("packages/{f}"), f);
    }
    let outputs = step_outputs(
        &p,
        &[],
        &["dist", "python", "--dir", "packages", "--github-output"],
    );
    let mut names = files.to_vec();
    names.sort();
    let lines: Vec<String> = names
        .iter()
        .map(|f| format!("{}  {f}", parity_sha256(f.as_bytes())))
        .collect();
    assert_eq!(
        outputs,
        format!(
            "package=parity-build\nhashes<<PARITY_HASHES_END\n{}\nPARITY_HASHES_END\n",
            lines.join("\n")
        )
    );
    let fails = |want: &str| {
        said(&p.parity(&["dist", "python", "--dir", "packages"]), 1, want);
    };
    std::fs::remove_file(p.path(&format!("packages/{}", files[2]))).unwrap();
    fails(&format!("no wheel for `{mac}`"));
    p.write(&format!("packages/{}", files[2]), "x");
    p.write(
        "packages/parity_build-1.2.3-py3-none-macosx_12_0_arm64.whl",
        "y",
    );
    fails(&format!("2 wheels for `{mac}`"));
    std::fs::remove_file(p.path("packages/parity_build-1.2.3-py3-none-macosx_12_0_arm64.whl"))
        .unwrap();
    p.write("packages/parity_build-1.2.2-py3-none-win_amd64.whl", "old");
    fails(
        "`parity_build-1.2.2-py3-none-win_amd64.whl` is neither a wheel of parity_build 1.2.3 nor its sdist",
    );
    std::fs::remove_file(p.path("packages/parity_build-1.2.2-py3-none-win_amd64.whl")).unwrap();
    std::fs::remove_file(p.path("packages/parity_build-1.2.3.tar.gz")).unwrap();
    fails("no sdist `parity_build-1.2.3.tar.gz`");
}

#[test]
fn the_image_read_back_must_be_the_pushed_digest_with_both_platforms() {
    let p = Project::new();
    let list = serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": "sha256:aa", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:bb", "platform": {"os": "linux", "architecture": "arm64"}}]});
    let bytes = list.to_string();
    p.write("manifest.json", &bytes);
    let digest = format!("sha256:{}", parity_sha256(bytes.as_bytes()));
    let check = |digest: &str| {
        p.parity(&[
            "dist",
            "check-image",
            "--manifest",
            "manifest.json",
            "--digest",
            digest,
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm64",
        ])
    };
    check(&digest).ok();
    let run = check(&format!("sha256:{}", "0".repeat(64)));
    said(
        &run,
        1,
        &format!("the manifest list is {digest}, not the pushed"),
    );
    let mut one = list.clone();
    one["manifests"].as_array_mut().unwrap().pop();
    let bytes = one.to_string();
    p.write("manifest.json", &bytes);
    let run = check(&format!("sha256:{}", parity_sha256(bytes.as_bytes())));
    said(&run, 1, "no `linux/arm64` image (it has: linux/amd64)");
}
