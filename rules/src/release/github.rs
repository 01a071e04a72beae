//! Upstream releases through the GitHub REST API, and release selection (spec §8.2).
//!
//! Stable = not a draft, not a prerelease, and a tag that is exactly `{prefix}X.Y.Z` with three
//! all-digit parts (stricter than the reference's JS `Number()`, which took `""` for 0).

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use super::http::Http;

/// The API used when neither `PARITY_GITHUB_API` nor the rule config names one.
pub const DEFAULT_API: &str = "https://api.github.com";

/// Pages of the release list followed at most (100 releases each).
const MAX_PAGES: usize = 100;

/// A stable version `X.Y.Z` (a [`semver::Version`] without pre-release or build metadata),
/// ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub semver::Version);

impl FromStr for Version {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Version> {
        match semver::Version::parse(s) {
            Ok(v) if v.pre.is_empty() && v.build.is_empty() => Ok(Version(v)),
            _ => Err(anyhow!("`{s}` is not a version `X.Y.Z` (three numbers)")),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One release as the API returns it (the fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    /// `rust-v0.92.0`.
    pub tag_name: String,
    /// A draft (never selected).
    #[serde(default)]
    pub draft: bool,
    /// A prerelease (never selected).
    #[serde(default)]
    pub prerelease: bool,
    /// RFC 3339; `null` for drafts.
    pub published_at: Option<String>,
    /// Downloadable files.
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// One release asset.
#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    /// File name (`codex-x86_64-unknown-linux-musl.tar.gz`).
    pub name: String,
    /// Where it is downloaded from (redirects to a storage host).
    pub browser_download_url: String,
    /// Size in bytes as the API reports it.
    pub size: u64,
}

impl Release {
    /// The stable version of this release, if it is one (tag `{prefix}X.Y.Z`, not draft or
    /// prerelease).
    pub fn stable_version(&self, prefix: &str) -> Option<Version> {
        if self.draft || self.prerelease {
            return None;
        }
        self.tag_name.strip_prefix(prefix)?.parse().ok()
    }

    /// `published_at` as Unix seconds: the SOURCE_DATE_EPOCH of this version.
    pub fn published_epoch(&self) -> Result<i64> {
        let raw = self
            .published_at
            .as_deref()
            .ok_or_else(|| anyhow!("release `{}` has no `published_at`", self.tag_name))?;
        let ts: jiff::Timestamp = raw.parse().with_context(|| {
            format!(
                "release `{}` has an invalid `published_at` `{raw}`",
                self.tag_name
            )
        })?;
        Ok(ts.as_second())
    }

    /// Fails unless this release can be pinned: not a draft, not a prerelease, published.
    pub fn require_pinnable(&self) -> Result<i64> {
        if self.draft {
            bail!("release `{}` is a draft", self.tag_name);
        }
        if self.prerelease {
            bail!("release `{}` is a prerelease", self.tag_name);
        }
        self.published_epoch()
    }

    /// The asset called `name`.
    pub fn asset(&self, name: &str) -> Result<&Asset> {
        self.assets.iter().find(|a| a.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.assets.iter().map(|a| a.name.as_str()).collect();
            anyhow!(
                "release `{}` has no asset `{name}` (it has: {})",
                self.tag_name,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
    }
}

/// The GitHub REST API of one host.
pub struct GitHub<'h> {
    http: &'h Http,
    api: String,
}

impl<'h> GitHub<'h> {
    /// The API at `api` (`https://api.github.com` or a test server).
    pub fn new(http: &'h Http, api: &str) -> GitHub<'h> {
        GitHub {
            http,
            api: api.trim_end_matches('/').to_string(),
        }
    }

    /// Every release of `repo` (`owner/name`), following the `Link` pagination.
    pub fn releases(&self, repo: &str) -> Result<Vec<Release>> {
        let mut url = format!("{}/repos/{repo}/releases?per_page=100", self.api);
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let (page, next) = self.http.get_api(&url)?;
            let page: Vec<Release> = serde_json::from_value(page)
                .with_context(|| format!("`{url}` is not a list of releases"))?;
            out.extend(page);
            match next {
                Some(n) if same_origin(&n, &self.api) => url = n,
                Some(n) => bail!(
                    "`{url}` links its next page to `{n}`, outside the API `{}`; not followed (the token is for the API only)",
                    self.api
                ),
                None => return Ok(out),
            }
        }
        bail!("`{repo}` has more than {MAX_PAGES} pages of releases; giving up")
    }

    /// The release tagged `tag`.
    pub fn release(&self, repo: &str, tag: &str) -> Result<Release> {
        let url = format!("{}/repos/{repo}/releases/tags/{tag}", self.api);
        let (value, _) = self
            .http
            .get_api(&url)
            .with_context(|| format!("failed to look up release `{tag}` of `{repo}`"))?;
        serde_json::from_value(value).with_context(|| format!("`{url}` is not a release"))
    }
}

impl GitHub<'_> {
    /// Whether the branch `branch` exists in `repo` (`GET /repos/{repo}/branches/{branch}`).
    pub fn has_branch(&self, repo: &str, branch: &str) -> Result<bool> {
        let url = format!("{}/repos/{repo}/branches/{branch}", self.api);
        match self.http.call_api(reqwest::Method::GET, &url, None)? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (status, body) => bail!("`{url}` answered HTTP {status}: {body}"),
        }
    }
}

/// Whether `link` has the scheme, host and port of `api`: the token goes nowhere else.
fn same_origin(link: &str, api: &str) -> bool {
    match (reqwest::Url::parse(link), reqwest::Url::parse(api)) {
        (Ok(l), Ok(a)) => l.origin() == a.origin(),
        _ => false,
    }
}

/// Which release `parity watch` proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// The newest stable release.
    Latest,
    /// The second newest (the reference's lag of one release), or the only one.
    #[default]
    StableMinusOne,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Latest => "latest",
            Policy::StableMinusOne => "stable-minus-one",
        })
    }
}

/// What `parity watch` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Watch {
    /// The policy applied.
    pub policy: Policy,
    /// The newest stable release.
    pub latest: String,
    /// The release the policy selects.
    pub candidate: String,
    /// `latest_validated.txt`, trimmed.
    pub latest_validated: String,
    /// Whether `candidate` should be pinned and snapshotted.
    pub new: bool,
    /// Why (or why not).
    pub reason: String,
    /// How many stable releases were seen.
    pub stable_releases: usize,
}

/// The stable versions among `releases`, newest first, without duplicates.
pub fn stable_versions(releases: &[Release], prefix: &str) -> Vec<Version> {
    let mut v: Vec<Version> = releases
        .iter()
        .filter_map(|r| r.stable_version(prefix))
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.dedup();
    v
}

/// The decision of spec §8.2, in its order: stop when the latest or the candidate is the
/// validated version; propose the candidate when nothing is validated yet (`none`, which a
/// bootstrapping Claude Code root holds: claude spec §5.2); fail when it is not `X.Y.Z`; stop
/// unless the candidate is newer.
pub fn decide(stable: &[Version], latest_validated: &str, policy: Policy) -> Result<Watch> {
    let latest = stable
        .first()
        .ok_or_else(|| anyhow!("no stable release found"))?;
    let candidate = match policy {
        Policy::Latest => latest,
        Policy::StableMinusOne => stable.get(1).unwrap_or(latest),
    };
    let lv = latest_validated.trim().to_string();
    let verdict = |new: bool, reason: String| Watch {
        policy,
        latest: latest.to_string(),
        candidate: candidate.to_string(),
        latest_validated: lv.clone(),
        new,
        reason,
        stable_releases: stable.len(),
    };
    if lv == latest.to_string() {
        return Ok(verdict(
            false,
            format!("the latest release {latest} is already the latest validated version"),
        ));
    }
    if lv == candidate.to_string() {
        return Ok(verdict(
            false,
            format!("the candidate {candidate} is already the latest validated version"),
        ));
    }
    if lv == "none" {
        return Ok(verdict(
            true,
            format!("nothing is validated yet; the candidate is {candidate}"),
        ));
    }
    let validated: Version = lv
        .parse()
        .with_context(|| "invalid `latest_validated.txt`".to_string())?;
    if *candidate <= validated {
        return Ok(verdict(
            false,
            format!("the candidate {candidate} is not newer than the latest validated {validated}"),
        ));
    }
    Ok(verdict(
        true,
        format!("the candidate {candidate} is newer than the latest validated {validated}"),
    ))
}

impl Watch {
    /// Nothing new after all, for `reason` (the candidate is already tracked, or an update of
    /// it is already proposed).
    pub fn already(&mut self, reason: String) {
        self.new = false;
        self.reason = reason;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn versions_are_strict_and_numeric() {
        assert!(v("0.10.0") > v("0.9.9"));
        for bad in [
            "1.2",
            "1.2.3.4",
            "1..3",
            "1.2.3-alpha",
            "1.2. 3",
            "+1.2.3",
            "a.b.c",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }

    #[test]
    fn decision_follows_the_reference_order() {
        let stable = [v("0.99.0"), v("0.98.0"), v("0.97.0")];
        let d = decide(&stable, "0.97.0\n", Policy::StableMinusOne).unwrap();
        assert!(d.new);
        assert_eq!(d.candidate, "0.98.0");
        let d = decide(&stable, "0.99.0", Policy::StableMinusOne).unwrap();
        assert!(!d.new && d.reason.contains("latest release"));
        let d = decide(&stable, "0.98.0", Policy::Latest).unwrap();
        assert!(d.new);
        assert_eq!(d.candidate, "0.99.0");
        // Equality is checked before the pointer is parsed, as in the reference.
        assert!(decide(&stable, "junk", Policy::Latest).is_err());
        let d = decide(&stable, "1.0.0", Policy::Latest).unwrap();
        assert!(!d.new && d.reason.contains("not newer"));
        let d = decide(&[v("0.5.0")], "0.4.0", Policy::StableMinusOne).unwrap();
        assert_eq!((d.candidate.as_str(), d.new), ("0.5.0", true));
        // A bucket's `stable` pointer against a bootstrapping root.
        let d = decide(&[v("2.1.30")], "none\n", Policy::Latest).unwrap();
        assert_eq!((d.candidate.as_str(), d.new), ("2.1.30", true));
        let d = decide(&[v("2.1.30")], "2.1.31\n", Policy::Latest).unwrap();
        assert!(!d.new && d.reason.contains("not newer"));
    }
}
