//! `wrapper_coverage.json` checks (spec §6.3 F), over the same model the reports read
//! ([`crate::coverage::WrapperCoverage`]) after the file passed (or failed) its schema.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{Ctx, Violation, format_cp, schema::read_json};
use crate::coverage::{MemberEntry, Scope, WrapperCoverage};
use crate::unit::{UnitKind, UnitRef};

/// Spec §6.3 F.
pub(super) fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    let path = ctx.root.join("wrapper_coverage.json");
    let rel = ctx.rel(&path);
    let base = |code, msg: String| Violation::new(code, rel.clone(), msg).unit("wrapper_coverage");
    let Some(value) = read_json(ctx, &path, "WRAPPER_COVERAGE_INVALID_JSON", out) else {
        if !path.exists() {
            let msg = "missing required file: wrapper_coverage.json".to_string();
            out.push(base("WRAPPER_COVERAGE_MISSING", msg).field("wrapper_coverage"));
        }
        return;
    };
    ctx.schema
        .check(ctx, &value, &path, "WRAPPER_COVERAGE_SCHEMA_INVALID", out);
    let file: WrapperCoverage = match serde_json::from_value(value) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("failed to parse wrapper_coverage.json for semantic checks: {e}");
            out.push(base("WRAPPER_COVERAGE_PARSE_FAILED", msg).field("wrapper_coverage"));
            return;
        }
    };
    if file.schema_version != 1 {
        let msg = format!(
            "wrapper_coverage.json schema_version must be 1 (got {})",
            file.schema_version
        );
        out.push(
            base("WRAPPER_COVERAGE_SCHEMA_VERSION", msg)
                .ptr("/schema_version")
                .field("schema_version"),
        );
    }
    check_exclusions(ctx, &file, &rel, out);
    check_iu_notes(&file, &rel, out);
    check_overlaps(ctx, &file, &rel, out);
}

fn check_exclusions(ctx: &Ctx, file: &WrapperCoverage, rel: &str, out: &mut Vec<Violation>) {
    let code = "WRAPPER_COVERAGE_INCLUDES_EXCLUDED";
    for (i, cmd) in file.coverage.iter().enumerate() {
        let cp = format_cp(&cmd.path);
        let command = UnitRef {
            kind: UnitKind::Command,
            path: &cmd.path,
            id: None,
        };
        if let Some(ex) = ctx.exclusions.get(command) {
            let msg = format!(
                "wrapper_coverage includes excluded command_path={cp} (note={})",
                ex.note.as_deref().unwrap_or_default()
            );
            out.push(
                Violation::new(code, rel, msg)
                    .ptr(format!("/coverage/{i}"))
                    .unit("wrapper_command")
                    .cmd(cp.clone())
                    .field("coverage"),
            );
        }
        for m in cmd.members() {
            let unit = UnitRef {
                kind: m.kind,
                path: &cmd.path,
                id: Some(m.id),
            };
            let Some(ex) = ctx.exclusions.get(unit) else {
                continue;
            };
            let msg = format!(
                "wrapper_coverage includes excluded {} (command_path={cp} {}={} note={})",
                m.kind.as_str(),
                m.kind.id_field(),
                m.id,
                ex.note.as_deref().unwrap_or_default()
            );
            out.push(
                Violation::new(code, rel, msg)
                    .ptr(member_pointer(i, &m, ""))
                    .unit(wrapper_unit(m.kind))
                    .cmd(cp.clone())
                    .key(Some(m.id))
                    .field(m.kind.list_field()),
            );
        }
    }
}

/// `/coverage/<i>/flags/<j><suffix>` (or `args`).
fn member_pointer(i: usize, m: &MemberEntry<'_>, suffix: &str) -> String {
    format!("/coverage/{i}/{}/{}{suffix}", m.kind.list_field(), m.index)
}

/// The violation `unit` of a wrapper entry of this kind.
fn wrapper_unit(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::Command => "wrapper_command",
        UnitKind::Flag => "wrapper_flag",
        UnitKind::Arg => "wrapper_arg",
    }
}

fn missing_note(level: &str, note: Option<&String>) -> bool {
    level == "intentionally_unsupported" && note.is_none_or(|n| n.trim().is_empty())
}

fn check_iu_notes(file: &WrapperCoverage, rel: &str, out: &mut Vec<Violation>) {
    let code = "IU_NOTE_MISSING";
    let prefix = "intentionally_unsupported requires non-empty note";
    for (i, cmd) in file.coverage.iter().enumerate() {
        let cp = format_cp(&cmd.path);
        if missing_note(&cmd.level, cmd.note.as_ref()) {
            let msg = format!("{prefix} (unit=command command_path={cp})");
            out.push(
                Violation::new(code, rel, msg)
                    .ptr(format!("/coverage/{i}/note"))
                    .unit("wrapper_command")
                    .cmd(cp.clone())
                    .field("note"),
            );
        }
        for m in cmd.members().filter(|m| missing_note(m.level, m.note)) {
            let msg = format!(
                "{prefix} (unit={} command_path={cp} {}={})",
                m.kind.as_str(),
                m.kind.id_field(),
                m.id
            );
            out.push(
                Violation::new(code, rel, msg)
                    .ptr(member_pointer(i, &m, "/note"))
                    .unit(wrapper_unit(m.kind))
                    .cmd(cp.clone())
                    .key(Some(m.id))
                    .field("note"),
            );
        }
    }
}

/// One entry taking part in an overlap group.
struct Scoped {
    index: String,
    kind: &'static str,
    targets: BTreeSet<String>,
}

fn scope_kind(scope: Option<&Scope>) -> &'static str {
    let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    match scope {
        Some(s) if non_empty(&s.target_triples) => "target_triples",
        Some(s) if non_empty(&s.platforms) => "platforms",
        _ => "no_scope",
    }
}

/// The expected targets a scope covers: all of them without a scope; otherwise the union of its
/// known target triples and the targets whose platform label it lists (empty scope = none).
fn scope_targets(ctx: &Ctx, scope: Option<&Scope>) -> BTreeSet<String> {
    let expected = &ctx.rules.expected_targets;
    let Some(scope) = scope else {
        return expected.iter().cloned().collect();
    };
    let mut out = BTreeSet::new();
    for t in scope.target_triples.iter().flatten() {
        if expected.contains(t) {
            out.insert(t.clone());
        }
    }
    if let Some(platforms) = &scope.platforms
        && ctx.rules.platforms_expand
    {
        for t in expected {
            if ctx
                .rules
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

/// Groups are keyed by the path *tokens* (deviation: the reference keys by the `/`-joined string,
/// so `["a/b"]` and `["a","b"]` collided).
fn check_overlaps(ctx: &Ctx, file: &WrapperCoverage, rel: &str, out: &mut Vec<Violation>) {
    if !ctx.rules.disallow_overlaps {
        return;
    }
    let enabled = |u: &str| ctx.rules.overlap_units.iter().any(|x| x == u);
    let mut groups = BTreeMap::<(UnitKind, Vec<String>, String), Vec<Scoped>>::new();
    for (i, cmd) in file.coverage.iter().enumerate() {
        let cmd_targets = scope_targets(ctx, cmd.scope.as_ref());
        let own = Scoped {
            index: format!("coverage[{i}]"),
            kind: scope_kind(cmd.scope.as_ref()),
            targets: cmd_targets.clone(),
        };
        let key = (UnitKind::Command, cmd.path.clone(), String::new());
        groups.entry(key).or_default().push(own);
        for m in cmd.members() {
            let own = scope_targets(ctx, m.scope);
            let e = Scoped {
                index: format!("coverage[{i}].{}[{}]", m.kind.list_field(), m.index),
                kind: scope_kind(m.scope),
                targets: cmd_targets.intersection(&own).cloned().collect(),
            };
            let key = (m.kind, cmd.path.clone(), m.id.to_string());
            groups.entry(key).or_default().push(e);
        }
    }
    for ((kind, path, id), entries) in &groups {
        let (setting, unit) = match kind {
            UnitKind::Command => ("command_path", "command_path"),
            UnitKind::Flag => ("command_flag_key", "flag"),
            UnitKind::Arg => ("command_arg_name", "arg"),
        };
        if enabled(setting) {
            let id = (*kind != UnitKind::Command).then_some(id);
            report_overlaps(ctx, rel, unit, path, id, entries, out);
        }
    }
}

fn report_overlaps(
    ctx: &Ctx,
    rel: &str,
    unit: &str,
    path: &[String],
    key: Option<&String>,
    entries: &[Scoped],
    out: &mut Vec<Violation>,
) {
    if entries.len() < 2 {
        return;
    }
    let cp = format_cp(path);
    for target in &ctx.rules.expected_targets {
        let matching: Vec<&Scoped> = entries
            .iter()
            .filter(|e| e.targets.contains(target))
            .collect();
        if matching.len() < 2 {
            continue;
        }
        let indexes: Vec<&str> = matching.iter().map(|e| e.index.as_str()).collect();
        let mut msg = format!(
            "overlapping wrapper_coverage scopes are manifest-invalid (unit={unit} command_path={cp} target_triple={target} matching_entry_indexes=[{}])",
            indexes.join(",")
        );
        if let Some(k) = key {
            msg.push_str(&format!(" key_or_name={k}"));
        }
        let kinds: Vec<&str> = matching.iter().map(|e| e.kind).collect();
        out.push(
            Violation::new("WRAPPER_SCOPE_OVERLAP", rel, msg)
                .unit("wrapper_coverage")
                .cmd(cp.clone())
                .key(key)
                .field("scope")
                .target(target)
                .details(
                    json!({"matching_entry_indexes": indexes, "matching_entry_scope_kinds": kinds}),
                ),
        );
    }
}
