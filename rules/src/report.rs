//! Coverage reports (spec §4).
//!
//! One run writes `coverage.any.json`, one `coverage.<t>.json` per union input and, for a
//! complete union, `coverage.all.json`. Deviation from the reference (spec §11.3 item 27): the run
//! is transactional — every report is computed in memory first, written only if all succeed, and
//! `coverage.*.json` files this run no longer produces are removed; on error nothing changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::coverage::{
    self, IU, IuRoots, Resolution, Scoped, TargetSpace, Targets, WrapperCoverage, WrapperIndex,
};
use crate::rules_json::{Exclusions, RulesJson};
use crate::union::{self, UnionCommandView, UnionView};
use crate::unit::{UnitKind, UnitRef};
use crate::{common, drop_in};

/// `parity rule report` options (the reference `codex-report`).
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The parity root.
    pub root: PathBuf,
    /// The version whose union is reported.
    pub version: String,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH given by the caller (a pipeline node); `None` reads the environment.
    pub epoch: Option<i64>,
}

/// Writes `<root>/reports/<V>/coverage.*.json`.
pub fn run(opts: &ReportOptions) -> Result<()> {
    let root = union::canonical_root(&opts.root);
    let rules = RulesJson::of_root(&root, opts.rules.as_deref())?;
    check_rules(&rules)?;
    let exclusions = rules.exclusions();
    let union_path = root
        .join("snapshots")
        .join(&opts.version)
        .join("union.json");
    let upstream = union::read_union(&union_path)?;
    let wrapper = coverage::read(&root.join("wrapper_coverage.json"))?;
    if upstream.inputs.is_empty() {
        bail!("invalid rules file: union.inputs must not be empty");
    }
    if opts.epoch.is_none()
        && std::env::var_os("CI").is_some()
        && std::env::var_os("SOURCE_DATE_EPOCH").is_none()
    {
        bail!("invalid rules file: CI requires SOURCE_DATE_EPOCH for deterministic generated_at");
    }
    let generated_at = common::timestamp_for(opts.epoch)?;
    let space = rules.target_space()?;
    let ctx = Ctx {
        version: &opts.version,
        generated_at: &generated_at,
        rules_schema_version: *rules.need(&rules.rules_schema_version, "rules_schema_version")?,
        space: &space,
        index: space.index(&wrapper),
        wrapper: &wrapper,
        upstream: &upstream,
        exclusions: &exclusions,
    };
    let files = ctx.all_reports()?;
    publish(&root.join("reports").join(&opts.version), &files)
}

/// Writes every `(file name, bytes)` atomically, then removes `coverage.*.json` files not among them.
fn publish(dir: &Path, files: &[(String, String)]) -> Result<()> {
    for (name, bytes) in files {
        parity_engine::fsutil::write_atomic(&dir.join(name), bytes.as_bytes())?;
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to read `{}`", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read `{}`", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name.starts_with("coverage.")
            && name.ends_with(".json")
            && !files.iter().any(|(n, _)| *n == name);
        if stale && entry.path().is_file() {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("failed to remove stale `{}`", entry.path().display()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RULES

/// The report sort keys the reference requires, in its check order.
const SORT_KEYS: [(&str, &str); 12] = [
    ("missing_commands", "by_path"),
    ("missing_flags", "by_path_then_key"),
    ("missing_args", "by_path_then_name"),
    ("excluded_commands", "by_path"),
    ("excluded_flags", "by_path_then_key"),
    ("excluded_args", "by_path_then_name"),
    ("passthrough_candidates", "by_path"),
    ("unsupported", "by_path"),
    (
        "intentionally_unsupported",
        "by_kind_then_path_then_key_or_name",
    ),
    ("wrapper_only_commands", "by_path"),
    ("wrapper_only_flags", "by_path_then_key"),
    ("wrapper_only_args", "by_path_then_name"),
];

/// Checks the report settings of RULES: only the reference's file names, sort orders and
/// incomplete-union semantics are implemented.
fn check_rules(rules: &RulesJson) -> Result<()> {
    let mut bad = Vec::new();
    let n = rules.need(&rules.report.file_naming, "report.file_naming")?;
    for (k, got, want) in [
        ("report.file_naming.any", &n.any, "coverage.any.json"),
        ("report.file_naming.all", &n.all, "coverage.all.json"),
        (
            "report.file_naming.per_target",
            &n.per_target,
            "coverage.<target_triple>.json",
        ),
    ] {
        if got != want {
            bad.push(format!("{k}={got}"));
        }
    }
    let sorting = rules
        .sorting
        .keys
        .get("report")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| rules.missing("sorting.report"))?;
    for (k, want) in SORT_KEYS {
        match sorting.get(k) {
            Some(serde_json::Value::String(s)) if s == want => {}
            Some(serde_json::Value::String(s)) => bad.push(format!("sorting.report.{k}={s}")),
            Some(v) => bad.push(format!("sorting.report.{k}={v}")),
            None => bad.push(format!("sorting.report.{k}=<missing>")),
        }
    }
    let semantics = rules.need(&rules.report.filter_semantics, "report.filter_semantics")?;
    let all = &semantics.when_union_incomplete.all;
    if all != "error" {
        bad.push(format!(
            "report.filter_semantics.when_union_incomplete.all={all}"
        ));
    }
    if !bad.is_empty() {
        bail!("invalid rules file: unsupported rules: {}", bad.join(", "));
    }
    rules.expected_targets()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Report document

#[derive(Debug, Serialize)]
struct CoverageReport<'a> {
    schema_version: u32,
    generated_at: &'a str,
    inputs: ReportInputs<'a>,
    platform_filter: PlatformFilter<'a>,
    deltas: Deltas,
}

#[derive(Debug, Serialize)]
struct ReportInputs<'a> {
    upstream: UpstreamInputs<'a>,
    wrapper: WrapperInputs<'a>,
    rules: RulesInputs,
}

#[derive(Debug, Serialize)]
struct UpstreamInputs<'a> {
    semantic_version: &'a str,
    mode: &'a str,
    targets: Vec<String>,
}

#[derive(Debug, Serialize)]
struct WrapperInputs<'a> {
    schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrapper_version: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct RulesInputs {
    rules_schema_version: i64,
}

#[derive(Debug, Serialize)]
struct PlatformFilter<'a> {
    mode: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_triple: Option<&'a str>,
}

/// A command, flag or arg delta: `{path, key?, name?, upstream_available_on, wrapper_level?, note?}`.
#[derive(Debug, Clone, Serialize)]
struct Delta {
    #[serde(skip)]
    kind: UnitKind,
    path: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    upstream_available_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrapper_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Delta {
    fn new(
        unit: UnitRef<'_>,
        upstream: &[String],
        level: Option<String>,
        note: Option<String>,
    ) -> Self {
        let id = unit.id.map(str::to_string);
        Delta {
            kind: unit.kind,
            path: unit.path.to_vec(),
            key: if unit.kind == UnitKind::Flag {
                id.clone()
            } else {
                None
            },
            name: if unit.kind == UnitKind::Arg { id } else { None },
            upstream_available_on: upstream.to_vec(),
            wrapper_level: level,
            note,
        }
    }

    fn sort_key(&self) -> (UnitKind, &[String], Option<&str>) {
        (
            self.kind,
            &self.path,
            self.key.as_deref().or(self.name.as_deref()),
        )
    }
}

#[derive(Debug, Default, Serialize)]
struct Deltas {
    missing_commands: Vec<Delta>,
    missing_flags: Vec<Delta>,
    missing_args: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_commands: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_flags: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded_args: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    passthrough_candidates: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unsupported: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    intentionally_unsupported: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wrapper_only_commands: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wrapper_only_flags: Vec<Delta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wrapper_only_args: Vec<Delta>,
}

/// The delta lists kept per unit kind.
#[derive(Debug, Clone, Copy)]
enum Category {
    Missing,
    Excluded,
    WrapperOnly,
}

impl Deltas {
    /// The list of `category` for units of `kind`.
    fn list(&mut self, category: Category, kind: UnitKind) -> &mut Vec<Delta> {
        use {Category::*, UnitKind::*};
        match (category, kind) {
            (Missing, Command) => &mut self.missing_commands,
            (Missing, Flag) => &mut self.missing_flags,
            (Missing, Arg) => &mut self.missing_args,
            (Excluded, Command) => &mut self.excluded_commands,
            (Excluded, Flag) => &mut self.excluded_flags,
            (Excluded, Arg) => &mut self.excluded_args,
            (WrapperOnly, Command) => &mut self.wrapper_only_commands,
            (WrapperOnly, Flag) => &mut self.wrapper_only_flags,
            (WrapperOnly, Arg) => &mut self.wrapper_only_args,
        }
    }

    /// Stable sort of every list by (kind,) path, key/name.
    fn sort(&mut self) {
        for list in [
            &mut self.missing_commands,
            &mut self.missing_flags,
            &mut self.missing_args,
            &mut self.excluded_commands,
            &mut self.excluded_flags,
            &mut self.excluded_args,
            &mut self.passthrough_candidates,
            &mut self.unsupported,
            &mut self.intentionally_unsupported,
            &mut self.wrapper_only_commands,
            &mut self.wrapper_only_flags,
            &mut self.wrapper_only_args,
        ] {
            list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

/// The platform filter of one report.
#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    Any,
    All,
    Exact(&'a str),
}

/// Everything one run's reports share.
struct Ctx<'a> {
    version: &'a str,
    generated_at: &'a str,
    rules_schema_version: i64,
    space: &'a TargetSpace,
    index: WrapperIndex,
    wrapper: &'a WrapperCoverage,
    upstream: &'a UnionView,
    exclusions: &'a Exclusions,
}

/// One report being computed: its mode, targets and IU roots.
struct Pass<'a> {
    ctx: &'a Ctx<'a>,
    mode: Mode<'a>,
    /// The report targets (`inputs.upstream.targets`), as a set.
    report_set: Targets,
    /// Targets wrapper entries are resolved against.
    relevant: Targets,
    roots: IuRoots,
}

impl<'a> Ctx<'a> {
    /// Every report of the run, as (file name, JSON text), in the reference's order.
    fn all_reports(&self) -> Result<Vec<(String, String)>> {
        let inputs: Vec<String> = self
            .upstream
            .inputs
            .iter()
            .map(|i| i.target_triple.clone())
            .collect();
        let mut out = vec![(
            "coverage.any.json".to_string(),
            self.report(Mode::Any, &inputs)?,
        )];
        for t in &inputs {
            let json = self.report(Mode::Exact(t), std::slice::from_ref(t))?;
            out.push((format!("coverage.{t}.json"), json));
        }
        if self.upstream.complete {
            let union_expected = &self.upstream.expected_targets;
            if !self
                .space
                .expected
                .iter()
                .all(|t| union_expected.contains(t))
            {
                bail!(
                    "cannot generate platform_filter.mode=all with an incomplete union target set"
                );
            }
            out.push((
                "coverage.all.json".to_string(),
                self.report(Mode::All, union_expected)?,
            ));
        }
        Ok(out)
    }

    fn report(&self, mode: Mode<'_>, targets: &[String]) -> Result<String> {
        let report_set: Targets = targets.iter().cloned().collect();
        let relevant = match mode {
            Mode::Any => report_set.clone(),
            Mode::Exact(t) => Targets::from([t.to_string()]),
            Mode::All => self.space.expected.iter().cloned().collect(),
        };
        let roots = IuRoots::collect(&self.index, &relevant)?;
        let pass = Pass {
            ctx: self,
            mode,
            report_set,
            relevant,
            roots,
        };
        let mut deltas = pass.deltas()?;
        deltas.sort();
        let (mode_name, target_triple) = match mode {
            Mode::Any => ("any", None),
            Mode::All => ("all", None),
            Mode::Exact(t) => ("exact_target", Some(t)),
        };
        let report = CoverageReport {
            schema_version: 1,
            generated_at: self.generated_at,
            inputs: ReportInputs {
                upstream: UpstreamInputs {
                    semantic_version: self.version,
                    mode: "union",
                    targets: targets.to_vec(),
                },
                wrapper: WrapperInputs {
                    schema_version: self.wrapper.schema_version,
                    wrapper_version: self.wrapper.wrapper_version.as_deref(),
                },
                rules: RulesInputs {
                    rules_schema_version: self.rules_schema_version,
                },
            },
            platform_filter: PlatformFilter {
                mode: mode_name,
                target_triple,
            },
            deltas,
        };
        common::to_json_pretty(&report)
    }
}

const NO_ENTRIES: &[Scoped] = &[];

impl Pass<'_> {
    /// Is a unit with this availability visible in the report (§4.3 present_on_filter)?
    fn on_filter(&self, available_on: &[String]) -> bool {
        match self.mode {
            Mode::Any => available_on.iter().any(|t| self.report_set.contains(t)),
            Mode::Exact(t) => available_on.iter().any(|a| a == t),
            Mode::All => self
                .ctx
                .space
                .expected
                .iter()
                .all(|t| available_on.contains(t)),
        }
    }

    /// Does the resolution count as present for wrapper-only detection?
    fn wrapper_present(&self, r: &Resolution) -> bool {
        match self.mode {
            Mode::Any => !r.targets.is_empty(),
            Mode::Exact(t) => r.targets.contains(t),
            Mode::All => self
                .ctx
                .space
                .expected
                .iter()
                .all(|t| r.targets.contains(t)),
        }
    }

    fn resolve(&self, entries: Option<&Vec<Scoped>>, unit: UnitRef<'_>) -> Result<Resolution> {
        coverage::resolve(
            entries.map_or(NO_ENTRIES, Vec::as_slice),
            &self.relevant,
            unit,
        )
    }

    /// The IU root a unit without own level inherits from.
    fn inherited(&self, unit: UnitRef<'_>, available_on: &[String]) -> Result<Option<String>> {
        let relevant: Targets = available_on
            .iter()
            .filter(|t| self.report_set.contains(*t))
            .cloned()
            .collect();
        Ok(self.roots.inherit(unit, &relevant)?.map(|r| r.note.clone()))
    }

    fn deltas(&self) -> Result<Deltas> {
        let mut d = Deltas::default();
        for cmd in &self.ctx.upstream.commands {
            if !self.on_filter(&cmd.available_on) {
                continue;
            }
            let unit = UnitRef {
                kind: UnitKind::Command,
                path: &cmd.path,
                id: None,
            };
            if !self.classify(&mut d, unit, &cmd.available_on)? {
                continue;
            }
            for (kind, id, avail) in cmd.members() {
                if self.on_filter(avail) {
                    let unit = UnitRef {
                        kind,
                        path: &cmd.path,
                        id: Some(id),
                    };
                    self.classify(&mut d, unit, avail)?;
                }
            }
        }
        self.wrapper_only(&mut d)?;
        Ok(d)
    }

    /// Puts one upstream unit in the delta list its wrapper level says. Returns false when it
    /// is excluded (the flags and args of an excluded command are not reported).
    fn classify(&self, d: &mut Deltas, unit: UnitRef<'_>, avail: &[String]) -> Result<bool> {
        let res = self.resolve(self.ctx.index.get(unit), unit)?;
        if let Some(ex) = self.ctx.exclusions.get(unit) {
            let delta = Delta::new(unit, avail, res.level, ex.note.clone());
            d.list(Category::Excluded, unit.kind).push(delta);
            return Ok(false);
        }
        let Some(level) = res.level.as_deref() else {
            match self.inherited(unit, avail)? {
                Some(note) => d
                    .intentionally_unsupported
                    .push(iu_delta(unit, avail, note)),
                None => d
                    .list(Category::Missing, unit.kind)
                    .push(Delta::new(unit, avail, None, None)),
            }
            return Ok(true);
        };
        let command = unit.kind == UnitKind::Command;
        let list = match level {
            IU => {
                let note = coverage::require_iu_note(res.note, unit)?;
                d.intentionally_unsupported
                    .push(iu_delta(unit, avail, note));
                return Ok(true);
            }
            "explicit" => return Ok(true),
            "passthrough" if !command => return Ok(true),
            "passthrough" => &mut d.passthrough_candidates,
            "unsupported" if command => &mut d.unsupported,
            _ => d.list(Category::Missing, unit.kind),
        };
        list.push(Delta::new(unit, avail, res.level, res.note));
        Ok(true)
    }

    /// Wrapper identities with no upstream unit visible in this report (§4.5).
    fn wrapper_only(&self, d: &mut Deltas) -> Result<()> {
        let space = self.ctx.space;
        let upstream: BTreeMap<&[String], &UnionCommandView> = self
            .ctx
            .upstream
            .commands
            .iter()
            .map(|c| (c.path.as_slice(), c))
            .collect();
        for (key, entries) in &self.ctx.index.units {
            let unit = key.unit_ref();
            let res = self.resolve(Some(entries), unit)?;
            if !self.wrapper_present(&res) {
                continue;
            }
            let (avail, present) = match (upstream.get(unit.path), unit.id) {
                (None, _) => (space.in_expected_order(&res.targets), false),
                (Some(c), None) => (c.available_on.clone(), self.on_filter(&c.available_on)),
                (Some(c), Some(id)) => match c.member(unit.kind, id) {
                    Some(on) => (on.to_vec(), self.on_filter(on)),
                    None => (c.available_on.clone(), false),
                },
            };
            if !present {
                let delta = Delta::new(unit, &avail, res.level, res.note);
                d.list(Category::WrapperOnly, unit.kind).push(delta);
            }
        }
        Ok(())
    }
}

fn iu_delta(unit: UnitRef<'_>, avail: &[String], note: String) -> Delta {
    Delta::new(unit, avail, Some(IU.to_string()), Some(note))
}

/// `parity rule report` (reference `codex-report`).
pub const COMMAND: drop_in::Command<drop_in::RootVersion> = drop_in::Command {
    name: "report",
    aliases: &["codex-report"],
    about: "Write the coverage reports of a version (reference `codex-report`)",
    run: |a| {
        drop_in::done(run(&ReportOptions {
            root: a.root,
            version: a.version,
            rules: a.rules,
            epoch: None,
        }))
    },
};
