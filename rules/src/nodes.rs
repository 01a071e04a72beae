//! The codex and Claude Code rules as pipeline nodes (registered by [`crate::register`]).
//!
//! Each adapter runs the same function as `parity rule …`, with the sandbox's mirror of the
//! pipeline root as `--root` and the node's epoch as SOURCE_DATE_EPOCH, so a node's output is
//! byte-identical to the reference command's for the same inputs.
//!
//! | rule               | params   | declares (typical)                                           |
//! |--------------------|----------|--------------------------------------------------------------|
//! | `union`            | version  | in: `snapshot@{version}/*?`, `RULES.json`; out: `snapshots/{version}/union.json` |
//! | `report`           | version  | in: `union@{version}`, `wrapper_coverage.json`, `RULES.json`; out: `reports/{version}/` |
//! | `version-metadata` | version  | in: union, report, wrapper coverage, RULES, `validation.toml`; out: `versions/{version}.json`; status derived (or fixed by config `status`) |
//! | `snapshot`         | version, target | in: the codex binary (first), `supplement/commands.json`, RULES; out: `snapshots/{version}/{target}.json`, `{cache}/raw_help/{version}/{target}/`; config `help_timeout_ms`, `version` |
//! | `pointers`         | —        | in: `version@*`, `min_supported.txt`, RULES; out: `pointers/`, `latest_validated.txt` |
//! | `current`          | —        | in: `latest_validated.txt`, `union@*`, RULES; out: `current.json` |
//! | `validate`         | —        | in: every committed artifact; out: the JSON report (e.g. `{cache}/validate/report.json`) |
//! | `validation`       | version, target | in: the binary (first), what the check reads; out: `validation/{version}/{target}.json` (see [`crate::validation`]) |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use parity_engine::exec::{Rule, RuleContext, RuleError};
use parity_engine::graph::{Input, Node, OutputKind};

use crate::promote::{self, Promoted, Results};
use crate::rules_json::RulesJson;
use crate::snapshot::Cli;
use crate::snapshot::crawl::NotePaths;
use crate::validation::{self, ValidationResult};
use crate::{common, metadata, report, snapshot, union, validate};

/// The node's `version`: its `version` param, else `config.version`.
pub(crate) fn version(node: &Node) -> Result<String, String> {
    node.params
        .get("version")
        .map(String::from)
        .or_else(|| {
            node.config
                .get("version")
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .ok_or_else(|| "needs a `version` param (or `config.version`)".to_string())
}

/// Every key of the node's config is one of `allowed`.
pub(crate) fn no_config_but(node: &Node, allowed: &[&str]) -> Result<(), String> {
    if let Some(obj) = node.config.as_object()
        && let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str()))
    {
        if allowed.is_empty() {
            return Err(format!(
                "unknown key `config.{k}` (this rule takes no config)"
            ));
        }
        return Err(format!(
            "unknown key `config.{k}` (expected one of: {})",
            allowed.join(", ")
        ));
    }
    Ok(())
}

/// A rule over one version's root that stamps a time: `union` and `report`.
pub(crate) struct VersionRule {
    name: &'static str,
    run: fn(&std::path::Path, String, Option<i64>) -> anyhow::Result<()>,
}

pub(crate) const UNION: VersionRule = VersionRule {
    name: "union",
    run: |root, version, epoch| union_of(Cli::Codex, root, version, epoch),
};

pub(crate) const CLAUDE_UNION: VersionRule = VersionRule {
    name: "claude-union",
    run: |root, version, epoch| union_of(Cli::Claude, root, version, epoch),
};

fn union_of(cli: Cli, root: &Path, version: String, epoch: Option<i64>) -> anyhow::Result<()> {
    union::run(&union::UnionOptions {
        cli,
        root: root.to_path_buf(),
        version,
        rules: None,
        epoch,
    })
}

pub(crate) const REPORT: VersionRule = VersionRule {
    name: "report",
    run: |root, version, epoch| {
        report::run(&report::ReportOptions {
            root: root.to_path_buf(),
            version,
            rules: None,
            epoch,
        })
    },
};

impl Rule for VersionRule {
    fn name(&self) -> &'static str {
        self.name
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        version(node)?;
        no_config_but(node, &["version"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        (self.run)(&layout_root(ctx), version(ctx.node)?, ctx.epoch)?;
        Ok(())
    }
}

/// `version-metadata`: with `config.status`, that status (the reference command); without it,
/// the status is derived from the validation results present among its inputs: the results of
/// the `validation@V/T` nodes (`validation/V/T.json`) and the overrides of `validation.toml`
/// (see [`promote::Results::validation`] and [`metadata::run_derived`]).
pub(crate) struct MetadataRule;

impl Rule for MetadataRule {
    fn name(&self) -> &'static str {
        "version-metadata"
    }
    fn version(&self) -> u32 {
        3
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        version(node)?;
        let results_file = named(node, promote::RESULTS_FILE);
        let declares_results = node.inputs.iter().any(|i| match i {
            Input::Source { path, .. } => *path == results_file || is_validation_result(node, path),
            Input::Node { file: Some(f), .. } => is_validation_result(node, f),
            Input::Node { .. } => false,
        });
        match node.config.get("status").and_then(|s| s.as_str()) {
            Some("snapshotted" | "reported" | "validated" | "supported") => {}
            Some(other) => {
                return Err(format!(
                    "`config.status` `{other}` is not one of snapshotted, reported, validated, supported"
                ));
            }
            None if !declares_results => {
                return Err(format!(
                    "derives its status from validation results: declare the inputs `{}/{{version}}/<target>.json?` and/or `{}?` (or set `config.status`)",
                    validation::RESULTS_DIR,
                    promote::RESULTS_FILE
                ));
            }
            None => {}
        }
        no_config_but(node, &["version", "status"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let opts = metadata::MetadataOptions {
            root: layout_root(ctx),
            version: version(ctx.node)?,
            status: String::new(),
            rules: None,
            epoch: ctx.epoch,
        };
        if let Some(status) = ctx.node.config.get("status").and_then(|s| s.as_str()) {
            let opts = metadata::MetadataOptions {
                status: status.to_string(),
                ..opts
            };
            metadata::run(&opts).context("version metadata failed")?;
            return Ok(());
        }
        let rules = RulesJson::of_root(&layout_root(ctx), None)?;
        let targets = rules.expected_targets()?;
        let results_file = named(ctx.node, promote::RESULTS_FILE);
        let overrides = if ctx.inputs.contains(&results_file) {
            Results::read(&ctx.path(&results_file), targets)?
        } else {
            Results::default()
        };
        let mut measured = BTreeMap::new();
        for target in targets {
            let name = named(ctx.node, &validation::result_path(&opts.version, target));
            if !ctx.inputs.contains(&name) {
                continue;
            }
            let result = ValidationResult::read(&ctx.path(&name))?;
            if (result.version.as_str(), result.target.as_str()) != (&opts.version, target) {
                return Err(anyhow!(
                    "`{name}` holds the result of {} on {}",
                    result.version,
                    result.target
                )
                .into());
            }
            let outcome = if result.passed() {
                promote::Outcome::Passed
            } else {
                promote::Outcome::Failed
            };
            measured.insert(target.clone(), outcome);
        }
        let recorded = overrides.validation(&opts.version, targets, &measured);
        metadata::run_derived(&opts, recorded).context("version metadata failed")?;
        Ok(())
    }
}

/// Whether `path` (as the node names it) is a result of a `validation@V/T` node
/// (`validation/V/T.json` below the node's root).
fn is_validation_result(node: &Node, path: &str) -> bool {
    let rel = match &*node.root {
        "" => Some(path),
        root => path.strip_prefix(root).and_then(|p| p.strip_prefix('/')),
    };
    rel.and_then(|p| p.strip_prefix(validation::RESULTS_DIR))
        .is_some_and(|rest| rest.starts_with('/') && rest.ends_with(".json"))
}

/// The node's parity root in its sandbox: below the sandbox root by the node's root (a
/// workspace member's directory; none for a single pipeline).
pub(crate) fn layout_root(ctx: &RuleContext<'_>) -> PathBuf {
    parity_engine::fsutil::join_rel(ctx.root(), &ctx.node.root)
}

/// `rel`, a path of the parity root, as the node's inputs and outputs name it.
pub(crate) fn named(node: &Node, rel: &str) -> String {
    if node.root.is_empty() {
        rel.to_string()
    } else {
        format!("{}/{rel}", node.root)
    }
}

/// Whether `node` declares the source file `path` as an input.
pub(crate) fn has_source_input(node: &Node, path: &str) -> bool {
    node.inputs
        .iter()
        .any(|i| matches!(i, Input::Source { path: p, .. } if p == path))
}

/// Checks that the node declares exactly these committed outputs (the rule writes fixed paths).
fn outputs_are(node: &Node, want: &[(&str, bool)]) -> Result<(), String> {
    let got: Vec<(&str, bool)> = node
        .outputs
        .iter()
        .map(|o| (o.path.as_str(), o.dir && o.kind == OutputKind::Committed))
        .collect();
    let committed = node.outputs.iter().all(|o| o.kind == OutputKind::Committed);
    if got != want || !committed {
        let list = |xs: &[(&str, bool)]| {
            xs.iter()
                .map(|(p, d)| format!("\"{p}{}\"", if *d { "/" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!("declare `outputs = [{}]`", list(want)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// snapshot@V/T

/// `snapshot` (codex) and `claude-snapshot`: crawls the binary (the first input) into the
/// per-target snapshot, exactly as `parity rule codex-snapshot|claude-snapshot --out-file
/// snapshots/V/T.json --raw-help-target T --capture-raw-help --supplement
/// supplement/commands.json` with SOURCE_DATE_EPOCH = the node's epoch; except that a Claude
/// Code note names the binary by file name (the sandbox path would differ on every machine).
pub(crate) struct SnapshotRule(pub(crate) Cli);

const SUPPLEMENT: &str = "supplement/commands.json";

impl SnapshotRule {
    fn target(node: &Node) -> Result<String, String> {
        node.params
            .get("target")
            .map(String::from)
            .ok_or_else(|| "needs a `target` param".to_string())
    }
    fn timeout(node: &Node) -> Result<Duration, String> {
        match node.config.get("help_timeout_ms") {
            None => Ok(Duration::from_secs(30)),
            Some(v) => v
                .as_u64()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    format!("`config.help_timeout_ms` must be a positive integer (got {v})")
                }),
        }
    }
}

impl Rule for SnapshotRule {
    fn name(&self) -> &'static str {
        match self.0 {
            Cli::Codex => "snapshot",
            Cli::Claude => "claude-snapshot",
        }
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        version(node)?;
        let target = Self::target(node)?;
        Self::timeout(node)?;
        no_config_but(node, &["help_timeout_ms", "version"])?;
        if node.inputs.is_empty() {
            return Err(format!(
                "the first input must be the {} binary",
                self.0.name()
            ));
        }
        let first = node.outputs.first();
        if !first.is_some_and(|o| o.kind == OutputKind::Committed && !o.dir) {
            return Err(format!(
                "the first output must be the snapshot file `snapshots/{{version}}/{target}.json`"
            ));
        }
        match node.outputs.get(1) {
            Some(o) if !o.dir => Err("the second output (raw help) must be a directory".into()),
            _ if node.outputs.len() > 2 => Err("declares at most two outputs".into()),
            _ => Ok(()),
        }
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let target = Self::target(ctx.node)?;
        let binary_name = ctx.inputs.first().ok_or("the binary input is absent")?;
        let private = tempfile::Builder::new()
            .prefix("bin-")
            .tempdir_in(ctx.root().parent().unwrap_or(ctx.root()))
            .context("failed to create a private directory for the binary")?;
        let binary = executable(&ctx.path(binary_name), private.path())?;
        let epoch = ctx
            .epoch
            .ok_or("the snapshot rule needs the node's epoch")?;
        let supplement = ctx
            .inputs
            .iter()
            .any(|i| *i == named(ctx.node, SUPPLEMENT))
            .then(|| layout_root(ctx).join(SUPPLEMENT));
        let raw_help = ctx.node.outputs.get(1).map(|_| ctx.output(1));
        let out_file = ctx.output(0);
        snapshot::run(&snapshot::SnapshotOptions {
            cli: self.0,
            binary,
            out: snapshot::Out::File(out_file.clone()),
            capture_raw_help: raw_help.is_some(),
            raw_help_target: Some(target.clone()),
            supplement,
            collected_at: Some(common::epoch_to_rfc3339(epoch)?),
            timeout: Self::timeout(ctx.node)?,
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            note_paths: NotePaths::FileName,
        })
        .with_context(|| format!("snapshot of `{binary_name}` failed"))?;
        if let Some(dest) = raw_help {
            // snapshot::run writes raw help beside `snapshots/`; move it to the declared output.
            let layout_root = out_file
                .parent()
                .and_then(Path::parent)
                .and_then(Path::parent)
                .ok_or("the snapshot output is not at `snapshots/<version>/<target>.json`")?;
            let version_dir = out_file
                .parent()
                .and_then(Path::file_name)
                .ok_or("no version directory")?;
            let written = layout_root.join("raw_help").join(version_dir).join(&target);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("failed to create `{}`", parent.display()))?;
            }
            std::fs::rename(&written, &dest)
                .with_context(|| format!("failed to move raw help to `{}`", dest.display()))?;
        }
        Ok(())
    }
}

/// `path` if it is executable; else a copy with mode 0755 in `dir` under the same file name
/// (a sandbox input may be a hard link or copy without the exec bit). On Windows, a copy named
/// `*.exe` unless it already is.
pub(crate) fn executable(path: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("invalid codex binary path: {}", path.display()))?;
        if meta.permissions().mode() & 0o111 == 0o111 {
            return Ok(path.to_path_buf());
        }
        let name = path.file_name().ok_or_else(|| anyhow!("no file name"))?;
        let copy = dir.join(name);
        std::fs::copy(path, &copy)
            .with_context(|| format!("failed to copy `{}`", path.display()))?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("failed to make `{}` executable", copy.display()))?;
        Ok(copy)
    }
    #[cfg(not(unix))]
    {
        // Windows runs only what ends in `.exe`; the cache keeps the binary as `codex-{target}`
        // (an output template cannot vary its extension per target), so run a copy named so.
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
        {
            return Ok(path.to_path_buf());
        }
        let name = path.file_name().ok_or_else(|| anyhow!("no file name"))?;
        let copy = dir.join(name).with_extension("exe");
        std::fs::copy(path, &copy)
            .with_context(|| format!("failed to copy `{}`", path.display()))?;
        Ok(copy)
    }
}

// ---------------------------------------------------------------------------------------------
// pointers, current

/// `pointers`: every pointer file derived from the version metadata ([`promote::derive_pointers`]).
pub(crate) struct PointersRule;

impl Rule for PointersRule {
    fn name(&self) -> &'static str {
        "pointers"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        no_config_but(node, &[])?;
        let (pointers, latest) = (named(node, "pointers"), named(node, "latest_validated.txt"));
        outputs_are(node, &[(&pointers, true), (&latest, false)])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let root = layout_root(ctx);
        let rules = RulesJson::of_root(&root, None)?;
        let pointers = promote::derive_pointers(&root, &rules)?;
        promote::write_pointers(&root, &pointers)?;
        Ok(())
    }
}

/// `current`: `current.json` = a verified byte copy of the latest validated version's union.
/// Bootstrap mode (`latest_validated.txt` is `none`) has no `current.json`: the pipeline then
/// does not declare this node, and running it fails saying so.
pub(crate) struct CurrentRule;

impl Rule for CurrentRule {
    fn name(&self) -> &'static str {
        "current"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        no_config_but(node, &[])?;
        outputs_are(node, &[(&named(node, "current.json"), false)])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let root = layout_root(ctx);
        let rules = RulesJson::of_root(&root, None)?;
        match promote::promote_current(&root, &rules)? {
            Promoted::Version(_) => Ok(()),
            Promoted::Bootstrap => Err(anyhow!(
                "`latest_validated.txt` is `none` (bootstrap mode): there is no `current.json` to write yet; declare the `current` artifact once a version is validated"
            )
            .into()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// validate

/// `validate`: `parity rule validate` over the sandbox root (which holds the declared inputs);
/// writes the JSON report to the first output, or fails listing the violations.
pub(crate) struct ValidateRule;

impl Rule for ValidateRule {
    fn name(&self) -> &'static str {
        "validate"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        no_config_but(node, &[])?;
        match &node.outputs[..] {
            [o] if !o.dir => Ok(()),
            _ => Err(
                "declares one output, the JSON report (e.g. `{cache}/validate/report.json`)".into(),
            ),
        }
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let report = validate::check(&validate::ValidateOptions {
            root: layout_root(ctx),
            mode: validate::Mode::Check,
            json: false,
            rules: None,
            schema: None,
            version_schema: None,
        })
        .context("FAIL: codex-validate")?;
        if !report.ok() {
            let mut msg = format!("FAIL: {} violations", report.violations.len());
            for v in &report.violations {
                msg.push('\n');
                msg.push_str(&v.human_line());
            }
            return Err(msg.into());
        }
        common::write_json(&ctx.output(0), &report.to_json())?;
        Ok(())
    }
}
