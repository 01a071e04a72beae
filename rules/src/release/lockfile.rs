//! Pin files (`pins/{version}/{target}.json`, committed) and `artifacts.lock.json`, their merge
//! (spec §8.1: header, artifacts sorted by numeric version then target, reference key order,
//! 2-space pretty JSON and a trailing newline).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::github::Version;
use crate::common;

/// One artifact of the lock, keys in the reference order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    /// `0.92.0`.
    pub codex_version: String,
    /// `x86_64-unknown-linux-musl`.
    pub target_triple: String,
    /// `codex-x86_64-unknown-linux-musl.tar.gz`.
    pub asset_name: String,
    /// The release asset URL.
    pub download_url: String,
    /// Lowercase hex sha256 of the asset as downloaded.
    pub sha256: String,
    /// Its length in bytes.
    pub size_bytes: u64,
}

/// A pin file: the lock entry plus the release's `published_at` (the version's epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The lock entry.
    #[serde(flatten)]
    pub entry: LockEntry,
    /// RFC 3339, as the API gave it.
    pub published_at: String,
}

/// `artifacts.lock.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Always 1.
    pub version: u32,
    /// `openai/codex`.
    pub upstream_repo: String,
    /// Sorted by (numeric version, target).
    pub artifacts: Vec<LockEntry>,
}

impl LockEntry {
    /// Checks what acquisition relies on; the message names `what` (a file) and the field.
    pub fn check(&self, what: &str) -> Result<()> {
        let bad = |field: &str, why: &str| -> Result<()> { bail!("{what}: `{field}` {why}") };
        if self.codex_version.parse::<Version>().is_err() {
            bad("codex_version", "is not a version X.Y.Z")?;
        }
        let name = &self.asset_name;
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains(['/', '\\'])
            || name.starts_with('.')
        {
            bad("asset_name", "must be a plain file name")?;
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
        Ok((self.codex_version.parse()?, self.target_triple.as_str()))
    }
}

/// Reads and checks a pin file.
pub fn read_pin(path: &Path) -> Result<Pin> {
    let pin: Pin = common::read_json(path)?;
    pin.entry.check(&format!("`{}`", path.display()))?;
    Ok(pin)
}

/// The lock of these entries: sorted by (numeric version, target); two entries for the same
/// (version, target) are an error.
pub fn merge(upstream_repo: &str, mut entries: Vec<LockEntry>) -> Result<LockFile> {
    for e in &entries {
        e.sort_key()?;
    }
    entries.sort_by(|a, b| {
        let (ka, kb) = (a.sort_key().ok(), b.sort_key().ok());
        ka.cmp(&kb)
    });
    for w in entries.windows(2) {
        if w[0].codex_version == w[1].codex_version && w[0].target_triple == w[1].target_triple {
            bail!(
                "two pins for version `{}` target `{}`",
                w[0].codex_version,
                w[0].target_triple
            );
        }
    }
    Ok(LockFile {
        version: 1,
        upstream_repo: upstream_repo.to_string(),
        artifacts: entries,
    })
}

/// The entry of `lock` (a file) for (version, target), checked.
pub fn lock_entry(lock: &Path, version: &str, target: &str) -> Result<LockEntry> {
    let file: LockFile = common::read_json(lock)?;
    let entry = file
        .artifacts
        .into_iter()
        .find(|a| a.codex_version == version && a.target_triple == target)
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
            codex_version: v.into(),
            target_triple: t.into(),
            asset_name: format!("codex-{t}.tar.gz"),
            download_url: format!("https://example.invalid/{v}/codex-{t}.tar.gz"),
            sha256: "ab".repeat(32),
            size_bytes: 1,
        }
    }

    #[test]
    fn merge_sorts_numerically_and_refuses_duplicates() {
        let lock = merge(
            "o/r",
            vec![
                entry("0.10.0", "b"),
                entry("0.9.0", "z"),
                entry("0.10.0", "a"),
            ],
        )
        .unwrap();
        let order: Vec<_> = lock
            .artifacts
            .iter()
            .map(|e| format!("{}/{}", e.codex_version, e.target_triple))
            .collect();
        assert_eq!(order, ["0.9.0/z", "0.10.0/a", "0.10.0/b"]);
        assert!(merge("o/r", vec![entry("1.0.0", "a"), entry("1.0.0", "a")]).is_err());
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
