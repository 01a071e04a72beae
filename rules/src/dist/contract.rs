//! `distribution-contract@1.0`: the immutable tuple of an artifact, where it lives, what it is
//! called. The human text is `docs/distribution.md`, the machine-readable one
//! `docs/distribution-contract.json` (a test holds the three together).

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The contract id, also the directory under the tree root (`dist/`).
pub const CONTRACT: &str = "distribution-contract@1.0";
/// The product name, the first word of every artifact file name.
pub const NAME: &str = "parity";
/// Beside each artifact: the sha256 of every other file of its directory.
pub const CHECKSUMS: &str = "checksums.json";
/// Beside each artifact: the tuple, the artifact's and the binary's digests, the build recipe.
pub const MANIFEST: &str = "manifest.json";
/// Beside each artifact: an in-toto statement with a SLSA v1 provenance predicate.
pub const PROVENANCE: &str = "provenance.json";
/// The one entry point, at the tree root.
pub const INDEX: &str = "index.json";
/// The fewest release generations (versions) an index keeps.
pub const MIN_GENERATIONS: usize = 6;
/// The alias retired on 2026-07-01 (`{contract}/index.json`): never produced, refused on sight.
pub const RETIRED_ALIAS: &str = "distribution-contract@1.0/index.json";

/// The immutable identity of one artifact: `(version, target, profile, toolchain, git sha,
/// dist revision)`. Field order is the order of the path and of the file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuple {
    /// The release version, `X.Y.Z` (semver, optionally with a pre-release).
    pub version: String,
    /// The Rust target triple.
    pub target: String,
    /// The cargo profile (`release`).
    pub profile: String,
    /// The Rust toolchain, `X.Y.Z` (`{rust}` in the file name).
    pub toolchain: String,
    /// The commit, 12 lowercase hex digits.
    pub git_sha: String,
    /// `r1`, `r2`, …: a re-publication of the same sources (a packaging fix).
    pub dist_revision: String,
}

/// The archive format of a target: `zip` for Windows, `tar.gz` for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// gzip-compressed tar.
    TarGz,
    /// zip (deflate).
    Zip,
}

impl Format {
    /// The format of `target`'s archives.
    pub fn of(target: &str) -> Format {
        if target.contains("-windows") {
            Format::Zip
        } else {
            Format::TarGz
        }
    }
    /// The file extension, without the dot.
    pub fn ext(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }
    /// The binary's name inside the archive.
    pub fn binary_name(self) -> &'static str {
        match self {
            Format::TarGz => NAME,
            Format::Zip => "parity.exe",
        }
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts().join("/"))
    }
}

impl Tuple {
    /// The six fields, in the order of the path and of the file name.
    pub fn parts(&self) -> [&str; 6] {
        [
            &self.version,
            &self.target,
            &self.profile,
            &self.toolchain,
            &self.git_sha,
            &self.dist_revision,
        ]
    }

    /// The archive format of this tuple.
    pub fn format(&self) -> Format {
        Format::of(&self.target)
    }

    /// `{contract}/{version}/{target}/{profile}/{toolchain}/{gitsha}/{dist_revision}`, relative
    /// to the tree root.
    pub fn dir(&self) -> String {
        format!("{CONTRACT}/{self}")
    }

    /// `parity-v{version}-{target}-{profile}-{rust}-{gitsha}-{dist_revision}` (no extension).
    pub fn stem(&self) -> String {
        format!("{NAME}-v{}", self.parts().join("-"))
    }

    /// The archive's file name.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.stem(), self.format().ext())
    }

    /// The archive's path relative to the tree root.
    pub fn artifact_path(&self) -> String {
        format!("{}/{}", self.dir(), self.file_name())
    }

    /// The path of `file` (`manifest.json`, …) beside the archive, relative to the tree root.
    pub fn beside(&self, file: &str) -> String {
        format!("{}/{file}", self.dir())
    }

    /// Checks every field's syntax; the message names the field and the value.
    pub fn validate(&self) -> Result<()> {
        let semver = semver::Version::parse(&self.version).ok();
        if semver.is_none_or(|v| !v.build.is_empty()) {
            bail!(
                "version `{}` is not `X.Y.Z` (semver, no build metadata)",
                self.version
            );
        }
        let word = |what: &str, v: &str| -> Result<()> {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.".contains(c))
                && !v.starts_with('.');
            if !ok {
                bail!("{what} `{v}` must be lowercase letters, digits, `_` and `.`");
            }
            Ok(())
        };
        let triple = self.target.split('-').collect::<Vec<_>>();
        if triple.len() < 3 || triple.iter().any(|p| word("target", p).is_err()) {
            bail!(
                "target `{}` is not a Rust target triple (`arch-vendor-os[-env]`)",
                self.target
            );
        }
        word("profile", &self.profile)?;
        let toolchain = self.toolchain.split('.').collect::<Vec<_>>();
        if toolchain.len() != 3 || toolchain.iter().any(|p| !all_digits(p)) {
            bail!(
                "toolchain `{}` is not a Rust version `X.Y.Z`",
                self.toolchain
            );
        }
        if self.git_sha.len() != 12
            || !self
                .git_sha
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            bail!(
                "git sha `{}` is not 12 lowercase hex digits (the commit's first 12)",
                self.git_sha
            );
        }
        let rev = self.dist_revision.strip_prefix('r').unwrap_or("");
        if !all_digits(rev) || rev.starts_with('0') {
            bail!(
                "dist revision `{}` is not `r1`, `r2`, …",
                self.dist_revision
            );
        }
        Ok(())
    }

    /// The revision number (`r3` -> 3); 0 when malformed (validated tuples never are).
    pub fn revision_number(&self) -> u64 {
        self.dist_revision
            .strip_prefix('r')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Reads `…/{contract}/{version}/…/{dist_revision}/{file}` and checks the tuple. Returns
    /// the tree root (the part before the contract directory, `dist` or empty), the tuple and
    /// the file name.
    pub fn from_path(path: &str) -> Result<(String, Tuple, String)> {
        let parts: Vec<&str> = path.split('/').collect();
        let Some(at) = parts.iter().position(|p| *p == CONTRACT) else {
            bail!("`{path}` is not under a `{CONTRACT}/` directory");
        };
        let [
            version,
            target,
            profile,
            toolchain,
            git_sha,
            dist_revision,
            file,
        ] = &parts[at + 1..]
        else {
            bail!(
                "`{path}` is not `{CONTRACT}/{{version}}/{{target}}/{{profile}}/{{toolchain}}/{{gitsha}}/{{dist_revision}}/{{file}}`"
            );
        };
        let tuple = Tuple {
            version: version.to_string(),
            target: target.to_string(),
            profile: profile.to_string(),
            toolchain: toolchain.to_string(),
            git_sha: git_sha.to_string(),
            dist_revision: dist_revision.to_string(),
        };
        tuple
            .validate()
            .map_err(|e| e.context(format!("`{path}` does not follow {CONTRACT}")))?;
        Ok((parts[..at].join("/"), tuple, file.to_string()))
    }

    /// [`Tuple::from_path`] for the archive itself: the file must be the tuple's archive.
    pub fn from_artifact_path(path: &str) -> Result<(String, Tuple)> {
        let (root, tuple, file) = Tuple::from_path(path)?;
        if file != tuple.file_name() {
            bail!(
                "`{path}` does not follow {CONTRACT}: the archive of this tuple is named `{}`",
                tuple.file_name()
            );
        }
        Ok((root, tuple))
    }
}

/// `rel` below the tree root `root` (empty: the pipeline root itself).
pub fn under(root: &str, rel: &str) -> String {
    if root.is_empty() {
        rel.to_string()
    } else {
        format!("{root}/{rel}")
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(target: &str) -> Tuple {
        Tuple {
            version: "0.3.0".into(),
            target: target.into(),
            profile: "release".into(),
            toolchain: "1.95.0".into(),
            git_sha: "0123456789ab".into(),
            dist_revision: "r1".into(),
        }
    }

    #[test]
    fn paths_follow_the_templates() {
        let t = tuple("x86_64-unknown-linux-gnu");
        assert_eq!(
            t.artifact_path(),
            "distribution-contract@1.0/0.3.0/x86_64-unknown-linux-gnu/release/1.95.0/0123456789ab/r1/parity-v0.3.0-x86_64-unknown-linux-gnu-release-1.95.0-0123456789ab-r1.tar.gz"
        );
        let w = tuple("x86_64-pc-windows-msvc");
        assert!(w.file_name().ends_with("-r1.zip"));
        assert_eq!(w.format().binary_name(), "parity.exe");
        let (root, back) =
            Tuple::from_artifact_path(&format!("dist/{}", t.artifact_path())).unwrap();
        assert_eq!((root.as_str(), back), ("dist", t));
    }

    #[test]
    fn malformed_tuples_name_the_field() {
        let problem = |field: fn(&mut Tuple), target: &str| {
            let mut t = tuple(target);
            field(&mut t);
            t.validate().unwrap_err().to_string()
        };
        let linux = "x86_64-unknown-linux-gnu";
        assert!(problem(|t| t.dist_revision = "r0".into(), linux).contains("dist revision `r0`"));
        assert!(problem(|t| t.git_sha = "ABC".into(), linux).contains("git sha `ABC`"));
        assert!(problem(|_| {}, "linux").contains("target `linux`"));
        let e = Tuple::from_artifact_path(
            "dist/distribution-contract@1.0/0.3.0/x86_64-unknown-linux-gnu/release/1.95.0/0123456789ab/r1/parity.tar.gz",
        )
        .unwrap_err();
        assert!(e.to_string().contains("is named `parity-v0.3.0-"), "{e}");
    }
}
