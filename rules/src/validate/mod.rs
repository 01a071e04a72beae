//! The validator (spec §6): checks a parity root (pointers, version metadata, snapshots, reports,
//! `current.json`, `wrapper_coverage.json`) and reports every violation at once.
//!
//! Layout:
//! - this file: options, [`Violation`], ordering (§6.2), printing (§6.1), the check sequence;
//! - `config`:   RULES.json as the validator reads it, parity-exclusion checks (§6.3 A);
//! - `schema`:   JSON-Schema compilation and per-branch error collection;
//! - `pointers`: pointer files (§6.3 B), pointer → metadata consistency (§6.3 G), fix mode (§6.4);
//! - `versions`: version set and per-version bundle (§6.3 C, D), `current.json` (§6.3 E);
//! - `wrapper`:  `wrapper_coverage.json` (§6.3 F).
//!
//! Deliberate deviations from the reference (spec §11.4), all with their own codes or pointers:
//! - schema errors are collected from the best-matching `oneOf` branch: one violation per error,
//!   with its instance path, instead of one root-level error embedding the whole document;
//! - `POINTER_VERSION_STATUS_TOO_LOW`: a pointer naming a version whose status is below
//!   `validated` (see `pointers::check_pointer_status`);
//! - `DUPLICATE_COMMAND_PATH` / `DUPLICATE_FLAG_KEY` in snapshots, unions and `current.json`;
//! - `CURRENT_JSON_SEMVER_MISMATCH` points at `/inputs/<i>/binary/semantic_version`;
//! - wrapper overlap groups are keyed by the path tokens, so `["a/b"]` and `["a","b"]` differ;
//! - fix mode writes atomically.

mod config;
mod pointers;
mod schema;
mod versions;
mod wrapper;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Value, json};

use crate::rules_json::{Exclusions, RulesJson};
use config::RulesView;
use schema::SchemaSet;

/// `check` or `fix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Report violations only.
    Check,
    /// Repair what can be repaired (spec §6.4), then check.
    Fix,
}

/// `parity rule validate` options (the reference `codex-validate`).
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// The parity root (not canonicalized: messages are relative to it).
    pub root: PathBuf,
    /// Check or fix.
    pub mode: Mode,
    /// Also print the JSON report on stdout.
    pub json: bool,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
    /// SCHEMA.json (default `<root>/SCHEMA.json`).
    pub schema: Option<PathBuf>,
    /// VERSION_METADATA_SCHEMA.json (default `<root>/VERSION_METADATA_SCHEMA.json`).
    pub version_schema: Option<PathBuf>,
}

/// One finding. `path`, `json_pointer`, `message`, `code` and `details` are printed; the other
/// fields only order violations (spec §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Stable code, e.g. `POINTER_INVALID_FORMAT`.
    pub code: &'static str,
    /// File path relative to the root, `/`-separated.
    pub path: String,
    /// JSON pointer into the file, if any.
    pub json_pointer: Option<String>,
    /// Human-readable message.
    pub message: String,
    /// Structured details (printed in `--json` only).
    pub details: Option<Value>,
    unit: Option<&'static str>,
    command_path: Option<String>,
    key_or_name: Option<String>,
    field: Option<&'static str>,
    target_triple: Option<String>,
}

impl Violation {
    fn new(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            code,
            path: path.into(),
            json_pointer: None,
            message: message.into(),
            details: None,
            unit: None,
            command_path: None,
            key_or_name: None,
            field: None,
            target_triple: None,
        }
    }

    fn ptr(mut self, pointer: impl Into<String>) -> Self {
        self.json_pointer = Some(pointer.into());
        self
    }

    fn unit(mut self, unit: &'static str) -> Self {
        self.unit = Some(unit);
        self
    }

    fn cmd(mut self, command_path: impl Into<String>) -> Self {
        self.command_path = Some(command_path.into());
        self
    }

    fn key(mut self, key_or_name: Option<impl Into<String>>) -> Self {
        self.key_or_name = key_or_name.map(Into::into);
        self
    }

    fn field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    fn target(mut self, target: impl Into<String>) -> Self {
        self.target_triple = Some(target.into());
        self
    }

    fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The spec §6.2 order: (path, unit, command_path, key_or_name, field) as strings, then
    /// target (absent first), pointer (absent first), code, message.
    fn order_key(&self) -> impl Ord + '_ {
        (
            (
                self.path.as_str(),
                self.unit.unwrap_or(""),
                self.command_path.as_deref().unwrap_or(""),
                self.key_or_name.as_deref().unwrap_or(""),
                self.field.unwrap_or(""),
            ),
            &self.target_triple,
            &self.json_pointer,
            self.code,
            self.message.as_str(),
        )
    }

    /// `<CODE> error <path>[ <json_pointer>] <message>`.
    pub fn human_line(&self) -> String {
        match self.json_pointer.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("{} error {} {} {}", self.code, self.path, p, self.message),
            None => format!("{} error {} {}", self.code, self.path, self.message),
        }
    }

    /// The `--json` object (keys sorted).
    pub fn to_json(&self) -> Value {
        let mut out = BTreeMap::<&str, Value>::new();
        out.insert("code", json!(self.code));
        if let Some(d) = &self.details {
            out.insert("details", d.clone());
        }
        if let Some(p) = &self.json_pointer {
            out.insert("json_pointer", json!(p));
        }
        out.insert("message", json!(self.message));
        out.insert("path", json!(self.path));
        out.insert("severity", json!("error"));
        json!(out)
    }
}

/// The outcome of a validation run: violations in spec §6.2 order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Sorted violations; empty means the root is valid.
    pub violations: Vec<Violation>,
}

impl Report {
    /// True when there is no violation.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Whether any violation has `code`.
    pub fn has(&self, code: &str) -> bool {
        self.violations.iter().any(|v| v.code == code)
    }

    /// The `--json` document: `{"ok": …, "violations": […]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "violations": self.violations.iter().map(Violation::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Everything the checks share.
struct Ctx {
    root: PathBuf,
    rules: RulesView,
    exclusions: Exclusions,
    schema: SchemaSet,
    version_schema: SchemaSet,
}

impl Ctx {
    /// `path` relative to the root, `/`-separated.
    fn rel(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.to_string_lossy().replace('\\', "/")
    }
}

/// Runs fix mode (if asked) and every check; `Err` is a fatal error (exit 3).
pub fn check(opts: &ValidateOptions) -> Result<Report> {
    let root = opts.root.clone();
    let rules_path = opts
        .rules
        .clone()
        .unwrap_or_else(|| root.join("RULES.json"));
    let schema_path = opts
        .schema
        .clone()
        .unwrap_or_else(|| root.join("SCHEMA.json"));
    let version_schema_path = opts
        .version_schema
        .clone()
        .unwrap_or_else(|| root.join("VERSION_METADATA_SCHEMA.json"));

    let json = RulesJson::read(&rules_path)?;
    let rules = RulesView::of(&json)?;
    let schema = SchemaSet::load(&schema_path)?;
    let version_schema = SchemaSet::load(&version_schema_path)?;
    let exclusions = json.exclusions();
    let ctx = Ctx {
        root,
        rules,
        exclusions,
        schema,
        version_schema,
    };

    if opts.mode == Mode::Fix {
        pointers::fix(&ctx)?;
    }

    let mut out = Vec::new();
    config::check_exclusions(&ctx, &mut out);
    let ptrs = pointers::check(&ctx, &mut out);
    let set = versions::version_set(&ctx, &ptrs, &mut out);
    let mut metadata = BTreeMap::new();
    for v in &set {
        versions::check_bundle(&ctx, v, &mut metadata, &mut out);
    }
    versions::check_current(&ctx, ptrs.latest_validated.as_deref(), &mut out);
    wrapper::check(&ctx, &mut out);
    pointers::check_consistency(&ptrs, &metadata, &mut out);
    pointers::check_pointer_status(&ctx, &ptrs, &metadata, &mut out);

    out.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    Ok(Report { violations: out })
}

/// Runs the validator, printing as the reference does; returns the exit code (0 no violations,
/// 2 violations, 3 fatal).
pub fn run(opts: &ValidateOptions) -> i32 {
    let report = match check(opts) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("FAIL: codex-validate ({err:#})");
            return 3;
        }
    };
    if opts.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        println!("{text}");
    }
    if report.ok() {
        if opts.json {
            eprintln!("OK: codex-validate");
        } else {
            println!("OK: codex-validate");
        }
        return 0;
    }
    eprintln!("FAIL: {} violations", report.violations.len());
    for v in &report.violations {
        eprintln!("{}", v.human_line());
    }
    2
}

/// A command path for messages and ordering: `[]` for the root, else tokens joined by `/`.
fn format_cp(path: &[String]) -> String {
    if path.is_empty() {
        "[]".to_string()
    } else {
        path.join("/")
    }
}

/// The string tokens of a JSON array (`None` if `v` is not an array).
fn str_tokens(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// `parity rule validate` (reference `codex-validate`): exit 0 ok, 2 violations, 3 fatal.
pub const COMMAND: crate::drop_in::Command<ValidateArgs> = crate::drop_in::Command {
    name: "validate",
    aliases: &["codex-validate"],
    about: "Validate a parity root (reference `codex-validate`); exit 0 ok, 2 violations, 3 fatal",
    run: |a| {
        Ok(run(&ValidateOptions {
            root: a.root,
            mode: match a.mode {
                ModeArg::Check => Mode::Check,
                ModeArg::Fix => Mode::Fix,
            },
            json: a.json,
            rules: a.rules,
            schema: a.schema,
            version_schema: a.version_schema,
        }))
    },
};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Check,
    Fix,
}

/// The arguments of `parity rule validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The parity root.
    #[arg(
        long,
        alias = "codex-dir",
        default_value = "cli_manifests/codex",
        value_name = "DIR"
    )]
    root: PathBuf,
    /// `check` reports violations; `fix` first repairs pointers and current.json.
    #[arg(long, value_enum, default_value = "check")]
    mode: ModeArg,
    /// Also print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    rules: Option<PathBuf>,
    /// SCHEMA.json (default `<root>/SCHEMA.json`).
    #[arg(long, value_name = "F")]
    schema: Option<PathBuf>,
    /// VERSION_METADATA_SCHEMA.json (default `<root>/VERSION_METADATA_SCHEMA.json`).
    #[arg(long, alias = "version-metadata-schema", value_name = "F")]
    version_schema: Option<PathBuf>,
}
