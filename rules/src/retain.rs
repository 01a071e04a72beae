//! Retention of versions (spec §7): keep what pointers name plus the newest validated/supported
//! versions; everything else under `snapshots/` and `reports/` is a deletion candidate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use semver::Version;

use crate::rules_json::RulesJson;

/// `parity rule retain` options (the reference `codex-retain`).
#[derive(Debug, Clone)]
pub struct RetainOptions {
    /// The parity root.
    pub root: PathBuf,
    /// Delete for real (default: dry run).
    pub apply: bool,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
}

/// Which versions stay and which go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainPlan {
    /// Versions kept (ascending), whether or not they have directories.
    pub keep: BTreeSet<Version>,
    /// Versions with `snapshots/` or `reports/` directories outside the keep set (ascending).
    pub delete: BTreeSet<Version>,
}

impl RetainPlan {
    /// The text the reference prints (spec §7 step 4).
    pub fn render(&self, apply: bool) -> String {
        let mut s = format!("apply: {apply}\nkeep_versions:\n");
        for v in &self.keep {
            s.push_str(&format!("  {v}\n"));
        }
        s.push_str("delete_versions:\n");
        for v in &self.delete {
            s.push_str(&format!("  {v}\n"));
        }
        s
    }
}

/// Computes the keep/delete sets without touching anything.
pub fn plan(opts: &RetainOptions) -> Result<RetainPlan> {
    let root = std::fs::canonicalize(&opts.root).unwrap_or_else(|_| opts.root.clone());
    let rules_path = opts
        .rules
        .clone()
        .unwrap_or_else(|| root.join("RULES.json"));
    let rules = RulesJson::read(&rules_path)?;
    let retention = rules.need(&rules.storage.retention, "storage.retention")?;

    let mut keep = BTreeSet::new();
    for name in ["min_supported.txt", "latest_validated.txt"] {
        keep.extend(pointer_version(&root.join(name)));
    }
    for entry in walkdir::WalkDir::new(root.join("pointers")).follow_links(false) {
        let Ok(entry) = entry else { continue };
        let is_txt = entry.path().extension().is_some_and(|e| e == "txt");
        if entry.file_type().is_file() && is_txt {
            keep.extend(pointer_version(entry.path()));
        }
    }
    let mut validated = validated_versions(&root.join("versions"));
    validated.sort();
    keep.extend(
        validated
            .into_iter()
            .rev()
            .take(retention.keep_last_validated),
    );

    let mut candidates = version_dirs(&root.join("snapshots"));
    candidates.extend(version_dirs(&root.join("reports")));
    let delete = candidates
        .into_iter()
        .map(|(v, _)| v)
        .filter(|v| !keep.contains(v))
        .collect();
    Ok(RetainPlan { keep, delete })
}

/// Prints the keep/delete plan and, with `apply`, deletes out-of-window version directories.
pub fn run(opts: &RetainOptions) -> Result<()> {
    let plan = plan(opts)?;
    print!("{}", plan.render(opts.apply));
    if !opts.apply {
        return Ok(());
    }
    let root = std::fs::canonicalize(&opts.root).unwrap_or_else(|_| opts.root.clone());
    for area in ["snapshots", "reports"] {
        for (version, dir) in version_dirs(&root.join(area)) {
            if plan.delete.contains(&version) {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("failed to delete `{}`", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// The SemVer in a pointer file (trimmed); `none`, empty or unparsable count as nothing.
fn pointer_version(path: &Path) -> Option<Version> {
    let text = std::fs::read_to_string(path).ok()?;
    Version::parse(text.trim()).ok()
}

/// `semantic_version` of every `versions/*.json` with status `validated` or `supported`.
fn validated_versions(dir: &Path) -> Vec<Version> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            let status = v.get("status")?.as_str()?;
            if !matches!(status, "validated" | "supported") {
                return None;
            }
            Version::parse(v.get("semantic_version")?.as_str()?).ok()
        })
        .collect()
}

/// Real (non-symlink) directories directly under `dir` whose names parse as SemVer.
fn version_dirs(dir: &Path) -> Vec<(Version, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((Version::parse(e.file_name().to_str()?).ok()?, e.path())))
        .collect()
}

/// `parity rule retain` (reference `codex-retain`).
pub const COMMAND: crate::drop_in::Command<RetainArgs> = crate::drop_in::Command {
    name: "retain",
    aliases: &["codex-retain"],
    about: "Print, and with --apply delete, versions outside the retention window (reference `codex-retain`)",
    run: |a| {
        crate::drop_in::done(run(&RetainOptions {
            root: a.root,
            apply: a.apply,
            rules: a.rules,
        }))
    },
};

/// The arguments of `parity rule retain`.
#[derive(Debug, clap::Args)]
pub struct RetainArgs {
    /// The parity root.
    #[arg(long, default_value = "cli_manifests/codex", value_name = "DIR")]
    root: PathBuf,
    /// Delete for real (default: print the plan only).
    #[arg(long)]
    apply: bool,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    rules: Option<PathBuf>,
}
