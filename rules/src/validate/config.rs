//! RULES.json as the validator reads it (fatal when malformed) and the parity-exclusions
//! config checks (spec §6.3 A).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use regex::Regex;
use semver::Version;
use serde::Deserialize;

use super::{Ctx, Violation, format_cp};

#[derive(Debug, Deserialize)]
struct Rules {
    union: UnionRules,
    versioning: Versioning,
    wrapper_coverage: WrapperRules,
    #[serde(default)]
    parity_exclusions: Option<ParityExclusions>,
}

#[derive(Debug, Deserialize)]
struct UnionRules {
    required_target: String,
    expected_targets: Vec<String>,
    platform_mapping: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Versioning {
    pointers: PointerRules,
}

#[derive(Debug, Deserialize)]
struct PointerRules {
    stable_semver_pattern: String,
    #[serde(default)]
    root_pointers_allow_none: bool,
}

#[derive(Debug, Deserialize)]
struct WrapperRules {
    scope_semantics: ScopeSemantics,
    validation: WrapperValidation,
}

#[derive(Debug, Deserialize)]
struct ScopeSemantics {
    defaults: ScopeDefaults,
    platforms_expand_to_expected_targets: bool,
    platforms_expand_using: String,
    scope_set_resolution: ScopeSetResolution,
}

#[derive(Debug, Deserialize)]
struct ScopeDefaults {
    no_scope_means: String,
}

#[derive(Debug, Deserialize)]
struct ScopeSetResolution {
    mode: String,
}

#[derive(Debug, Deserialize)]
struct WrapperValidation {
    disallow_overlapping_scopes: bool,
    overlap_units: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ParityExclusions {
    schema_version: u32,
    units: Vec<ExclusionUnit>,
}

/// One `parity_exclusions.units[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct ExclusionUnit {
    unit: String,
    path: Vec<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    pub(super) category: Option<String>,
    pub(super) note: String,
}

/// The parts of RULES.json the validator uses, checked for the values it supports.
#[derive(Debug)]
pub(super) struct RulesView {
    pub(super) required_target: String,
    pub(super) expected_targets: Vec<String>,
    pub(super) platform_mapping: BTreeMap<String, String>,
    stable_semver: Regex,
    pub(super) root_pointers_allow_none: bool,
    pub(super) platforms_expand: bool,
    pub(super) disallow_overlaps: bool,
    pub(super) overlap_units: Vec<String>,
    exclusions: Option<ParityExclusions>,
}

impl RulesView {
    /// Reads RULES.json; any problem is fatal.
    pub(super) fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        let rules: Rules = serde_json::from_slice(&bytes)
            .with_context(|| format!("invalid RULES.json `{}`", path.display()))?;
        let pattern = &rules.versioning.pointers.stable_semver_pattern;
        let stable_semver = Regex::new(pattern).with_context(
            || "invalid RULES.json: invalid versioning.pointers.stable_semver_pattern",
        )?;
        let sem = &rules.wrapper_coverage.scope_semantics;
        if sem.platforms_expand_using != "union.platform_mapping" {
            bail!(
                "invalid RULES.json: unsupported wrapper_coverage.scope_semantics.platforms_expand_using={} (expected union.platform_mapping)",
                sem.platforms_expand_using
            );
        }
        if sem.defaults.no_scope_means != "all_expected_targets" {
            bail!(
                "invalid RULES.json: unsupported wrapper_coverage.scope_semantics.defaults.no_scope_means={} (expected all_expected_targets)",
                sem.defaults.no_scope_means
            );
        }
        if sem.scope_set_resolution.mode != "union" {
            bail!(
                "invalid RULES.json: unsupported wrapper_coverage.scope_semantics.scope_set_resolution.mode={} (expected union)",
                sem.scope_set_resolution.mode
            );
        }
        Ok(RulesView {
            platforms_expand: sem.platforms_expand_to_expected_targets,
            required_target: rules.union.required_target,
            expected_targets: rules.union.expected_targets,
            platform_mapping: rules.union.platform_mapping,
            stable_semver,
            root_pointers_allow_none: rules.versioning.pointers.root_pointers_allow_none,
            disallow_overlaps: rules
                .wrapper_coverage
                .validation
                .disallow_overlapping_scopes,
            overlap_units: rules.wrapper_coverage.validation.overlap_units,
            exclusions: rules.parity_exclusions,
        })
    }

    /// A strict stable version: matches the RULES pattern and parses as SemVer.
    pub(super) fn stable_version(&self, s: &str) -> Option<Version> {
        if !self.stable_semver.is_match(s) {
            return None;
        }
        Version::parse(s).ok()
    }

    /// The lookup of excluded units, active only for `schema_version == 1`.
    pub(super) fn exclusion_index(&self) -> Option<ExclusionIndex> {
        let ex = self
            .exclusions
            .as_ref()
            .filter(|ex| ex.schema_version == 1)?;
        let mut index = ExclusionIndex::default();
        for u in &ex.units {
            match (u.unit.as_str(), &u.key, &u.name) {
                ("command", _, _) => {
                    index.commands.insert(u.path.clone(), u.clone());
                }
                ("flag", Some(key), _) => {
                    index.flags.insert((u.path.clone(), key.clone()), u.clone());
                }
                ("arg", _, Some(name)) => {
                    index.args.insert((u.path.clone(), name.clone()), u.clone());
                }
                _ => {}
            }
        }
        Some(index)
    }
}

/// Excluded commands, flags `(path, key)` and args `(path, name)`.
#[derive(Debug, Default)]
pub(super) struct ExclusionIndex {
    pub(super) commands: BTreeMap<Vec<String>, ExclusionUnit>,
    pub(super) flags: BTreeMap<(Vec<String>, String), ExclusionUnit>,
    pub(super) args: BTreeMap<(Vec<String>, String), ExclusionUnit>,
}

/// Spec §6.3 A: the `parity_exclusions` section itself.
pub(super) fn check_exclusions(ctx: &Ctx, out: &mut Vec<Violation>) {
    let Some(ex) = ctx.rules.exclusions.as_ref() else {
        return;
    };
    let path = "RULES.json";
    let base = |code, msg: String| {
        Violation::new(code, path, msg)
            .unit("rules")
            .field("parity_exclusions")
    };
    if ex.schema_version != 1 {
        let msg = format!(
            "parity_exclusions.schema_version must be 1 (got {})",
            ex.schema_version
        );
        out.push(
            base("PARITY_EXCLUSIONS_SCHEMA_VERSION", msg).ptr("/parity_exclusions/schema_version"),
        );
        return;
    }
    let mut identities = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, u) in ex.units.iter().enumerate() {
        let at = |suffix: &str| format!("/parity_exclusions/units/{i}{suffix}");
        let cp = format_cp(&u.path);
        let invalid = |suffix: &str, msg: &str, key: Option<&String>| {
            base("PARITY_EXCLUSIONS_INVALID_ENTRY", msg.to_string())
                .ptr(at(suffix))
                .cmd(cp.clone())
                .key(key.cloned())
        };
        if u.note.trim().is_empty() {
            let key = u
                .key
                .clone()
                .or_else(|| u.name.clone())
                .unwrap_or_else(|| u.unit.clone());
            out.push(
                base(
                    "PARITY_EXCLUSIONS_NOTE_MISSING",
                    "parity_exclusions entry requires non-empty note".into(),
                )
                .ptr(at("/note"))
                .cmd(cp.clone())
                .key(Some(key)),
            );
        }
        let key_or_name = match u.unit.as_str() {
            "command" => {
                if u.key.is_some() || u.name.is_some() {
                    out.push(invalid(
                        "",
                        "parity_exclusions command entry must not include key or name",
                        None,
                    ));
                }
                String::new()
            }
            "flag" => {
                let Some(key) = u.key.as_ref().filter(|k| !k.trim().is_empty()) else {
                    out.push(invalid(
                        "/key",
                        "parity_exclusions flag entry requires key",
                        None,
                    ));
                    continue;
                };
                if u.name.is_some() {
                    out.push(invalid(
                        "/name",
                        "parity_exclusions flag entry must not include name",
                        Some(key),
                    ));
                }
                key.clone()
            }
            "arg" => {
                let Some(name) = u.name.as_ref().filter(|n| !n.trim().is_empty()) else {
                    out.push(invalid(
                        "/name",
                        "parity_exclusions arg entry requires name",
                        None,
                    ));
                    continue;
                };
                if u.key.is_some() {
                    out.push(invalid(
                        "/key",
                        "parity_exclusions arg entry must not include key",
                        Some(name),
                    ));
                }
                name.clone()
            }
            other => {
                let msg = format!(
                    "parity_exclusions entry unit must be one of command|flag|arg (got {other})"
                );
                out.push(invalid("/unit", &msg, None));
                continue;
            }
        };
        let identity = (u.unit.clone(), u.path.clone(), key_or_name.clone());
        if !seen.insert(identity.clone()) {
            let msg = format!(
                "duplicate parity_exclusions identity (unit={} command_path={cp} key_or_name={key_or_name})",
                u.unit
            );
            out.push(
                base("PARITY_EXCLUSIONS_DUPLICATE", msg)
                    .ptr("/parity_exclusions/units")
                    .cmd(cp.clone())
                    .key(Some(key_or_name)),
            );
        }
        identities.push(identity);
    }
    if !identities.is_sorted() {
        let msg = "parity_exclusions.units must be stable-sorted by (unit,path,key_or_name)";
        out.push(base("PARITY_EXCLUSIONS_NOT_SORTED", msg.into()).ptr("/parity_exclusions/units"));
    }
}
