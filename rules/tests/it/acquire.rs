//! Acquisition and release listing against a loopback HTTP server: every failure names the URL
//! and both digests, leaves no partial file, and nothing unverified reaches the destination.

#[path = "support/http.rs"]
mod http;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use http::{Reply, Server};
use parity_engine::hash::sha256_hex;
use parity_rules::release::acquire::{Sources, acquire, extract_first_file};
use parity_rules::release::github::{GitHub, stable_versions};
use parity_rules::release::http::{Http, HttpOptions};
use parity_rules::release::lockfile::LockEntry;
use serde_json::json;

static NOT_CANCELLED: AtomicBool = AtomicBool::new(false);

fn fast() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(400),
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_redirects: 5,
        max_api_body: 1 << 20,
    }
}

fn client() -> Http {
    Http::new(fast(), None).unwrap()
}

fn pin(url: &str, asset: &str, bytes: &[u8]) -> LockEntry {
    LockEntry {
        version: "0.98.0".into(),
        target_triple: "x86_64-unknown-linux-musl".into(),
        asset_name: asset.into(),
        download_url: url.into(),
        sha256: sha256_hex(bytes),
        size_bytes: bytes.len() as u64,
    }
}

/// A temp dir; the binary goes to `out/codex`.
struct Dest {
    tmp: tempfile::TempDir,
}

impl Dest {
    fn new() -> Dest {
        Dest {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn out(&self) -> PathBuf {
        self.tmp.path().join("out").join("codex")
    }
    /// Every path under the temp dir, relative and sorted.
    fn tree(&self) -> Vec<String> {
        let mut v: Vec<String> = walk(self.tmp.path())
            .into_iter()
            .map(|p| {
                p.strip_prefix(self.tmp.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    }
    fn run(&self, entry: &LockEntry, sources: &Sources) -> anyhow::Result<()> {
        acquire(entry, &self.out(), sources, &client(), &NOT_CANCELLED)
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Kind {
    Dir,
    File,
    Symlink,
    HardLink,
}

/// A `.tar.gz` of raw members: names are written byte for byte (`../x`, `/abs` included),
/// bypassing the checks the `tar` builder would make.
fn targz(members: &[(Kind, &str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (kind, name, data) in members {
        let mut h = tar::Header::new_gnu();
        let (ty, data): (_, &[u8]) = match kind {
            Kind::Dir => (tar::EntryType::Directory, &[]),
            Kind::File => (tar::EntryType::Regular, data),
            Kind::Symlink => (tar::EntryType::Symlink, &[]),
            Kind::HardLink => (tar::EntryType::Link, &[]),
        };
        h.set_entry_type(ty);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if matches!(kind, Kind::Symlink | Kind::HardLink) {
            let target = b"/etc/passwd";
            gnu.linkname[..target.len()].copy_from_slice(target);
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

const BINARY: &[u8] = b"#!/bin/sh\necho codex-cli 0.98.0\n";

#[test]
fn a_good_tar_gz_is_verified_extracted_and_installed_0755() {
    let server = Server::start();
    let asset = targz(&[
        (Kind::Dir, "dist/", b""),
        (Kind::File, "dist/codex", BINARY),
    ]);
    server.route("/good.tar.gz", vec![Reply::ok(asset.clone())]);
    let dest = Dest::new();
    let entry = pin(&server.url("/good.tar.gz"), "codex-x.tar.gz", &asset);
    dest.run(&entry, &Sources::default()).unwrap();
    assert_eq!(std::fs::read(dest.out()).unwrap(), BINARY);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest.out()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    assert_eq!(
        dest.tree(),
        ["out", "out/codex"],
        "scratch files left behind"
    );
    assert_eq!(server.hits("/good.tar.gz"), 1);
}

#[test]
fn an_exe_is_taken_as_is() {
    let server = Server::start();
    server.route("/codex.exe", vec![Reply::ok(BINARY)]);
    let dest = Dest::new();
    let entry = pin(&server.url("/codex.exe"), "codex-x.exe", BINARY);
    dest.run(&entry, &Sources::default()).unwrap();
    assert_eq!(std::fs::read(dest.out()).unwrap(), BINARY);
}

/// Runs a failing acquisition: the message, and nothing left in the destination tree.
fn fails(dest: &Dest, entry: &LockEntry, sources: &Sources) -> String {
    let err = dest.run(entry, sources).unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(
        dest.tree(),
        ["out"],
        "a failed acquisition left files: {msg}"
    );
    msg
}

#[test]
fn a_truncated_asset_fails_on_size_with_both_digests_and_no_retry() {
    let server = Server::start();
    server.route("/short.exe", vec![Reply::ok(&BINARY[..10])]);
    let dest = Dest::new();
    let entry = pin(&server.url("/short.exe"), "codex-x.exe", BINARY);
    let msg = fails(&dest, &entry, &Sources::default());
    let want = format!(
        "`{}` does not match its pin: size mismatch: expected {} bytes (sha256 {}), got 10 bytes (sha256 {})",
        entry.download_url,
        BINARY.len(),
        entry.sha256,
        sha256_hex(&BINARY[..10])
    );
    assert!(msg.contains(&want), "{msg}");
    assert_eq!(
        server.hits("/short.exe"),
        1,
        "a digest mismatch is not retried"
    );
}

#[test]
fn a_wrong_digest_fails_with_expected_and_actual_and_no_retry() {
    let server = Server::start();
    let mut evil = BINARY.to_vec();
    evil[0] ^= 1;
    server.route("/evil.exe", vec![Reply::ok(evil.clone())]);
    let dest = Dest::new();
    let entry = pin(&server.url("/evil.exe"), "codex-x.exe", BINARY);
    let msg = fails(&dest, &entry, &Sources::default());
    let want = format!(
        "`{}` does not match its pin: sha256 mismatch: expected {}, actual {}",
        entry.download_url,
        entry.sha256,
        sha256_hex(&evil)
    );
    assert!(msg.contains(&want), "{msg}");
    assert_eq!(server.hits("/evil.exe"), 1);
}

#[test]
fn a_body_longer_than_the_pin_is_cut_off() {
    let server = Server::start();
    server.route("/long.exe", vec![Reply::ok([BINARY, BINARY].concat())]);
    let dest = Dest::new();
    let entry = pin(&server.url("/long.exe"), "codex-x.exe", BINARY);
    let msg = fails(&dest, &entry, &Sources::default());
    assert!(
        msg.contains(&format!(
            "announces {} bytes, more than the limit of {} bytes",
            2 * BINARY.len(),
            BINARY.len()
        )),
        "{msg}"
    );
    assert_eq!(server.hits("/long.exe"), 1);
}

#[test]
fn a_404_fails_at_once() {
    let server = Server::start();
    let dest = Dest::new();
    let entry = pin(&server.url("/missing.exe"), "codex-x.exe", BINARY);
    let msg = fails(&dest, &entry, &Sources::default());
    assert!(
        msg.contains(&format!("`{}` answered HTTP 404", entry.download_url)),
        "{msg}"
    );
    assert!(msg.contains(&entry.sha256), "{msg}");
    assert_eq!(server.hits("/missing.exe"), 1, "a 4xx is not retried");
}

#[test]
fn a_500_is_retried_then_succeeds() {
    let server = Server::start();
    server.route("/flaky.exe", vec![Reply::status(500), Reply::ok(BINARY)]);
    let dest = Dest::new();
    let entry = pin(&server.url("/flaky.exe"), "codex-x.exe", BINARY);
    dest.run(&entry, &Sources::default()).unwrap();
    assert_eq!(server.hits("/flaky.exe"), 2);
    assert_eq!(std::fs::read(dest.out()).unwrap(), BINARY);
}

#[test]
fn a_transfer_cut_short_is_retried() {
    let server = Server::start();
    server.route(
        "/cut.exe",
        vec![
            Reply::Cut {
                declared: BINARY.len(),
                body: BINARY[..5].to_vec(),
            },
            Reply::ok(BINARY),
        ],
    );
    let dest = Dest::new();
    let entry = pin(&server.url("/cut.exe"), "codex-x.exe", BINARY);
    dest.run(&entry, &Sources::default()).unwrap();
    assert_eq!(server.hits("/cut.exe"), 2);
}

#[test]
fn persistent_5xx_gives_up_after_the_attempts_with_the_url() {
    let server = Server::start();
    server.route("/down.exe", vec![Reply::status(503)]);
    let dest = Dest::new();
    let entry = pin(&server.url("/down.exe"), "codex-x.exe", BINARY);
    let msg = fails(&dest, &entry, &Sources::default());
    assert!(
        msg.contains(&format!(
            "failed to fetch `{}` after 3 attempts",
            entry.download_url
        )),
        "{msg}"
    );
    assert_eq!(server.hits("/down.exe"), 3);
}

#[test]
fn redirects_are_followed_but_bounded() {
    let server = Server::start();
    server.route("/a.exe", vec![Reply::redirect(&server.url("/b.exe"))]);
    server.route("/b.exe", vec![Reply::ok(BINARY)]);
    let dest = Dest::new();
    dest.run(
        &pin(&server.url("/a.exe"), "codex-x.exe", BINARY),
        &Sources::default(),
    )
    .unwrap();
    assert_eq!((server.hits("/a.exe"), server.hits("/b.exe")), (1, 1));

    server.route("/loop.exe", vec![Reply::redirect("/loop.exe")]);
    let dest = Dest::new();
    let msg = fails(
        &dest,
        &pin(&server.url("/loop.exe"), "codex-x.exe", BINARY),
        &Sources::default(),
    );
    assert!(msg.contains("too many redirects"), "{msg}");
    assert_eq!(
        server.hits("/loop.exe"),
        6,
        "the first request and 5 redirects"
    );
}

#[test]
fn a_stalled_server_times_out_and_is_retried() {
    let server = Server::start();
    server.route(
        "/stall.exe",
        vec![Reply::Stall {
            declared: BINARY.len(),
            body: BINARY[..4].to_vec(),
            wait: Duration::from_secs(5),
        }],
    );
    let dest = Dest::new();
    let entry = pin(&server.url("/stall.exe"), "codex-x.exe", BINARY);
    let msg = fails(&dest, &entry, &Sources::default());
    // Three attempts: each ended by the read timeout. Had the server's stall ended first, the
    // body would be short, which fails at once with no retry (see the truncated-asset test).
    assert!(msg.contains("after 3 attempts"), "{msg}");
    assert_eq!(server.hits("/stall.exe"), 3);
}

#[test]
fn the_mirror_is_looked_up_by_asset_name_first_and_verified() {
    let server = Server::start();
    let mirror = tempfile::tempdir().unwrap();
    std::fs::write(mirror.path().join("codex-x.exe"), BINARY).unwrap();
    let sources = Sources {
        mirror: Some(mirror.path().to_path_buf()),
    };
    let dest = Dest::new();
    let entry = pin(&server.url("/never.exe"), "codex-x.exe", BINARY);
    dest.run(&entry, &sources).unwrap();
    assert_eq!(std::fs::read(dest.out()).unwrap(), BINARY);
    assert_eq!(server.hits("/never.exe"), 0, "the mirror had it");

    // A mirror file that does not match the pin is an error, not a reason to go elsewhere.
    std::fs::write(mirror.path().join("codex-x.exe"), &BINARY[1..]).unwrap();
    let dest = Dest::new();
    let msg = fails(&dest, &entry, &sources);
    assert!(msg.contains("mirror file `"), "{msg}");
    assert!(msg.contains("size mismatch"), "{msg}");
    assert_eq!(server.hits("/never.exe"), 0);

    // A longer one is cut off at the pinned size.
    std::fs::write(mirror.path().join("codex-x.exe"), [BINARY, BINARY].concat()).unwrap();
    let dest = Dest::new();
    let msg = fails(&dest, &entry, &sources);
    assert!(msg.contains("larger than the pinned 32 bytes"), "{msg}");

    // An asset the mirror lacks comes from the pinned URL.
    server.route("/other.exe", vec![Reply::ok(BINARY)]);
    let dest = Dest::new();
    dest.run(
        &pin(&server.url("/other.exe"), "codex-y.exe", BINARY),
        &sources,
    )
    .unwrap();
    assert_eq!(server.hits("/other.exe"), 1);
}

fn serve_targz(asset: Vec<u8>) -> (Server, LockEntry) {
    let server = Server::start();
    server.route("/a.tar.gz", vec![Reply::ok(asset.clone())]);
    let entry = pin(&server.url("/a.tar.gz"), "codex-x.tar.gz", &asset);
    (server, entry)
}

#[test]
fn dot_dot_and_absolute_member_names_never_leave_the_scratch_dir() {
    let dest = Dest::new();
    let outside = dest.tmp.path().join("evil");
    let abs = format!("{}", outside.display());
    for name in ["../evil", "../../evil", abs.as_str()] {
        let (_server, entry) = serve_targz(targz(&[(Kind::File, name, BINARY)]));
        dest.run(&entry, &Sources::default()).unwrap();
        assert_eq!(std::fs::read(dest.out()).unwrap(), BINARY, "{name}");
        assert_eq!(dest.tree(), ["out", "out/codex"], "{name}");
        assert!(!outside.exists());
    }
}

#[test]
fn link_members_are_refused() {
    for (kind, what) in [
        (Kind::Symlink, "symbolic link"),
        (Kind::HardLink, "hard link"),
    ] {
        let (_server, entry) = serve_targz(targz(&[
            (Kind::Dir, "dist/", b""),
            (kind, "dist/codex", b""),
            (Kind::File, "dist/real", BINARY),
        ]));
        let dest = Dest::new();
        let msg = fails(&dest, &entry, &Sources::default());
        assert!(
            msg.contains(&format!(
                "`codex-x.tar.gz`: refusing member `dist/codex`: it is a {what}"
            )),
            "{msg}"
        );
    }
}

#[test]
fn oversized_members_and_empty_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar.gz");
    std::fs::write(&archive, targz(&[(Kind::File, "codex", BINARY)])).unwrap();
    let err = extract_first_file(&archive, "a.tar.gz", &tmp.path().join("x"), 8).unwrap_err();
    assert!(
        err.to_string()
            .contains("member `codex` is 32 bytes, over the limit of 8 bytes"),
        "{err}"
    );
    std::fs::write(&archive, targz(&[(Kind::Dir, "only/", b"")])).unwrap();
    let err = extract_first_file(&archive, "a.tar.gz", &tmp.path().join("y"), 8).unwrap_err();
    assert_eq!(err.to_string(), "`a.tar.gz` holds no regular file");

    // Not gzip at all (a pinned asset that is an HTML error page, say).
    let (_server, entry) = serve_targz(b"<html>not found</html>".to_vec());
    let dest = Dest::new();
    let msg = fails(&dest, &entry, &Sources::default());
    assert!(msg.contains("codex-x.tar.gz"), "{msg}");
}

/// A `.tar.gz` whose first member is a PAX header claiming 1.5 GiB (only its 512-byte header is
/// there): refused from the header alone, before anything reads (or allocates) that much.
#[test]
fn a_huge_pax_header_is_refused_before_it_is_read() {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(3 << 29);
    h.set_mode(0o644);
    h.set_path("PaxHeader/codex").unwrap();
    h.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(h.as_bytes()).unwrap();
    gz.write_all(&[0u8; 1024]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar.gz");
    std::fs::write(&archive, gz.finish().unwrap()).unwrap();
    let err = extract_first_file(&archive, "a.tar.gz", &tmp.path().join("x"), 1 << 30).unwrap_err();
    assert!(
        err.to_string()
            .contains("an extension header of 1610612736 bytes, over the limit of 1048576 bytes"),
        "{err}"
    );
    assert!(!tmp.path().join("x").exists());
}

fn release(tag: &str, draft: bool, prerelease: bool) -> serde_json::Value {
    json!({"tag_name": tag, "draft": draft, "prerelease": prerelease,
           "published_at": if draft { serde_json::Value::Null } else { json!("2026-02-02T00:00:00Z") },
           "assets": []})
}

#[test]
fn the_release_list_is_paginated_and_filtered_to_stable_tags() {
    let server = Server::start();
    let page2 = server.url("/repos/o/r/releases?per_page=100&page=2");
    server.route(
        "/repos/o/r/releases?per_page=100",
        vec![
            Reply::json(&json!([
                release("rust-v0.99.0", true, false),
                release("rust-v0.98.0", false, true),
                release("rust-v0.98.0-alpha.1", false, false),
                release("rust-v0.97.0", false, false),
            ]))
            .header(
                "Link",
                &format!("<{page2}>; rel=\"next\", <{page2}>; rel=\"last\""),
            ),
        ],
    );
    server.route(
        "/repos/o/r/releases?per_page=100&page=2",
        vec![Reply::json(&json!([
            release("rust-v0.96.0", false, false),
            release("codex-v1.0.0", false, false),
            release("rust-v0.100.0", false, false),
            release("rust-v1.2", false, false),
        ]))],
    );
    let http = Http::new(fast(), Some("s3cret")).unwrap();
    let releases = GitHub::new(&http, server.base()).releases("o/r").unwrap();
    assert_eq!(releases.len(), 8);
    let stable: Vec<String> = stable_versions(&releases, "rust-v")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(stable, ["0.100.0", "0.97.0", "0.96.0"]);
    assert_eq!(
        server.auth(),
        [
            Some("Bearer s3cret".to_string()),
            Some("Bearer s3cret".into())
        ]
    );
}

#[test]
fn a_next_page_on_another_host_never_gets_the_token() {
    let api = Server::start();
    let elsewhere = Server::start();
    let next = elsewhere.url("/steal?page=2");
    api.route(
        "/repos/o/r/releases?per_page=100",
        vec![
            Reply::json(&json!([release("rust-v0.97.0", false, false)]))
                .header("Link", &format!("<{next}>; rel=\"next\"")),
        ],
    );
    elsewhere.route("/steal?page=2", vec![Reply::json(&json!([]))]);
    let http = Http::new(fast(), Some("s3cret")).unwrap();
    let err = GitHub::new(&http, api.base()).releases("o/r").unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains(&next) && msg.contains(api.base()), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
    assert_eq!(
        elsewhere.auth(),
        Vec::<Option<String>>::new(),
        "the token left the API host"
    );
}

#[test]
fn a_rate_limit_names_the_reset_time_and_never_the_token() {
    let server = Server::start();
    let reset = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600)
        .to_string();
    server.route(
        "/repos/o/r/releases?per_page=100",
        vec![
            Reply::status(403)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset),
        ],
    );
    let http = Http::new(fast(), Some("s3cret")).unwrap();
    let err = GitHub::new(&http, server.base())
        .releases("o/r")
        .unwrap_err();
    let msg = format!("{err:#} {err:?}");
    assert!(msg.contains("GitHub API rate limit exceeded"), "{msg}");
    assert!(msg.contains("resets at 20"), "{msg}");
    assert!(msg.contains(" s); set GITHUB_TOKEN"), "{msg}");
    assert!(!msg.contains("s3cret"), "the token leaked: {msg}");
    assert_eq!(server.hits("/repos/o/r/releases?per_page=100"), 1);
}

#[test]
fn an_endless_api_answer_is_cut_off_at_the_limit() {
    let server = Server::start();
    let flood = 256 << 20;
    for (target, announce) in [
        ("/repos/o/a/releases?per_page=100", false),
        ("/repos/o/b/releases?per_page=100", true),
    ] {
        server.route(
            target,
            vec![Reply::Flood {
                len: flood,
                announce,
            }],
        );
    }
    let http = client();
    for (repo, announce) in [("o/a", false), ("o/b", true)] {
        let target = format!("/repos/{repo}/releases?per_page=100");
        let err = GitHub::new(&http, server.base())
            .releases(repo)
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(&server.url(&target)), "{msg}");
        assert!(msg.contains("the limit of 1048576 bytes"), "{msg}");
        assert_eq!(
            server.hits(&target),
            1,
            "a body over the limit is not retried"
        );
        assert!(
            server.sent(&target) < flood / 4,
            "announced {announce}: the client read on"
        );
    }
}

#[test]
fn an_interrupted_download_leaves_nothing() {
    let server = Server::start();
    server.route("/slow.exe", vec![Reply::ok(BINARY)]);
    let dest = Dest::new();
    let cancelled = AtomicBool::new(true);
    let entry = pin(&server.url("/slow.exe"), "codex-x.exe", BINARY);
    let err = acquire(
        &entry,
        &dest.out(),
        &Sources::default(),
        &client(),
        &cancelled,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("interrupted"), "{err:#}");
    assert_eq!(dest.tree(), ["out"]);
    let _ = std::io::stderr().flush();
}
