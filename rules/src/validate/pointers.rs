//! Pointer files (spec §5.3, §6.3 B), their consistency with version metadata (§6.3 G) and the
//! fix mode that repairs them (§6.4).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use super::{Ctx, Violation};
use parity_engine::fsutil::write_atomic;

const KINDS: [&str; 2] = ["latest_supported", "latest_validated"];

/// What a pointer file holds.
enum PointerRead {
    Missing,
    InvalidFormat(&'static str),
    InvalidValue(String),
    None,
    Version(String),
    Unreadable(String),
}

/// The pointer values that name versions (`None` = `none` or invalid).
#[derive(Debug, Default)]
pub(super) struct Pointers {
    pub(super) min_supported: Option<String>,
    pub(super) latest_validated: Option<String>,
    /// `(kind, target) -> version`.
    pub(super) by_target: BTreeMap<(&'static str, String), Option<String>>,
}

impl Pointers {
    /// Every version a pointer names.
    pub(super) fn versions(&self) -> impl Iterator<Item = &String> {
        let roots = self
            .min_supported
            .iter()
            .chain(self.latest_validated.iter());
        roots.chain(self.by_target.values().flatten())
    }
}

fn pointer_path(ctx: &Ctx, kind: &str, target: &str) -> PathBuf {
    ctx.root
        .join("pointers")
        .join(kind)
        .join(format!("{target}.txt"))
}

fn read_pointer(ctx: &Ctx, path: &Path, allow_none: bool) -> PointerRead {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return PointerRead::Missing,
        Err(e) => return PointerRead::Unreadable(e.to_string()),
    };
    let content = match std::str::from_utf8(&bytes) {
        Ok(s) => s,
        Err(e) => return PointerRead::Unreadable(e.to_string()),
    };
    let Some(line) = content.strip_suffix('\n') else {
        return PointerRead::InvalidFormat("missing trailing newline");
    };
    if line.contains('\n') {
        return PointerRead::InvalidFormat("multiple lines");
    }
    if line.contains('\r') {
        return PointerRead::InvalidFormat("contains CR character");
    }
    if line != line.trim() {
        return PointerRead::InvalidFormat("contains leading/trailing whitespace");
    }
    match (line, ctx.rules.stable_version(line)) {
        ("none", _) if allow_none => PointerRead::None,
        (_, Some(v)) => PointerRead::Version(v.to_string()),
        _ => PointerRead::InvalidValue(line.to_string()),
    }
}

/// Spec §6.3 B.
pub(super) fn check(ctx: &Ctx, out: &mut Vec<Violation>) -> Pointers {
    let mut p = Pointers {
        min_supported: check_root(ctx, "min_supported.txt", out),
        latest_validated: check_root(ctx, "latest_validated.txt", out),
        ..Pointers::default()
    };
    for target in &ctx.rules.expected_targets {
        for kind in KINDS {
            p.by_target
                .insert((kind, target.clone()), check_target(ctx, kind, target, out));
        }
    }
    if let Some(latest) = &p.latest_validated {
        let required = &ctx.rules.required_target;
        let path = pointer_path(ctx, "latest_validated", required);
        let value = match read_pointer(ctx, &path, true) {
            PointerRead::Version(v) => Some(v),
            _ => None,
        };
        if value.as_ref() != Some(latest) {
            let msg = format!(
                "latest_validated.txt must equal pointers/latest_validated/{required}.txt and must not be none (latest_validated={latest}, required_target_value={})",
                value.as_deref().unwrap_or("none")
            );
            out.push(
                Violation::new(
                    "POINTER_LATEST_VALIDATED_MISMATCH",
                    "latest_validated.txt",
                    msg,
                )
                .unit("pointers")
                .key(Some(required))
                .field("latest_validated")
                .target(required),
            );
        }
    }
    p
}

fn check_root(ctx: &Ctx, name: &str, out: &mut Vec<Violation>) -> Option<String> {
    let allow_none = ctx.rules.root_pointers_allow_none;
    let (code, msg) = match read_pointer(ctx, &ctx.root.join(name), allow_none) {
        PointerRead::Version(v) => return Some(v),
        PointerRead::None => return None,
        PointerRead::Missing => (
            "POINTER_MISSING_FILE",
            format!("missing required file: {name}"),
        ),
        PointerRead::InvalidFormat(reason) => (
            "POINTER_INVALID_FORMAT",
            format!(
                "invalid pointer file format ({reason}); expected single line + trailing newline"
            ),
        ),
        PointerRead::InvalidValue(raw) => (
            "POINTER_INVALID_VALUE",
            format!(
                "invalid pointer value (got {raw}); expected strict stable semver MAJOR.MINOR.PATCH"
            ),
        ),
        PointerRead::Unreadable(e) => (
            "POINTER_UNREADABLE",
            format!("failed to read pointer file: {e}"),
        ),
    };
    out.push(Violation::new(code, name, msg).unit("pointers"));
    None
}

fn check_target(
    ctx: &Ctx,
    kind: &'static str,
    target: &str,
    out: &mut Vec<Violation>,
) -> Option<String> {
    let path = pointer_path(ctx, kind, target);
    let suffix = format!("(target_triple={target} kind={kind})");
    let (code, msg) = match read_pointer(ctx, &path, true) {
        PointerRead::Version(v) => return Some(v),
        PointerRead::None => return None,
        PointerRead::Missing => (
            "POINTER_MISSING_FILE",
            format!("missing pointer file for target_triple={target} kind={kind}"),
        ),
        PointerRead::InvalidFormat(reason) => (
            "POINTER_INVALID_FORMAT",
            format!(
                "invalid pointer file format ({reason}); expected single line + trailing newline {suffix}"
            ),
        ),
        PointerRead::InvalidValue(raw) => (
            "POINTER_INVALID_VALUE",
            format!(
                "invalid pointer value (got {raw}); expected none or strict stable semver MAJOR.MINOR.PATCH {suffix}"
            ),
        ),
        PointerRead::Unreadable(e) => (
            "POINTER_UNREADABLE",
            format!("failed to read pointer file: {e} {suffix}"),
        ),
    };
    out.push(
        Violation::new(code, ctx.rel(&path), msg)
            .unit("pointers")
            .key(Some(target))
            .field(kind)
            .target(target),
    );
    None
}

fn str_set(meta: &Value, section: &str, list: &str) -> Vec<String> {
    let items = meta
        .get(section)
        .and_then(|s| s.get(list))
        .and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Spec §6.3 G: a per-target pointer requires the target in the named version's metadata.
pub(super) fn check_consistency(
    p: &Pointers,
    metadata: &BTreeMap<String, Value>,
    out: &mut Vec<Violation>,
) {
    for ((kind, target), version) in &p.by_target {
        let Some(version) = version else { continue };
        let Some(meta) = metadata.get(version) else {
            continue;
        };
        let supported = str_set(meta, "coverage", "supported_targets").contains(target);
        let passed = str_set(meta, "validation", "passed_targets").contains(target);
        let file = format!("versions/{version}.json");
        let (ok, ptr, msg) = if *kind == "latest_supported" {
            (
                supported,
                "/coverage/supported_targets",
                format!(
                    "pointers/latest_supported/{target}.txt={version} requires {file}.coverage.supported_targets to include target_triple={target}"
                ),
            )
        } else {
            (
                supported && passed,
                "/validation/passed_targets",
                format!(
                    "pointers/latest_validated/{target}.txt={version} requires {file}.coverage.supported_targets and {file}.validation.passed_targets to include target_triple={target}"
                ),
            )
        };
        if !ok {
            out.push(
                Violation::new("POINTER_INCONSISTENT_WITH_VERSION_METADATA", file, msg)
                    .ptr(ptr)
                    .unit("pointers")
                    .key(Some(target))
                    .field(kind)
                    .target(target),
            );
        }
    }
}

/// Deviation (spec §11.4 #33): the reference never looks at the status of the version a pointer
/// names, so a merely `snapshotted` version can be `latest_validated`.
///
/// Here `latest_validated.txt` and every per-target `latest_validated`/`latest_supported` pointer
/// must name a version whose metadata status is `validated` or `supported`. `latest_supported`
/// accepts `validated` too because per-target support is recorded in
/// `coverage.supported_targets` (checked by §6.3 G), while status `supported` means *all*
/// targets; the pipeline only ever writes `validated` before promoting. `min_supported.txt` is a
/// maintainer-chosen compatibility floor, not a promotion claim, and is not checked. Versions
/// whose metadata is missing or has no string status are reported elsewhere.
pub(super) fn check_pointer_status(
    ctx: &Ctx,
    p: &Pointers,
    metadata: &BTreeMap<String, Value>,
    out: &mut Vec<Violation>,
) {
    let status_of = |v: &str| {
        metadata
            .get(v)
            .and_then(|m| m.get("status"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let too_low = |s: &str| !matches!(s, "validated" | "supported");
    let message = |file: &str, version: &str, status: &str| {
        format!(
            "{file}={version} names a version with status={status}; expected validated or supported (versions/{version}.json)"
        )
    };
    if let Some(v) = &p.latest_validated
        && let Some(status) = status_of(v).filter(|s| too_low(s))
    {
        let msg = message("latest_validated.txt", v, &status);
        out.push(
            Violation::new(
                "POINTER_VERSION_STATUS_TOO_LOW",
                "latest_validated.txt",
                msg,
            )
            .unit("pointers")
            .field("status"),
        );
    }
    for ((kind, target), version) in &p.by_target {
        let Some(version) = version else { continue };
        let Some(status) = status_of(version).filter(|s| too_low(s)) else {
            continue;
        };
        let path = ctx.rel(&pointer_path(ctx, kind, target));
        let msg = message(&path, version, &status);
        out.push(
            Violation::new("POINTER_VERSION_STATUS_TOO_LOW", path, msg)
                .unit("pointers")
                .key(Some(target))
                .field(kind)
                .target(target),
        );
    }
}

/// Spec §6.4, with atomic writes: create missing per-target pointers as `none`, rewrite every
/// pointer as its first line + `\n`, and copy the latest validated union to `current.json`.
pub(super) fn fix(ctx: &Ctx) -> Result<()> {
    let mut files = Vec::new();
    for target in &ctx.rules.expected_targets {
        for kind in KINDS {
            let path = pointer_path(ctx, kind, target);
            if !path.exists() {
                write_atomic(&path, b"none\n")?;
            }
            files.push(path);
        }
    }
    files.push(ctx.root.join("latest_validated.txt"));
    files.push(ctx.root.join("min_supported.txt"));
    for path in &files {
        normalize_single_line(path)?;
    }
    let latest = match read_pointer(ctx, &ctx.root.join("latest_validated.txt"), false) {
        PointerRead::Version(v) => v,
        _ => return Ok(()),
    };
    let union = ctx.root.join("snapshots").join(&latest).join("union.json");
    if union.is_file() {
        let bytes = std::fs::read(&union)
            .with_context(|| format!("failed to read `{}`", union.display()))?;
        write_atomic(&ctx.root.join("current.json"), &bytes)?;
    }
    Ok(())
}

/// Rewrites an existing file as its first line (trailing `\r` dropped) + `\n`.
fn normalize_single_line(path: &Path) -> Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", path.display())),
    };
    let text =
        String::from_utf8(bytes).with_context(|| format!("`{}` is not UTF-8", path.display()))?;
    let line = text.split('\n').next().unwrap_or("").trim_end_matches('\r');
    Ok(write_atomic(path, format!("{line}\n").as_bytes())?)
}
