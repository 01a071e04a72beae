//! RULES.json as the validator reads it (fatal when malformed) and the parity-exclusions
//! config checks (spec §6.3 A).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use regex::Regex;
use semver::Version;

use super::{Ctx, Violation, format_cp};
use crate::rules_json::{ExclusionUnit, ParityExclusions, RulesJson};
use crate::unit::UnitKind;

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
    /// The validator's view of `rules`; anything missing or unsupported is fatal.
    pub(super) fn of(rules: &RulesJson) -> Result<Self> {
        let fatal = |e: anyhow::Error| e.context("invalid RULES.json");
        let space = rules.target_space().map_err(fatal)?;
        let pointers = rules
            .need(&rules.versioning.pointers, "versioning.pointers")
            .map_err(fatal)?;
        let pattern = rules
            .need(
                &pointers.stable_semver_pattern,
                "versioning.pointers.stable_semver_pattern",
            )
            .map_err(fatal)?;
        let stable_semver = Regex::new(pattern).with_context(
            || "invalid RULES.json: invalid versioning.pointers.stable_semver_pattern",
        )?;
        let wc = &rules.wrapper_coverage;
        let sem = rules
            .need(&wc.scope_semantics, "wrapper_coverage.scope_semantics")
            .map_err(fatal)?;
        let validation = rules
            .need(&wc.validation, "wrapper_coverage.validation")
            .map_err(fatal)?;
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
        if let Some(ex) = &rules.parity_exclusions {
            check_exclusions_shape(rules, ex).map_err(fatal)?;
        }
        Ok(RulesView {
            platforms_expand: sem.platforms_expand_to_expected_targets,
            required_target: rules.required_target().map_err(fatal)?.to_string(),
            expected_targets: space.expected,
            platform_mapping: space.platform_mapping,
            stable_semver,
            root_pointers_allow_none: pointers.root_pointers_allow_none,
            disallow_overlaps: validation.disallow_overlapping_scopes,
            overlap_units: validation.overlap_units.clone(),
            exclusions: rules.parity_exclusions.clone(),
        })
    }

    /// A strict stable version: matches the RULES pattern and parses as SemVer.
    pub(super) fn stable_version(&self, s: &str) -> Option<Version> {
        if !self.stable_semver.is_match(s) {
            return None;
        }
        Version::parse(s).ok()
    }
}

/// What the validator needs of `parity_exclusions` to check it: a `schema_version`, `units`,
/// and each unit's `path` and `note` (an empty note is a violation, a missing one is fatal).
fn check_exclusions_shape(rules: &RulesJson, ex: &ParityExclusions) -> Result<()> {
    rules.need(&ex.schema_version, "parity_exclusions.schema_version")?;
    let units = rules.need(&ex.units, "parity_exclusions.units")?;
    for (i, u) in units.iter().enumerate() {
        rules.need(&u.path, &format!("parity_exclusions.units[{i}].path"))?;
        rules.need(&u.note, &format!("parity_exclusions.units[{i}].note"))?;
    }
    Ok(())
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
    let version = ex.schema_version.unwrap_or_default();
    if version != 1 {
        let msg = format!("parity_exclusions.schema_version must be 1 (got {version})");
        out.push(
            base("PARITY_EXCLUSIONS_SCHEMA_VERSION", msg).ptr("/parity_exclusions/schema_version"),
        );
        return;
    }
    let mut identities = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, u) in ex.units.iter().flatten().enumerate() {
        let at = |suffix: &str| format!("/parity_exclusions/units/{i}{suffix}");
        let cp = format_cp(u.path.as_deref().unwrap_or_default());
        let invalid = |suffix: &str, msg: String, key: Option<&String>| {
            base("PARITY_EXCLUSIONS_INVALID_ENTRY", msg)
                .ptr(at(suffix))
                .cmd(cp.clone())
                .key(key.cloned())
        };
        if u.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
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
        let key_or_name = match UnitKind::parse(&u.unit) {
            Some(UnitKind::Command) => {
                if u.key.is_some() || u.name.is_some() {
                    let msg = "parity_exclusions command entry must not include key or name";
                    out.push(invalid("", msg.into(), None));
                }
                String::new()
            }
            Some(kind) => {
                let (own, other) = member_fields(u, kind);
                let id_field = kind.id_field();
                let Some(id) = own.filter(|k| !k.trim().is_empty()) else {
                    let msg = format!("parity_exclusions {} entry requires {id_field}", u.unit);
                    out.push(invalid(&format!("/{id_field}"), msg, None));
                    continue;
                };
                if other.is_some() {
                    let other_field = if kind == UnitKind::Flag {
                        "name"
                    } else {
                        "key"
                    };
                    let msg = format!(
                        "parity_exclusions {} entry must not include {other_field}",
                        u.unit
                    );
                    out.push(invalid(&format!("/{other_field}"), msg, Some(id)));
                }
                id.clone()
            }
            None => {
                let msg = format!(
                    "parity_exclusions entry unit must be one of command|flag|arg (got {})",
                    u.unit
                );
                out.push(invalid("/unit", msg, None));
                continue;
            }
        };
        let identity = (
            u.unit.clone(),
            u.path.clone().unwrap_or_default(),
            key_or_name.clone(),
        );
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

/// A flag or arg exclusion's own identity field (`key` / `name`) and the other one.
fn member_fields(u: &ExclusionUnit, kind: UnitKind) -> (Option<&String>, Option<&String>) {
    match kind {
        UnitKind::Flag => (u.key.as_ref(), u.name.as_ref()),
        _ => (u.name.as_ref(), u.key.as_ref()),
    }
}
