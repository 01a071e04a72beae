//! The title and body of the pull request that proposes version V (`parity pr-body V`), made
//! from the committed artifacts only: `versions/V.json` (status), `validation/V/*.json`
//! (results), `latest_validated.txt`, the unions of V and of the baseline (the highest lower
//! version that is validated or supported, else the highest lower one), and the any-target
//! coverage reports of both. Same files, same text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use semver::Version;
use serde::Deserialize;

use crate::common;
use crate::promote;
use crate::union::{self, UnionView};
use crate::validation::{self, ValidationResult};

/// The proposal of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrBody {
    /// One line.
    pub title: String,
    /// Markdown.
    pub body: String,
}

#[derive(Debug, Default, Deserialize)]
struct MetadataView {
    status: String,
    #[serde(default)]
    coverage: Option<CoverageView>,
    #[serde(default)]
    validation: Option<crate::metadata::Validation>,
}

#[derive(Debug, Default, Deserialize)]
struct CoverageView {
    #[serde(default)]
    supported_targets: Vec<String>,
}

/// The deltas of a coverage report, by kind.
#[derive(Debug, Default, Deserialize)]
struct ReportView {
    deltas: BTreeMap<String, Vec<DeltaView>>,
}

#[derive(Debug, Deserialize)]
struct DeltaView {
    path: Vec<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    upstream_available_on: Vec<String>,
}

impl DeltaView {
    fn unit(&self) -> String {
        format!(
            "`{}`",
            unit_name(&self.path, self.key.as_ref().or(self.name.as_ref()))
        )
    }
}

/// `exec --json`, `--json` (a root flag), `exec` or `<root>`.
fn unit_name(path: &[String], member: Option<&String>) -> String {
    match member {
        Some(m) if path.is_empty() => m.clone(),
        Some(m) => format!("{} {m}", path.join(" ")),
        None => common::display_path(path),
    }
}

/// The work a report lists: `(kind, title)` in the order shown.
const TASKS: [(&str, &str); 6] = [
    ("missing_commands", "command"),
    ("missing_flags", "flag"),
    ("missing_args", "arg"),
    ("wrapper_only_commands", "wrapper-only command"),
    ("wrapper_only_flags", "wrapper-only flag"),
    ("wrapper_only_args", "wrapper-only arg"),
];

/// Writes the proposal of `version` of `tool` (e.g. `codex`) from the artifacts under `root`.
pub fn render(root: &Path, tool: &str, version: &str) -> Result<PrBody> {
    let v = Version::parse(version).with_context(|| format!("`{version}` is not a version"))?;
    let meta_path = root.join("versions").join(format!("{version}.json"));
    let meta: MetadataView = common::read_json(&meta_path)
        .with_context(|| format!("no version metadata for {version}: run `parity build` first"))?;
    let union = union::read_union(&root.join("snapshots").join(version).join("union.json"))?;
    let report = read_report(root, version)?;
    let baseline = baseline(root, &v)?;
    let latest = promote::read_pointer(&root.join("latest_validated.txt"))?;
    let required = crate::rules_json::RulesJson::of_root(root, None)?
        .required_target()?
        .to_string();
    let promoted = latest.as_ref() == Some(&v);

    let mut b = String::new();
    let status = &meta.status;
    let _ = writeln!(b, "## {tool} {version}: `{status}`\n");
    let lv = latest.map_or("none".to_string(), |l| l.to_string());
    if promoted {
        let _ = writeln!(
            b,
            "Promoted: `latest_validated.txt`, the pointers and `current.json` now point at {version}."
        );
    } else {
        let _ = writeln!(
            b,
            "**Not promoted**: the status is `{status}`, so `latest_validated.txt` and the pointers stay at {lv}{}.",
            why_not(&meta, &required)
        );
    }
    let _ = writeln!(b);
    if union.complete {
        let _ = writeln!(b, "Union: complete ({} targets).", union.inputs.len());
    } else {
        let present: BTreeSet<&str> = union
            .inputs
            .iter()
            .map(|i| i.target_triple.as_str())
            .collect();
        let missing: Vec<&str> = union
            .expected_targets
            .iter()
            .map(String::as_str)
            .filter(|t| !present.contains(t))
            .collect();
        let _ = writeln!(b, "Union: **incomplete**, missing {}.", ticks(&missing));
    }
    if let Some(c) = &meta.coverage {
        let _ = writeln!(
            b,
            "Supported by the wrapper on: {}.",
            if c.supported_targets.is_empty() {
                "no target".to_string()
            } else {
                ticks(&c.supported_targets)
            }
        );
    }

    validation_section(&mut b, root, version, &union.expected_targets, &meta)?;
    changes_section(
        &mut b,
        &union,
        baseline.as_ref().map(|(bv, bu, _)| (bv, bu)),
    );
    tasks_section(
        &mut b,
        &report,
        baseline.as_ref().map(|(bv, _, br)| (bv, br)),
    );
    let _ = writeln!(
        b,
        "\nGenerated by `parity pr-body {version}` from the committed artifacts."
    );
    let title = format!("{tool} {version}: snapshots, reports and metadata ({status})");
    Ok(PrBody { title, body: b })
}

fn ticks(items: &[impl AsRef<str>]) -> String {
    items
        .iter()
        .map(|t| format!("`{}`", t.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a version is not promoted, from its metadata: `: …` or empty.
fn why_not(meta: &MetadataView, required: &String) -> String {
    let v = meta.validation.as_ref();
    let list = |l: Option<&Vec<String>>| l.is_some_and(|l| l.contains(required));
    if list(v.and_then(|v| v.failed_targets.as_ref())) {
        format!(": validation failed on `{required}`")
    } else if !list(v.and_then(|v| v.passed_targets.as_ref())) {
        format!(": `{required}` has no passed validation")
    } else if !meta
        .coverage
        .as_ref()
        .is_some_and(|c| c.supported_targets.contains(required))
    {
        format!(": the wrapper does not support `{required}` (see the tasks below)")
    } else {
        String::new()
    }
}

fn read_report(root: &Path, version: &str) -> Result<ReportView> {
    common::read_json(&root.join("reports").join(version).join("coverage.any.json"))
}

/// The version V is compared with: the highest lower version that is validated or supported,
/// else the highest lower one, with its union and report (when both exist).
fn baseline(root: &Path, v: &Version) -> Result<Option<(Version, UnionView, ReportView)>> {
    let statuses = promote::version_statuses(root)?;
    let lower: Vec<(&Version, &String)> = statuses.range(..v).collect();
    let pick = lower
        .iter()
        .rev()
        .find(|(_, status)| matches!(status.as_str(), "validated" | "supported"))
        .or(lower.last())
        .map(|(b, _)| (*b).clone());
    let Some(b) = pick else { return Ok(None) };
    let union_path = root
        .join("snapshots")
        .join(b.to_string())
        .join("union.json");
    if !union_path.is_file() {
        return Ok(None);
    }
    let union = union::read_union(&union_path)?;
    let report = read_report(root, &b.to_string())?;
    Ok(Some((b, union, report)))
}

fn validation_section(
    b: &mut String,
    root: &Path,
    version: &str,
    targets: &[String],
    meta: &MetadataView,
) -> Result<()> {
    let _ = writeln!(b, "\n### Validation\n");
    let _ = writeln!(b, "| target | result | check |\n|---|---|---|");
    let v = meta.validation.as_ref();
    let has = |l: Option<&Vec<String>>, t: &String| l.is_some_and(|l| l.contains(t));
    let mut failures = Vec::new();
    for t in targets {
        let outcome = if has(v.and_then(|v| v.passed_targets.as_ref()), t) {
            "passed"
        } else if has(v.and_then(|v| v.failed_targets.as_ref()), t) {
            "**failed**"
        } else {
            "skipped"
        };
        let file = root.join(validation::result_path(version, t));
        let check = if file.is_file() {
            let r = ValidationResult::read(&file)?;
            failures.extend(r.failures.iter().map(|f| (t.clone(), f.clone())));
            let check = match (&r.checked, &r.command) {
                (Some(c), _) => format!(
                    "{}: {} commands, {} flags/args",
                    r.check, c.commands, c.units
                ),
                (None, Some(cmd)) => format!("{}: `{cmd}`", r.check),
                (None, None) => r.check.clone(),
            };
            if r.result == outcome.trim_matches('*') {
                check
            } else {
                format!(
                    "{check}, which {}; overridden in `{}`",
                    r.result,
                    promote::RESULTS_FILE
                )
            }
        } else if outcome == "skipped" {
            "not run".to_string()
        } else {
            format!("recorded in `{}`", promote::RESULTS_FILE)
        };
        let _ = writeln!(b, "| `{t}` | {outcome} | {check} |");
    }
    if !failures.is_empty() {
        let _ = writeln!(b, "\nFailures:\n");
        for (t, f) in failures {
            let _ = writeln!(b, "- `{t}`: {}: {}", f.claim, f.reason);
        }
    }
    Ok(())
}

/// Units of a union: commands, `path key` flags and `path name` args.
fn units(u: &UnionView) -> BTreeSet<(u8, String)> {
    let mut out = BTreeSet::new();
    for c in &u.commands {
        out.insert((0, unit_name(&c.path, None)));
        out.extend(
            c.flags
                .iter()
                .map(|f| (1, unit_name(&c.path, Some(&f.id.key)))),
        );
        out.extend(
            c.args
                .iter()
                .map(|a| (2, unit_name(&c.path, Some(&a.id.name)))),
        );
    }
    out
}

fn changes_section(b: &mut String, union: &UnionView, baseline: Option<(&Version, &UnionView)>) {
    let Some((bv, bu)) = baseline else {
        let _ = writeln!(
            b,
            "\n### Upstream changes\n\nNo earlier version to compare with."
        );
        return;
    };
    let (now, before) = (units(union), units(bu));
    let _ = writeln!(b, "\n### Upstream changes since {bv}\n");
    let kinds = ["commands", "flags", "args"];
    let mut any = false;
    for (k, kind) in kinds.iter().enumerate() {
        for (word, set) in [
            ("added", now.difference(&before)),
            ("removed", before.difference(&now)),
        ] {
            let items: Vec<&String> = set
                .filter(|(t, _)| *t as usize == k)
                .map(|(_, s)| s)
                .collect();
            if !items.is_empty() {
                any = true;
                let _ = writeln!(b, "- {kind} {word} ({}): {}", items.len(), ticks(&items));
            }
        }
    }
    if !any {
        let _ = writeln!(b, "No command, flag or arg was added or removed.");
    }
}

fn tasks_section(b: &mut String, report: &ReportView, baseline: Option<(&Version, &ReportView)>) {
    let _ = writeln!(b, "\n### Coverage work (any target)\n");
    let count = |r: &ReportView, kind: &str| r.deltas.get(kind).map_or(0, Vec::len);
    let mut rows = Vec::new();
    for (kind, _) in TASKS {
        let now = count(report, kind);
        let was = baseline.map(|(_, r)| count(r, kind));
        if now > 0 || was.is_some_and(|w| w > 0) {
            rows.push(match was {
                Some(w) => format!("| {} | {w} | {now} |", kind.replace('_', " ")),
                None => format!("| {} | — | {now} |", kind.replace('_', " ")),
            });
        }
    }
    if rows.is_empty() {
        let _ = writeln!(b, "Nothing to do: the wrapper covers every upstream unit.");
        return;
    }
    let bv = baseline.map_or("—".to_string(), |(v, _)| v.to_string());
    let _ = writeln!(b, "| delta | {bv} | now |\n|---|---|---|");
    for r in rows {
        let _ = writeln!(b, "{r}");
    }
    let _ = writeln!(b);
    for (kind, title) in TASKS {
        for d in report.deltas.get(kind).into_iter().flatten() {
            let _ = writeln!(
                b,
                "- [ ] {title} {} (on {})",
                d.unit(),
                ticks(&d.upstream_available_on)
            );
        }
    }
}
