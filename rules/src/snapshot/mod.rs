//! Snapshot of a codex binary's CLI surface (spec §1), per-target (`--out-file`) mode.
//!
//! - [`exec`]   running the binary: hermetic env, timeout, text normalization.
//! - [`parse`]  help-text parsing and usage inference.
//! - [`crawl`]  the discovery crawl and the merge of the two passes.
//! - this file: order of operations, layout checks, feature probe, supplements, output.
//!
//! Nothing is written until everything succeeded: the snapshot is written atomically, raw help
//! goes to a staging directory that replaces `raw_help/<version>/<target>/` at the end.

pub mod crawl;
pub mod exec;
pub mod model;
pub mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common;
use crate::rules_json::RulesJson;
use exec::{Outcome, Runner};
use model::{Binary, CmdPath, CommandEntry, Platform, Snapshot};

/// `parity rule snapshot` options (the reference `codex-snapshot`, per-target mode).
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// The codex binary to probe.
    pub codex_binary: PathBuf,
    /// `<root>/snapshots/<version>/<target>.json`.
    pub out_file: PathBuf,
    /// Also write `<root>/raw_help/<version>/<target>/…/help.txt`.
    pub capture_raw_help: bool,
    /// Target name (default: the out-file stem).
    pub raw_help_target: Option<String>,
    /// `supplement/commands.json`.
    pub supplement: Option<PathBuf>,
    /// RFC 3339 override of `collected_at`, copied verbatim.
    pub collected_at: Option<String>,
    /// Timeout of one help invocation (the reference has none).
    pub timeout: Duration,
    /// Help invocations run at once.
    pub jobs: usize,
}

/// Where the outputs go, resolved from `--out-file` (spec §1.10).
#[derive(Debug)]
struct Layout {
    target: String,
    raw_help_dir: Option<PathBuf>,
}

/// One listed feature (`codex features list`).
#[derive(Debug, Clone)]
struct Feature {
    name: String,
    stage: String,
    effective: bool,
}

/// Probes the binary and writes the snapshot (and raw help).
pub fn run(opts: &SnapshotOptions) -> Result<()> {
    let binary = canonical_binary(&opts.codex_binary)?;
    let collected_at = collected_at(opts.collected_at.as_deref())?;
    let bytes = std::fs::read(&binary)
        .map_err(|e| anyhow!("I/O error: failed to read `{}`: {e}", binary.display()))?;
    let runner = Runner::new(binary, opts.timeout)?;
    let version = probe_version(&runner)?;
    let semver = version.semantic_version.clone().ok_or_else(|| {
        let cmd = runner.render(&["--version".to_string()]);
        anyhow!("`{cmd}` printed {:?}", version.version_output)
            .context("failed to probe semantic version; required for per-target snapshots")
    })?;
    let layout = resolve_layout(opts, &semver)?;

    let probe = probe_features(&runner)?;
    let mut found = discover(&runner, probe.as_deref().unwrap_or_default(), opts.jobs)?;
    let known_omissions = match &opts.supplement {
        Some(path) => apply_supplement(&mut found.commands, path)?,
        None => None,
    };
    let snapshot = Snapshot {
        snapshot_schema_version: 1,
        tool: "codex-cli".to_string(),
        collected_at: Some(collected_at),
        binary: Binary {
            sha256: parity_engine::hash::sha256_hex(&bytes),
            size_bytes: bytes.len() as u64,
            platform: Platform::host(),
            target_triple: layout.target.clone(),
            version_output: version.version_output,
            semantic_version: version.semantic_version,
            channel: version.channel,
            commit: version.commit,
        },
        features: Some(features_object(&probe, &found)),
        commands: found.commands.into_values().collect(),
        known_omissions,
    };
    write_outputs(opts, &layout, &snapshot, &found.help)
}

/// `--collected-at` validated as RFC 3339 and kept verbatim, else the §0.3 timestamp.
fn collected_at(given: Option<&str>) -> Result<String> {
    match given {
        Some(s) => {
            s.parse::<jiff::Timestamp>()
                .map_err(|_| anyhow!("invalid collected_at (must be RFC3339): {s}"))?;
            Ok(s.to_string())
        }
        None => common::timestamp(),
    }
}

/// What the crawl passes found (spec §1.5).
#[derive(Debug)]
struct Discovery {
    commands: BTreeMap<CmdPath, CommandEntry>,
    /// Help text per path: pass B's when it ran, else pass A's (the reference's capture-only
    /// third crawl runs the same invocations as pass A, so its texts are pass A's).
    help: BTreeMap<CmdPath, String>,
    /// Pass B: the `--enable` names and the paths it added; `None` when it did not run.
    pass_b: Option<(Vec<String>, Vec<CmdPath>)>,
}

/// Pass A without global args; with features, pass B with `--enable` for each, merged A ← B.
fn discover(runner: &Runner, features: &[Feature], jobs: usize) -> Result<Discovery> {
    let pass_a = crawl::crawl(runner, &[], jobs)?;
    if features.is_empty() {
        return Ok(Discovery {
            commands: pass_a.commands,
            help: pass_a.help,
            pass_b: None,
        });
    }
    let names: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
    let global: Vec<String> = names
        .iter()
        .flat_map(|n| ["--enable".to_string(), n.clone()])
        .collect();
    let pass_b = crawl::crawl(runner, &global, jobs)?;
    let added: Vec<CmdPath> = pass_b
        .commands
        .keys()
        .filter(|p| !pass_a.commands.contains_key(*p))
        .cloned()
        .collect();
    let mut commands = pass_a.commands;
    crawl::merge_passes(&mut commands, pass_b.commands);
    Ok(Discovery {
        commands,
        help: pass_b.help,
        pass_b: Some((names, added)),
    })
}

/// The `features` object; a `Value` map, so its keys serialize sorted (spec §1.11).
fn features_object(probe: &Result<Vec<Feature>, String>, found: &Discovery) -> Value {
    let mut features = Map::new();
    if let Some((names, added)) = &found.pass_b {
        features.insert("commands_added_when_all_enabled".into(), json!(added));
        features.insert("enabled_for_snapshot".into(), json!(names));
    }
    match probe {
        Ok(listed) => {
            let listed: Vec<Value> = listed
                .iter()
                .map(|f| json!({"name": f.name, "stage": f.stage, "effective": f.effective}))
                .collect();
            features.insert("listed".into(), Value::Array(listed));
        }
        Err(e) => {
            features.insert("probe_error".into(), Value::String(e.clone()));
        }
    }
    features.insert("mode".into(), json!("default_plus_all_enabled"));
    Value::Object(features)
}

/// Raw help is staged first, then the snapshot is written atomically, then the staged raw help
/// replaces the old directory: a failure before this point leaves every output untouched.
fn write_outputs(
    opts: &SnapshotOptions,
    layout: &Layout,
    snapshot: &Snapshot,
    help: &BTreeMap<CmdPath, String>,
) -> Result<()> {
    let json = common::to_json_pretty(snapshot)?;
    let staged = match &layout.raw_help_dir {
        Some(dir) => Some((dir, stage_raw_help(dir, help)?)),
        None => None,
    };
    parity_engine::fsutil::write_atomic(&opts.out_file, json.as_bytes()).map_err(io_error)?;
    if let Some((dir, staged)) = staged {
        parity_engine::fsutil::rename_into_place(&staged.keep(), dir).map_err(io_error)?;
    }
    Ok(())
}

/// The reference's `I/O error: …` text, with the engine error's cause.
fn io_error(e: parity_engine::Error) -> anyhow::Error {
    anyhow!("I/O error: {:#}", anyhow::Error::from(e))
}

fn canonical_binary(given: &Path) -> Result<PathBuf> {
    let canonical = std::fs::canonicalize(given)
        .map_err(|_| anyhow!("invalid codex binary path: {}", given.display()))?;
    if !canonical.is_file() {
        bail!("invalid codex binary path: {}", canonical.display());
    }
    Ok(canonical)
}

static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?").expect("semver pattern is valid")
});
static COMMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b([0-9a-f]{7,40})\b").expect("commit pattern is valid"));

/// What `<bin> --version` says (spec §1.3).
#[derive(Debug)]
struct VersionInfo {
    version_output: String,
    semantic_version: Option<String>,
    channel: Option<String>,
    commit: Option<String>,
}

/// `<bin> --version` → version output, semantic version, channel, commit (spec §1.3).
fn probe_version(runner: &Runner) -> Result<VersionInfo> {
    let version_output = crawl::help_text(runner, &["--version".to_string()])?
        .trim()
        .to_string();
    let semantic_version = SEMVER.find(&version_output).map(|m| m.as_str().to_string());
    let channel = semantic_version.as_deref().map(|v| {
        let channel = if v.contains("nightly") {
            "nightly"
        } else if v.contains("beta") {
            "beta"
        } else {
            "stable"
        };
        channel.to_string()
    });
    let commit = COMMIT.captures(&version_output).map(|c| c[1].to_string());
    Ok(VersionInfo {
        version_output,
        semantic_version,
        channel,
        commit,
    })
}

/// `<bin> features list` (spec §1.4). A non-zero exit is recorded, not fatal (`Err` = the
/// probe error text, with the program as its file name); a timeout is fatal.
fn probe_features(runner: &Runner) -> Result<Result<Vec<Feature>, String>> {
    let args = ["features".to_string(), "list".to_string()];
    let done = match runner.run(&args) {
        Err(e) => return Ok(Err(format!("spawn failed: {e}"))),
        Ok(Outcome::TimedOut) => bail!(
            "command failed: timeout after {}ms: {}",
            runner.timeout().as_millis(),
            runner.render(&args)
        ),
        Ok(Outcome::Exited(done)) => done,
    };
    if !done.success() {
        return Ok(Err(done
            .failure(&runner.render_short(&args))
            .trim()
            .to_string()));
    }
    Ok(Ok(parse_features(&done.text())))
}

fn parse_features(text: &str) -> Vec<Feature> {
    let mut features: Vec<Feature> = text
        .lines()
        .filter_map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.len() < 3 {
                return None;
            }
            let effective = match tokens[2].to_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            Some(Feature {
                name: tokens[0].into(),
                stage: tokens[1].into(),
                effective,
            })
        })
        .collect();
    features.sort_by(|a, b| a.name.cmp(&b.name));
    features
}

/// Checks `<root>/snapshots/<version>/<target>.json` and RULES.json (spec §1.10).
fn resolve_layout(opts: &SnapshotOptions, version: &str) -> Result<Layout> {
    let layout_err = |msg: String| anyhow!("invalid --out-file layout: {msg}");
    let name_of = |p: Option<&Path>| {
        p.and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let out = &opts.out_file;
    let parent = out.parent();
    let parent_name = name_of(parent);
    if parent_name != version {
        return Err(layout_err(format!(
            "expected parent dir name {version}, got {parent_name}"
        )));
    }
    let snapshots = parent.and_then(Path::parent);
    let grand_name = name_of(snapshots);
    if grand_name != "snapshots" {
        return Err(layout_err(format!(
            "expected snapshots/<version> layout, got .../{grand_name}/{parent_name}"
        )));
    }
    let file_name = name_of(Some(out));
    let Some(stem) = file_name.strip_suffix(".json") else {
        return Err(layout_err(
            "expected out-file name like <target_triple>.json".into(),
        ));
    };
    let target = opts
        .raw_help_target
        .clone()
        .unwrap_or_else(|| stem.to_string());
    if file_name != format!("{target}.json") {
        return Err(layout_err(format!(
            "expected filename {target}.json, got {file_name}"
        )));
    }
    let root = match snapshots.and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    check_rules(&root.join("RULES.json"), &target)?;
    if opts.capture_raw_help && target == "unknown" {
        bail!(
            "--capture-raw-help requires a target triple (use --raw-help-target, or infer it from --out-file)"
        );
    }
    let raw_help_dir = opts
        .capture_raw_help
        .then(|| root.join("raw_help").join(version).join(&target));
    Ok(Layout {
        target,
        raw_help_dir,
    })
}

fn check_rules(path: &Path, target: &str) -> Result<()> {
    let rules = RulesJson::read(path)?;
    let bad = rules.sorting_mismatches(&[
        ("commands", "lexicographic_path"),
        ("flags", "by_key_then_long_then_short"),
        ("args", "by_name"),
    ]);
    if !bad.is_empty() {
        bail!("unsupported rules configuration: {}", bad.join(", "));
    }
    let expected = rules.need(&rules.union.expected_targets, "union.expected_targets")?;
    if !expected.iter().any(|t| t == target) {
        bail!("raw_help_target={target} is not in RULES.json.union.expected_targets");
    }
    Ok(())
}

/// `supplement/commands.json`.
#[derive(Debug, Deserialize)]
struct Supplement {
    version: u32,
    commands: Vec<SupplementItem>,
}

#[derive(Debug, Deserialize)]
struct SupplementItem {
    path: CmdPath,
    platforms: Option<Vec<String>>,
    #[allow(dead_code)]
    note: String,
}

/// Inserts missing paths and overwrites differing platforms (spec §1.8); returns the sorted
/// records of applied items, `None` when nothing applied.
fn apply_supplement(
    commands: &mut BTreeMap<CmdPath, CommandEntry>,
    path: &Path,
) -> Result<Option<Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("I/O error: failed to read `{}`: {e}", path.display()))?;
    let supplement: Supplement = serde_json::from_str(&text)
        .map_err(|e| anyhow!("failed to parse JSON: {}: {e}", path.display()))?;
    if supplement.version != 1 {
        bail!(
            "supplement file version must be 1 (got {})",
            supplement.version
        );
    }
    let mut records = Vec::new();
    for item in supplement.commands {
        let mut applied = false;
        let entry = commands.entry(item.path.clone()).or_insert_with(|| {
            applied = true;
            CommandEntry {
                path: item.path.clone(),
                ..CommandEntry::default()
            }
        });
        if item.platforms.is_some() && item.platforms != entry.platforms {
            entry.platforms = item.platforms;
            applied = true;
        }
        if applied {
            records.push(format!(
                "supplement/commands.json:v1:{}",
                item.path.join(" ")
            ));
        }
    }
    records.sort();
    records.dedup();
    Ok((!records.is_empty()).then_some(records))
}

/// Writes every help text into a fresh staging directory next to `dir`: `help.txt` for the
/// root, `commands/<tok>/…/help.txt` for the rest.
fn stage_raw_help(dir: &Path, help: &BTreeMap<CmdPath, String>) -> Result<tempfile::TempDir> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| anyhow!("I/O error: failed to create `{}`: {e}", parent.display()))?;
    let staged = tempfile::Builder::new()
        .prefix(".parity-raw-help-")
        .tempdir_in(parent)
        .map_err(|e| {
            anyhow!(
                "I/O error: failed to create a temp dir in `{}`: {e}",
                parent.display()
            )
        })?;
    for (path, text) in help {
        let mut file = staged.path().to_path_buf();
        if !path.is_empty() {
            file.push("commands");
            file.extend(path);
        }
        file.push("help.txt");
        if let Some(d) = file.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| anyhow!("I/O error: failed to create `{}`: {e}", d.display()))?;
        }
        std::fs::write(&file, text)
            .map_err(|e| anyhow!("I/O error: failed to write `{}`: {e}", file.display()))?;
    }
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_need_a_boolean_third_column_and_sort_by_name() {
        // codex 0.169.0 prints the stage `under development` as two words: such lines are
        // skipped, as the reference does.
        let text = "zeta  stable  TRUE\nalpha  experimental  false\nbeta  under development  false\n\nbad\n";
        let names: Vec<(String, bool)> = parse_features(text)
            .into_iter()
            .map(|f| (f.name, f.effective))
            .collect();
        assert_eq!(
            names,
            [("alpha".to_string(), false), ("zeta".to_string(), true)]
        );
    }

    #[test]
    fn version_probe_fields() {
        let m = |s: &str| SEMVER.find(s).map(|m| m.as_str().to_string());
        assert_eq!(m("codex-cli 0.92.0").as_deref(), Some("0.92.0"));
        assert_eq!(
            m("codex 1.2.3-beta.1 (abc)").as_deref(),
            Some("1.2.3-beta.1")
        );
        assert_eq!(
            COMMIT
                .captures("codex 0.1.0 ABCDEF1")
                .map(|c| c[1].to_string())
                .as_deref(),
            Some("ABCDEF1")
        );
        assert!(COMMIT.captures("codex-cli 0.92.0").is_none());
    }
}
