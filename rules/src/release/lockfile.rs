//! Pin files (`pins/{version}/{target}.json`, committed) and `artifacts.lock.json`, their merge,
//! for both release sources: codex (spec §8.1: `{"version": 1, "upstream_repo", "artifacts"}`,
//! entries keyed `codex_version`) and Claude Code (claude spec §5.3: `{"schema_version": 1,
//! "upstream": {"channel", "bucket_root"}, "artifacts"}`, entries keyed `claude_code_version`).
//! Artifacts sorted by numeric version then target, reference key order, 2-space pretty JSON
//! and a trailing newline.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::github::Version;
use crate::common;

/// One artifact of a lock. Read with either version key; written with its upstream's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockEntry {
    /// `0.92.0`, `2.1.29`.
    #[serde(rename = "codex_version", alias = "claude_code_version")]
    pub version: String,
    /// `x86_64-unknown-linux-musl`, `linux-x64`.
    pub target_triple: String,
    /// `codex-x86_64-unknown-linux-musl.tar.gz`, `claude`.
    pub asset_name: String,
    /// Where the asset is downloaded from.
    pub download_url: String,
    /// Lowercase hex sha256 of the asset.
    pub sha256: String,
    /// Its length in bytes.
    pub size_bytes: u64,
}

/// Which release source a lock or pin is of: its version key and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockUpstream {
    /// GitHub releases of `repo` (codex).
    GitHub {
        /// `openai/codex`.
        repo: String,
    },
    /// A release bucket (Claude Code).
    Bucket {
        /// `stable`.
        channel: String,
        /// The bucket's root URL.
        bucket_root: String,
    },
}

impl LockUpstream {
    /// The key of an entry's version.
    pub fn version_key(&self) -> &'static str {
        match self {
            LockUpstream::GitHub { .. } => "codex_version",
            LockUpstream::Bucket { .. } => "claude_code_version",
        }
    }

    /// The key of a pin's release date: the release's `published_at` (GitHub) or the
    /// manifest's `buildDate` (bucket).
    pub fn date_key(&self) -> &'static str {
        match self {
            LockUpstream::GitHub { .. } => "published_at",
            LockUpstream::Bucket { .. } => "build_date",
        }
    }
}

/// A pin file: the lock entry plus the release's date (the version's epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The lock entry.
    pub entry: LockEntry,
    /// RFC 3339, as the source gave it.
    pub date: String,
}

/// An entry as written, in the reference key order: `<version key>`, `target_triple`,
/// `asset_name`, `download_url`, `sha256`, `size_bytes`, then the pin's date if any.
struct EntryOut<'a> {
    entry: &'a LockEntry,
    upstream: &'a LockUpstream,
    date: Option<&'a str>,
}

impl Serialize for EntryOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.entry;
        let mut st = s.serialize_struct("LockEntry", 7)?;
        st.serialize_field(self.upstream.version_key(), &e.version)?;
        st.serialize_field("target_triple", &e.target_triple)?;
        st.serialize_field("asset_name", &e.asset_name)?;
        st.serialize_field("download_url", &e.download_url)?;
        st.serialize_field("sha256", &e.sha256)?;
        st.serialize_field("size_bytes", &e.size_bytes)?;
        if let Some(date) = self.date {
            st.serialize_field(self.upstream.date_key(), date)?;
        }
        st.end()
    }
}

impl Pin {
    /// The pin file's text.
    pub fn to_json(&self, upstream: &LockUpstream) -> Result<String> {
        common::to_json_pretty(&EntryOut {
            entry: &self.entry,
            upstream,
            date: Some(&self.date),
        })
    }
}

#[derive(Serialize)]
struct CodexLock<'a> {
    version: u32,
    upstream_repo: &'a str,
    artifacts: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct BucketLock<'a> {
    schema_version: u32,
    upstream: BucketUpstream<'a>,
    artifacts: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct BucketUpstream<'a> {
    channel: &'a str,
    bucket_root: &'a str,
}

impl LockEntry {
    /// Checks what acquisition relies on; the message names `what` (a file) and the field.
    pub fn check(&self, what: &str) -> Result<()> {
        let bad = |field: &str, why: &str| -> Result<()> { bail!("{what}: `{field}` {why}") };
        if self.version.parse::<Version>().is_err() {
            bad("version", "is not a version X.Y.Z")?;
        }
        let plain =
            |name: &str| !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
        if !plain(&self.asset_name) {
            bad("asset_name", "must be a plain file name")?;
        }
        if !plain(&self.target_triple) {
            bad("target_triple", "must be a plain name")?;
        }
        if !(self.download_url.starts_with("https://") || self.download_url.starts_with("http://"))
        {
            bad("download_url", "must be an http(s) URL")?;
        }
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            bad("sha256", "must be 64 lowercase hex digits")?;
        }
        if self.size_bytes == 0 {
            bad("size_bytes", "must be positive")?;
        }
        Ok(())
    }

    fn sort_key(&self) -> Result<(Version, &str)> {
        Ok((self.version.parse()?, self.target_triple.as_str()))
    }
}

#[derive(Deserialize)]
struct PinIn {
    #[serde(flatten)]
    entry: LockEntry,
    #[serde(alias = "build_date")]
    published_at: String,
}

/// Reads and checks a pin file (of either source).
pub fn read_pin(path: &Path) -> Result<Pin> {
    let pin: PinIn = common::read_json(path)?;
    pin.entry.check(&format!("`{}`", path.display()))?;
    Ok(Pin {
        entry: pin.entry,
        date: pin.published_at,
    })
}

/// The text of the lock of `upstream` holding these entries: sorted by (numeric version,
/// target); two entries for the same (version, target) are an error.
pub fn merge(upstream: &LockUpstream, mut entries: Vec<LockEntry>) -> Result<String> {
    for e in &entries {
        e.sort_key()?;
    }
    entries.sort_by(|a, b| {
        let (ka, kb) = (a.sort_key().ok(), b.sort_key().ok());
        ka.cmp(&kb)
    });
    for w in entries.windows(2) {
        if w[0].version == w[1].version && w[0].target_triple == w[1].target_triple {
            bail!(
                "two pins for version `{}` target `{}`",
                w[0].version,
                w[0].target_triple
            );
        }
    }
    let artifacts = entries
        .iter()
        .map(|entry| EntryOut {
            entry,
            upstream,
            date: None,
        })
        .collect();
    match upstream {
        LockUpstream::GitHub { repo } => common::to_json_pretty(&CodexLock {
            version: 1,
            upstream_repo: repo,
            artifacts,
        }),
        LockUpstream::Bucket {
            channel,
            bucket_root,
        } => common::to_json_pretty(&BucketLock {
            schema_version: 1,
            upstream: BucketUpstream {
                channel,
                bucket_root,
            },
            artifacts,
        }),
    }
}

#[derive(Deserialize)]
struct LockIn {
    artifacts: Vec<LockEntry>,
}

/// The entry of `lock` (a file, of either source) for (version, target), checked.
pub fn lock_entry(lock: &Path, version: &str, target: &str) -> Result<LockEntry> {
    let file: LockIn = common::read_json(lock)?;
    let entry = file
        .artifacts
        .into_iter()
        .find(|a| a.version == version && a.target_triple == target)
        .with_context(|| {
            format!(
                "`{}` has no artifact for version `{version}` target `{target}`",
                lock.display()
            )
        })?;
    entry.check(&format!(
        "`{}` (version `{version}` target `{target}`)",
        lock.display()
    ))?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str, t: &str) -> LockEntry {
        LockEntry {
            version: v.into(),
            target_triple: t.into(),
            asset_name: format!("codex-{t}.tar.gz"),
            download_url: format!("https://example.invalid/{v}/codex-{t}.tar.gz"),
            sha256: "ab".repeat(32),
            size_bytes: 1,
        }
    }

    fn github() -> LockUpstream {
        LockUpstream::GitHub { repo: "o/r".into() }
    }

    #[test]
    fn merge_sorts_numerically_and_refuses_duplicates() {
        let lock = merge(
            &github(),
            vec![
                entry("0.10.0", "b"),
                entry("0.9.0", "z"),
                entry("0.10.0", "a"),
            ],
        )
        .unwrap();
        let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
        let order: Vec<_> = lock["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{}/{}", e["codex_version"], e["target_triple"]))
            .collect();
        assert_eq!(
            order,
            [r#""0.9.0"/"z""#, r#""0.10.0"/"a""#, r#""0.10.0"/"b""#]
        );
        assert!(merge(&github(), vec![entry("1.0.0", "a"), entry("1.0.0", "a")]).is_err());
    }

    #[test]
    fn a_bucket_lock_is_the_reference_claude_lock_byte_for_byte() {
        let reference = include_str!("../../tests/fixtures/claude/reference.artifacts.lock.json");
        let entries: Vec<LockEntry> = serde_json::from_value(
            serde_json::from_str::<serde_json::Value>(reference).unwrap()["artifacts"].clone(),
        )
        .unwrap();
        let upstream = LockUpstream::Bucket {
            channel: "stable".into(),
            bucket_root: "https://storage.googleapis.com/claude-code-dist-86c565f3-f756-42ad-8dfa-d59b1c096819/claude-code-releases".into(),
        };
        let mut shuffled = entries.clone();
        shuffled.reverse();
        assert_eq!(merge(&upstream, shuffled).unwrap(), reference);
        let pin = Pin {
            entry: entries[1].clone(),
            date: "2026-01-31T20:14:43Z".into(),
        };
        let text = pin.to_json(&upstream).unwrap();
        assert!(
            text.starts_with(
                "{\n  \"claude_code_version\": \"2.1.29\",\n  \"target_triple\": \"linux-x64\","
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\"size_bytes\": 221497243,\n  \"build_date\": \"2026-01-31T20:14:43Z\"\n}\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn asset_names_cannot_escape_a_mirror() {
        let mut e = entry("1.0.0", "a");
        e.asset_name = "../../etc/passwd".into();
        let err = e.check("pin").unwrap_err().to_string();
        assert!(
            err.contains("`asset_name` must be a plain file name"),
            "{err}"
        );
    }
}
