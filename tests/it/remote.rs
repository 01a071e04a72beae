//! The remote cache over real HTTP (the in-process server of `cache_server.rs`): clone A
//! populates it, clone B (empty local cache) runs no rule; corrupt objects are rebuilt, not
//! used; a dead, failing or stalled server degrades to local work with one warning; read-only
//! runs write nothing; a host-bound node built on its host is restored elsewhere.

use std::time::{Duration, Instant};

use crate::cache_server::CacheServer;
use crate::support::{Project, Run, command_node, map};

/// `a` (committed), `gen` (a cache-only directory), `b` over both; `solo` on its own.
const SOURCES: [(&str, &str); 2] = [("src.txt", "one\ntwo\n"), ("extra.txt", "extra\n")];

fn pipeline() -> String {
    [
        command_node("a", &["src.txt"], &["out/a.txt"], "sort -r $in > $out"),
        command_node(
            "gen",
            &["src.txt"],
            &["{cache}/gen/"],
            "mkdir -p $out/sub; cp src.txt $out/sub/copy.txt; echo gen > $out/top.txt",
        ),
        command_node(
            "b",
            &["a", "gen", "extra.txt"],
            &["out/b.txt"],
            r#"for f in $in; do if [ -d "$f" ]; then cat "$f/top.txt" "$f/sub/copy.txt"; else cat "$f"; fi; done > $out"#,
        ),
        command_node("solo", &["extra.txt"], &["out/solo.txt"], "cp $in $out"),
    ]
    .concat()
}

fn clone() -> Project {
    let mut p = Project::new().file("pipeline.toml", &pipeline());
    for (path, text) in SOURCES {
        p = p.file(path, text);
    }
    p
}

fn warnings(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(String::from)
        .collect()
}

const ALL: [&str; 4] = ["a", "b", "gen", "solo"];

#[test]
fn clone_b_restores_everything_from_the_remote_cache_and_runs_no_rule() {
    let server = CacheServer::start();
    let a = clone();
    let url = server.url();
    let t = Instant::now();
    let first = a.parity(&["build", "--json", "--remote-cache", &url]);
    let a_time = t.elapsed();
    first.ok();
    assert_eq!(first.outcomes(), map(&ALL.map(|n| (n, "ran"))));
    let stats = &first.summary()["remote_cache"];
    assert_eq!(stats["uploads"], 4, "{stats}");
    assert!(stats["bytes_uploaded"].as_u64().unwrap() > 0);
    assert_eq!(
        server
            .keys()
            .iter()
            .filter(|k| k.starts_with("ac/"))
            .count(),
        4
    );
    assert_eq!(warnings(&first), Vec::<String>::new());
    a.take_runs();

    let b = clone();
    server.reset_counts();
    let t = Instant::now();
    let second = b.parity(&["build", "--json", "--remote-cache", &url]);
    let b_time = t.elapsed();
    second.ok();
    assert_eq!(second.outcomes(), map(&ALL.map(|n| (n, "remote"))));
    for e in second.events("finished") {
        assert_eq!(e["source"], "remote-cache", "{e}");
    }
    assert_eq!(
        b.take_runs(),
        Vec::<String>::new(),
        "no rule runs in clone B"
    );
    assert_eq!(second.summary()["remote"], 4);
    for f in ["out/a.txt", "out/b.txt", "out/solo.txt"] {
        assert_eq!(b.read(f), a.read(f), "{f}");
    }
    assert_eq!(server.counts().put, 0, "nothing to upload");
    // Build without the bytes: `gen`'s cache-only directory was not downloaded.
    assert!(!b.exists("cache/out/gen"));
    eprintln!(
        "clone A {a_time:?}, clone B {b_time:?}, B downloaded {} bytes",
        server.counts().bytes_out
    );
    let status = b.parity(&["status"]);
    status.ok();
    assert_eq!(status.stdout, "4 nodes: 4 fresh\n");

    // `b` must run now: `gen`'s bytes are fetched lazily from the remote, `gen` does not run.
    b.write("extra.txt", "changed\n");
    let third = b.parity(&["build", "--json", "--remote-cache", &url]);
    third.ok();
    assert_eq!(b.take_runs_sorted(), ["b", "solo"]);
    assert_eq!(b.read("cache/out/gen/sub/copy.txt"), "one\ntwo\n");
    assert!(
        b.read("out/b.txt").contains("gen\none\ntwo\n"),
        "{}",
        b.read("out/b.txt")
    );
}

#[test]
fn a_corrupted_remote_object_is_detected_rebuilt_and_repaired() {
    let server = CacheServer::start();
    let url = server.url();
    let a = clone();
    a.parity(&["build", "--remote-cache", &url]).ok();
    let good = a.read("out/a.txt");
    let key = server
        .cas_key_of(good.as_bytes())
        .expect("out/a.txt uploaded");
    let mut bad = good.clone().into_bytes();
    bad[0] ^= 0x20;
    server.set(&key, &bad);

    let b = clone();
    let run = b.parity(&["build", "--json", "--remote-cache", &url]);
    run.ok();
    let outcomes = run.outcomes();
    assert_eq!(outcomes["a"], "ran", "the corrupt object is not used");
    assert_eq!(outcomes["solo"], "remote");
    assert_eq!(b.read("out/a.txt"), good);
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(w[0].contains("does not match its digest"), "{}", w[0]);
    assert_eq!(run.events("warning").len(), 1);
    assert_eq!(
        server.get(&key).unwrap(),
        good.as_bytes(),
        "the rebuilt object replaced the corrupt one"
    );
}

#[test]
fn a_corrupted_action_entry_is_a_miss() {
    let server = CacheServer::start();
    let url = server.url();
    clone().parity(&["build", "--remote-cache", &url]).ok();
    for k in server.keys().iter().filter(|k| k.starts_with("ac/")) {
        server.set(k, b"{\"parity_ac\":1,\"outputs\":{\"x\":{}}}");
    }
    let b = clone();
    let run = b.parity(&["build", "--json", "--remote-cache", &url]);
    run.ok();
    assert_eq!(run.outcomes(), map(&ALL.map(|n| (n, "ran"))));
    assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);
}

#[test]
fn server_killed_mid_build_degrades_to_local_work_with_one_warning() {
    let server = CacheServer::start();
    server.die_at_put(2);
    let a = clone();
    let run = a.parity(&[
        "build",
        "--json",
        "-j",
        "1",
        "--remote-cache",
        &server.url(),
    ]);
    run.ok();
    assert!(server.is_dead());
    assert_eq!(run.outcomes(), map(&ALL.map(|n| (n, "ran"))));
    assert_eq!(a.take_runs().len(), 4);
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(
        w[0].contains("disabled for the rest of this run"),
        "{}",
        w[0]
    );
    assert!(run.summary()["remote_cache"]["disabled"].as_bool().unwrap());
    assert_eq!(a.read("out/a.txt"), "two\none\n");
    // The next build is fresh and does not need the dead server.
    let again = a.parity(&["build", "--remote-cache", &server.url()]);
    again.ok();
    assert!(again.stderr.contains("no work to do."), "{}", again.stderr);
}

#[test]
fn unreachable_failing_or_stalled_servers_never_fail_the_build() {
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/", l.local_addr().unwrap().port())
    };
    let p = clone();
    let run = p.parity(&["build", "--remote-cache", &closed]);
    run.ok();
    assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);

    let server = CacheServer::start();
    server.fail_with_500(true);
    let p = clone();
    let run = p.parity(&["build", "--remote-cache", &server.url()]);
    run.ok();
    assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 500"), "{}", run.stderr);
    assert_eq!(p.take_runs().len(), 4);

    server.fail_with_500(false);
    server.stall(true);
    let p = clone();
    let run = p.parity(&[
        "build",
        "--remote-cache",
        &server.url(),
        "--remote-timeout",
        "0.5",
    ]);
    run.ok();
    assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert_eq!(p.read("out/solo.txt"), "extra\n");
}

#[test]
fn read_only_runs_upload_nothing_but_still_read() {
    let server = CacheServer::start();
    let url = server.url();
    let p = clone();
    p.parity(&["build", "--remote-cache", &url, "--remote-read-only"])
        .ok();
    let c = server.counts();
    assert_eq!((c.put, c.head, c.bytes_in), (0, 0, 0), "{c:?}");
    assert!(server.keys().is_empty());

    let p = clone();
    p.parity_env(
        &[
            ("PARITY_REMOTE_CACHE", url.as_str()),
            ("PARITY_REMOTE_READ_ONLY", "1"),
        ],
        &["build"],
    )
    .ok();
    assert_eq!(server.counts().put, 0);

    // Populated by a trusted run, read by an untrusted one.
    clone().parity(&["build", "--remote-cache", &url]).ok();
    server.reset_counts();
    let p = clone();
    let run = p.parity(&[
        "build",
        "--json",
        "--remote-cache",
        &url,
        "--remote-read-only",
    ]);
    run.ok();
    assert_eq!(run.outcomes(), map(&ALL.map(|n| (n, "remote"))));
    assert_eq!(server.counts().put, 0);
}

#[test]
fn credentials_in_the_url_are_never_printed() {
    let server = CacheServer::start();
    server.fail_with_500(true);
    let url = server.url().replace("http://", "http://ci:hunter2@");
    let run = clone().parity(&["build", "--json", "--remote-cache", &url]);
    run.ok();
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
    assert!(
        run.stderr.contains("http://***@127.0.0.1"),
        "{}",
        run.stderr
    );
}

/// `mac` can only run on macOS; `union` takes it optionally.
fn host_pipeline() -> Project {
    let pipeline = format!(
        "{}[artifact.union]\nrule = \"command\"\ninputs = [\"mac?\", \"src.txt\"]\noutputs = [\"out/union.txt\"]\nconfig = {{ command = '{}' }}\n",
        command_node(
            "mac",
            &["src.txt"],
            &["out/mac.txt"],
            "echo built-on-mac > $out"
        )
        .replace("rule = \"command\"", "rule = \"command\"\nhost = \"macos\""),
        "cat $in > $out"
    );
    Project::new()
        .file("pipeline.toml", &pipeline)
        .file("src.txt", "src\n")
}

#[test]
fn a_host_bound_node_built_on_its_host_is_restored_on_another() {
    if std::env::consts::OS == "macos" {
        return; // the point is a machine that cannot run `mac`
    }
    let server = CacheServer::start();
    let url = server.url();
    let on_mac = host_pipeline();
    on_mac
        .parity_env(
            &[("PARITY_HOST", "macos")],
            &["build", "--remote-cache", &url],
        )
        .ok();
    assert_eq!(on_mac.take_runs_sorted(), ["mac", "union"]);

    let linux = host_pipeline();
    let run = linux.parity(&["build", "--json", "--remote-cache", &url]);
    run.ok();
    assert_eq!(
        run.outcomes(),
        map(&[("mac", "remote"), ("union", "remote")])
    );
    assert_eq!(linux.read("out/union.txt"), "built-on-mac\nsrc\n");
    assert_eq!(linux.take_runs(), Vec::<String>::new());

    // Without the remote cache the same clone is blocked and the union incomplete.
    let alone = host_pipeline();
    let run = alone.parity(&["build", "--json"]);
    run.ok();
    assert_eq!(run.outcomes(), map(&[("mac", "blocked"), ("union", "ran")]));
    assert_eq!(alone.read("out/union.txt"), "src\n");
}

#[test]
fn dry_run_says_what_the_remote_cache_would_restore() {
    let server = CacheServer::start();
    let url = server.url();
    clone().parity(&["build", "--remote-cache", &url]).ok();
    let p = clone();
    let run = p.parity(&["build", "--json", "--dry-run", "--remote-cache", &url, "a"]);
    run.ok();
    assert_eq!(run.outcomes(), map(&[("a", "would-restore")]));
    assert!(!p.exists("out/a.txt"));
}

#[test]
fn a_bad_remote_url_is_a_usage_error() {
    let run = clone().parity(&["build", "--remote-cache", "ftp://u:secret@h/"]);
    run.code(2);
    assert!(
        run.stderr.contains("invalid remote cache URL"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret"), "{}", run.stderr);
}

/// A read-only client of `server`'s `/c` and an empty local cache (in the temp dir returned).
fn read_only_client(
    server: &crate::http::Server,
) -> (
    parity_engine::remote::RemoteCache,
    tempfile::TempDir,
    parity_engine::cache::LocalCache,
) {
    let remote = parity_engine::remote::RemoteCache::new(&parity_engine::remote::RemoteOptions {
        url: server.url("/c"),
        read_only: true,
        required: false,
        timeout: Duration::from_secs(20),
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let local = parity_engine::cache::LocalCache::new(tmp.path().to_path_buf());
    (remote, tmp, local)
}

/// A server flooding an action entry or an object: the client stops at the entry limit or at
/// the object's size (one byte past it), treats it as a miss, and never holds the flood.
#[test]
fn an_endless_entry_or_object_is_cut_off_at_its_limit() {
    use crate::http::{Reply, Server};
    use parity_engine::hash::Digest;
    use parity_engine::hash::sha256_hex;
    use parity_engine::remote::{MAX_ENTRY, OutputShape, RemoteEntry, RemoteOutput, ac_name};

    let server = Server::start();
    let flood = 1 << 30;
    let (remote, _tmp, local) = read_only_client(&server);

    let key = Digest([1; 32]);
    let ac = format!("/c/ac/{}", ac_name(&key));
    server.route(
        &ac,
        vec![Reply::Flood {
            len: flood,
            announce: false,
        }],
    );
    assert!(
        remote
            .lookup(&key, &["out.txt".to_string()])
            .unwrap()
            .is_none()
    );
    assert!(server.sent(&ac) < flood / 8, "the entry was read on");
    let warned = remote.take_warnings().join("\n");
    assert!(
        warned.contains(&format!("ac/{} ", ac_name(&key))),
        "{warned}"
    );
    assert!(warned.contains("over the limit"), "{warned}");
    assert!(
        remote.enabled(),
        "an oversized entry is a miss, not a dead server"
    );

    let bytes = b"hello\n";
    let sha = sha256_hex(bytes);
    let entry = RemoteEntry {
        parity_ac: 1,
        outputs: [(
            "out.txt".to_string(),
            RemoteOutput {
                kind: OutputShape::File,
                blake3: Digest::of(bytes),
                sha256: Some(sha.clone()),
                size: bytes.len() as u64,
                executable: false,
                tree: None,
            },
        )]
        .into(),
    };
    let key = Digest([2; 32]);
    server.route(
        &format!("/c/ac/{}", ac_name(&key)),
        vec![Reply::ok(serde_json::to_vec(&entry).unwrap())],
    );
    let cas = format!("/c/cas/{sha}");
    for announce in [false, true] {
        server.route(
            &cas,
            vec![Reply::Flood {
                len: flood,
                announce,
            }],
        );
        let found = remote
            .lookup(&key, &["out.txt".to_string()])
            .unwrap()
            .unwrap();
        assert!(!remote.fetch(&local, &found, &|_| true).unwrap());
        assert!(!local.has_object(&Digest::of(bytes)));
    }
    assert!(server.sent(&cas) < flood / 8, "the object was read on");
    let entries = MAX_ENTRY + 1 + 2 * 1024;
    assert!(
        remote.stats().bytes_downloaded < entries,
        "{:?}",
        remote.stats()
    );
}

/// `file:///…` of a directory (which need not exist yet).
fn file_url(dir: &std::path::Path) -> String {
    let path = dir.to_string_lossy().replace('\\', "/");
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("file://{slash}{path}")
}

/// Every file under `dir`, relative, `/`-separated, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir_files(dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    out.sort();
    out
}

fn walkdir_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walkdir_files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_directory_remote_cache_carries_every_output_like_the_http_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("remote");
    let url = file_url(&dir);
    let a = clone();
    let first = a.parity(&["build", "--json", "--remote-cache", &url]);
    first.ok();
    assert_eq!(first.summary()["remote_cache"]["uploads"], 4);
    let files = files_under(&dir);
    assert_eq!(files.iter().filter(|f| f.starts_with("ac/")).count(), 4);
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("ac/") || f.starts_with("cas/"))
    );
    assert!(
        !files.iter().any(|f| f.contains(".parity-tmp")),
        "{files:?}"
    );

    // Clone B, an empty local cache: everything comes from the directory, no rule runs.
    let b = clone();
    let second = b.parity(&["build", "--json", "--remote-cache", &url]);
    second.ok();
    assert_eq!(second.outcomes(), map(&ALL.map(|n| (n, "remote"))));
    assert_eq!(b.take_runs(), Vec::<String>::new());
    assert_eq!(b.read("out/b.txt"), a.read("out/b.txt"));

    // A corrupt object is verified, not used: rebuilt and repaired, as over HTTP.
    let good = a.read("out/a.txt");
    let object = walkdir_files(&dir.join("cas"))
        .into_iter()
        .find(|p| std::fs::read(p).unwrap() == good.as_bytes())
        .expect("out/a.txt is in the directory");
    std::fs::write(&object, "tampered\n").unwrap();
    let c = clone();
    let run = c.parity(&["build", "--json", "--remote-cache", &url]);
    run.ok();
    assert_eq!(run.outcomes()["a"], "ran");
    assert_eq!(c.read("out/a.txt"), good);
    assert!(
        warnings(&run)[0].contains("does not match its digest"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&object).unwrap(), good);
}

#[test]
fn a_remote_cache_url_with_a_host_or_a_relative_file_path_is_a_usage_error() {
    for url in ["file://host/x", "file:relative/dir"] {
        let run = clone().parity(&["build", "--remote-cache", url]);
        if url == "file:relative/dir" {
            // `file:relative/dir` is `file:///relative/dir` to a URL parser: absolute, usable.
            run.ok();
            continue;
        }
        run.code(2);
        assert!(
            run.stderr.contains("expected file:///absolute/path"),
            "{}",
            run.stderr
        );
    }
    let run = clone().parity(&["build", "--remote-required"]);
    run.code(2);
    assert!(
        run.stderr
            .contains("--remote-required needs a remote cache"),
        "{}",
        run.stderr
    );
}

/// A directory whose `cas` is a file: lookups miss, every write fails.
fn unwritable_dir() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("remote");
    std::fs::create_dir_all(dir.join("ac")).unwrap();
    std::fs::write(dir.join("cas"), "not a directory\n").unwrap();
    let url = file_url(&dir);
    (tmp, url)
}

#[test]
fn an_unwritable_remote_cache_fails_a_required_run_naming_the_node_and_the_url() {
    let (_tmp, url) = unwritable_dir();
    // Not required: one warning, the build goes on locally and succeeds.
    let run = clone().parity(&["build", "--remote-cache", &url]);
    run.ok();
    assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);

    // Required (flag or env): the first node that cannot be published fails the run.
    for env in [false, true] {
        let p = clone();
        let run = if env {
            p.parity_env(
                &[
                    ("PARITY_REMOTE_REQUIRED", "1"),
                    ("PARITY_REMOTE_CACHE", &url),
                ],
                &["build", "--json", "solo"],
            )
        } else {
            p.parity(&[
                "build",
                "--json",
                "--remote-cache",
                &url,
                "--remote-required",
                "solo",
            ])
        };
        run.code(1);
        let failed = run.events("finished");
        assert_eq!(failed.len(), 1, "{}", run.stdout);
        assert_eq!(failed[0]["node"], "solo");
        assert_eq!(failed[0]["outcome"], "failed");
        let msg = failed[0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
            + &run.stderr;
        assert!(msg.contains(&format!("remote cache `{url}")), "{msg}");
        assert!(msg.contains("--remote-required"), "{msg}");
        assert!(msg.contains(" cas/"), "{msg}");
        assert_eq!(run.summary()["failed"], 1);
    }
}

#[test]
fn a_required_run_fails_on_a_server_error_instead_of_disabling_the_remote() {
    let server = CacheServer::start();
    server.fail_with_500(true);
    let p = clone();
    let run = p.parity(&[
        "build",
        "--keep-going",
        "--json",
        "--remote-cache",
        &server.url(),
        "--remote-required",
    ]);
    run.code(1);
    // Every node that asked the remote failed on its own, none was built silently.
    let outcomes = run.outcomes();
    assert_eq!(outcomes["a"], "failed");
    assert_eq!(outcomes["solo"], "failed");
    assert!(run.stdout.contains("HTTP 500"), "{}", run.stdout);
    assert!(!run.summary()["remote_cache"]["disabled"].as_bool().unwrap());
    assert!(
        !p.exists("out/a.txt"),
        "a lookup failure stops before the rule runs"
    );
}

#[test]
fn an_action_entry_that_does_not_read_back_is_caught_after_the_upload() {
    let server = CacheServer::start();
    server.mangle_entries(true);
    let url = server.url();
    let run = clone().parity(&["build", "--json", "--remote-cache", &url, "solo"]);
    run.ok();
    let w = warnings(&run);
    assert_eq!(w.len(), 1, "{}", run.stderr);
    assert!(w[0].contains("read-back of ac/"), "{}", w[0]);
    assert_eq!(run.summary()["remote_cache"]["uploads"], 0);

    let p = clone();
    let args = [
        "build",
        "--json",
        "--remote-cache",
        &url,
        "--remote-required",
        "solo",
    ];
    let run = p.parity(&args);
    run.code(1);
    assert_eq!(run.outcomes()["solo"], "failed");
    assert!(run.stdout.contains("read-back of ac/"), "{}", run.stdout);

    // Re-run once the cache behaves: restored from the local cache and published after all.
    server.mangle_entries(false);
    let run = p.parity(&args);
    run.ok();
    assert_eq!(run.outcomes()["solo"], "cached");
    assert_eq!(run.summary()["remote_cache"]["uploads"], 1);
    let b = clone();
    let run = b.parity(&["build", "--json", "--remote-cache", &url, "solo"]);
    run.ok();
    assert_eq!(run.outcomes()["solo"], "remote");
}

#[test]
fn a_required_run_fails_a_host_bound_node_the_remote_has_no_result_for() {
    let tmp = tempfile::tempdir().unwrap();
    let url = file_url(&tmp.path().join("remote"));
    let linux = host_pipeline();
    let run = linux.parity(&[
        "build",
        "--json",
        "--remote-cache",
        &url,
        "--remote-required",
    ]);
    run.code(1);
    let outcomes = run.outcomes();
    assert_eq!(outcomes["mac"], "failed");
    assert_eq!(outcomes["union"], "skipped", "no incomplete union is built");
    assert!(
        run.stdout.contains("it has no result for this node"),
        "{}",
        run.stdout
    );
    assert!(!linux.exists("out/union.txt"));

    // Once a macOS run has published it, the same command succeeds.
    host_pipeline()
        .parity_env(
            &[("PARITY_HOST", "macos")],
            &["build", "--remote-cache", &url, "--remote-required"],
        )
        .ok();
    let run = linux.parity(&[
        "build",
        "--json",
        "--remote-cache",
        &url,
        "--remote-required",
    ]);
    run.ok();
    assert_eq!(run.outcomes()["mac"], "remote");
    assert_eq!(linux.read("out/union.txt"), "built-on-mac\nsrc\n");
}

/// An entry that lists an object of 2 GiB: refused from the entry alone (objects are capped at
/// `MAX_OBJECT` whatever an entry claims), without asking the server for it.
#[test]
fn a_remote_entry_claiming_a_2_gib_object_is_refused_without_downloading_it() {
    use crate::http::{Reply, Server};
    use parity_engine::hash::Digest;
    use parity_engine::remote::{MAX_OBJECT, OutputShape, RemoteEntry, RemoteOutput, ac_name};

    let server = Server::start();
    let (remote, _tmp, local) = read_only_client(&server);
    let sha = "ab".repeat(32);
    let entry = RemoteEntry {
        parity_ac: 1,
        outputs: [(
            "out.bin".to_string(),
            RemoteOutput {
                kind: OutputShape::File,
                blake3: Digest([9; 32]),
                sha256: Some(sha.clone()),
                size: 2 << 30,
                executable: false,
                tree: None,
            },
        )]
        .into(),
    };
    assert!(entry.outputs["out.bin"].size > MAX_OBJECT);
    let key = Digest([3; 32]);
    server.route(
        &format!("/c/ac/{}", ac_name(&key)),
        vec![Reply::ok(serde_json::to_vec(&entry).unwrap())],
    );
    let cas = format!("/c/cas/{sha}");
    server.route(
        &cas,
        vec![Reply::Flood {
            len: 2 << 30,
            announce: true,
        }],
    );
    let found = remote
        .lookup(&key, &["out.bin".to_string()])
        .unwrap()
        .unwrap();
    assert!(!remote.fetch(&local, &found, &|_| true).unwrap());
    assert_eq!(server.hits(&cas), 0, "the object was requested");
    let warned = remote.take_warnings().join("\n");
    assert!(warned.contains("over the limit"), "{warned}");
}
