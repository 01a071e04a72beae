//! The set of versions to check (spec §6.3 C), each version's files (§6.3 D) and `current.json`
//! (§6.3 E).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use semver::Version;
use serde_json::{Value, json};

use super::{Ctx, Violation, format_cp, pointers::Pointers, schema::read_json, str_tokens};
use crate::unit::{UnitKind, UnitRef};

/// Spec §6.3 C: versions named by pointers plus the stems of `versions/*.json`, ascending.
pub(super) fn version_set(ctx: &Ctx, p: &Pointers, out: &mut Vec<Violation>) -> Vec<String> {
    let mut set: BTreeSet<Version> = p
        .versions()
        .filter_map(|v| ctx.rules.stable_version(v))
        .collect();
    let dir = ctx.root.join("versions");
    match std::fs::read_dir(&dir) {
        Ok(rd) => {
            let mut stems: Vec<(String, std::path::PathBuf)> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
                .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
                .collect();
            stems.sort();
            for (stem, path) in stems {
                match ctx.rules.stable_version(&stem) {
                    Some(v) => {
                        set.insert(v);
                    }
                    None => {
                        let msg = format!(
                            "versions/<version>.json filename must be a strict stable semver (got {stem})"
                        );
                        out.push(
                            Violation::new("VERSION_FILE_INVALID_NAME", ctx.rel(&path), msg)
                                .unit("versions")
                                .key(Some(stem))
                                .field("filename"),
                        );
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let msg = format!("failed to read versions directory: {e}");
            out.push(
                Violation::new("VERSIONS_DIR_UNREADABLE", ctx.rel(&dir), msg).unit("versions"),
            );
        }
    }
    set.into_iter().map(|v| v.to_string()).collect()
}

/// Spec §6.3 D for one version; parsed metadata goes into `metadata` for §6.3 G.
pub(super) fn check_bundle(
    ctx: &Ctx,
    version: &str,
    metadata: &mut BTreeMap<String, Value>,
    out: &mut Vec<Violation>,
) {
    let meta_path = ctx.root.join("versions").join(format!("{version}.json"));
    match read_json(ctx, &meta_path, "VERSION_METADATA_INVALID_JSON", out) {
        Some(meta) => {
            ctx.version_schema.check(
                ctx,
                &meta,
                &meta_path,
                "VERSION_METADATA_SCHEMA_INVALID",
                out,
            );
            check_validation_sets(ctx, version, &meta, &meta_path, out);
            metadata.insert(version.to_string(), meta);
        }
        None if !meta_path.exists() => {
            let msg = format!("missing required file: versions/{version}.json");
            out.push(
                Violation::new("VERSION_METADATA_MISSING", ctx.rel(&meta_path), msg)
                    .unit("versions")
                    .key(Some(version))
                    .field("versions"),
            );
        }
        None => {}
    }

    let snap_dir = ctx.root.join("snapshots").join(version);
    let union_path = snap_dir.join("union.json");
    let union = match read_json(ctx, &union_path, "UNION_INVALID_JSON", out) {
        Some(u) => {
            ctx.schema
                .check(ctx, &u, &union_path, "UNION_SCHEMA_INVALID", out);
            if !is_union(&u) {
                let msg = "snapshots/<version>/union.json must be an UpstreamSnapshotUnionV2 (snapshot_schema_version=2, mode=union)";
                out.push(
                    Violation::new("UNION_WRONG_KIND", ctx.rel(&union_path), msg)
                        .ptr("/snapshot_schema_version")
                        .unit("snapshots")
                        .key(Some(version))
                        .field("union"),
                );
            }
            check_duplicates(ctx, &u, &union_path, out);
            Some(u)
        }
        None => {
            if !union_path.exists() {
                let msg = format!("missing required file: snapshots/{version}/union.json");
                out.push(
                    Violation::new("UNION_MISSING", ctx.rel(&union_path), msg)
                        .unit("snapshots")
                        .key(Some(version))
                        .field("union"),
                );
            }
            None
        }
    };
    let inputs: Vec<String> = union
        .as_ref()
        .and_then(|u| u.get("inputs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i.get("target_triple")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();

    for target in &inputs {
        check_per_target(
            ctx,
            version,
            target,
            &snap_dir.join(format!("{target}.json")),
            out,
        );
    }

    let status = metadata
        .get(version)
        .and_then(|m| m.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let required = matches!(status, "reported" | "validated" | "supported");
    let reports = ctx.root.join("reports").join(version);
    check_report(
        ctx,
        version,
        required,
        "any",
        None,
        &reports.join("coverage.any.json"),
        out,
    );
    for target in &inputs {
        let path = reports.join(format!("coverage.{target}.json"));
        check_report(
            ctx,
            version,
            required,
            "per_target",
            Some(target),
            &path,
            out,
        );
    }
    let complete = union
        .as_ref()
        .and_then(|u| u.get("complete"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if complete {
        check_report(
            ctx,
            version,
            required,
            "all",
            None,
            &reports.join("coverage.all.json"),
            out,
        );
    }
}

fn check_per_target(ctx: &Ctx, version: &str, target: &str, path: &Path, out: &mut Vec<Violation>) {
    let Some(snap) = read_json(ctx, path, "SNAPSHOT_INVALID_JSON", out) else {
        if !path.exists() {
            let msg = format!(
                "missing required file: snapshots/{version}/{target}.json (referenced by union.inputs[])"
            );
            out.push(
                Violation::new("SNAPSHOT_MISSING", ctx.rel(path), msg)
                    .unit("snapshots")
                    .key(Some(target))
                    .field("per_target")
                    .target(target),
            );
        }
        return;
    };
    ctx.schema
        .check(ctx, &snap, path, "SNAPSHOT_SCHEMA_INVALID", out);
    if snap.get("snapshot_schema_version").and_then(Value::as_i64) != Some(1) {
        let msg = "snapshots/<version>/<target_triple>.json must be an UpstreamSnapshotV1 (snapshot_schema_version=1)";
        out.push(
            Violation::new("SNAPSHOT_WRONG_KIND", ctx.rel(path), msg)
                .ptr("/snapshot_schema_version")
                .unit("snapshots")
                .key(Some(target))
                .field("per_target")
                .target(target),
        );
    }
    check_duplicates(ctx, &snap, path, out);
}

fn is_union(v: &Value) -> bool {
    v.get("snapshot_schema_version").and_then(Value::as_i64) == Some(2)
        && v.get("mode").and_then(Value::as_str) == Some("union")
}

fn check_validation_sets(
    ctx: &Ctx,
    version: &str,
    meta: &Value,
    path: &Path,
    out: &mut Vec<Violation>,
) {
    let Some(validation) = meta.get("validation") else {
        return;
    };
    let set = |name: &str| -> BTreeSet<String> {
        let items = validation
            .get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        items
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let (passed, failed, skipped) = (
        set("passed_targets"),
        set("failed_targets"),
        set("skipped_targets"),
    );
    let base = |code, msg: String| {
        Violation::new(code, ctx.rel(path), msg)
            .ptr("/validation")
            .unit("versions")
            .key(Some(version))
            .field("validation")
    };
    let pairs = [
        ("passed_targets", "failed_targets", &passed, &failed),
        ("passed_targets", "skipped_targets", &passed, &skipped),
        ("failed_targets", "skipped_targets", &failed, &skipped),
    ];
    for (a, b, sa, sb) in pairs {
        let overlap: Vec<&String> = sa.intersection(sb).collect();
        if overlap.is_empty() {
            continue;
        }
        let msg = format!(
            "versions/{version}.json validation target sets overlap ({a} ∩ {b} = {overlap:?})"
        );
        out.push(
            base("VALIDATION_TARGET_SETS_OVERLAP", msg)
                .details(json!({"a": a, "b": b, "overlap": overlap})),
        );
    }
    for t in passed.iter().chain(&failed).chain(&skipped) {
        if !ctx.rules.expected_targets.contains(t) {
            let msg = format!(
                "versions/{version}.json validation includes unexpected target_triple={t} (not in RULES.json.union.expected_targets)"
            );
            out.push(base("VALIDATION_TARGET_NOT_EXPECTED", msg).target(t));
        }
    }
    let req = &ctx.rules.required_target;
    let (p, f, s) = (
        passed.contains(req),
        failed.contains(req),
        skipped.contains(req),
    );
    if [p, f, s].iter().filter(|x| **x).count() != 1 {
        let msg = format!(
            "versions/{version}.json validation must include required_target={req} in exactly one of passed_targets/failed_targets/skipped_targets"
        );
        let details = json!({"required_target": req, "passed": p, "failed": f, "skipped": s});
        out.push(
            base("VALIDATION_REQUIRED_TARGET_NOT_EXPLICIT", msg)
                .target(req)
                .details(details),
        );
    }
}

/// Checks one report file; when `required`, its absence is `REPORT_MISSING`.
fn check_report(
    ctx: &Ctx,
    version: &str,
    required: bool,
    kind: &str,
    target: Option<&String>,
    path: &Path,
    out: &mut Vec<Violation>,
) {
    let Some(report) = read_json(ctx, path, "REPORT_INVALID_JSON", out) else {
        if required && !path.exists() {
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("<unknown>");
            let msg = match target {
                Some(t) => format!(
                    "missing required file: reports/{version}/{file} (kind={kind} target_triple={t})"
                ),
                None => format!("missing required file: reports/{version}/{file} (kind={kind})"),
            };
            let mut v = Violation::new("REPORT_MISSING", ctx.rel(path), msg)
                .unit("reports")
                .field("reports");
            if let Some(t) = target {
                v = v.key(Some(t)).target(t);
            }
            out.push(v);
        }
        return;
    };
    ctx.schema
        .check(ctx, &report, path, "REPORT_SCHEMA_INVALID", out);
    let Some(deltas) = report.get("deltas") else {
        return;
    };
    check_report_exclusions(ctx, deltas, path, out);
    check_report_iu(ctx, deltas, path, out);
}

fn check_report_exclusions(ctx: &Ctx, deltas: &Value, path: &Path, out: &mut Vec<Violation>) {
    let lists = [
        (UnitKind::Command, "missing_commands"),
        (UnitKind::Flag, "missing_flags"),
        (UnitKind::Arg, "missing_args"),
    ];
    for (kind, list) in lists {
        let items = deltas
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (i, item) in items.enumerate() {
            let Some(cmd) = str_tokens(item.get("path")) else {
                continue;
            };
            let id = match kind {
                UnitKind::Command => None,
                _ => match item.get(kind.id_field()).and_then(Value::as_str) {
                    Some(id) => Some(id),
                    None => continue,
                },
            };
            let unit = UnitRef {
                kind,
                path: &cmd,
                id,
            };
            let Some(ex) = ctx.exclusions.get(unit) else {
                continue;
            };
            let cp = format_cp(&cmd);
            let msg = match id {
                None => format!("report {list} includes excluded command_path={cp}"),
                Some(id) => format!(
                    "report {list} includes excluded {} (command_path={cp} {}={id} category={})",
                    kind.as_str(),
                    kind.id_field(),
                    ex.category.as_deref().unwrap_or("<missing>")
                ),
            };
            out.push(
                Violation::new("REPORT_MISSING_INCLUDES_EXCLUDED", ctx.rel(path), msg)
                    .ptr(format!("/deltas/{list}/{i}"))
                    .unit("reports")
                    .cmd(cp)
                    .key(id)
                    .field(list),
            );
        }
    }
}

fn check_report_iu(ctx: &Ctx, deltas: &Value, path: &Path, out: &mut Vec<Violation>) {
    let key_of = |item: &Value| {
        item.get("key")
            .and_then(Value::as_str)
            .or_else(|| item.get("name").and_then(Value::as_str))
            .map(str::to_string)
    };
    for list in ["missing_commands", "missing_flags", "missing_args"] {
        let items = deltas
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (i, item) in items.enumerate() {
            if item.get("wrapper_level").and_then(Value::as_str)
                != Some("intentionally_unsupported")
            {
                continue;
            }
            let msg = format!("report {list} includes wrapper_level=intentionally_unsupported");
            let mut v = Violation::new(
                "REPORT_MISSING_INCLUDES_INTENTIONALLY_UNSUPPORTED",
                ctx.rel(path),
                msg,
            )
            .ptr(format!("/deltas/{list}/{i}"))
            .unit("reports")
            .key(key_of(item))
            .field(list);
            if let Some(tokens) = str_tokens(item.get("path")) {
                v = v.cmd(tokens.join(" "));
            }
            out.push(v);
        }
    }
    let Some(items) = deltas
        .get("intentionally_unsupported")
        .and_then(Value::as_array)
    else {
        return;
    };
    let mut keys = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(cmd) = str_tokens(item.get("path")) else {
            continue;
        };
        let rank = if item.get("key").is_some() {
            1u8
        } else if item.get("name").is_some() {
            2
        } else {
            0
        };
        let key = key_of(item);
        let base = |msg: &str, suffix: &str, field| {
            Violation::new("REPORT_IU_NOTE_MISSING", ctx.rel(path), msg)
                .ptr(format!("/deltas/intentionally_unsupported/{i}/{suffix}"))
                .unit("reports")
                .cmd(format_cp(&cmd))
                .key(key.clone().filter(|k| !k.is_empty()))
                .field(field)
        };
        if item.get("wrapper_level").and_then(Value::as_str) != Some("intentionally_unsupported") {
            let msg =
                "intentionally_unsupported entry must have wrapper_level=intentionally_unsupported";
            out.push(base(msg, "wrapper_level", "intentionally_unsupported"));
        }
        if item
            .get("note")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .is_empty()
        {
            out.push(base(
                "intentionally_unsupported entry requires non-empty note",
                "note",
                "note",
            ));
        }
        keys.push((rank, cmd.clone(), key.unwrap_or_default()));
    }
    if !keys.is_sorted() {
        let msg =
            "deltas.intentionally_unsupported must be stable-sorted by (kind,path,key_or_name)";
        out.push(
            Violation::new("REPORT_IU_NOT_SORTED", ctx.rel(path), msg)
                .ptr("/deltas/intentionally_unsupported")
                .unit("reports")
                .field("intentionally_unsupported"),
        );
    }
}

/// Spec §6.3 E.
pub(super) fn check_current(ctx: &Ctx, latest_validated: Option<&str>, out: &mut Vec<Violation>) {
    let path = ctx.root.join("current.json");
    let rel = ctx.rel(&path);
    let base = |code, msg: String| Violation::new(code, rel.clone(), msg).unit("current_json");
    let current = match read_json(ctx, &path, "CURRENT_INVALID_JSON", out) {
        Some(c) => {
            ctx.schema
                .check(ctx, &c, &path, "CURRENT_SCHEMA_INVALID", out);
            if !is_union(&c) {
                let msg = "current.json must be an UpstreamSnapshotUnionV2 (snapshot_schema_version=2, mode=union)";
                out.push(
                    base("CURRENT_WRONG_KIND", msg.into())
                        .ptr("/snapshot_schema_version")
                        .field("current"),
                );
            }
            check_duplicates(ctx, &c, &path, out);
            Some(c)
        }
        None if path.exists() => return,
        None => {
            // Bootstrap mode (claude): no current.json while latest_validated.txt is `none`.
            if latest_validated.is_some() || !ctx.rules.root_pointers_allow_none {
                out.push(
                    base(
                        "CURRENT_MISSING",
                        "missing required file: current.json".into(),
                    )
                    .field("current"),
                );
            }
            None
        }
    };
    let Some(latest) = latest_validated else {
        return;
    };
    let union_path = ctx.root.join("snapshots").join(latest).join("union.json");
    if path.is_file()
        && union_path.is_file()
        && let (Ok(a), Ok(b)) = (std::fs::read(&path), std::fs::read(&union_path))
        && a != b
    {
        let msg = format!(
            "current.json must be byte-for-byte identical to snapshots/{latest}/union.json"
        );
        out.push(
            base("CURRENT_JSON_NOT_EQUAL_UNION", msg)
                .key(Some(latest))
                .field("identity"),
        );
    }
    let Some(current) = current else { return };
    let req = &ctx.rules.required_target;
    let inputs = current
        .get("inputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let found = inputs
        .enumerate()
        .find(|(_, i)| i.get("target_triple").and_then(Value::as_str) == Some(req));
    let Some((i, input)) = found else {
        let msg = format!("current.json.inputs[] missing required_target={req}");
        out.push(
            base("CURRENT_JSON_MISSING_REQUIRED_TARGET", msg)
                .ptr("/inputs")
                .key(Some(req))
                .field("inputs")
                .target(req),
        );
        return;
    };
    let semver = input
        .get("binary")
        .and_then(|b| b.get("semantic_version"))
        .and_then(Value::as_str);
    if semver != Some(latest) {
        let msg = format!(
            "current.json required_target binary.semantic_version must equal latest_validated.txt (expected {latest}, got {})",
            semver.unwrap_or("<missing>")
        );
        // Deviation: a real JSON pointer instead of the reference's `/inputs/*/…`.
        out.push(
            base("CURRENT_JSON_SEMVER_MISMATCH", msg)
                .ptr(format!("/inputs/{i}/binary/semantic_version"))
                .key(Some(req))
                .field("semantic_version")
                .target(req),
        );
    }
}

/// Deviation (spec §11.4 #33): RULES `validation.require_unique_*` is enforced. A command path
/// listed twice in `commands[]` is `DUPLICATE_COMMAND_PATH`; two flags of one command with the
/// same key (union `key`, else `long`, else `short`) are `DUPLICATE_FLAG_KEY`. Both point at the
/// later occurrence and name the first.
fn check_duplicates(ctx: &Ctx, doc: &Value, path: &Path, out: &mut Vec<Violation>) {
    let Some(commands) = doc.get("commands").and_then(Value::as_array) else {
        return;
    };
    let mut first_by_path = BTreeMap::<Vec<String>, usize>::new();
    for (i, cmd) in commands.iter().enumerate() {
        let Some(tokens) = str_tokens(cmd.get("path")) else {
            continue;
        };
        let cp = format_cp(&tokens);
        if let Some(first) = first_by_path.get(&tokens) {
            let msg = format!("duplicate command path (command_path={cp} first=/commands/{first})");
            out.push(
                Violation::new("DUPLICATE_COMMAND_PATH", ctx.rel(path), msg)
                    .ptr(format!("/commands/{i}/path"))
                    .unit("commands")
                    .cmd(cp.clone())
                    .field("path"),
            );
        } else {
            first_by_path.insert(tokens.clone(), i);
        }
        let flags = cmd
            .get("flags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let mut first_by_key = BTreeMap::<String, usize>::new();
        for (j, flag) in flags.enumerate() {
            let key = ["key", "long", "short"]
                .iter()
                .find_map(|k| flag.get(*k).and_then(Value::as_str));
            let Some(key) = key else { continue };
            if let Some(first) = first_by_key.get(key) {
                let msg = format!(
                    "duplicate flag key (command_path={cp} key={key} first=/commands/{i}/flags/{first})"
                );
                out.push(
                    Violation::new("DUPLICATE_FLAG_KEY", ctx.rel(path), msg)
                        .ptr(format!("/commands/{i}/flags/{j}"))
                        .unit("commands")
                        .cmd(cp.clone())
                        .key(Some(key))
                        .field("flags"),
                );
            } else {
                first_by_key.insert(key.to_string(), j);
            }
        }
    }
}
