//! Promotion, derived instead of hand-run (spec §5.3, §5.4, §8.4, §11.5 item 40): validation
//! results, the pointer files and `current.json`.
//!
//! - Per version and target, the outcome is the committed result of its `validation@V/T` node
//!   (`validation/V/T.json`, [`crate::validation`]), unless `validation.toml` (an optional
//!   source file, maintainer-edited) overrides it with a recorded reason (`evidence`).
//!   [`Results::validation`] turns one version's outcomes into the `validation` block of
//!   `versions/<V>.json`.
//! - [`derive_pointers`] computes every pointer from `versions/*.json`, `min_supported.txt` and
//!   RULES; [`write_pointers`] writes them.
//! - [`promote_current`] copies `snapshots/<latest_validated>/union.json` to `current.json`.
//!
//! Every file here is written by [`write_verified`]: atomically, then read back and compared
//! with the bytes meant to be written; a mismatch removes the file and fails loudly.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use semver::Version;
use serde::Deserialize;

use parity_engine::fsutil;
use parity_engine::hash::sha256_hex;

use crate::common;
use crate::metadata::Validation;
use crate::rules_json::RulesJson;

/// The manual overrides of validation results, relative to the root.
pub const RESULTS_FILE: &str = "validation.toml";

/// The outcome of validating one version on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The wrapper's checks passed against the real binary.
    Passed,
    /// They failed.
    Failed,
    /// Not run on this target (recorded on purpose, with the reason).
    Skipped,
}

/// One `[[result]]` of `validation.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The codex version.
    pub version: String,
    /// The target triple (one of RULES `union.expected_targets`).
    pub target: String,
    /// `passed`, `failed` or `skipped`.
    pub result: Outcome,
    /// Free text: what was run, where, how to re-run it (required, not empty).
    pub evidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsFile {
    schema_version: u32,
    #[serde(default)]
    result: Vec<Record>,
}

/// The results file, checked: known targets, semantic versions, one record per pair.
#[derive(Debug, Default)]
pub struct Results {
    by_version: BTreeMap<String, BTreeMap<String, Outcome>>,
}

impl Results {
    /// Reads and checks `path` against the expected targets; errors name the file and record.
    pub fn read(path: &Path, expected_targets: &[String]) -> Result<Results> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        Results::parse(&text, expected_targets)
            .with_context(|| format!("invalid validation results `{}`", path.display()))
    }

    /// Parses the text of a results file.
    pub fn parse(text: &str, expected_targets: &[String]) -> Result<Results> {
        let file: ResultsFile = toml::from_str(text)?;
        if file.schema_version != 1 {
            bail!("schema_version must be 1 (got {})", file.schema_version);
        }
        let mut by_version: BTreeMap<String, BTreeMap<String, Outcome>> = BTreeMap::new();
        for (i, r) in file.result.iter().enumerate() {
            let at = format!("result #{} ({} on {})", i + 1, r.version, r.target);
            Version::parse(&r.version)
                .with_context(|| format!("{at}: `{}` is not a semantic version", r.version))?;
            if !expected_targets.contains(&r.target) {
                bail!(
                    "{at}: target `{}` is not in RULES.json union.expected_targets ({})",
                    r.target,
                    expected_targets.join(", ")
                );
            }
            if r.evidence.trim().is_empty() {
                bail!("{at}: `evidence` must say what was run and how to re-run it");
            }
            let targets = by_version.entry(r.version.clone()).or_default();
            if targets.insert(r.target.clone(), r.result).is_some() {
                bail!("{at}: recorded twice (keep one record per version and target)");
            }
        }
        Ok(Results { by_version })
    }

    /// The recorded outcome of `version` on `target`.
    pub fn outcome(&self, version: &str, target: &str) -> Option<Outcome> {
        self.by_version.get(version)?.get(target).copied()
    }

    /// The `validation` block of `version`, every expected target in exactly one list (in
    /// expected order): its recorded override, else its `measured` outcome (the result of its
    /// `validation@V/T` node), else `skipped`; `None` when the version has neither.
    pub fn validation(
        &self,
        version: &str,
        expected_targets: &[String],
        measured: &BTreeMap<String, Outcome>,
    ) -> Option<Validation> {
        let recorded = self.by_version.get(version);
        if recorded.is_none() && measured.is_empty() {
            return None;
        }
        let outcome = |t: &String| {
            recorded
                .and_then(|r| r.get(t))
                .or_else(|| measured.get(t))
                .copied()
                .unwrap_or(Outcome::Skipped)
        };
        let pick = |want: Outcome| -> Vec<String> {
            expected_targets
                .iter()
                .filter(|t| outcome(t) == want)
                .cloned()
                .collect()
        };
        Some(Validation {
            passed_targets: Some(pick(Outcome::Passed)),
            failed_targets: Some(pick(Outcome::Failed)),
            skipped_targets: Some(pick(Outcome::Skipped)),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Pointers

/// Every pointer value (`None` = `none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointers {
    /// `pointers/latest_supported/<target>.txt`, by target.
    pub latest_supported: BTreeMap<String, Option<Version>>,
    /// `pointers/latest_validated/<target>.txt`, by target.
    pub latest_validated: BTreeMap<String, Option<Version>>,
    /// `latest_validated.txt`: the required target's `latest_validated`.
    pub root: Option<Version>,
}

/// The part of `versions/<V>.json` the pointers depend on.
#[derive(Debug, Deserialize)]
struct VersionView {
    status: String,
    #[serde(default)]
    coverage: Option<CoverageView>,
    #[serde(default)]
    validation: Option<Validation>,
}

#[derive(Debug, Deserialize)]
struct CoverageView {
    supported_targets: Vec<String>,
}

/// Derives the pointers from `<root>/versions/*.json`, `<root>/min_supported.txt` and RULES:
///
/// * `latest_validated/<t>` = the highest stable version whose status is `validated` or
///   `supported` and whose metadata lists `t` in both `validation.passed_targets` and
///   `coverage.supported_targets`;
/// * `latest_supported/<t>` = the highest stable version `>= min_supported` whose status is
///   `validated` or `supported` and whose `coverage.supported_targets` lists `t`;
/// * `latest_validated.txt` = the required target's `latest_validated`; `none` is an error
///   unless RULES `versioning.pointers.root_pointers_allow_none` is true.
pub fn derive_pointers(root: &Path, rules: &RulesJson) -> Result<Pointers> {
    let min = read_pointer(&root.join("min_supported.txt"))?;
    let versions = read_versions(&root.join("versions"))?;
    let mut p = Pointers {
        latest_supported: BTreeMap::new(),
        latest_validated: BTreeMap::new(),
        root: None,
    };
    let required = rules.required_target()?;
    for t in rules.expected_targets()? {
        let has = |l: Option<&Vec<String>>| l.is_some_and(|l| l.contains(t));
        let promoted = |m: &VersionView| matches!(m.status.as_str(), "validated" | "supported");
        let supported = |m: &VersionView| has(m.coverage.as_ref().map(|c| &c.supported_targets));
        let passed = |m: &VersionView| {
            has(m
                .validation
                .as_ref()
                .and_then(|v| v.passed_targets.as_ref()))
        };
        let highest = |ok: &dyn Fn(&Version, &VersionView) -> bool| {
            versions
                .iter()
                .rev()
                .find(|(v, m)| ok(v, m))
                .map(|(v, _)| v.clone())
        };
        let lv = highest(&|_, m| promoted(m) && supported(m) && passed(m));
        let ls =
            highest(&|v, m| min.as_ref().is_none_or(|min| v >= min) && promoted(m) && supported(m));
        p.latest_validated.insert(t.clone(), lv);
        p.latest_supported.insert(t.clone(), ls);
    }
    p.root = p.latest_validated.get(required).cloned().flatten();
    if p.root.is_none() && !rules.root_pointers_allow_none() {
        bail!(
            "no version is validated on the required target `{}`, so `latest_validated.txt` would be `none`, which RULES.json does not allow (versioning.pointers.root_pointers_allow_none)",
            required
        );
    }
    Ok(p)
}

/// The stable versions of `versions/*.json`, ascending, with their metadata. A prerelease
/// can never be a pointer value, so prereleases are left out.
fn read_versions(dir: &Path) -> Result<BTreeMap<Version, VersionView>> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("failed to read `{}`", dir.display()))?
            .path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let version = Version::parse(stem).with_context(|| {
            format!(
                "`{}`: the file name is not a semantic version",
                path.display()
            )
        })?;
        if version.pre.is_empty() && version.build.is_empty() {
            out.insert(version, common::read_json(&path)?);
        }
    }
    Ok(out)
}

/// The status of every stable version of `<root>/versions/*.json`, ascending.
pub fn version_statuses(root: &Path) -> Result<BTreeMap<Version, String>> {
    Ok(read_versions(&root.join("versions"))?
        .into_iter()
        .map(|(v, m)| (v, m.status))
        .collect())
}

/// Reads a pointer file: one line, `none` or a stable version.
pub fn read_pointer(path: &Path) -> Result<Option<Version>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    if value == "none" {
        return Ok(None);
    }
    match Version::parse(value) {
        Ok(v) if v.pre.is_empty() && v.build.is_empty() && !value.contains(['\n', '\r', ' ']) => {
            Ok(Some(v))
        }
        _ => bail!(
            "`{}` must hold one line, `none` or a stable MAJOR.MINOR.PATCH version (got {value:?})",
            path.display()
        ),
    }
}

fn pointer_text(v: Option<&Version>) -> String {
    match v {
        Some(v) => format!("{v}\n"),
        None => "none\n".to_string(),
    }
}

/// Writes every pointer file under `root` (verified, see [`write_verified`]).
pub fn write_pointers(root: &Path, p: &Pointers) -> Result<()> {
    for (kind, map) in [
        ("latest_supported", &p.latest_supported),
        ("latest_validated", &p.latest_validated),
    ] {
        for (target, v) in map {
            let path = root
                .join("pointers")
                .join(kind)
                .join(format!("{target}.txt"));
            write_verified(&path, pointer_text(v.as_ref()).as_bytes())?;
        }
    }
    write_verified(
        &root.join("latest_validated.txt"),
        pointer_text(p.root.as_ref()).as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------------
// current.json

/// What [`promote_current`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Promoted {
    /// `current.json` is now a copy of this version's union.
    Version(Version),
    /// `latest_validated.txt` is `none` and RULES allows it: no `current.json` (bootstrap).
    Bootstrap,
}

/// Writes `<root>/current.json` as a byte copy of `snapshots/<latest_validated>/union.json`
/// (verified, see [`write_verified`]). With `latest_validated.txt` = `none`: bootstrap mode
/// when RULES allows a `none` root pointer (nothing written), else an error.
pub fn promote_current(root: &Path, rules: &RulesJson) -> Result<Promoted> {
    let Some(version) = read_pointer(&root.join("latest_validated.txt"))? else {
        if rules.root_pointers_allow_none() {
            return Ok(Promoted::Bootstrap);
        }
        bail!(
            "`latest_validated.txt` is `none`, which RULES.json does not allow (versioning.pointers.root_pointers_allow_none): no version to promote to `current.json`"
        );
    };
    let union = root
        .join("snapshots")
        .join(version.to_string())
        .join("union.json");
    let bytes =
        std::fs::read(&union).with_context(|| format!("failed to read `{}`", union.display()))?;
    write_verified(&root.join("current.json"), &bytes)?;
    Ok(Promoted::Version(version))
}

// ---------------------------------------------------------------------------------------------
// Verified writes

/// Writes `bytes` to `path` atomically, then reads the file back and compares its SHA-256 with
/// that of `bytes` ([`verify_read_back`]).
pub fn write_verified(path: &Path, bytes: &[u8]) -> Result<()> {
    fsutil::write_atomic(path, bytes)?;
    verify_read_back(path, bytes)
}

/// Reads `path` back and compares it with `expected`; on a mismatch (or a read failure) the
/// file is removed and the error names both digests, so no unverified file is left behind.
pub fn verify_read_back(path: &Path, expected: &[u8]) -> Result<()> {
    let want = sha256_hex(expected);
    let got = match std::fs::read(path) {
        Ok(b) => sha256_hex(&b),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e).with_context(|| {
                format!("promotion failed: cannot read back `{}`", path.display())
            });
        }
    };
    if got != want {
        let _ = std::fs::remove_file(path);
        bail!(
            "promotion failed: `{}` read back with sha256 {got}, expected {want}; the file was removed",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<String> {
        ["x86_64-unknown-linux-musl", "aarch64-apple-darwin"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn validation_block_lists_every_target_once() {
        let r = Results::parse(
            "schema_version = 1\n[[result]]\nversion = \"1.2.3\"\ntarget = \"x86_64-unknown-linux-musl\"\nresult = \"passed\"\nevidence = \"ran it\"\n",
            &targets(),
        )
        .unwrap();
        let none = BTreeMap::new();
        let v = r.validation("1.2.3", &targets(), &none).unwrap();
        assert_eq!(v.passed_targets.unwrap(), ["x86_64-unknown-linux-musl"]);
        assert_eq!(v.failed_targets.unwrap(), Vec::<String>::new());
        assert_eq!(v.skipped_targets.unwrap(), ["aarch64-apple-darwin"]);
        assert!(r.validation("1.2.4", &targets(), &none).is_none());
        // A node's result counts unless the file overrides that target.
        let measured = BTreeMap::from([
            ("x86_64-unknown-linux-musl".to_string(), Outcome::Failed),
            ("aarch64-apple-darwin".to_string(), Outcome::Failed),
        ]);
        let v = r.validation("1.2.3", &targets(), &measured).unwrap();
        assert_eq!(v.passed_targets.unwrap(), ["x86_64-unknown-linux-musl"]);
        assert_eq!(v.failed_targets.unwrap(), ["aarch64-apple-darwin"]);
        let v = Results::default()
            .validation("1.2.4", &targets(), &measured)
            .unwrap();
        assert_eq!(v.failed_targets.unwrap().len(), 2);
    }

    #[test]
    fn results_reject_unknown_targets_duplicates_and_empty_evidence() {
        let rec = |t: &str, e: &str| {
            format!(
                "[[result]]\nversion = \"1.2.3\"\ntarget = \"{t}\"\nresult = \"passed\"\nevidence = \"{e}\"\n"
            )
        };
        let parse = |body: String| {
            format!(
                "{:#}",
                Results::parse(&format!("schema_version = 1\n{body}"), &targets()).unwrap_err()
            )
        };
        assert!(parse(rec("mips-unknown", "x")).contains("`mips-unknown` is not in RULES.json"));
        let twice = rec("aarch64-apple-darwin", "x") + &rec("aarch64-apple-darwin", "y");
        assert!(parse(twice).contains("result #2 (1.2.3 on aarch64-apple-darwin): recorded twice"));
        assert!(parse(rec("aarch64-apple-darwin", " ")).contains("`evidence` must say"));
        assert!(parse("[[result]]\nversion = \"1.2\"\n".into()).contains("missing field"));
    }

    #[test]
    fn read_back_mismatch_removes_the_file_and_names_both_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("current.json");
        std::fs::write(&path, b"what the disk holds\n").unwrap();
        let err = format!(
            "{:#}",
            verify_read_back(&path, b"what was meant\n").unwrap_err()
        );
        assert!(err.contains("read back with sha256"), "{err}");
        assert!(err.contains(&sha256_hex(b"what was meant\n")), "{err}");
        assert!(!path.exists(), "an unverified file was left behind");

        write_verified(&path, b"ok\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ok\n");
    }

    #[test]
    fn pointer_files_must_be_one_stable_version_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.txt");
        for (text, ok) in [
            ("none\n", true),
            ("1.2.3\n", true),
            ("1.2.3", true),
            ("1.2.3-rc.1\n", false),
            ("01.2.3\n", false),
            (" 1.2.3\n", false),
            ("1.2.3\r\n", false),
        ] {
            std::fs::write(&p, text).unwrap();
            assert_eq!(read_pointer(&p).is_ok(), ok, "{text:?}");
        }
    }
}
