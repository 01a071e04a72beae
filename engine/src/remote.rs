//! The remote cache client: Bazel's HTTP cache protocol, so bazel-remote, nginx or Apache with
//! WebDAV `PUT`, or a bucket behind an HTTP gateway serve it unchanged; or a plain directory
//! with the same layout (`file:///path`), which CI artifacts can carry between jobs.
//!
//! | request                  | what                                                           |
//! |--------------------------|----------------------------------------------------------------|
//! | `GET/HEAD/PUT cas/<sha>` | an object, named by the sha256 (lower hex) of its bytes        |
//! | `GET/PUT ac/<sha>`       | an action entry, named by sha256 of the 32 bytes of the key    |
//!
//! A directory backend reads, stats and writes (atomically) the files `cas/<sha>` and
//! `ac/<sha>` under it, with the same verification as over HTTP.
//!
//! The local store names objects by blake3; the remote one by sha256, computed when an object
//! is uploaded and recorded next to the blake3 in the action entry ([`RemoteEntry`], JSON).
//!
//! Trust: nothing downloaded is used before it is verified. An action entry must parse with
//! the exact shape below and name exactly the node's outputs; every object must match its sha256,
//! its blake3 and its size. A mismatch is a miss (one warning), and the node is rebuilt.
//!
//! Order of an upload: every object `PUT` (unless a `HEAD` shows it is there with its size),
//! then a `HEAD` of each (read-back: present, `Content-Length` equal), then the action entry,
//! which is read back (`GET`) and compared byte for byte. `read_only` never writes.
//!
//! Failures: the first connection error, timeout, unexpected status or failed read-back
//! disables the remote for the rest of the process with one warning; the build goes on
//! locally. With `required` (jobs whose purpose is to publish) every such failure is instead
//! an [`Error::Remote`] of the node it happened for, and the remote is never disabled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::io::Read as _;

use sha2::Digest as _;

use crate::cache::{ActionEntry, LocalCache, OutputRecord};
use crate::error::{Error, Result};
use crate::fingerprint::ActionKey;
use crate::fsutil;
use crate::hash::{Digest, FileDigest, TreeEntry, sha256_hex};

/// How to reach the remote cache.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// Base URL (`http://host:port/prefix`, or `file:///path` for a directory); `cas/` and
    /// `ac/` are below it.
    pub url: String,
    /// Never write (untrusted runs).
    pub read_only: bool,
    /// Every failure fails the node it happened for instead of disabling the remote.
    pub required: bool,
    /// Connect and whole-request timeout.
    pub timeout: Duration,
}

/// What went over the wire, for the build summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RemoteStats {
    /// The URL, credentials redacted.
    pub url: String,
    /// Action entries found.
    pub hits: u64,
    /// Action entries not found (or unusable).
    pub misses: u64,
    /// Action entries written.
    pub uploads: u64,
    /// Body bytes received.
    pub bytes_downloaded: u64,
    /// Body bytes sent.
    pub bytes_uploaded: u64,
    /// HTTP requests made.
    pub requests: u64,
    /// The remote was disabled after a failure.
    pub disabled: bool,
}

/// The action entry stored at `ac/<sha256>`: what an action produced, with both digests of
/// every object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteEntry {
    /// Format version (1).
    pub parity_ac: u32,
    /// Output name -> what it holds.
    pub outputs: BTreeMap<String, RemoteOutput>,
}

/// One output of a [`RemoteEntry`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteOutput {
    /// `file` or `dir`.
    pub kind: OutputShape,
    /// blake3 of the file, or of the tree manifest of a directory.
    pub blake3: Digest,
    /// sha256 of the file (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Bytes (a directory: the sum of its files).
    pub size: u64,
    /// Executable bit (files).
    #[serde(default)]
    pub executable: bool,
    /// The files of a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<Vec<RemoteFile>>,
}

/// Whether an output is a file or a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputShape {
    /// A file.
    File,
    /// A directory tree.
    Dir,
}

/// One file of a directory output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteFile {
    /// Path relative to the directory, `/`-separated.
    pub path: String,
    /// blake3 of the bytes.
    pub blake3: Digest,
    /// sha256 of the bytes.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Executable bit.
    #[serde(default)]
    pub executable: bool,
}

/// An object an entry refers to: both names and the size.
struct ObjectRef<'a> {
    blake3: Digest,
    sha256: &'a str,
    size: u64,
}

impl RemoteEntry {
    /// The local action entry this one describes.
    pub fn to_action(&self) -> ActionEntry {
        let outputs = self
            .outputs
            .iter()
            .map(|(name, o)| {
                let tree = o.tree.as_ref().map(|t| {
                    t.iter()
                        .map(|f| TreeEntry {
                            path: f.path.clone(),
                            digest: FileDigest {
                                blake3: f.blake3,
                                size: f.size,
                            },
                            executable: f.executable,
                        })
                        .collect()
                });
                let rec = OutputRecord {
                    digest: FileDigest {
                        blake3: o.blake3,
                        size: o.size,
                    },
                    executable: o.executable,
                    tree,
                };
                (name.clone(), rec)
            })
            .collect();
        ActionEntry { outputs }
    }

    /// Checks what serde cannot: the version, sha256 digests of the right form, the shape of
    /// each output; then what every action entry must satisfy, local or remote
    /// ([`ActionEntry::validate`]: clean, unique, non-overlapping tree paths, tree digests).
    fn validate(&self) -> std::result::Result<(), String> {
        if self.parity_ac != 1 {
            return Err(format!("unsupported entry version {}", self.parity_ac));
        }
        for (name, o) in &self.outputs {
            let shaped = match (o.kind, &o.sha256, &o.tree) {
                (OutputShape::File, Some(sha), None) => is_sha256(sha),
                (OutputShape::Dir, None, Some(tree)) => tree.iter().all(|f| is_sha256(&f.sha256)),
                _ => false,
            };
            if !shaped {
                return Err(format!("output `{name}` has the wrong shape"));
            }
        }
        self.to_action().validate(
            self.outputs
                .iter()
                .map(|(name, o)| (name, o.kind == OutputShape::Dir)),
        )
    }

    fn objects(&self, names: &dyn Fn(&str) -> bool) -> Vec<ObjectRef<'_>> {
        let mut out = Vec::new();
        for (_, o) in self.outputs.iter().filter(|(n, _)| names(n)) {
            match (&o.tree, &o.sha256) {
                (Some(tree), _) => out.extend(tree.iter().map(|f| ObjectRef {
                    blake3: f.blake3,
                    sha256: &f.sha256,
                    size: f.size,
                })),
                (None, Some(sha)) => out.push(ObjectRef {
                    blake3: o.blake3,
                    sha256: sha,
                    size: o.size,
                }),
                (None, None) => {}
            }
        }
        out
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The remote name of an action key: sha256 of its 32 bytes.
pub fn ac_name(key: &ActionKey) -> String {
    sha256_hex(&key.0)
}

/// Where the `cas/` and `ac/` names live.
enum Backend {
    /// A Bazel HTTP cache at the base URL.
    Http(reqwest::blocking::Client),
    /// A directory holding `cas/` and `ac/`.
    Dir(PathBuf),
}

/// A client of one remote cache, shared by every worker of a build.
pub struct RemoteCache {
    base: reqwest::Url,
    shown: String,
    backend: Backend,
    read_only: bool,
    required: bool,
    disabled: AtomicBool,
    corrupt_warned: AtomicBool,
    warnings: Mutex<Vec<String>>,
    /// sha256 names the server returned wrong bytes for: always re-uploaded.
    bad: Mutex<BTreeSet<String>>,
    hits: AtomicU64,
    misses: AtomicU64,
    uploads: AtomicU64,
    down: AtomicU64,
    up: AtomicU64,
    requests: AtomicU64,
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCache")
            .field("url", &self.shown)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// A failed request: the reason, already worded.
struct Failure(String);

/// The largest action entry read (a directory output of some 100,000 files); a longer body is
/// not an entry.
pub const MAX_ENTRY: u64 = 32 << 20;

/// The largest object downloaded, whatever an entry claims (objects are streamed to disk, so
/// this bounds the disk a hostile entry can fill, not memory).
pub const MAX_OBJECT: u64 = 1 << 30;

/// A body to read: an HTTP response, or a file of the directory backend.
type Body = Box<dyn std::io::Read + Send>;

/// What a `GET` found.
enum Got<T = Vec<u8>> {
    /// The body (or the response to read it from), within the limit.
    Body(T),
    /// 404.
    NotFound,
    /// More bytes than the limit (announced or sent): not what was asked for.
    OverLimit,
}

impl RemoteCache {
    /// A client for `opts.url` (`http`, `https`, or `file` with an absolute path); an unusable
    /// URL is a usage error.
    pub fn new(opts: &RemoteOptions) -> Result<RemoteCache> {
        let mut text = opts.url.trim().to_string();
        if !text.ends_with('/') {
            text.push('/');
        }
        let bad = |why: &str| {
            Error::Usage(format!(
                "invalid remote cache URL `{}`: {why}",
                redact_text(&opts.url)
            ))
        };
        let base = reqwest::Url::parse(&text).map_err(|e| bad(&e.to_string()))?;
        let backend = match base.scheme() {
            "http" | "https" => Backend::Http(
                reqwest::blocking::Client::builder()
                    .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
                    .timeout(opts.timeout)
                    .user_agent(concat!("parity/", env!("CARGO_PKG_VERSION")))
                    .redirect(redirect_policy())
                    .build()
                    .map_err(|e| Error::Internal(format!("cannot create an HTTP client: {e}")))?,
            ),
            "file" => Backend::Dir(
                base.to_file_path()
                    .map_err(|()| bad("expected file:///absolute/path (no host)"))?,
            ),
            _ => return Err(bad("expected an http://, https:// or file:/// URL")),
        };
        Ok(RemoteCache {
            shown: redact(&base),
            base,
            backend,
            read_only: opts.read_only,
            required: opts.required,
            disabled: AtomicBool::new(false),
            corrupt_warned: AtomicBool::new(false),
            warnings: Mutex::new(Vec::new()),
            bad: Mutex::new(BTreeSet::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            uploads: AtomicU64::new(0),
            down: AtomicU64::new(0),
            up: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// The URL as it may be shown (credentials replaced by `***`).
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Whether this client never writes.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether a failure fails the node (`--remote-required`) instead of disabling the remote.
    pub fn required(&self) -> bool {
        self.required
    }

    /// The error failing a node for which the remote could not do its part in required mode.
    pub fn required_error(&self, why: impl Into<String>) -> Error {
        Error::Remote {
            url: self.shown.clone(),
            message: why.into(),
        }
    }

    /// Whether the remote is still in use (no failure yet).
    pub fn enabled(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed)
    }

    /// Warnings not yet reported (at most one per kind per process).
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// Counters so far.
    pub fn stats(&self) -> RemoteStats {
        RemoteStats {
            url: self.shown.clone(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            uploads: self.uploads.load(Ordering::Relaxed),
            bytes_downloaded: self.down.load(Ordering::Relaxed),
            bytes_uploaded: self.up.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            disabled: self.disabled.load(Ordering::Relaxed),
        }
    }

    fn warn(&self, message: String) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message);
        }
    }

    /// Required: the failure as the node's error. Otherwise disables the remote for the rest of
    /// the process; the first failure is reported.
    fn fail(&self, Failure(why): Failure) -> Result<()> {
        if self.required {
            return Err(self.required_error(why));
        }
        if !self.disabled.swap(true, Ordering::Relaxed) {
            self.warn(format!(
                "remote cache `{}` disabled for the rest of this run: {why}; building locally",
                self.shown
            ));
        }
        Ok(())
    }

    /// A downloaded object or entry that does not verify: a miss, reported once.
    fn corrupt(&self, what: String) {
        if !self.corrupt_warned.swap(true, Ordering::Relaxed) {
            self.warn(format!(
                "remote cache `{}`: {what}; not used, the node is rebuilt",
                self.shown
            ));
        }
    }

    fn url_of(&self, path: &str) -> std::result::Result<reqwest::Url, Failure> {
        self.base
            .join(path)
            .map_err(|e| Failure(format!("bad path `{path}`: {e}")))
    }

    /// `GET path`: the body to read, of a 200 whose `Content-Length` (if any) is within
    /// `limit` (or of a file within it).
    fn get_response(&self, path: &str, limit: u64) -> std::result::Result<Got<Body>, Failure> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let client = match &self.backend {
            Backend::Http(client) => client,
            Backend::Dir(dir) => return dir_open(dir, path, limit),
        };
        let resp = client
            .get(self.url_of(path)?)
            .send()
            .map_err(|e| request_failure("GET", path, e))?;
        match resp.status().as_u16() {
            200 if resp.content_length().is_some_and(|n| n > limit) => Ok(Got::OverLimit),
            200 => Ok(Got::Body(Box::new(resp))),
            404 => Ok(Got::NotFound),
            s => Err(Failure(format!("GET {path} answered HTTP {s}"))),
        }
    }

    /// `GET path`: the body, read up to `limit` bytes and refused past them (a flood from a
    /// broken or hostile server never sits in memory).
    fn get(&self, path: &str, limit: u64) -> std::result::Result<Got, Failure> {
        let resp = match self.get_response(path, limit)? {
            Got::Body(resp) => resp,
            Got::NotFound => return Ok(Got::NotFound),
            Got::OverLimit => return Ok(Got::OverLimit),
        };
        let mut body = Vec::new();
        let read = std::io::Read::take(resp, limit + 1).read_to_end(&mut body);
        self.down.fetch_add(body.len() as u64, Ordering::Relaxed);
        read.map_err(|e| body_failure(path, &e))?;
        Ok(if body.len() as u64 > limit {
            Got::OverLimit
        } else {
            Got::Body(body)
        })
    }

    /// `HEAD path`: the Content-Length when present, `None` on 404.
    fn head(&self, path: &str) -> std::result::Result<Option<Option<u64>>, Failure> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let client = match &self.backend {
            Backend::Http(client) => client,
            Backend::Dir(dir) => return dir_head(dir, path),
        };
        let resp = client
            .head(self.url_of(path)?)
            .send()
            .map_err(|e| request_failure("HEAD", path, e))?;
        match resp.status().as_u16() {
            200 => Ok(Some(
                resp.headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
            )),
            404 => Ok(None),
            s => Err(Failure(format!("HEAD {path} answered HTTP {s}"))),
        }
    }

    fn put(&self, path: &str, body: Vec<u8>) -> std::result::Result<(), Failure> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let len = body.len() as u64;
        let client = match &self.backend {
            Backend::Http(client) => client,
            Backend::Dir(dir) => {
                dir_put(dir, path, &body)?;
                self.up.fetch_add(len, Ordering::Relaxed);
                return Ok(());
            }
        };
        let resp = client
            .put(self.url_of(path)?)
            .body(body)
            .send()
            .map_err(|e| request_failure("PUT", path, e))?;
        match resp.status().as_u16() {
            200..=299 => {
                self.up.fetch_add(len, Ordering::Relaxed);
                Ok(())
            }
            s => Err(Failure(format!("PUT {path} answered HTTP {s}"))),
        }
    }

    /// The action entry of `key`, verified in shape and naming exactly `outputs`; `None` when
    /// absent, unusable, or the remote is disabled. `Err` only when required.
    pub fn lookup(&self, key: &ActionKey, outputs: &[String]) -> Result<Option<RemoteEntry>> {
        if !self.enabled() {
            return Ok(None);
        }
        let path = format!("ac/{}", ac_name(key));
        let bytes = match self.get(&path, MAX_ENTRY) {
            Ok(Got::Body(b)) => b,
            Ok(Got::NotFound) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Ok(Got::OverLimit) => {
                self.corrupt(format!("{path} is over the limit of {MAX_ENTRY} bytes"));
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Err(f) => {
                self.fail(f)?;
                return Ok(None);
            }
        };
        let entry = serde_json::from_slice::<RemoteEntry>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|e| e.validate().map(|()| e));
        let entry = match entry {
            Ok(e) if e.outputs.keys().eq(outputs.iter().collect::<BTreeSet<_>>()) => e,
            Ok(_) => {
                self.corrupt(format!("{path} names other outputs than the node"));
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Err(why) => {
                self.corrupt(format!("{path} is not a valid entry ({why})"));
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        Ok(Some(entry))
    }

    /// Downloads into `local` every object of the outputs selected by `names` that it lacks,
    /// verifying each. `false` if one is missing, does not verify, or the remote failed; `Err`
    /// only when required.
    pub fn fetch(
        &self,
        local: &LocalCache,
        entry: &RemoteEntry,
        names: &dyn Fn(&str) -> bool,
    ) -> Result<bool> {
        for obj in entry.objects(names) {
            if local.has_object(&obj.blake3) {
                continue;
            }
            if !self.enabled() {
                return Ok(false);
            }
            let path = format!("cas/{}", obj.sha256);
            if obj.size > MAX_OBJECT {
                self.corrupt(format!(
                    "{path} is listed at {} bytes, over the limit of {MAX_OBJECT}",
                    obj.size
                ));
                return Ok(false);
            }
            let resp = match self.get_response(&path, obj.size) {
                Ok(Got::Body(resp)) => Some(resp),
                Ok(Got::NotFound) => return Ok(false),
                Ok(Got::OverLimit) => None,
                Err(f) => {
                    self.fail(f)?;
                    return Ok(false);
                }
            };
            // Streamed to disk while both digests are computed: never held in memory.
            let stored = resp.map(|resp| {
                let mut body = HashingReader {
                    inner: std::io::Read::take(resp, obj.size + 1),
                    sha: sha2::Sha256::new(),
                    len: 0,
                    failed: None,
                };
                let want = FileDigest {
                    blake3: obj.blake3,
                    size: obj.size,
                };
                let stored = local.put_reader(&mut body, &want);
                self.down.fetch_add(body.len, Ordering::Relaxed);
                (stored, body)
            });
            let verified = match stored {
                None => false,
                Some((_, body)) if body.failed.is_some() => {
                    let e = body.failed.unwrap_or_else(|| std::io::Error::other("?"));
                    self.fail(body_failure(&path, &e))?;
                    return Ok(false);
                }
                Some((Err(_), _)) => return Ok(false),
                Some((Ok(stored), body)) => {
                    let sha = body.sha.finalize();
                    let sha: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                    stored && sha == obj.sha256
                }
            };
            if !verified {
                if let Ok(mut bad) = self.bad.lock() {
                    bad.insert(obj.sha256.to_string());
                }
                self.corrupt(format!("{path} does not match its digest"));
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Uploads what `action` produced (its objects are in `local`), reads each object back,
    /// then writes the entry of `key` and reads it back. Does nothing when read-only or
    /// disabled; a failure disables the remote, or is the error when required.
    pub fn upload(&self, local: &LocalCache, key: &ActionKey, action: &ActionEntry) -> Result<()> {
        if self.read_only || !self.enabled() {
            return Ok(());
        }
        match self.try_upload(local, key, action) {
            Ok(()) => Ok(()),
            Err(f) => self.fail(f),
        }
    }

    fn try_upload(
        &self,
        local: &LocalCache,
        key: &ActionKey,
        action: &ActionEntry,
    ) -> std::result::Result<(), Failure> {
        let mut sent: BTreeMap<String, u64> = BTreeMap::new();
        let mut object = |d: &FileDigest| -> std::result::Result<String, Failure> {
            let bytes = local
                .get_bytes(&d.blake3)
                .ok()
                .flatten()
                .ok_or_else(|| Failure(format!("object {} left the local cache", d.blake3)))?;
            let sha = sha256_hex(&bytes);
            if !sent.contains_key(&sha) {
                let path = format!("cas/{sha}");
                let known_bad = self.bad.lock().is_ok_and(|b| b.contains(&sha));
                if known_bad || self.head(&path)? != Some(Some(d.size)) {
                    self.put(&path, bytes)?;
                }
                sent.insert(sha.clone(), d.size);
            }
            Ok(sha)
        };
        let mut outputs = BTreeMap::new();
        for (name, rec) in &action.outputs {
            let out = match &rec.tree {
                Some(tree) => {
                    let mut files = Vec::new();
                    for e in tree {
                        files.push(RemoteFile {
                            path: e.path.clone(),
                            blake3: e.digest.blake3,
                            sha256: object(&e.digest)?,
                            size: e.digest.size,
                            executable: e.executable,
                        });
                    }
                    RemoteOutput {
                        kind: OutputShape::Dir,
                        blake3: rec.digest.blake3,
                        sha256: None,
                        size: rec.digest.size,
                        executable: false,
                        tree: Some(files),
                    }
                }
                None => RemoteOutput {
                    kind: OutputShape::File,
                    blake3: rec.digest.blake3,
                    sha256: Some(object(&rec.digest)?),
                    size: rec.digest.size,
                    executable: rec.executable,
                    tree: None,
                },
            };
            outputs.insert(name.clone(), out);
        }
        // Read-back: every object is there with its size before the entry names it.
        for (sha, size) in &sent {
            let path = format!("cas/{sha}");
            match self.head(&path)? {
                Some(Some(len)) if len == *size => {}
                got => {
                    return Err(Failure(format!(
                        "read-back of {path} failed (expected {size} bytes, got {got:?})"
                    )));
                }
            }
        }
        let entry = RemoteEntry {
            parity_ac: 1,
            outputs,
        };
        let body = serde_json::to_vec(&entry).map_err(|e| Failure(e.to_string()))?;
        let path = format!("ac/{}", ac_name(key));
        self.put(&path, body.clone())?;
        // Read-back of the entry itself: what a later lookup will get, byte for byte.
        match self.get(&path, MAX_ENTRY)? {
            Got::Body(back) if back == body => {}
            Got::Body(_) => {
                return Err(Failure(format!(
                    "read-back of {path} returned other bytes than were written"
                )));
            }
            Got::NotFound | Got::OverLimit => {
                return Err(Failure(format!(
                    "read-back of {path} failed (not there after it was written)"
                )));
            }
        }
        if let Ok(mut bad) = self.bad.lock() {
            for sha in sent.keys() {
                bad.remove(sha);
            }
        }
        self.uploads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// `GET` from a directory backend: the file `dir/path`, to be read (never more than `limit`
/// bytes are taken from it).
fn dir_open(dir: &Path, path: &str, limit: u64) -> std::result::Result<Got<Body>, Failure> {
    let file = match std::fs::File::open(fsutil::join_rel(dir, path)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Got::NotFound),
        Err(e) => return Err(Failure(format!("reading {path} failed ({e})"))),
    };
    match file.metadata() {
        Ok(m) if !m.is_file() => Err(Failure(format!("{path} is not a file"))),
        Ok(m) if m.len() > limit => Ok(Got::OverLimit),
        Ok(_) => Ok(Got::Body(Box::new(file))),
        Err(e) => Err(Failure(format!("stat of {path} failed ({e})"))),
    }
}

/// `HEAD` on a directory backend: the size of the file `dir/path`, `None` when absent.
fn dir_head(dir: &Path, path: &str) -> std::result::Result<Option<Option<u64>>, Failure> {
    match std::fs::metadata(fsutil::join_rel(dir, path)) {
        Ok(m) if m.is_file() => Ok(Some(Some(m.len()))),
        Ok(_) => Err(Failure(format!("{path} is not a file"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure(format!("stat of {path} failed ({e})"))),
    }
}

/// `PUT` on a directory backend: `dir/path` written atomically (its directories created).
fn dir_put(dir: &Path, path: &str, body: &[u8]) -> std::result::Result<(), Failure> {
    fsutil::write_atomic_unsynced(&fsutil::join_rel(dir, path), body).map_err(|e| {
        let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
        Failure(format!("writing {path} failed ({e}{cause})"))
    })
}

/// A body being read: its sha256 and length so far, and the read error that ended it, if any
/// (a transport failure, as opposed to bytes that do not verify).
struct HashingReader<R> {
    inner: R,
    sha: sha2::Sha256,
    len: u64,
    failed: Option<std::io::Error>,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.sha.update(&buf[..n]);
                self.len += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(e);
                Err(std::io::Error::from(kind))
            }
        }
    }
}

/// Words a failure while reading a body.
fn body_failure(path: &str, e: &std::io::Error) -> Failure {
    let why = Some(deepest(e))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| e.kind().to_string());
    Failure(format!("GET {path} failed reading the body ({why})"))
}

/// At most 5 redirects, never from https to anything else: action entries are trusted by
/// shape alone, so a downgraded hop must not be able to serve one.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt
            .previous()
            .last()
            .is_some_and(|prev| prev.scheme() == "https" && attempt.url().scheme() != "https");
        if downgrade {
            attempt.error("refused a redirect from https to another scheme")
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Words a transport error (without its URL, which may hold credentials).
fn request_failure(method: &str, path: &str, e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    let why = deepest(&e);
    let why = if why.is_empty() {
        e.without_url().to_string()
    } else {
        why
    };
    Failure(format!("{method} {path} {kind} ({why})"))
}

/// The text of the innermost cause of `e`, empty when it has none (the text of `e` itself may
/// hold the URL, and with it credentials).
fn deepest(e: &(dyn std::error::Error + 'static)) -> String {
    let mut why = String::new();
    let mut cause = e.source();
    while let Some(c) = cause {
        why = c.to_string();
        cause = c.source();
    }
    why
}

/// `url` with any user name and password replaced by `***`.
pub fn redact(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_password(None);
        let _ = u.set_username("***");
    }
    u.to_string()
}

/// [`redact`] for a string that may not even parse: everything between `//` and `@` goes.
pub fn redact_text(url: &str) -> String {
    if let Ok(u) = reqwest::Url::parse(url) {
        return redact(&u);
    }
    match (url.find("//"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 2], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash;

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redact_text("https://user:s3cret@cache.example:8080/x/"),
            "https://***@cache.example:8080/x/"
        );
        assert_eq!(redact_text("http://h/"), "http://h/");
        assert_eq!(redact_text("nonsense://u:p@"), "nonsense://***@");
        let err = RemoteCache::new(&RemoteOptions {
            url: "ftp://u:pw@h/".into(),
            read_only: false,
            required: false,
            timeout: Duration::from_secs(1),
        })
        .unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    /// update-snapshot.yml writes `file://${{ runner.temp }}/parity-remote`: on a Windows
    /// runner that is `file://D:\a\_temp/parity-remote`, which must name that directory.
    #[test]
    fn a_file_url_from_a_windows_runner_names_its_directory() {
        let opts = |url: &str| RemoteOptions {
            url: url.into(),
            read_only: false,
            required: true,
            timeout: Duration::from_secs(1),
        };
        let cache = RemoteCache::new(&opts("file://D:\\a\\_temp/parity-remote")).unwrap();
        assert_eq!(cache.url(), "file:///D:/a/_temp/parity-remote/");
        #[cfg(windows)]
        assert!(matches!(&cache.backend,
            Backend::Dir(d) if d == std::path::Path::new("D:\\a\\_temp\\parity-remote")));
        let cache =
            RemoteCache::new(&opts("file:///home/runner/work/_temp/parity-remote")).unwrap();
        #[cfg(unix)]
        assert!(matches!(&cache.backend,
            Backend::Dir(d) if d == std::path::Path::new("/home/runner/work/_temp/parity-remote")));
        assert!(cache.required());
    }

    #[test]
    fn ac_names_are_sha256_of_the_key_bytes() {
        let key = Digest([7; 32]);
        let name = ac_name(&key);
        assert!(is_sha256(&name));
        assert_eq!(name, sha256_hex(&[7; 32]));
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// A one-byte file `x` at `path` of a directory output.
    fn file(path: &str) -> RemoteFile {
        RemoteFile {
            path: path.into(),
            blake3: Digest::of(b"x"),
            sha256: sha256_hex(b"x"),
            size: 1,
            executable: false,
        }
    }

    #[test]
    fn entries_with_a_wrong_tree_digest_or_escaping_path_are_rejected() {
        let entries = vec![TreeEntry {
            path: "a.txt".into(),
            digest: FileDigest {
                blake3: Digest::of(b"x"),
                size: 1,
            },
            executable: false,
        }];
        let good = hash::tree_digest(&entries);
        let entry = |path: &str, blake3| RemoteEntry {
            parity_ac: 1,
            outputs: BTreeMap::from([(
                "d/".to_string(),
                RemoteOutput {
                    kind: OutputShape::Dir,
                    blake3,
                    sha256: None,
                    size: 1,
                    executable: false,
                    tree: Some(vec![file(path)]),
                },
            )]),
        };
        assert_eq!(entry("a.txt", good.blake3).validate(), Ok(()));
        assert!(entry("a.txt", Digest([0; 32])).validate().is_err());
        assert!(entry("../a.txt", good.blake3).validate().is_err());
    }

    #[test]
    fn an_entry_listing_a_file_and_a_path_inside_it_is_rejected() {
        let tree = vec![file("x.txt"), file("x.txt/y")];
        let action_tree: Vec<TreeEntry> = tree
            .iter()
            .map(|f| TreeEntry {
                path: f.path.clone(),
                digest: FileDigest {
                    blake3: f.blake3,
                    size: f.size,
                },
                executable: false,
            })
            .collect();
        let digest = hash::tree_digest(&action_tree);
        let entry = RemoteEntry {
            parity_ac: 1,
            outputs: BTreeMap::from([(
                "d".to_string(),
                RemoteOutput {
                    kind: OutputShape::Dir,
                    blake3: digest.blake3,
                    sha256: None,
                    size: digest.size,
                    executable: false,
                    tree: Some(tree),
                },
            )]),
        };
        let err = entry.validate().unwrap_err();
        assert!(err.contains("both the file `x.txt` and `x.txt/y`"), "{err}");
    }
}
