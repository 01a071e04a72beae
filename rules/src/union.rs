//! Union of per-target snapshots (spec §2).
//!
//! Reads `<root>/snapshots/<V>/<target>.json` for every expected target (expected order), merges
//! commands / flags / args by identity, records per-field conflicts and writes one file,
//! `<root>/snapshots/<V>/union.json`, atomically at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules_json::RulesJson;
use crate::snapshot::Cli;
use crate::snapshot::model::{ArgEntry, Binary, CommandEntry, FlagEntry, Snapshot};
use crate::unit::UnitKind;
use crate::{common, drop_in};

/// `parity rule codex-union` / `claude-union` options.
#[derive(Debug, Clone)]
pub struct UnionOptions {
    /// Which CLI's snapshots: their `tool`, and the raw help layout of conflict evidence.
    pub cli: Cli,
    /// The parity root (`cli_manifests/codex`).
    pub root: PathBuf,
    /// The version whose `snapshots/<V>/` are merged.
    pub version: String,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH given by the caller (a pipeline node); `None` reads the environment.
    pub epoch: Option<i64>,
}

/// Writes `<root>/snapshots/<V>/union.json`.
pub fn run(opts: &UnionOptions) -> Result<()> {
    let root = canonical_root(&opts.root);
    let rules = RulesJson::of_root(&root, opts.rules.as_deref())?;
    let cfg = UnionConfig::of(&rules, opts.cli)?;
    let inputs = load_inputs(&root, &opts.version, &cfg)?;
    let union = build(
        &root,
        &opts.version,
        &cfg,
        &inputs,
        common::timestamp_for(opts.epoch)?,
    );
    let out = root
        .join("snapshots")
        .join(&opts.version)
        .join("union.json");
    common::write_json(&out, &union)
}

/// `--root` canonicalized when possible, else the literal path (spec §0.4).
pub(crate) fn canonical_root(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

// ---------------------------------------------------------------------------------------------
// RULES

/// The checked RULES values the union needs.
#[derive(Debug)]
struct UnionConfig {
    cli: Cli,
    expected: Vec<String>,
    required: String,
    same_tool: bool,
    same_semver: bool,
    need_semver: bool,
    dedupe_against_root: bool,
}

impl UnionConfig {
    fn of(rules: &RulesJson, cli: Cli) -> Result<UnionConfig> {
        let bad = rules.sorting_mismatches(&[
            ("commands", "lexicographic_path"),
            ("flags", "by_key_then_long_then_short"),
            ("args", "by_name"),
            ("inputs", "rules_expected_targets_order"),
            ("available_on", "rules_expected_targets_order"),
            ("conflicts", "by_unit_then_path_then_key_or_name_then_field"),
        ]);
        if !bad.is_empty() {
            bail!(
                "invalid rules file: unsupported sorting rules: {}",
                bad.join(", ")
            );
        }
        let mut dedupe = false;
        if let Some(m) = &rules.globals.effective_flags_model {
            let n = &m.union_normalization;
            if m.enabled && n.dedupe_per_command_flags_against_root {
                let key = n.dedupe_key.trim();
                if !key.is_empty() && key != "flag_key" {
                    bail!(
                        "invalid rules file: unsupported globals.effective_flags_model.union_normalization.dedupe_key={key}"
                    );
                }
                dedupe = true;
            }
        }
        let u = &rules.union;
        Ok(UnionConfig {
            cli,
            required: rules.required_target()?.to_string(),
            expected: rules.expected_targets()?.to_vec(),
            same_tool: u.require_same_tool,
            same_semver: u.require_same_semantic_version,
            need_semver: u.require_semantic_version,
            dedupe_against_root: dedupe,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Per-target snapshots (input: the snapshot model, read permissively)

/// The snapshots that loaded, in expected order.
struct Inputs {
    present: Vec<(String, Snapshot)>,
}

fn load_inputs(root: &Path, version: &str, cfg: &UnionConfig) -> Result<Inputs> {
    let dir = root.join("snapshots").join(version);
    let mut present = Vec::new();
    for target in &cfg.expected {
        let path = dir.join(format!("{target}.json"));
        if !path.is_file() {
            continue;
        }
        let snap = read_snapshot(&path)?;
        check_snapshot(&path, &snap, version, cfg)?;
        present.push((target.clone(), snap));
    }
    if !present.iter().any(|(t, _)| *t == cfg.required) {
        let path = dir.join(format!("{}.json", cfg.required));
        bail!(
            "missing required snapshot for target {}: {}",
            cfg.required,
            path.display()
        );
    }
    Ok(Inputs { present })
}

fn read_snapshot(path: &Path) -> Result<Snapshot> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("I/O error: failed to read `{}`", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("failed to parse JSON: `{}`", path.display()))
}

fn check_snapshot(path: &Path, s: &Snapshot, version: &str, cfg: &UnionConfig) -> Result<()> {
    let p = path.display();
    let tool = cfg.cli.tool();
    if cfg.same_tool && s.tool != tool {
        bail!(
            "snapshot tool mismatch in {p} (expected {tool}, got {})",
            s.tool
        );
    }
    let semver = &s.binary.semantic_version;
    if cfg.same_semver && semver.as_deref() != Some(version) {
        bail!("snapshot semantic version mismatch in {p} (expected {version}, got {semver:?})");
    }
    if cfg.need_semver && semver.is_none() {
        bail!("snapshot semantic version mismatch in {p} (expected {version}, got None)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Union document (output)

/// `union.json` (snapshot_schema_version 2), fields in the reference order.
#[derive(Debug, Serialize)]
struct UnionSnapshot<'a> {
    snapshot_schema_version: u32,
    tool: &'a str,
    mode: &'a str,
    collected_at: String,
    expected_targets: &'a [String],
    complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_targets: Option<Vec<String>>,
    inputs: Vec<UnionInput<'a>>,
    commands: Vec<UnionCommand>,
}

#[derive(Debug, Serialize)]
struct UnionInput<'a> {
    target_triple: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    collected_at: Option<&'a str>,
    binary: &'a Binary,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    known_omissions: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
struct UnionCommand {
    path: Vec<String>,
    available_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    about: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Vec<UnionArg>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<Vec<UnionFlag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conflicts: Option<Vec<Conflict>>,
}

#[derive(Debug, Serialize)]
struct UnionFlag {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    long: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<String>,
    takes_value: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeatable: Option<bool>,
    available_on: Vec<String>,
}

#[derive(Debug, Serialize)]
struct UnionArg {
    name: String,
    required: bool,
    variadic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    inferred_from_usage: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    available_on: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Conflict {
    unit: &'static str,
    path: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    field: &'static str,
    values_by_target: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_context: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence>,
}

#[derive(Debug, Serialize)]
struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    help_ref_by_target: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_sha256_by_target: Option<BTreeMap<String, String>>,
}

impl Conflict {
    fn unit_rank(&self) -> u8 {
        match self.unit {
            "command" => 0,
            "flag" => 1,
            "arg" => 2,
            _ => 3,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Merge

/// Context shared by the merge of one version.
struct Merge<'a> {
    root: &'a Path,
    version: &'a str,
    cfg: &'a UnionConfig,
}

fn build<'a>(
    root: &Path,
    version: &str,
    cfg: &'a UnionConfig,
    inputs: &'a Inputs,
    collected_at: String,
) -> UnionSnapshot<'a> {
    let present: Vec<&str> = inputs.present.iter().map(|(t, _)| t.as_str()).collect();
    let missing: Vec<String> = cfg
        .expected
        .iter()
        .filter(|t| !present.contains(&t.as_str()))
        .cloned()
        .collect();
    let m = Merge { root, version, cfg };
    let mut by_path: BTreeMap<&[String], Vec<(&str, &CommandEntry)>> = BTreeMap::new();
    for (target, snap) in &inputs.present {
        for cmd in &snap.commands {
            by_path
                .entry(cmd.path.as_slice())
                .or_default()
                .push((target.as_str(), cmd));
        }
    }
    let mut commands: Vec<UnionCommand> = by_path
        .into_iter()
        .map(|(path, entries)| m.command(path, &entries))
        .collect();
    if cfg.dedupe_against_root {
        dedupe_against_root(&mut commands);
    }
    UnionSnapshot {
        snapshot_schema_version: 2,
        tool: cfg.cli.tool(),
        mode: "union",
        collected_at,
        expected_targets: &cfg.expected,
        complete: missing.is_empty(),
        missing_targets: (!missing.is_empty()).then_some(missing),
        inputs: inputs
            .present
            .iter()
            .map(|(t, s)| UnionInput {
                target_triple: t,
                collected_at: s.collected_at.as_deref(),
                binary: &s.binary,
                features: s.features.as_ref(),
                known_omissions: s.known_omissions.as_deref(),
            })
            .collect(),
        commands,
    }
}

impl Merge<'_> {
    /// `targets` reordered into expected order (each listed once).
    fn in_expected_order(&self, targets: &[&str]) -> Vec<String> {
        self.cfg
            .expected
            .iter()
            .filter(|t| targets.contains(&t.as_str()))
            .cloned()
            .collect()
    }

    /// The canonical entry: the required target's, else the first expected target's.
    fn canonical<'e, T>(&self, entries: &[(&str, &'e T)]) -> &'e T {
        if let Some((_, e)) = entries.iter().find(|(t, _)| *t == self.cfg.required) {
            return e;
        }
        self.cfg
            .expected
            .iter()
            .find_map(|x| {
                entries
                    .iter()
                    .find(|(t, _)| *t == x.as_str())
                    .map(|(_, e)| *e)
            })
            .unwrap_or(entries[0].1)
    }

    fn command(&self, path: &[String], entries: &[(&str, &CommandEntry)]) -> UnionCommand {
        let targets: Vec<&str> = entries.iter().map(|(t, _)| *t).collect();
        let canon = self.canonical(entries);
        let mut conflicts = Vec::new();
        self.conflict(
            &mut conflicts,
            ("command", path, None, None),
            entries,
            &[
                ("about", &|c: &CommandEntry| json_opt(&c.about)),
                ("usage", &|c: &CommandEntry| json_opt(&c.usage)),
            ],
        );

        let flag_groups = group_members(entries, |c| &c.flags, FlagEntry::key);
        let arg_groups = group_members(entries, |c| &c.args, |a| Some(a.name.as_str()));

        let mut flags: Vec<UnionFlag> = Vec::new();
        for (key, group) in &flag_groups {
            let f = self.canonical(group);
            let unit = ("flag", path, Some(*key), None);
            self.conflict(
                &mut conflicts,
                unit,
                group,
                &[
                    ("takes_value", &|f: &FlagEntry| Value::Bool(f.takes_value)),
                    ("value_name", &|f: &FlagEntry| json_opt(&f.value_name)),
                    ("repeatable", &|f: &FlagEntry| {
                        f.repeatable.map_or(Value::Null, Value::Bool)
                    }),
                ],
            );
            flags.push(UnionFlag {
                key: key.to_string(),
                long: f.long.clone(),
                short: f.short.clone(),
                takes_value: f.takes_value,
                value_name: f.value_name.clone(),
                repeatable: f.repeatable,
                available_on: self
                    .in_expected_order(&group.iter().map(|(t, _)| *t).collect::<Vec<_>>()),
            });
        }
        flags.sort_by(|a, b| (&a.key, &a.long, &a.short).cmp(&(&b.key, &b.long, &b.short)));

        let mut args: Vec<UnionArg> = Vec::new();
        for (name, group) in &arg_groups {
            let a = self.canonical(group);
            let unit = ("arg", path, None, Some(*name));
            self.conflict(
                &mut conflicts,
                unit,
                group,
                &[
                    ("required", &|a: &ArgEntry| Value::Bool(a.required)),
                    ("variadic", &|a: &ArgEntry| Value::Bool(a.variadic)),
                ],
            );
            let inferred = a
                .note
                .as_deref()
                .is_some_and(|n| n.trim() == "inferred from usage");
            args.push(UnionArg {
                name: name.to_string(),
                required: a.required,
                variadic: a.variadic,
                inferred_from_usage: inferred.then_some(true),
                note: a.note.clone(),
                available_on: self
                    .in_expected_order(&group.iter().map(|(t, _)| *t).collect::<Vec<_>>()),
            });
        }

        conflicts.sort_by(|a, b| {
            (a.unit_rank(), &a.path, &a.key, &a.name, a.field).cmp(&(
                b.unit_rank(),
                &b.path,
                &b.key,
                &b.name,
                b.field,
            ))
        });
        UnionCommand {
            path: path.to_vec(),
            available_on: self.in_expected_order(&targets),
            about: canon.about.clone(),
            usage: canon.usage.clone(),
            args: (!args.is_empty()).then_some(args),
            flags: (!flags.is_empty()).then_some(flags),
            conflicts: (!conflicts.is_empty()).then_some(conflicts),
        }
    }

    /// Pushes one conflict per tracked field whose values differ among `entries` (≥2 targets).
    #[allow(clippy::type_complexity)]
    fn conflict<T>(
        &self,
        out: &mut Vec<Conflict>,
        (unit, path, key, name): (&'static str, &[String], Option<&str>, Option<&str>),
        entries: &[(&str, &T)],
        fields: &[(&'static str, &dyn Fn(&T) -> Value)],
    ) {
        if entries.len() < 2 {
            return;
        }
        for (field, get) in fields {
            let values: BTreeMap<String, Value> = entries
                .iter()
                .map(|(t, e)| (t.to_string(), get(e)))
                .collect();
            let distinct: BTreeSet<String> = values.values().map(Value::to_string).collect();
            if distinct.len() < 2 {
                continue;
            }
            let help_context = match unit {
                "command" => "Usage",
                "flag" => "Options",
                _ => "Arguments",
            };
            let evidence = self.evidence(path, values.keys());
            out.push(Conflict {
                unit,
                path: path.to_vec(),
                key: key.map(str::to_string),
                name: name.map(str::to_string),
                field,
                values_by_target: values,
                help_context: Some(help_context),
                evidence,
            });
        }
    }

    /// Raw-help references of the command `path` for each target whose help file exists.
    fn evidence<'t>(
        &self,
        path: &[String],
        targets: impl Iterator<Item = &'t String>,
    ) -> Option<Evidence> {
        let mut refs = BTreeMap::new();
        let mut shas = BTreeMap::new();
        for target in targets {
            let rel = PathBuf::from("raw_help")
                .join(self.version)
                .join(target)
                .join(self.cfg.cli.raw_help_file(path));
            let abs = self.root.join(&rel);
            if !abs.is_file() {
                continue;
            }
            let Ok(bytes) = std::fs::read(&abs) else {
                continue;
            };
            refs.insert(target.clone(), rel.display().to_string());
            shas.insert(target.clone(), parity_engine::hash::sha256_hex(&bytes));
        }
        if refs.is_empty() {
            return None;
        }
        Some(Evidence {
            help_ref_by_target: Some(refs),
            help_sha256_by_target: Some(shas),
        })
    }
}

/// The flags (or args) of one command across targets, grouped by identity: per identity, the
/// targets having it in expected order with their entry (within one target, a later duplicate
/// identity wins).
fn group_members<'a, T: 'a>(
    entries: &[(&'a str, &'a CommandEntry)],
    list: impl Fn(&'a CommandEntry) -> &'a Option<Vec<T>>,
    id: impl Fn(&'a T) -> Option<&'a str>,
) -> BTreeMap<&'a str, Vec<(&'a str, &'a T)>> {
    let mut groups: BTreeMap<&str, Vec<(&str, &T)>> = BTreeMap::new();
    for (target, cmd) in entries {
        let mut seen: BTreeMap<&str, &T> = BTreeMap::new();
        for member in list(cmd).iter().flatten() {
            if let Some(k) = id(member) {
                seen.insert(k, member);
            }
        }
        for (k, member) in seen {
            groups.entry(k).or_default().push((target, member));
        }
    }
    groups
}

fn json_opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// Removes from every non-root command the flags (and their conflicts) whose key the root has.
fn dedupe_against_root(commands: &mut [UnionCommand]) {
    let Some(root) = commands.iter().find(|c| c.path.is_empty()) else {
        return;
    };
    let Some(root_flags) = &root.flags else {
        return;
    };
    let keys: BTreeSet<String> = root_flags.iter().map(|f| f.key.clone()).collect();
    if keys.is_empty() {
        return;
    }
    for cmd in commands.iter_mut().filter(|c| !c.path.is_empty()) {
        if let Some(flags) = &mut cmd.flags {
            flags.retain(|f| !keys.contains(&f.key));
            if flags.is_empty() {
                cmd.flags = None;
            }
        }
        if let Some(conflicts) = &mut cmd.conflicts {
            conflicts.retain(|c| {
                !(c.unit == "flag"
                    && c.path == cmd.path
                    && c.key.as_ref().is_some_and(|k| keys.contains(k)))
            });
            if conflicts.is_empty() {
                cmd.conflicts = None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a union back (reports, version metadata)

/// `union.json` as its consumers read it; unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct UnionView {
    /// Must be 2.
    pub snapshot_schema_version: u32,
    /// Must be `union`.
    pub mode: String,
    /// RULES expected targets at union time.
    #[serde(default)]
    pub expected_targets: Vec<String>,
    /// Every expected target loaded.
    #[serde(default)]
    pub complete: bool,
    /// Present targets.
    #[serde(default)]
    pub inputs: Vec<UnionInputView>,
    /// Commands, path order.
    #[serde(default)]
    pub commands: Vec<UnionCommandView>,
}

/// One `inputs[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct UnionInputView {
    /// Target triple.
    pub target_triple: String,
}

/// One union command.
#[derive(Debug, Clone, Deserialize)]
pub struct UnionCommandView {
    /// Path.
    pub path: Vec<String>,
    /// Targets having it.
    #[serde(default)]
    pub available_on: Vec<String>,
    /// Flags.
    #[serde(default)]
    pub flags: Vec<UnionUnitView<FlagKey>>,
    /// Args.
    #[serde(default)]
    pub args: Vec<UnionUnitView<ArgName>>,
}

impl UnionCommandView {
    /// Its flags, then its args: (kind, key or name, targets having it).
    pub fn members(&self) -> impl Iterator<Item = (UnitKind, &str, &[String])> {
        let flags =
            (self.flags.iter()).map(|f| (UnitKind::Flag, f.id.key.as_str(), &f.available_on));
        let args = (self.args.iter()).map(|a| (UnitKind::Arg, a.id.name.as_str(), &a.available_on));
        flags.chain(args).map(|(k, id, on)| (k, id, on.as_slice()))
    }

    /// The targets having its flag or arg `id`, if it has it.
    pub fn member(&self, kind: UnitKind, id: &str) -> Option<&[String]> {
        self.members()
            .find(|(k, i, _)| *k == kind && *i == id)
            .map(|(_, _, on)| on)
    }
}

/// A flag's identity field.
#[derive(Debug, Clone, Deserialize)]
pub struct FlagKey {
    /// Flag key.
    pub key: String,
}

/// An arg's identity field.
#[derive(Debug, Clone, Deserialize)]
pub struct ArgName {
    /// Arg name.
    pub name: String,
}

/// A union flag or arg: identity plus availability.
#[derive(Debug, Clone, Deserialize)]
pub struct UnionUnitView<Id> {
    /// `key` or `name`.
    #[serde(flatten)]
    pub id: Id,
    /// Targets having it.
    #[serde(default)]
    pub available_on: Vec<String>,
}

/// Reads `<root>/snapshots/<V>/union.json` and checks it is a v2 union (spec §4.1 step 4).
pub fn read_union(path: &Path) -> Result<UnionView> {
    if !path.is_file() {
        bail!("missing required input file: {}", path.display());
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("I/O error: failed to read `{}`", path.display()))?;
    let union: UnionView = serde_json::from_slice(&bytes)
        .with_context(|| format!("failed to parse JSON: `{}`", path.display()))?;
    if union.snapshot_schema_version != 2 || union.mode != "union" {
        bail!(
            "invalid union snapshot kind in {} (expected snapshot_schema_version=2, mode=union)",
            path.display()
        );
    }
    Ok(union)
}

/// `parity rule union` (reference `codex-union`).
pub const CODEX_COMMAND: drop_in::Command<drop_in::RootVersion> = drop_in::Command {
    name: "union",
    aliases: &["codex-union"],
    about: "Merge the per-target snapshots of a version into `union.json` (reference `codex-union`)",
    run: |a| {
        drop_in::done(run(&UnionOptions {
            cli: Cli::Codex,
            root: a.root,
            version: a.version,
            rules: a.rules,
            epoch: None,
        }))
    },
};

/// `parity rule claude-union` (reference `claude-union`).
pub const CLAUDE_COMMAND: drop_in::Command<ClaudeRootVersion> = drop_in::Command {
    name: "claude-union",
    aliases: &[],
    about: "Merge Claude Code per-target snapshots into `union.json` (reference `claude-union`)",
    run: |a| {
        drop_in::done(run(&UnionOptions {
            cli: Cli::Claude,
            root: a.root,
            version: a.version,
            rules: a.rules,
            epoch: None,
        }))
    },
};

/// The arguments of `parity rule claude-union`: [`drop_in::RootVersion`] under the Claude Code
/// root.
#[derive(Debug, clap::Args)]
pub struct ClaudeRootVersion {
    /// The parity root.
    #[arg(long, default_value = "cli_manifests/claude_code", value_name = "DIR")]
    root: PathBuf,
    /// The version.
    #[arg(long, value_name = "V")]
    version: String,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    rules: Option<PathBuf>,
}
