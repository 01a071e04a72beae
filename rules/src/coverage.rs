//! The wrapper coverage manifest `wrapper_coverage.json` and its scope resolution (spec §3).
//!
//! [`WrapperCoverage`] is the file as read (permissively; the validator reads it too);
//! [`WrapperIndex`] resolves every entry's scope to a target set (§3.3, the report/metadata
//! variant: no scope = every expected target, a present-but-empty scope = no target, flag/arg
//! sets are intersected with their command entry's) and groups entries by unit identity.
//! [`resolve`] combines the entries of one identity that apply to a set of relevant targets
//! (§4.3); [`IuRoots`] is the IU subtree inheritance of ADR 0004 (§4.4), shared by reports and
//! version metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::common::display_path;
use crate::unit::{UnitKey, UnitKind, UnitRef};

/// The `intentionally_unsupported` level.
pub const IU: &str = "intentionally_unsupported";

/// A set of target triples (byte-sorted).
pub type Targets = BTreeSet<String>;

/// `wrapper_coverage.json` (schema `WrapperCoverageV1`); unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct WrapperCoverage {
    /// Must be 1.
    pub schema_version: u32,
    /// Version of the wrapper crate the manifest describes.
    #[serde(default)]
    pub wrapper_version: Option<String>,
    /// Command entries.
    pub coverage: Vec<CommandEntry>,
}

/// One command entry of the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandEntry {
    /// Command path.
    pub path: Vec<String>,
    /// Coverage level (snake_case).
    pub level: String,
    /// Free-text rationale.
    #[serde(default)]
    pub note: Option<String>,
    /// Optional platform / target scope.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Flag entries of exactly this path.
    #[serde(default)]
    pub flags: Vec<UnitEntry<FlagId>>,
    /// Arg entries of exactly this path.
    #[serde(default)]
    pub args: Vec<UnitEntry<ArgId>>,
}

/// A flag or arg entry of a command entry, whichever it is.
#[derive(Debug, Clone, Copy)]
pub struct MemberEntry<'a> {
    /// Flag or arg.
    pub kind: UnitKind,
    /// Its position in the command entry's `flags` or `args`.
    pub index: usize,
    /// Flag key or arg name.
    pub id: &'a str,
    /// Coverage level.
    pub level: &'a str,
    /// Free-text rationale.
    pub note: Option<&'a String>,
    /// Optional scope.
    pub scope: Option<&'a Scope>,
}

impl CommandEntry {
    /// The flag entries, then the arg entries.
    pub fn members(&self) -> impl Iterator<Item = MemberEntry<'_>> {
        let flags = (self.flags.iter().enumerate())
            .map(|(i, f)| MemberEntry::of(UnitKind::Flag, i, &f.id.key, f));
        let args = (self.args.iter().enumerate())
            .map(|(i, a)| MemberEntry::of(UnitKind::Arg, i, &a.id.name, a));
        flags.chain(args)
    }
}

impl<'a> MemberEntry<'a> {
    fn of<Id>(kind: UnitKind, index: usize, id: &'a str, e: &'a UnitEntry<Id>) -> Self {
        MemberEntry {
            kind,
            index,
            id,
            level: &e.level,
            note: e.note.as_ref(),
            scope: e.scope.as_ref(),
        }
    }
}

/// The identity field of a flag entry.
#[derive(Debug, Clone, Deserialize)]
pub struct FlagId {
    /// Flag key (`--long` or `-s`).
    pub key: String,
}

/// The identity field of an arg entry.
#[derive(Debug, Clone, Deserialize)]
pub struct ArgId {
    /// Arg name.
    pub name: String,
}

/// A flag or arg entry.
#[derive(Debug, Clone, Deserialize)]
pub struct UnitEntry<Id> {
    /// `key` or `name`.
    #[serde(flatten)]
    pub id: Id,
    /// Coverage level.
    pub level: String,
    /// Free-text rationale.
    #[serde(default)]
    pub note: Option<String>,
    /// Optional scope.
    #[serde(default)]
    pub scope: Option<Scope>,
}

/// An entry scope.
#[derive(Debug, Clone, Deserialize)]
pub struct Scope {
    /// Platform labels (`linux`, `macos`, `windows`).
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
    /// Target triples.
    #[serde(default)]
    pub target_triples: Option<Vec<String>>,
}

/// Reads `<root>/wrapper_coverage.json` and checks its `schema_version`.
pub fn read(path: &Path) -> Result<WrapperCoverage> {
    if !path.is_file() {
        bail!("missing required input file: {}", path.display());
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("I/O error: failed to read `{}`", path.display()))?;
    let kind: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("failed to parse JSON: `{}`", path.display()))?;
    if kind
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        != Some(1)
    {
        bail!(
            "invalid wrapper coverage kind in {} (expected schema_version=1)",
            path.display()
        );
    }
    serde_json::from_value(kind)
        .with_context(|| format!("failed to parse JSON: `{}`", path.display()))
}

/// One entry with its resolved target set; `index` is the position of its command entry.
#[derive(Debug, Clone)]
pub struct Scoped {
    /// Index of the enclosing command entry in `coverage[]`.
    pub index: usize,
    /// Resolved targets.
    pub targets: Targets,
    /// Level.
    pub level: String,
    /// Note, verbatim.
    pub note: Option<String>,
}

/// Wrapper entries grouped by unit identity, in identity order (commands, flags, args).
#[derive(Debug, Default)]
pub struct WrapperIndex {
    /// By identity.
    pub units: BTreeMap<UnitKey, Vec<Scoped>>,
}

impl WrapperIndex {
    /// The entries of `unit`.
    pub fn get(&self, unit: UnitRef<'_>) -> Option<&Vec<Scoped>> {
        self.units.get(&unit.key())
    }

    /// The command entries by path.
    pub fn commands(&self) -> impl Iterator<Item = (&[String], &Vec<Scoped>)> {
        self.units
            .iter()
            .filter(|(k, _)| k.kind == UnitKind::Command)
            .map(|(k, v)| (k.path.as_slice(), v))
    }
}

/// The expected targets and their platform labels (RULES `union`).
#[derive(Debug, Clone)]
pub struct TargetSpace {
    /// Expected targets, RULES order.
    pub expected: Vec<String>,
    /// target → platform label.
    pub platform_mapping: BTreeMap<String, String>,
}

impl TargetSpace {
    /// §3.3: no scope → all expected; else triples ∩ expected ∪ targets whose label is listed.
    pub fn resolve_scope(&self, scope: Option<&Scope>) -> Targets {
        let Some(scope) = scope else {
            return self.expected.iter().cloned().collect();
        };
        let mut out = Targets::new();
        for t in scope.target_triples.iter().flatten() {
            if self.expected.contains(t) {
                out.insert(t.clone());
            }
        }
        if let Some(platforms) = &scope.platforms {
            for t in &self.expected {
                if self
                    .platform_mapping
                    .get(t)
                    .is_some_and(|p| platforms.contains(p))
                {
                    out.insert(t.clone());
                }
            }
        }
        out
    }

    /// `targets` in expected order.
    pub fn in_expected_order(&self, targets: &Targets) -> Vec<String> {
        self.expected
            .iter()
            .filter(|t| targets.contains(*t))
            .cloned()
            .collect()
    }

    /// Groups the manifest's entries by identity with resolved target sets.
    pub fn index(&self, wrapper: &WrapperCoverage) -> WrapperIndex {
        let mut idx = WrapperIndex::default();
        for (index, cmd) in wrapper.coverage.iter().enumerate() {
            let cmd_targets = self.resolve_scope(cmd.scope.as_ref());
            let scoped = |level: &str, note: Option<&String>, targets: Targets| Scoped {
                index,
                targets,
                level: level.to_string(),
                note: note.cloned(),
            };
            for m in cmd.members() {
                let t = &self.resolve_scope(m.scope) & &cmd_targets;
                let key = UnitKey::member(m.kind, &cmd.path, m.id);
                let entries = idx.units.entry(key).or_default();
                entries.push(scoped(m.level, m.note, t));
            }
            let entry = scoped(&cmd.level, cmd.note.as_ref(), cmd_targets);
            let key = UnitKey::command(&cmd.path);
            idx.units.entry(key).or_default().push(entry);
        }
        idx
    }
}

/// Prefix of every wrapper-resolution error.
pub fn resolution_error(unit: UnitRef<'_>, detail: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "unsupported or inconsistent wrapper coverage for {}: {detail}",
        unit.kind.as_str()
    )
}

/// The entries of one identity that apply to the relevant targets, combined (§4.3).
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// Union of the entries' intersections with the relevant targets.
    pub targets: Targets,
    /// The single distinct level, if any entry applies.
    pub level: Option<String>,
    /// First non-empty trimmed note, lowest command-entry index first.
    pub note: Option<String>,
}

/// Combines `entries` over `relevant`; two or more distinct levels are an error.
pub fn resolve(entries: &[Scoped], relevant: &Targets, unit: UnitRef<'_>) -> Result<Resolution> {
    let mut out = Resolution::default();
    let mut levels = BTreeSet::new();
    let mut notes: BTreeMap<usize, &str> = BTreeMap::new();
    for e in entries {
        let hit: Targets = &e.targets & relevant;
        if hit.is_empty() {
            continue;
        }
        out.targets.extend(hit);
        levels.insert(e.level.as_str());
        if let Some(n) = e.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            notes.entry(e.index).or_insert(n);
        }
    }
    if levels.len() > 1 {
        return Err(resolution_error(
            unit,
            format!("{unit} has multiple wrapper levels across relevant scopes"),
        ));
    }
    out.level = levels.into_iter().next().map(str::to_string);
    out.note = notes.into_values().next().map(str::to_string);
    Ok(out)
}

/// An IU subtree root: a command path whose resolved level is IU, with its targets and note.
#[derive(Debug, Clone)]
pub struct IuRoot {
    /// The root path.
    pub path: Vec<String>,
    /// Targets the root's entries cover (among the relevant ones).
    pub targets: Targets,
    /// The root's trimmed, non-empty note.
    pub note: String,
}

/// IU subtree roots ordered deepest first, then by path (§4.4).
#[derive(Debug, Clone, Default)]
pub struct IuRoots(Vec<IuRoot>);

impl IuRoots {
    /// The roots among `idx`'s command entries, resolved over `relevant`.
    pub fn collect(idx: &WrapperIndex, relevant: &Targets) -> Result<Self> {
        let mut roots = Vec::new();
        for (path, entries) in idx.commands() {
            if !entries.iter().any(|e| e.level == IU) {
                continue;
            }
            let unit = UnitRef {
                kind: UnitKind::Command,
                path,
                id: None,
            };
            let r = resolve(entries, relevant, unit)?;
            if r.level.as_deref() != Some(IU) {
                continue;
            }
            let note = require_iu_note(r.note, unit)?;
            roots.push(IuRoot {
                path: path.to_vec(),
                targets: r.targets,
                note,
            });
        }
        roots.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then_with(|| a.path.cmp(&b.path))
        });
        Ok(IuRoots(roots))
    }

    /// The root a unit at `path`, upstream on `relevant` targets, inherits IU from.
    /// A root covering only part of `relevant` is an error.
    pub fn inherit(&self, unit: UnitRef<'_>, relevant: &Targets) -> Result<Option<&IuRoot>> {
        if relevant.is_empty() {
            return Ok(None);
        }
        for root in &self.0 {
            if !unit.path.starts_with(&root.path) {
                continue;
            }
            let overlap: Targets = relevant & &root.targets;
            if overlap.is_empty() {
                continue;
            }
            if overlap != *relevant {
                return Err(resolution_error(
                    unit,
                    format!(
                        "IU subtree root scope mismatch: root_path={} does not cover all upstream targets for unit_path={} (root_targets={} unit_targets={})",
                        display_path(&root.path),
                        display_path(unit.path),
                        join(&root.targets),
                        join(relevant),
                    ),
                ));
            }
            return Ok(Some(root));
        }
        Ok(None)
    }
}

/// The note an IU level requires: trimmed and non-empty.
pub fn require_iu_note(note: Option<String>, unit: UnitRef<'_>) -> Result<String> {
    match note {
        Some(n) if !n.trim().is_empty() => Ok(n.trim().to_string()),
        _ => Err(resolution_error(
            unit,
            format!("{unit} {IU} requires non-empty note"),
        )),
    }
}

fn join(targets: &Targets) -> String {
    targets
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}
