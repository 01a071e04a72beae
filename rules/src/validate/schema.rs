//! JSON-Schema validation with one violation per error.
//!
//! The reference validates against SCHEMA.json's top-level `oneOf`, so any error collapses into a
//! single root-level "not valid under any of the schemas" message embedding the document (spec
//! §11.4 #32). Here every `oneOf` branch is also compiled on its own (the root schema with
//! `oneOf` replaced by that branch, so `$defs` and `$ref`s still resolve); an invalid document
//! is reported with the errors of the branch it comes closest to (fewest errors, first branch on
//! a tie), each with its instance path. A document that is valid is never reported.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use jsonschema::{Draft, Validator};
use serde_json::Value;

use super::{Ctx, Violation};

/// A compiled schema plus, when its root is a `oneOf`, one validator per branch.
pub(super) struct SchemaSet {
    whole: Validator,
    branches: Vec<Validator>,
}

impl SchemaSet {
    /// Reads and compiles a schema file (Draft 2020-12); a relative `$id` is made a `file://`
    /// URI. Any failure is fatal.
    pub(super) fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        let mut schema: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("failed to parse JSON: `{}`", path.display()))?;
        absolutize_id(&mut schema, path)?;
        let whole = compile(&schema, path)?;
        let mut branches = Vec::new();
        if let Some(list) = schema.get("oneOf").and_then(Value::as_array) {
            for branch in list {
                branches.push(compile(&with_single_branch(&schema, branch), path)?);
            }
        }
        Ok(SchemaSet { whole, branches })
    }

    /// `(instance path, message)` of every error, sorted; empty when `instance` is valid.
    fn errors(&self, instance: &Value) -> Vec<(String, String)> {
        if self.whole.is_valid(instance) {
            return Vec::new();
        }
        let mut best: Option<Vec<(String, String)>> = None;
        for b in &self.branches {
            let errs = collect(b, instance);
            if !errs.is_empty() && best.as_ref().is_none_or(|cur| errs.len() < cur.len()) {
                best = Some(errs);
            }
        }
        let mut errs = best.unwrap_or_else(|| collect(&self.whole, instance));
        errs.sort();
        errs.dedup();
        errs
    }

    /// Pushes one `code` violation per schema error of `instance` (unit `schemas`, field `schema`).
    pub(super) fn check(
        &self,
        ctx: &Ctx,
        instance: &Value,
        path: &Path,
        code: &'static str,
        out: &mut Vec<Violation>,
    ) {
        for (ptr, msg) in self.errors(instance) {
            let mut v = Violation::new(code, ctx.rel(path), msg)
                .unit("schemas")
                .field("schema");
            if !ptr.is_empty() {
                v = v.ptr(ptr);
            }
            out.push(v);
        }
    }
}

fn compile(schema: &Value, path: &Path) -> Result<Validator> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(schema)
        .map_err(|e| anyhow!("failed to compile JSON Schema `{}`: {e}", path.display()))
}

fn collect(v: &Validator, instance: &Value) -> Vec<(String, String)> {
    v.iter_errors(instance)
        .map(|e| (e.instance_path().as_str().to_string(), e.to_string()))
        .collect()
}

/// The root schema with its `oneOf` replaced by `branch` (merged in, or under `allOf` when a key
/// would clash).
fn with_single_branch(root: &Value, branch: &Value) -> Value {
    let mut out = root.clone();
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    obj.remove("oneOf");
    match branch.as_object() {
        Some(b) if b.keys().all(|k| !obj.contains_key(k)) => {
            for (k, v) in b {
                obj.insert(k.clone(), v.clone());
            }
        }
        _ => {
            obj.insert("allOf".to_string(), Value::Array(vec![branch.clone()]));
        }
    }
    out
}

/// `jsonschema` wants an absolute `$id`; the committed schemas use repo-relative ones.
fn absolutize_id(schema: &mut Value, path: &Path) -> Result<()> {
    let Some(id) = schema.get("$id").and_then(Value::as_str) else {
        return Ok(());
    };
    if id.contains("://") {
        return Ok(());
    }
    let abs = std::fs::canonicalize(path)
        .with_context(|| format!("failed to resolve `{}`", path.display()))?;
    let s = abs.to_string_lossy().replace('\\', "/");
    let uri = if s.starts_with('/') {
        format!("file://{s}")
    } else {
        format!("file:///{s}")
    };
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("$id".to_string(), Value::String(uri));
    }
    Ok(())
}

/// Reads a JSON file for a check: `None` when absent (the caller decides whether that is a
/// violation), unreadable (`FILE_UNREADABLE`) or not JSON (`invalid_json_code`).
pub(super) fn read_json(
    ctx: &Ctx,
    path: &Path,
    invalid_json_code: &'static str,
    out: &mut Vec<Violation>,
) -> Option<Value> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            out.push(Violation::new(
                "FILE_UNREADABLE",
                ctx.rel(path),
                format!("failed to read file: {e}"),
            ));
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            let v = Violation::new(
                invalid_json_code,
                ctx.rel(path),
                format!("invalid JSON: {e}"),
            );
            out.push(v.unit("schemas").field("json"));
            None
        }
    }
}
