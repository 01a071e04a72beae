//! Claude Code's release channel (claude spec §5.1): a bucket holding a `stable` pointer (the
//! current stable version, as text) and, per version, `V/manifest.json` with the release's
//! `buildDate` and, per platform, the `checksum` (sha256) and `size` of its binary, at
//! `V/<platform>/claude` (`claude.exe` on Windows). The manifest is the publisher's word on
//! the bytes, so a pin needs no download: `acquire` checks the binary against it.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use super::github::Version;
use super::http::Http;

/// A release bucket.
pub struct Bucket<'h> {
    http: &'h Http,
    root: String,
}

/// `V/manifest.json` (the fields used; others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// When the release was built (RFC 3339): the SOURCE_DATE_EPOCH of every artifact of V.
    #[serde(rename = "buildDate")]
    pub build_date: String,
    /// Per platform (`linux-x64`, `darwin-arm64`, `win32-x64`, ...).
    pub platforms: BTreeMap<String, PlatformAsset>,
}

/// One platform of a manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformAsset {
    /// sha256 of the binary, lowercase hex.
    pub checksum: String,
    /// Its size in bytes.
    pub size: u64,
}

impl<'h> Bucket<'h> {
    /// The bucket at `root` (`https://…/claude-code-releases`, or a test server).
    pub fn new(http: &'h Http, root: &str) -> Bucket<'h> {
        Bucket {
            http,
            root: root.trim_end_matches('/').to_string(),
        }
    }

    /// The version the `stable` pointer names.
    pub fn stable(&self) -> Result<Version> {
        let url = format!("{}/stable", self.root);
        let body = self.http.get_small(&url)?;
        let text = String::from_utf8_lossy(&body);
        text.trim()
            .parse()
            .with_context(|| format!("`{url}` does not name a stable version"))
    }

    /// The manifest of `version`.
    pub fn manifest(&self, version: Version) -> Result<Manifest> {
        let url = format!("{}/{version}/manifest.json", self.root);
        let body = self.http.get_small(&url)?;
        serde_json::from_slice(&body).with_context(|| format!("`{url}` is not a release manifest"))
    }

    /// Where the binary `asset` of `version` for `platform` is.
    pub fn asset_url(&self, version: Version, platform: &str, asset: &str) -> String {
        format!("{}/{version}/{platform}/{asset}", self.root)
    }
}

impl Manifest {
    /// `buildDate` in Unix seconds (a fraction is cut, as `date +%s` does).
    pub fn epoch(&self) -> Result<i64> {
        let ts: jiff::Timestamp = self
            .build_date
            .parse()
            .with_context(|| format!("invalid `buildDate` `{}`", self.build_date))?;
        Ok(ts.as_second())
    }

    /// The checksum and size of `platform`, checked.
    pub fn platform(&self, platform: &str) -> Result<&PlatformAsset> {
        let p = self.platforms.get(platform).ok_or_else(|| {
            let known: Vec<&str> = self.platforms.keys().map(String::as_str).collect();
            anyhow!(
                "the manifest has no platform `{platform}` (it has: {})",
                known.join(", ")
            )
        })?;
        let hex = p.checksum.len() == 64
            && p.checksum
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            bail!("`platforms.{platform}.checksum` is not a lowercase sha256");
        }
        if p.size == 0 {
            bail!("`platforms.{platform}.size` is 0");
        }
        Ok(p)
    }
}

/// The binary's name for `platform`: `claude.exe` on Windows, else `claude`.
pub fn default_asset(platform: &str) -> &'static str {
    if platform.starts_with("win32") {
        "claude.exe"
    } else {
        "claude"
    }
}
