//! `wrapper_coverage.json` checks (spec §6.3 F). Private structs on purpose: the validator reads
//! the file its own way and must not depend on the coverage model used by reports.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::json;

use super::{Ctx, Violation, format_cp, schema::read_json};

#[derive(Debug, Deserialize)]
struct CoverageFile {
    schema_version: u32,
    coverage: Vec<CommandEntry>,
}

#[derive(Debug, Deserialize)]
struct CommandEntry {
    path: Vec<String>,
    level: String,
    note: Option<String>,
    scope: Option<Scope>,
    #[serde(default)]
    flags: Vec<UnitEntry<FlagId>>,
    #[serde(default)]
    args: Vec<UnitEntry<ArgId>>,
}

#[derive(Debug, Deserialize)]
struct Scope {
    platforms: Option<Vec<String>>,
    target_triples: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct FlagId {
    key: String,
}

#[derive(Debug, Deserialize)]
struct ArgId {
    name: String,
}

#[derive(Debug, Deserialize)]
struct UnitEntry<Id> {
    #[serde(flatten)]
    id: Id,
    level: String,
    note: Option<String>,
    scope: Option<Scope>,
}

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
    let file: CoverageFile = match serde_json::from_value(value) {
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

fn check_exclusions(ctx: &Ctx, file: &CoverageFile, rel: &str, out: &mut Vec<Violation>) {
    let Some(index) = &ctx.exclusions else { return };
    let code = "WRAPPER_COVERAGE_INCLUDES_EXCLUDED";
    for (i, cmd) in file.coverage.iter().enumerate() {
        let cp = format_cp(&cmd.path);
        if let Some(ex) = index.commands.get(&cmd.path) {
            let msg = format!(
                "wrapper_coverage includes excluded command_path={cp} (note={})",
                ex.note
            );
            out.push(
                Violation::new(code, rel, msg)
                    .ptr(format!("/coverage/{i}"))
                    .unit("wrapper_command")
                    .cmd(cp.clone())
                    .field("coverage"),
            );
        }
        for (j, f) in cmd.flags.iter().enumerate() {
            let key = &f.id.key;
            if let Some(ex) = index.flags.get(&(cmd.path.clone(), key.clone())) {
                let msg = format!(
                    "wrapper_coverage includes excluded flag (command_path={cp} key={key} note={})",
                    ex.note
                );
                let v = Violation::new(code, rel, msg).ptr(format!("/coverage/{i}/flags/{j}"));
                out.push(
                    v.unit("wrapper_flag")
                        .cmd(cp.clone())
                        .key(Some(key))
                        .field("flags"),
                );
            }
        }
        for (j, a) in cmd.args.iter().enumerate() {
            let name = &a.id.name;
            if let Some(ex) = index.args.get(&(cmd.path.clone(), name.clone())) {
                let msg = format!(
                    "wrapper_coverage includes excluded arg (command_path={cp} name={name} note={})",
                    ex.note
                );
                let v = Violation::new(code, rel, msg).ptr(format!("/coverage/{i}/args/{j}"));
                out.push(
                    v.unit("wrapper_arg")
                        .cmd(cp.clone())
                        .key(Some(name))
                        .field("args"),
                );
            }
        }
    }
}

fn missing_note(level: &str, note: Option<&String>) -> bool {
    level == "intentionally_unsupported" && note.is_none_or(|n| n.trim().is_empty())
}

fn check_iu_notes(file: &CoverageFile, rel: &str, out: &mut Vec<Violation>) {
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
        for (j, f) in cmd.flags.iter().enumerate() {
            if missing_note(&f.level, f.note.as_ref()) {
                let msg = format!("{prefix} (unit=flag command_path={cp} key={})", f.id.key);
                let v = Violation::new(code, rel, msg).ptr(format!("/coverage/{i}/flags/{j}/note"));
                out.push(
                    v.unit("wrapper_flag")
                        .cmd(cp.clone())
                        .key(Some(&f.id.key))
                        .field("note"),
                );
            }
        }
        for (j, a) in cmd.args.iter().enumerate() {
            if missing_note(&a.level, a.note.as_ref()) {
                let msg = format!("{prefix} (unit=arg command_path={cp} name={})", a.id.name);
                let v = Violation::new(code, rel, msg).ptr(format!("/coverage/{i}/args/{j}/note"));
                out.push(
                    v.unit("wrapper_arg")
                        .cmd(cp.clone())
                        .key(Some(&a.id.name))
                        .field("note"),
                );
            }
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
fn check_overlaps(ctx: &Ctx, file: &CoverageFile, rel: &str, out: &mut Vec<Violation>) {
    if !ctx.rules.disallow_overlaps {
        return;
    }
    let enabled = |u: &str| ctx.rules.overlap_units.iter().any(|x| x == u);
    let mut commands = BTreeMap::<Vec<String>, Vec<Scoped>>::new();
    let mut flags = BTreeMap::<(Vec<String>, String), Vec<Scoped>>::new();
    let mut args = BTreeMap::<(Vec<String>, String), Vec<Scoped>>::new();
    for (i, cmd) in file.coverage.iter().enumerate() {
        let cmd_targets = scope_targets(ctx, cmd.scope.as_ref());
        let entry = |index: String, scope: Option<&Scope>| {
            let own = scope_targets(ctx, scope);
            Scoped {
                index,
                kind: scope_kind(scope),
                targets: cmd_targets.intersection(&own).cloned().collect(),
            }
        };
        let own = Scoped {
            index: format!("coverage[{i}]"),
            kind: scope_kind(cmd.scope.as_ref()),
            targets: cmd_targets.clone(),
        };
        commands.entry(cmd.path.clone()).or_default().push(own);
        for (j, f) in cmd.flags.iter().enumerate() {
            let e = entry(format!("coverage[{i}].flags[{j}]"), f.scope.as_ref());
            flags
                .entry((cmd.path.clone(), f.id.key.clone()))
                .or_default()
                .push(e);
        }
        for (j, a) in cmd.args.iter().enumerate() {
            let e = entry(format!("coverage[{i}].args[{j}]"), a.scope.as_ref());
            args.entry((cmd.path.clone(), a.id.name.clone()))
                .or_default()
                .push(e);
        }
    }
    if enabled("command_path") {
        for (path, entries) in &commands {
            report_overlaps(ctx, rel, "command_path", path, None, entries, out);
        }
    }
    if enabled("command_flag_key") {
        for ((path, key), entries) in &flags {
            report_overlaps(ctx, rel, "flag", path, Some(key), entries, out);
        }
    }
    if enabled("command_arg_name") {
        for ((path, name), entries) in &args {
            report_overlaps(ctx, rel, "arg", path, Some(name), entries, out);
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
