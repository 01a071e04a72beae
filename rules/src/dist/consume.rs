//! The consumer side of the contract: resolve exactly one row of `index.json` for a tuple,
//! verify an artifact against its row, `checksums.json` and `manifest.json`, and lay out a
//! verified version as flat release assets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::contract::{CHECKSUMS, CONTRACT, INDEX, MANIFEST, PROVENANCE, RETIRED_ALIAS, Tuple};
use super::model::{Checksums, Index, Manifest, Row};
use crate::common;

/// Why a consumer command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The command line names no tuple it can use (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The index cannot be read or does not follow the contract (exit 2).
    #[error("{0:#}")]
    Index(anyhow::Error),
    /// No row matches (exit 3).
    #[error("no row of `{index}` matches {query}{hint}")]
    NoMatch {
        /// The index.
        index: String,
        /// The query, as given.
        query: String,
        /// What the index does hold for the version, if anything.
        hint: String,
    },
    /// More than one row matches (exit 4).
    #[error("{} rows of `{index}` match {query}; narrow it with --profile, --toolchain, --git or --dist-revision:\n{}", rows.len(), rows.iter().map(|t| format!("  {t}")).collect::<Vec<_>>().join("\n"))]
    Ambiguous {
        /// The index.
        index: String,
        /// The query.
        query: String,
        /// The tuples that match.
        rows: Vec<Tuple>,
    },
    /// A file is missing or its bytes disagree with the index, checksums or manifest (exit 1).
    #[error("verification failed:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Mismatch(Vec<String>),
    /// Writing the assets failed (exit 1).
    #[error("{0:#}")]
    Io(anyhow::Error),
}

impl DistError {
    /// The documented exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            DistError::Mismatch(_) | DistError::Io(_) => 1,
            DistError::Usage(_) | DistError::Index(_) => 2,
            DistError::NoMatch { .. } => 3,
            DistError::Ambiguous { .. } => 4,
        }
    }
}

/// A (partial) tuple to look up; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Exact version.
    pub version: Option<String>,
    /// Exact target triple.
    pub target: Option<String>,
    /// Exact profile.
    pub profile: Option<String>,
    /// Exact toolchain.
    pub toolchain: Option<String>,
    /// A prefix of the commit (or the whole 40 digits).
    pub git: Option<String>,
    /// Exact dist revision.
    pub dist_revision: Option<String>,
}

impl Query {
    fn matches(&self, t: &Tuple) -> bool {
        let eq = |q: &Option<String>, v: &str| q.as_deref().is_none_or(|q| q == v);
        let git = self.git.as_deref().is_none_or(|g| {
            let g = g.to_ascii_lowercase();
            if g.len() >= t.git_sha.len() {
                g.starts_with(&t.git_sha)
            } else {
                t.git_sha.starts_with(&g)
            }
        });
        eq(&self.version, &t.version)
            && eq(&self.target, &t.target)
            && eq(&self.profile, &t.profile)
            && eq(&self.toolchain, &t.toolchain)
            && eq(&self.dist_revision, &t.dist_revision)
            && git
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = [
            ("version", &self.version),
            ("target", &self.target),
            ("profile", &self.profile),
            ("toolchain", &self.toolchain),
            ("git", &self.git),
            ("dist revision", &self.dist_revision),
        ];
        let parts: Vec<String> = fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
            .collect();
        if parts.is_empty() {
            f.write_str("(any tuple)")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// How the files of an index's rows are laid out beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The contract's tree: `{contract}/…/{file}`, the rows' paths.
    Tree,
    /// A directory of release assets: the flat names of [`asset_name`].
    Assets,
}

/// A loaded index and where it is (row paths are relative to its directory).
pub struct Dist {
    /// The index file.
    pub path: PathBuf,
    /// Its content.
    pub index: Index,
    /// The tree when a `{contract}/` directory is beside the index, else release assets.
    pub layout: Layout,
}

impl Dist {
    /// Reads and checks `path`.
    pub fn open(path: &Path) -> Result<Dist, DistError> {
        let index = Index::read(path).map_err(DistError::Index)?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let layout = if dir.join(CONTRACT).is_dir() {
            Layout::Tree
        } else {
            Layout::Assets
        };
        Ok(Dist {
            path: path.to_path_buf(),
            index,
            layout,
        })
    }

    /// Where `file` of `row`'s tuple directory (the archive, `manifest.json`, …) is on disk.
    pub fn locate(&self, row: &Row, file: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        match self.layout {
            Layout::Tree => parity_engine::fsutil::join_rel(dir, &row.tuple.beside(file)),
            Layout::Assets => dir.join(asset_name(row, file)),
        }
    }

    /// Where `row`'s archive is on disk.
    pub fn archive(&self, row: &Row) -> PathBuf {
        self.locate(row, &row.tuple.file_name())
    }

    /// Every row matching `query`.
    pub fn select(&self, query: &Query) -> Vec<&Row> {
        self.index
            .rows
            .iter()
            .filter(|r| query.matches(&r.tuple))
            .collect()
    }

    /// Exactly one row for `query`, or why not.
    pub fn resolve(&self, query: &Query) -> Result<&Row, DistError> {
        match self.select(query).as_slice() {
            [one] => Ok(one),
            [] => Err(self.no_match(query)),
            many => Err(DistError::Ambiguous {
                index: self.path.display().to_string(),
                query: query.to_string(),
                rows: many.iter().map(|r| r.tuple.clone()).collect(),
            }),
        }
    }

    /// Every row for `query`; none is an error.
    pub fn select_some(&self, query: &Query) -> Result<Vec<&Row>, DistError> {
        let rows = self.select(query);
        if rows.is_empty() {
            return Err(self.no_match(query));
        }
        Ok(rows)
    }

    fn no_match(&self, query: &Query) -> DistError {
        let versions: Vec<&str> = {
            let mut v: Vec<&str> = self
                .index
                .rows
                .iter()
                .map(|r| r.tuple.version.as_str())
                .collect();
            v.dedup();
            v
        };
        let same_version: Vec<String> = self
            .index
            .rows
            .iter()
            .filter(|r| {
                query
                    .version
                    .as_deref()
                    .is_none_or(|v| v == r.tuple.version)
            })
            .map(|r| format!("  {}", r.tuple))
            .collect();
        let hint = if versions.is_empty() {
            " (the index has no rows)".to_string()
        } else if same_version.is_empty() {
            format!(" (its versions: {})", versions.join(", "))
        } else {
            format!("; it holds:\n{}", same_version.join("\n"))
        };
        DistError::NoMatch {
            index: self.path.display().to_string(),
            query: query.to_string(),
            hint,
        }
    }

    /// Checks `row`'s files: the archive against the row, `checksums.json` and
    /// `manifest.json`; every other file `checksums.json` lists. Returns every problem.
    pub fn check_row(&self, row: &Row) -> Vec<String> {
        let mut problems = Vec::new();
        let mut fail = |msg: String| problems.push(format!("{}: {msg}", row.tuple));
        let file = row.tuple.file_name();
        let shown = |name: &str| self.locate(row, name).display().to_string();
        let archive = match std::fs::read(self.archive(row)) {
            Ok(bytes) => bytes,
            Err(e) => {
                fail(format!("cannot read `{}`: {e}", shown(&file)));
                return problems;
            }
        };
        let sha = parity_engine::hash::sha256_hex(&archive);
        if sha != row.sha256 || archive.len() as u64 != row.size {
            fail(format!(
                "`{}` has sha256 {sha} ({} bytes); the index says {} ({} bytes)",
                shown(&file),
                archive.len(),
                row.sha256,
                row.size
            ));
        }
        match common::read_json::<Checksums>(&self.locate(row, CHECKSUMS)) {
            Err(e) => fail(format!("{e:#}")),
            Ok(sums) => {
                if sums.contract != CONTRACT || sums.algorithm != "sha256" {
                    fail(format!(
                        "`{}` is `{}` / `{}`, not {CONTRACT} / sha256",
                        shown(CHECKSUMS),
                        sums.contract,
                        sums.algorithm
                    ));
                }
                if !sums.files.contains_key(&file) {
                    fail(format!("`{}` does not list `{file}`", shown(CHECKSUMS)));
                }
                for (name, want) in &sums.files {
                    let got = if *name == file {
                        Some(sha.clone())
                    } else {
                        std::fs::read(self.locate(row, name))
                            .ok()
                            .map(|b| parity_engine::hash::sha256_hex(&b))
                    };
                    match got {
                        None => fail(format!(
                            "cannot read `{}`, listed in `{CHECKSUMS}`",
                            shown(name)
                        )),
                        Some(got) if got != *want => fail(format!(
                            "`{}` has sha256 {got}; `{CHECKSUMS}` says {want}",
                            shown(name)
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
        match common::read_json::<Manifest>(&self.locate(row, MANIFEST)) {
            Err(e) => fail(format!("{e:#}")),
            Ok(m) => {
                if m.contract != CONTRACT || m.tuple != row.tuple {
                    fail(format!(
                        "`{}` describes {} ({}), not this row",
                        shown(MANIFEST),
                        m.tuple,
                        m.contract
                    ));
                }
                if m.artifact.file != file || m.artifact.sha256 != sha {
                    fail(format!(
                        "`{}` names `{}` with sha256 {}; the archive `{file}` has {sha}",
                        shown(MANIFEST),
                        m.artifact.file,
                        m.artifact.sha256
                    ));
                }
                if m.source_date_epoch != row.source_date_epoch {
                    fail(format!(
                        "`{}` has source_date_epoch {}; the index says {}",
                        shown(MANIFEST),
                        m.source_date_epoch,
                        row.source_date_epoch
                    ));
                }
            }
        }
        problems
    }

    /// Verifies `rows`, and that the tree holds no retired alias.
    pub fn verify(&self, rows: &[&Row]) -> Result<(), DistError> {
        let mut problems: Vec<String> = rows.iter().flat_map(|r| self.check_row(r)).collect();
        let dir = self.path.parent().unwrap_or(Path::new(""));
        if parity_engine::fsutil::join_rel(dir, RETIRED_ALIAS).exists() {
            problems.push(format!(
                "`{RETIRED_ALIAS}` exists: that alias was retired on 2026-07-01; `{INDEX}` is the one entry point"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DistError::Mismatch(problems))
        }
    }
}

/// The release asset name of `file` of `row`'s tuple directory: the archive under its own
/// name, the files beside it as `{stem}.{file}` (a GitHub release is one flat directory).
pub fn asset_name(row: &Row, file: &str) -> String {
    if file == row.tuple.file_name() {
        file.to_string()
    } else {
        format!("{}.{file}", row.tuple.stem())
    }
}

/// One asset written by [`write_assets`].
#[derive(Debug, Clone, Serialize)]
pub struct Asset {
    /// Its file name in the release.
    pub name: String,
    /// Lowercase hex sha256.
    pub sha256: String,
}

/// Verifies `rows`, then copies their files and the index into `out` under their asset names
/// and writes `SHA256SUMS` (`sha256sum -c` format, sorted by name) beside them. Nothing is
/// written unless every row verifies.
pub fn write_assets(dist: &Dist, rows: &[&Row], out: &Path) -> Result<Vec<Asset>, DistError> {
    dist.verify(rows)?;
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    files.insert(INDEX.to_string(), dist.path.clone());
    for row in rows {
        for file in [
            row.tuple.file_name().as_str(),
            CHECKSUMS,
            MANIFEST,
            PROVENANCE,
        ] {
            files.insert(asset_name(row, file), dist.locate(row, file));
        }
    }
    let io = DistError::Io;
    let mut assets = Vec::new();
    let mut sums = String::new();
    for (name, from) in &files {
        let bytes = std::fs::read(from)
            .with_context(|| format!("failed to read `{}`", from.display()))
            .map_err(io)?;
        super::write_public(&out.join(name), &bytes).map_err(io)?;
        let sha256 = parity_engine::hash::sha256_hex(&bytes);
        let _ = writeln!(sums, "{sha256}  {name}");
        assets.push(Asset {
            name: name.clone(),
            sha256,
        });
    }
    super::write_public(&out.join("SHA256SUMS"), sums.as_bytes()).map_err(io)?;
    Ok(assets)
}
