//! The files of the contract (`manifest.json`, `checksums.json`, `index.json`) and the release
//! plan (`dist/release.toml`) that the dist pipeline reads. Every struct serializes its fields
//! in declaration order and every map is a `BTreeMap`, so the bytes are stable.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::contract::{CONTRACT, Format, NAME, Tuple};

/// A file and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// The file name (in the tuple directory), or the member path (in the archive).
    pub file: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

impl FileDigest {
    /// The digest of `bytes`, named `file`.
    pub fn of(file: impl Into<String>, bytes: &[u8]) -> FileDigest {
        FileDigest {
            file: file.into(),
            sha256: parity_engine::hash::sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// How the binary was built: enough to build it again, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reproducibility {
    /// SOURCE_DATE_EPOCH of the build (the commit's time).
    pub source_date_epoch: i64,
    /// The full commit.
    pub git_commit: String,
    /// The tag (`refs/tags/vX.Y.Z`).
    pub git_ref: String,
    /// sha256 of `Cargo.lock` (with the version patched from the tag).
    pub cargo_lock_sha256: String,
    /// `rustc --version`.
    pub rustc: String,
    /// The cargo arguments.
    pub cargo: Vec<String>,
    /// RUSTFLAGS (`<workspace>` and `<cargo-home>` stand for the build machine's paths).
    pub rustflags: Vec<String>,
    /// CFLAGS of C dependencies (same placeholders).
    pub cflags: Vec<String>,
}

/// `manifest.json`: the tuple, the artifact, the binary inside it, and the reproducibility
/// record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`CONTRACT`].
    pub contract: String,
    /// [`NAME`].
    pub name: String,
    /// The immutable tuple.
    pub tuple: Tuple,
    /// SOURCE_DATE_EPOCH of every time in the artifact.
    pub source_date_epoch: i64,
    /// The archive.
    pub artifact: FileDigest,
    /// The binary, as a member path of the archive.
    pub binary: FileDigest,
    /// How the binary was built.
    pub reproducibility: Reproducibility,
}

/// `checksums.json`: sha256 of every other file of the tuple directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksums {
    /// [`CONTRACT`].
    pub contract: String,
    /// `sha256`.
    pub algorithm: String,
    /// File name -> lowercase hex digest.
    pub files: BTreeMap<String, String>,
}

/// One row of `index.json`: an artifact, keyed by its tuple.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The key.
    pub tuple: Tuple,
    /// The archive, relative to the index's directory.
    pub artifact: String,
    /// Its `manifest.json`.
    pub manifest: String,
    /// Its `checksums.json`.
    pub checksums: String,
    /// Its `provenance.json`.
    pub provenance: String,
    /// The archive's sha256.
    pub sha256: String,
    /// The archive's size.
    pub size: u64,
    /// SOURCE_DATE_EPOCH of the artifact.
    pub source_date_epoch: i64,
}

impl Row {
    /// The row of `manifest`'s artifact, with paths as the contract places them.
    pub fn of(manifest: &Manifest) -> Row {
        Row::at(
            &manifest.tuple,
            &manifest.artifact.sha256,
            manifest.artifact.size,
            manifest.source_date_epoch,
        )
    }

    /// The row of `tuple` with these digests, paths as the contract places them.
    pub fn at(tuple: &Tuple, sha256: &str, size: u64, source_date_epoch: i64) -> Row {
        use super::contract::{CHECKSUMS, MANIFEST, PROVENANCE};
        Row {
            tuple: tuple.clone(),
            artifact: tuple.artifact_path(),
            manifest: tuple.beside(MANIFEST),
            checksums: tuple.beside(CHECKSUMS),
            provenance: tuple.beside(PROVENANCE),
            sha256: sha256.to_string(),
            size,
            source_date_epoch,
        }
    }

    /// Checks that the row follows the contract: a valid tuple, the contract's paths.
    pub fn check(&self) -> Result<()> {
        self.tuple.validate()?;
        let want = Row::at(&self.tuple, &self.sha256, self.size, self.source_date_epoch);
        if *self != want {
            bail!(
                "the row of {} names files outside the contract's layout (expected `{}`)",
                self.tuple,
                want.artifact
            );
        }
        if !is_sha256(&self.sha256) {
            bail!(
                "the row of {} has an invalid sha256 `{}`",
                self.tuple,
                self.sha256
            );
        }
        Ok(())
    }
}

/// How many release generations an index keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// The newest this many versions are kept (at least [`super::contract::MIN_GENERATIONS`]).
    pub generations: usize,
}

/// `index.json`: the one entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// [`CONTRACT`].
    pub contract: String,
    /// The retention it was built with.
    pub retention: Retention,
    /// Newest version first, then by the rest of the tuple.
    pub rows: Vec<Row>,
}

impl Index {
    /// Reads and checks an index: its contract, every row's shape, no tuple twice.
    pub fn read(path: &Path) -> Result<Index> {
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        Index::parse(&bytes, &path.display().to_string())
    }

    /// [`Index::read`] of bytes; `name` names them in errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Index> {
        let index: Index =
            serde_json::from_slice(bytes).with_context(|| format!("failed to parse `{name}`"))?;
        index
            .check()
            .with_context(|| format!("`{name}` is not a valid {CONTRACT} index"))?;
        Ok(index)
    }

    fn check(&self) -> Result<()> {
        if self.contract != CONTRACT {
            bail!(
                "its contract is `{}`; this parity reads `{CONTRACT}`",
                self.contract
            );
        }
        for row in &self.rows {
            row.check()?;
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = self.rows.iter().find(|r| !seen.insert(&r.tuple)) {
            bail!("the tuple {} has two rows", dup.tuple);
        }
        Ok(())
    }
}

/// Sorts rows newest version first, then target, profile, toolchain, git sha, revision.
pub fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        let (x, y) = (&a.tuple, &b.tuple);
        semver_of(&y.version)
            .cmp(&semver_of(&x.version))
            .then_with(|| x.target.cmp(&y.target))
            .then_with(|| x.profile.cmp(&y.profile))
            .then_with(|| x.toolchain.cmp(&y.toolchain))
            .then_with(|| x.git_sha.cmp(&y.git_sha))
            .then_with(|| x.revision_number().cmp(&y.revision_number()))
    });
}

/// The version as semver (validated rows always parse; anything else sorts first).
pub fn semver_of(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v).ok()
}

/// Whether `s` is 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// The build recipe of one target, as the plan records it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetBuild {
    /// RUSTFLAGS.
    pub rustflags: Vec<String>,
    /// CFLAGS (empty where the C compiler takes none, as MSVC).
    pub cflags: Vec<String>,
}

/// `[build]` of the plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// `rustc --version`.
    pub rustc: String,
    /// cargo arguments, `<target>` standing for the target.
    pub cargo: Vec<String>,
    /// Per target.
    pub targets: BTreeMap<String, TargetBuild>,
}

/// `dist/release.toml`, the release plan written by `dist/release.sh plan`. The one-element
/// lists are the dist pipeline's params (a param is a list).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// `[version]`.
    pub version: Vec<String>,
    /// `[first 12 hex digits of the commit]`.
    pub git_sha: Vec<String>,
    /// `[profile]`.
    pub profile: Vec<String>,
    /// `[rust version]`.
    pub toolchain: Vec<String>,
    /// `[rN]`.
    pub dist_revision: Vec<String>,
    /// Every target of the release.
    pub targets: Vec<String>,
    /// The targets packaged as `.tar.gz`.
    pub tar_gz_targets: Vec<String>,
    /// The targets packaged as `.zip`.
    pub zip_targets: Vec<String>,
    /// The commit's time.
    pub source_date_epoch: i64,
    /// The full commit.
    pub git_commit: String,
    /// The tag.
    pub git_ref: String,
    /// The source repository: its URL (`local` for a dry run).
    pub repository: String,
    /// Who built it (the workflow, or `local`).
    pub builder: String,
    /// The recipe.
    pub build: Build,
}

impl Plan {
    /// Parses and checks a plan; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<Plan> {
        let plan: Plan =
            toml::from_str(text).with_context(|| format!("failed to parse `{name}`"))?;
        plan.check()
            .with_context(|| format!("`{name}` is not a valid release plan"))?;
        Ok(plan)
    }

    fn one<'a>(what: &str, list: &'a [String]) -> Result<&'a str> {
        match list {
            [one] => Ok(one),
            _ => bail!("`{what}` must list exactly one value (got {})", list.len()),
        }
    }

    /// The tuple of `target` in this release.
    pub fn tuple(&self, target: &str) -> Result<Tuple> {
        Ok(Tuple {
            version: Self::one("version", &self.version)?.to_string(),
            target: target.to_string(),
            profile: Self::one("profile", &self.profile)?.to_string(),
            toolchain: Self::one("toolchain", &self.toolchain)?.to_string(),
            git_sha: Self::one("git_sha", &self.git_sha)?.to_string(),
            dist_revision: Self::one("dist_revision", &self.dist_revision)?.to_string(),
        })
    }

    fn check(&self) -> Result<()> {
        if self.targets.is_empty() {
            bail!("`targets` is empty");
        }
        for target in &self.targets {
            self.tuple(target)?.validate()?;
            let (list, listed, other) = match Format::of(target) {
                Format::TarGz => ("tar_gz_targets", &self.tar_gz_targets, &self.zip_targets),
                Format::Zip => ("zip_targets", &self.zip_targets, &self.tar_gz_targets),
            };
            if !listed.contains(target) || other.contains(target) {
                bail!("target `{target}` must be listed in `{list}` (and only there)");
            }
            if !self.build.targets.contains_key(target) {
                bail!("target `{target}` has no `[build.targets.\"{target}\"]` recipe");
            }
        }
        if let Some(t) = self
            .tar_gz_targets
            .iter()
            .chain(&self.zip_targets)
            .find(|t| !self.targets.contains(t))
        {
            bail!("target `{t}` is packaged but not listed in `targets`");
        }
        let sha = Self::one("git_sha", &self.git_sha)?;
        let full_hex = self.git_commit.len() == 40
            && self
                .git_commit
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if !full_hex || !self.git_commit.starts_with(sha) {
            bail!(
                "`git_commit` `{}` is not the 40-digit commit whose first 12 digits are `git_sha` `{sha}`",
                self.git_commit
            );
        }
        if self.source_date_epoch < 0 {
            bail!("`source_date_epoch` is negative");
        }
        Ok(())
    }

    /// The reproducibility record of `target`'s build.
    pub fn reproducibility(
        &self,
        target: &str,
        cargo_lock_sha256: String,
    ) -> Result<Reproducibility> {
        let recipe = self
            .build
            .targets
            .get(target)
            .with_context(|| format!("the plan has no recipe for `{target}`"))?;
        Ok(Reproducibility {
            source_date_epoch: self.source_date_epoch,
            git_commit: self.git_commit.clone(),
            git_ref: self.git_ref.clone(),
            cargo_lock_sha256,
            rustc: self.build.rustc.clone(),
            cargo: self
                .build
                .cargo
                .iter()
                .map(|a| a.replace("<target>", target))
                .collect(),
            rustflags: recipe.rustflags.clone(),
            cflags: recipe.cflags.clone(),
        })
    }
}

/// A new manifest for `tuple`.
pub fn manifest(
    tuple: Tuple,
    epoch: i64,
    archive: &[u8],
    binary: &[u8],
    reproducibility: Reproducibility,
) -> Manifest {
    let member = format!("{}/{}", tuple.stem(), tuple.format().binary_name());
    Manifest {
        contract: CONTRACT.to_string(),
        name: NAME.to_string(),
        source_date_epoch: epoch,
        artifact: FileDigest::of(tuple.file_name(), archive),
        binary: FileDigest::of(member, binary),
        tuple,
        reproducibility,
    }
}
