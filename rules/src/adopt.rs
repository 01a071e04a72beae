//! `parity init --adopt DIR`: the pipeline of a reference-layout tree (`cli_manifests/codex/`,
//! `cli_manifests/claude_code/`) made before parity: which CLI it is of, its versions, the
//! instants its artifacts were stamped at, its pins and its recorded validation results, as
//! the files that make it a parity pipeline (`pipeline.toml`, `versions.toml`,
//! `validation.toml`, `pins/V/T.json`). Nothing here writes: the caller rebuilds a scratch copy
//! with these files and decides what to record (see `src/commands/init.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::common;
use crate::release::github::Version;
use crate::release::lockfile::{LockEntry, LockUpstream, Pin};

/// Which CLI a tree is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// OpenAI's codex (GitHub releases).
    Codex,
    /// Anthropic's Claude Code (a release bucket).
    Claude,
}

impl Cli {
    /// The workspace member name the adopted pipeline gets.
    pub fn member(self) -> &'static str {
        match self {
            Cli::Codex => "codex",
            Cli::Claude => "claude",
        }
    }
}

/// What adopting a tree writes into it, and where each derived value came from.
#[derive(Debug)]
pub struct Adoption {
    /// The CLI the tree is of.
    pub cli: Cli,
    /// Files to write, relative to the tree, with their text (none exists yet, except the
    /// pin files, which may: they are then compared, never overwritten).
    pub files: Vec<(PathBuf, String)>,
    /// One line per derived fact (versions, epochs, pins, validation results).
    pub notes: Vec<String>,
}

/// The files that make the reference-layout tree `dir` a parity pipeline.
pub fn plan(dir: &Path) -> Result<Adoption> {
    let rules_path = dir.join("RULES.json");
    let rules: Value = common::read_json(&rules_path)?;
    let targets: Vec<String> = rules
        .pointer("/union/expected_targets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let required = rules
        .pointer("/union/required_target")
        .and_then(Value::as_str)
        .map(String::from)
        .with_context(|| {
            format!(
                "`{}` has no `/union/required_target`: not a reference-layout tree",
                rules_path.display()
            )
        })?;
    let lock_path = dir.join("artifacts.lock.json");
    let lock: Value = common::read_json(&lock_path)?;
    let (cli, upstream) = if let Some(repo) = lock.get("upstream_repo").and_then(Value::as_str) {
        (Cli::Codex, LockUpstream::GitHub { repo: repo.into() })
    } else if let Some(up) = lock.get("upstream") {
        let field = |k: &str| {
            up.get(k)
                .and_then(Value::as_str)
                .map(String::from)
                .with_context(|| format!("`{}`: `upstream.{k}` is missing", lock_path.display()))
        };
        let upstream = LockUpstream::Bucket {
            channel: field("channel")?,
            bucket_root: field("bucket_root")?,
        };
        (Cli::Claude, upstream)
    } else {
        bail!(
            "`{}` has neither `upstream_repo` (codex) nor `upstream` (Claude Code): not a reference lock",
            lock_path.display()
        );
    };
    let entries: Vec<LockEntry> = serde_json::from_value(lock["artifacts"].clone())
        .with_context(|| format!("`{}`: `artifacts`", lock_path.display()))?;
    for e in &entries {
        e.check(&format!("`{}`", lock_path.display()))?;
    }

    let versions = tracked_versions(dir)?;
    if versions.is_empty() {
        bail!(
            "`{}` has no versions (neither `versions/V.json` nor `snapshots/V/`): nothing to adopt",
            dir.display()
        );
    }
    let mut notes = vec![format!(
        "versions: {} (from versions/ and snapshots/)",
        names(&versions)
    )];

    // The instant each artifact of each version was stamped at, floored to seconds.
    let mut stamps: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    let mut base = BTreeMap::new();
    for v in &versions {
        let v = v.to_string();
        let found = [
            (
                "snapshot",
                format!("snapshots/{v}/{required}.json"),
                "collected_at",
            ),
            ("union", format!("snapshots/{v}/union.json"), "collected_at"),
            (
                "report",
                format!("reports/{v}/coverage.any.json"),
                "generated_at",
            ),
            ("version", format!("versions/{v}.json"), "updated_at"),
        ];
        for (artifact, file, field) in found {
            if let Some(secs) = stamp(&dir.join(&file), field)? {
                stamps.entry(artifact).or_default().insert(v.clone(), secs);
            }
        }
        let first = ["snapshot", "union", "report", "version"]
            .iter()
            .find_map(|a| stamps.get(a).and_then(|s| s.get(&v)).copied())
            .with_context(|| {
                format!(
                    "no timestamp for version {v} in `{}` (collected_at, generated_at or updated_at of its artifacts)",
                    dir.display()
                )
            })?;
        base.insert(v, first);
    }
    // An artifact whose stamps all equal the version's epoch takes it; the others get their
    // own table, so a rebuild keeps every stamp the tree has.
    let mut own_table = Vec::new();
    for artifact in ["union", "report", "version"] {
        let Some(s) = stamps.get(artifact) else {
            continue;
        };
        if s.iter().any(|(v, secs)| base.get(v) != Some(secs)) {
            own_table.push(artifact);
        }
    }
    let epoch_key = |artifact: &str, param: &str| {
        if own_table.contains(&artifact) {
            format!("epoch.{artifact}.{{{param}}}")
        } else {
            format!("epoch.{{{param}}}")
        }
    };

    let mut files = Vec::new();
    let tracked: Vec<String> = versions.iter().map(Version::to_string).collect();
    let mut pinned = Vec::new();
    let mut pin_files = 0;
    for e in &entries {
        let Some(&epoch) = base.get(&e.version) else {
            notes.push(format!(
                "artifacts.lock.json pins {} {}, a version the tree has no artifacts of: not adopted (the rebuilt lock leaves it out)",
                e.version, e.target_triple
            ));
            continue;
        };
        if !pinned.contains(&e.version) {
            pinned.push(e.version.clone());
        }
        let pin = Pin {
            entry: e.clone(),
            date: common::epoch_to_rfc3339(epoch)?,
        };
        files.push((
            PathBuf::from(format!("pins/{}/{}.json", e.version, e.target_triple)),
            pin.to_json(&upstream)?,
        ));
        pin_files += 1;
    }
    notes.push(format!(
        "pins: {pin_files} pin file{} from artifacts.lock.json (dated with the version's epoch)",
        plural(pin_files)
    ));

    files.push((
        PathBuf::from("versions.toml"),
        versions_toml(cli, &tracked, &pinned, &base, &stamps, &own_table),
    ));
    let mut epoch_note = format!(
        "epochs: each version's from its first stamped artifact ({})",
        base.iter()
            .map(|(v, s)| format!("{v} = {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !own_table.is_empty() {
        let _ = write!(
            epoch_note,
            "; {} stamped at other instants keep theirs (`epoch.<artifact>` tables)",
            own_table.join(", ")
        );
    }
    notes.push(epoch_note);

    let (validation, results) = validation_toml(dir, &versions)?;
    files.push((PathBuf::from("validation.toml"), validation));
    notes.push(format!(
        "validation: {results} recorded result{} from the `validation` blocks of versions/V.json",
        plural(results)
    ));

    let latest = std::fs::read_to_string(dir.join("latest_validated.txt"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let sources: Vec<String> = versions
        .iter()
        .flat_map(|v| {
            targets
                .iter()
                .map(move |t| format!("snapshots/{v}/{t}.json"))
        })
        .filter(|f| dir.join(f).is_file())
        .collect();
    files.push((
        PathBuf::from("pipeline.toml"),
        pipeline_toml(&PipelineParts {
            cli,
            upstream: &upstream,
            required: &required,
            targets: &targets,
            epoch_key: &epoch_key,
            current: !latest.is_empty() && latest != "none",
            snapshot_sources: &sources,
        }),
    ));
    Ok(Adoption { cli, files, notes })
}

/// Every `X.Y.Z` with a `versions/X.Y.Z.json` or a `snapshots/X.Y.Z/` directory, ascending.
fn tracked_versions(dir: &Path) -> Result<Vec<Version>> {
    let mut found = std::collections::BTreeSet::new();
    for (sub, json) in [("versions", true), ("snapshots", false)] {
        let path = dir.join(sub);
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read `{}`", path.display()));
            }
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to read `{}`", path.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let name = if json {
                match name.strip_suffix(".json") {
                    Some(n) => n.to_string(),
                    None => continue,
                }
            } else {
                name
            };
            if let Ok(v) = name.parse::<Version>() {
                found.insert(v);
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The top-level `field` of the JSON file `path` as Unix seconds (fraction dropped); `None`
/// when the file does not exist.
fn stamp(path: &Path, field: &str) -> Result<Option<i64>> {
    if !path.is_file() {
        return Ok(None);
    }
    let doc: Value = common::read_json(path)?;
    let Some(raw) = doc.get(field).and_then(Value::as_str) else {
        bail!("`{}` has no `{field}` timestamp", path.display());
    };
    let ts: jiff::Timestamp = raw
        .parse()
        .with_context(|| format!("`{}`: `{field}` `{raw}` is not RFC 3339", path.display()))?;
    Ok(Some(ts.as_second()))
}

fn versions_toml(
    cli: Cli,
    tracked: &[String],
    pinned: &[String],
    base: &BTreeMap<String, i64>,
    stamps: &BTreeMap<&str, BTreeMap<String, i64>>,
    own_table: &[&str],
) -> String {
    let list = |xs: &[String]| {
        xs.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (tool, pin) = match cli {
        Cli::Codex => ("codex", "parity pin codex:V"),
        Cli::Claude => ("Claude Code", "parity pin claude:V"),
    };
    let mut s = format!(
        "# {tool} versions this pipeline tracks, written by `parity init --adopt` from the tree's\n\
         # own artifacts.\n\
         tracked = [{}]\n\n\
         # The tracked versions whose release assets are pinned (`pins/V/T.json`, from the tree's\n\
         # artifacts.lock.json); `{pin}` adds a version here and to `tracked`.\n\
         pinned = [{}]\n\n\
         # The pinned versions whose binaries parity acquires and crawls (`snapshot@V/T`,\n\
         # `validation@V/T`) on a host of each target. The per-target snapshots of the other\n\
         # versions are committed sources (this tree's were taken before parity adopted it).\n\
         crawled = []\n\n\
         [epoch]\n\
         # SOURCE_DATE_EPOCH of each version: the stamp of its first stamped artifact (the\n\
         # required target's snapshot, else the union, the reports, the metadata).\n",
        list(tracked),
        list(pinned),
    );
    for (v, secs) in base {
        let _ = writeln!(s, "\"{v}\" = {secs}");
    }
    for artifact in own_table {
        let _ = write!(
            s,
            "\n[epoch.{artifact}]\n# The instants this tree's `{artifact}` artifacts were stamped at (fraction dropped), so a\n# rebuild changes only what its inputs change; `parity pin` sets a new version's here too.\n"
        );
        for (v, secs) in stamps.get(artifact).into_iter().flatten() {
            let _ = writeln!(s, "\"{v}\" = {secs}");
        }
        // A version without such an artifact yet gets the version's epoch.
        for (v, secs) in base {
            if !stamps.get(artifact).is_some_and(|m| m.contains_key(v)) {
                let _ = writeln!(s, "\"{v}\" = {secs}");
            }
        }
    }
    s
}

/// `validation.toml` holding the `validation` block of every `versions/V.json`, and how many
/// results that is.
fn validation_toml(dir: &Path, versions: &[Version]) -> Result<(String, usize)> {
    let mut s = String::from(
        "# Recorded validation results (see the `validation` rule): one `[[result]]` per version and\n\
         # target. Written by `parity init --adopt` from the `validation` blocks of versions/V.json,\n\
         # which recorded the results of the tree's previous tooling.\n\
         schema_version = 1\n",
    );
    let mut count = 0;
    for v in versions {
        let path = dir.join(format!("versions/{v}.json"));
        if !path.is_file() {
            continue;
        }
        let doc: Value = common::read_json(&path)?;
        let Some(block) = doc.get("validation") else {
            continue;
        };
        for (key, result) in [
            ("passed_targets", "passed"),
            ("failed_targets", "failed"),
            ("skipped_targets", "skipped"),
        ] {
            for t in block
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let _ = write!(
                    s,
                    "\n[[result]]\nversion = \"{v}\"\ntarget = \"{t}\"\nresult = \"{result}\"\nevidence = \"adopted from versions/{v}.json (`validation.{key}`) by parity init --adopt\"\n"
                );
                count += 1;
            }
        }
    }
    Ok((s, count))
}

struct PipelineParts<'a> {
    cli: Cli,
    upstream: &'a LockUpstream,
    required: &'a str,
    targets: &'a [String],
    epoch_key: &'a dyn Fn(&str, &str) -> String,
    current: bool,
    snapshot_sources: &'a [String],
}

fn pipeline_toml(p: &PipelineParts<'_>) -> String {
    let (tool, pins, snapshot, union, binary) = match p.cli {
        Cli::Codex => ("codex", "github-release-pin", "snapshot", "union", "codex"),
        Cli::Claude => (
            "Claude Code",
            "claude-release-pin",
            "claude-snapshot",
            "claude-union",
            "claude",
        ),
    };
    let (pin_config, lock_config) = match p.upstream {
        LockUpstream::GitHub { repo } => (
            format!(
                "{{ repo = \"{repo}\", tag = \"rust-v{{pinned}}\", version = \"{{pinned}}\" }}"
            ),
            format!("{{ upstream_repo = \"{repo}\" }}"),
        ),
        LockUpstream::Bucket {
            bucket_root,
            channel,
        } => (
            format!("{{ bucket = \"{bucket_root}\", version = \"{{pinned}}\" }}"),
            format!("{{ bucket_root = \"{bucket_root}\", channel = \"{channel}\" }}"),
        ),
    };
    let optional: String = p
        .targets
        .iter()
        .filter(|t| *t != p.required)
        .map(|t| format!("  \"snapshots/{{version}}/{t}.json?\",\n"))
        .collect();
    let validations: String = p
        .targets
        .iter()
        .map(|t| format!("  \"validation/{{version}}/{t}.json?\",\n"))
        .collect();
    let sources: String = p
        .snapshot_sources
        .iter()
        .map(|f| format!("  \"{f}\",\n"))
        .collect();
    let current = if p.current {
        "# current.json = a verified byte copy of the latest validated version's union.\n\
         [artifact.current]\n\
         rule = \"current\"\n\
         inputs = [\"latest_validated.txt\", \"union@*\", \"RULES.json\"]\n\
         outputs = [\"current.json\"]\n\n"
    } else {
        "# No `current` artifact: latest_validated.txt is `none` (bootstrap mode). Declare it as\n\
         # the codex pipeline of the parity repository does once a version is validated.\n\n"
    };
    let current_input = if p.current {
        "  \"current.json?\",\n"
    } else {
        ""
    };
    let snapshot_epoch = (p.epoch_key)("snapshot", "crawled");
    let union_epoch = (p.epoch_key)("union", "version");
    let report_epoch = (p.epoch_key)("report", "version");
    let version_epoch = (p.epoch_key)("version", "version");
    let required = p.required;
    format!(
        r#"# The {tool} parity pipeline of this directory, written by `parity init --adopt` from the
# reference-layout tree it found here (its RULES.json, artifacts.lock.json and stamps). Paths
# are relative to this directory. `parity status` says which committed artifacts are fresh.

[params]
# Every version the pipeline builds (union, report, metadata): versions.toml.
version = {{ from = "versions.toml", key = "tracked" }}
# The versions whose release assets are pinned (pins/V/T.json, merged into artifacts.lock.json).
pinned = {{ from = "versions.toml", key = "pinned" }}
# The pinned versions whose binaries are acquired and crawled here (empty after adoption).
crawled = {{ from = "versions.toml", key = "crawled" }}
target = {{ from = "RULES.json", pointer = "/union/expected_targets" }}

# One committed pin per (pinned version, target), measured once.
[artifact.pins]
rule = "{pins}"
params = ["pinned", "target"]
outputs = ["pins/{{pinned}}/{{target}}.json"]
config = {pin_config}

# artifacts.lock.json, every pin merged.
[artifact.lock]
rule = "merge-lock"
inputs = ["pins@*/*?"]
outputs = ["artifacts.lock.json"]
config = {lock_config}

# The verified binary of a crawled version, in the cache only: its key is its pin.
[artifact.binary]
rule = "acquire"
params = ["crawled", "target"]
inputs = ["pins@{{crawled}}/{{target}}"]
outputs = ["{{cache}}/bin/{{crawled}}/{binary}-{{target}}"]
config = {{ version = "{{crawled}}" }}

# The per-target snapshot of a crawled version, taken where its binary runs (`host`).
[artifact.snapshot]
rule = "{snapshot}"
params = ["crawled", "target"]
host = "{{target}}"
epoch = {{ from = "versions.toml", key = "{snapshot_epoch}" }}
inputs = ["binary@{{crawled}}/{{target}}", "supplement/commands.json", "RULES.json"]
outputs = ["snapshots/{{crawled}}/{{target}}.json", "{{cache}}/raw_help/{{crawled}}/{{target}}/"]
config = {{ version = "{{crawled}}" }}

# The wrapper checked against the binary of a crawled version, where it runs.
[artifact.validation]
rule = "validation"
params = ["crawled", "target"]
host = "{{target}}"
inputs = ["binary@{{crawled}}/{{target}}", "wrapper_coverage.json", "RULES.json"]
outputs = ["validation/{{crawled}}/{{target}}.json"]
config = {{ version = "{{crawled}}", check = "help-surface" }}

# The union of a version's per-target snapshots: the required target's, and the others when
# present (a snapshot node's output for a crawled version, else a committed source).
[artifact.union]
rule = "{union}"
params = ["version"]
epoch = {{ from = "versions.toml", key = "{union_epoch}" }}
inputs = [
  "snapshots/{{version}}/{required}.json",
{optional}  "RULES.json",
]
outputs = ["snapshots/{{version}}/union.json"]

# Coverage reports of the wrapper against the union.
[artifact.report]
rule = "report"
params = ["version"]
epoch = {{ from = "versions.toml", key = "{report_epoch}" }}
inputs = ["union@{{version}}", "wrapper_coverage.json", "RULES.json"]
outputs = ["reports/{{version}}/"]

# versions/{{version}}.json, its status derived from the validation results (validation.toml,
# and validation@V/T for crawled versions).
[artifact.version]
rule = "version-metadata"
params = ["version"]
epoch = {{ from = "versions.toml", key = "{version_epoch}" }}
inputs = [
  "union@{{version}}",
  "report@{{version}}",
  "wrapper_coverage.json",
{validations}  "validation.toml?",
  "RULES.json",
]
outputs = ["versions/{{version}}.json"]

# Every pointer, derived from the version metadata.
[artifact.pointers]
rule = "pointers"
inputs = ["version@*", "min_supported.txt", "RULES.json"]
outputs = ["pointers/", "latest_validated.txt"]

{current}# `parity rule validate` over every committed artifact.
[artifact.validate]
rule = "validate"
inputs = [
  "union@*",
  "report@*",
  "version@*",
  "pointers",
{current_input}  "snapshot@*/*?",
{sources}  "wrapper_coverage.json",
  "min_supported.txt",
  "SCHEMA.json",
  "VERSION_METADATA_SCHEMA.json",
  "RULES.json",
]
outputs = ["{{cache}}/validate/report.json"]
"#
    )
}

fn names(versions: &[Version]) -> String {
    versions
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
