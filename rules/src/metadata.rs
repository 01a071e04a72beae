//! Version metadata `versions/<V>.json` (spec §5.1, §5.2).
//!
//! Deviation from the reference (spec §11.3 item 28): "supported on target" applies the same IU
//! subtree inheritance as reports — a unit with no own wrapper entry on the target under a command
//! whose level there is `intentionally_unsupported` counts as IU with that command's note, instead
//! of `unknown`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::coverage::{self, IU, Scoped, WrapperIndex};
use crate::rules_json::{Exclusions, RulesJson, SupportedPolicy};
use crate::union::{self, UnionView};
use crate::unit::{UnitKind, UnitRef};
use crate::{common, drop_in};

/// `parity rule version-metadata` options (the reference `codex-version-metadata`).
#[derive(Debug, Clone)]
pub struct MetadataOptions {
    /// The parity root.
    pub root: PathBuf,
    /// The version.
    pub version: String,
    /// `snapshotted`, `reported`, `validated` or `supported`.
    pub status: String,
    /// RULES.json (default `<root>/RULES.json`).
    pub rules: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH given by the caller (a pipeline node); `None` reads the environment.
    pub epoch: Option<i64>,
}

/// Writes `<root>/versions/<V>.json` with `opts.status`, carrying `notes` and `validation` over
/// from the existing file (the reference behaviour).
pub fn run(opts: &MetadataOptions) -> Result<()> {
    let status = opts.status.as_str();
    if !STATUSES.contains(&status) {
        bail!("invalid --status {status} (expected snapshotted, reported, validated or supported)");
    }
    let computed = Computed::read(opts, status)?;
    let validation = computed.previous_validation.clone();
    computed.write(status, validation)
}

/// Writes `<root>/versions/<V>.json` with a status derived from recorded validation results
/// (a pipeline node: the status is not a config value). `recorded` is this version's
/// `validation` block from the results file. The status is the highest of `supported`,
/// `validated` whose gates pass — both need `recorded` to list the required target as passed —
/// else `reported`. Returns the status written.
pub fn run_derived(opts: &MetadataOptions, recorded: Option<Validation>) -> Result<&'static str> {
    let computed = Computed::read(opts, "reported")?;
    let required = computed.rules.required_target()?;
    let passed = recorded
        .as_ref()
        .and_then(|v| v.passed_targets.as_ref())
        .is_some_and(|p| p.iter().any(|t| t == required));
    let mut status = "reported";
    if passed {
        for candidate in ["supported", "validated"] {
            match computed.gates(candidate, recorded.as_ref()) {
                Ok(()) => {
                    status = candidate;
                    break;
                }
                Err(e) if candidate == "validated" => {
                    eprintln!(
                        "warning: version {}: {e:#}; status stays reported",
                        opts.version
                    );
                }
                Err(_) => {}
            }
        }
    }
    computed.write(status, recorded)?;
    Ok(status)
}

const STATUSES: [&str; 4] = ["snapshotted", "reported", "validated", "supported"];

/// Everything `versions/<V>.json` is computed from, read and checked before any write.
struct Computed {
    rules: RulesJson,
    policy: SupportedPolicy,
    upstream: UnionView,
    coverage: Option<Coverage>,
    previous_validation: Option<Validation>,
    notes: Option<String>,
    updated_at: String,
    version: String,
    out: PathBuf,
}

impl Computed {
    /// Reads RULES, the union, the wrapper coverage and the existing file; computes coverage.
    /// `status` decides which inputs are required (spec §5.1 steps 1-8).
    fn read(opts: &MetadataOptions, status: &str) -> Result<Computed> {
        let root = union::canonical_root(&opts.root);
        let rules = RulesJson::of_root(&root, opts.rules.as_deref())?;
        let space = rules.target_space()?;
        let required = rules.required_target()?;
        let policy = rules
            .need(
                &rules.version_metadata.supported_policy,
                "version_metadata.supported_policy",
            )?
            .clone();
        if policy.requires_semantic_version
            && let Err(e) = semver::Version::parse(&opts.version)
        {
            bail!("cannot set status to {status}: version is not a semantic version: {e}");
        }
        let v = &opts.version;
        let upstream = union::read_union(&root.join("snapshots").join(v).join("union.json"))?;
        if status != "snapshotted" {
            let any = root.join("reports").join(v).join("coverage.any.json");
            if !any.is_file() {
                bail!("missing required input file: {}", any.display());
            }
        }
        let wrapper_path = root.join("wrapper_coverage.json");
        let wrapper = if status == "snapshotted" && !wrapper_path.exists() {
            None
        } else {
            Some(coverage::read(&wrapper_path)?)
        };
        let out = root.join("versions").join(format!("{v}.json"));
        let previous: Option<Previous> = if out.exists() {
            Some(common::read_json(&out)?)
        } else {
            None
        };
        let updated_at = common::timestamp_for(opts.epoch)?;

        let exclusions = rules.exclusions();
        let coverage = wrapper.map(|w| {
            let support = Support {
                index: space.index(&w),
                policy: &policy,
                exclusions: &exclusions,
            };
            let supported_targets: Vec<String> = space
                .expected
                .iter()
                .filter(|t| upstream.inputs.iter().any(|i| i.target_triple == **t))
                .filter(|t| support.supported_on(&upstream, t))
                .cloned()
                .collect();
            let supported_required_target = supported_targets.iter().any(|t| t == required);
            Coverage {
                supported_targets,
                supported_required_target,
            }
        });
        let (notes, validation) = previous.map_or((None, None), |p| (p.notes, p.validation));
        Ok(Computed {
            rules,
            policy,
            upstream,
            coverage,
            previous_validation: validation,
            notes,
            updated_at,
            version: v.clone(),
            out,
        })
    }

    fn gates(&self, status: &str, validation: Option<&Validation>) -> Result<()> {
        gates(
            status,
            &self.rules,
            &self.policy,
            &self.upstream,
            self.coverage.as_ref(),
            validation,
        )
    }

    /// Checks the gates of `status`, then writes the file (nothing on a gate failure).
    fn write(self, status: &str, validation: Option<Validation>) -> Result<()> {
        self.gates(status, validation.as_ref())?;
        let v = &self.version;
        let doc = VersionMetadata {
            schema_version: 1,
            semantic_version: v,
            status,
            updated_at: self.updated_at,
            notes: self.notes,
            artifacts: Artifacts {
                snapshots_dir: format!("snapshots/{v}"),
                reports_dir: format!("reports/{v}"),
                union_complete: self.upstream.complete,
            },
            coverage: self.coverage,
            validation,
            promotion: Promotion {
                eligible_for_latest_validated: status == "validated",
            },
        };
        common::write_json(&self.out, &doc)
    }
}

/// The status gates (spec §5.1 step 9).
fn gates(
    status: &str,
    rules: &RulesJson,
    policy: &SupportedPolicy,
    upstream: &UnionView,
    cov: Option<&Coverage>,
    validation: Option<&Validation>,
) -> Result<()> {
    let required = rules.required_target()?;
    match status {
        "validated" => {
            if !cov.is_some_and(|c| c.supported_required_target) {
                bail!(
                    "cannot set status to validated: supported_on_required_target=false (required_target={required})"
                );
            }
            let passed = validation
                .and_then(|v| v.passed_targets.as_ref())
                .is_some_and(|p| p.iter().any(|t| t == required));
            if !passed {
                bail!(
                    "cannot set status to validated: validation_passed_on_required_target=false (required_target={required})"
                );
            }
        }
        "supported" => {
            if policy.requires_union_complete && !upstream.complete {
                bail!("cannot set status to supported: requires union.complete=true");
            }
            let mut got: Vec<&String> = cov
                .map(|c| c.supported_targets.iter().collect())
                .unwrap_or_default();
            let mut want: Vec<&String> = rules.expected_targets()?.iter().collect();
            got.sort();
            got.dedup();
            want.sort();
            want.dedup();
            if got != want {
                bail!("cannot set status to supported: supported_on_all_expected_targets=false");
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RULES and documents

/// The existing `versions/<V>.json`: the four required fields, plus what is carried over.
#[derive(Debug, Deserialize)]
struct Previous {
    #[allow(dead_code)]
    schema_version: u32,
    #[allow(dead_code)]
    semantic_version: String,
    #[allow(dead_code)]
    status: String,
    #[allow(dead_code)]
    updated_at: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    validation: Option<Validation>,
}

#[derive(Debug, Serialize)]
struct VersionMetadata<'a> {
    schema_version: u32,
    semantic_version: &'a str,
    status: &'a str,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    artifacts: Artifacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<Coverage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation: Option<Validation>,
    promotion: Promotion,
}

#[derive(Debug, Serialize)]
struct Artifacts {
    snapshots_dir: String,
    reports_dir: String,
    union_complete: bool,
}

#[derive(Debug, Serialize)]
struct Coverage {
    supported_targets: Vec<String>,
    supported_required_target: bool,
}

/// The `validation` block of `versions/<V>.json`: targets by recorded outcome (each list only
/// if present).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Validation {
    /// Targets whose validation passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_targets: Option<Vec<String>>,
    /// Targets whose validation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_targets: Option<Vec<String>>,
    /// Targets not validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_targets: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct Promotion {
    eligible_for_latest_validated: bool,
}

// ---------------------------------------------------------------------------------------------
// Supported on target (§5.2)

/// What a unit's wrapper entries say on one target.
#[derive(Debug, PartialEq)]
enum OnTarget {
    /// No entry contains the target.
    NoEntry,
    /// Two or more distinct levels.
    Ambiguous,
    /// One distinct level, with the first non-empty trimmed note.
    Level(String, Option<String>),
}

fn on_target(entries: Option<&Vec<Scoped>>, target: &str) -> OnTarget {
    let mut level: Option<&str> = None;
    let mut note: Option<(usize, &str)> = None;
    for e in entries
        .into_iter()
        .flatten()
        .filter(|e| e.targets.contains(target))
    {
        match level {
            Some(l) if l != e.level => return OnTarget::Ambiguous,
            _ => level = Some(&e.level),
        }
        if let Some(n) = e.note.as_deref().map(str::trim).filter(|n| !n.is_empty())
            && note.is_none_or(|(i, _)| e.index < i)
        {
            note = Some((e.index, n));
        }
    }
    match level {
        None => OnTarget::NoEntry,
        Some(l) => OnTarget::Level(l.to_string(), note.map(|(_, n)| n.to_string())),
    }
}

struct Support<'a> {
    index: WrapperIndex,
    policy: &'a SupportedPolicy,
    exclusions: &'a Exclusions,
}

impl Support<'_> {
    fn supported_on(&self, upstream: &UnionView, t: &str) -> bool {
        let on = |avail: &[String]| avail.iter().any(|a| a == t);
        for cmd in upstream.commands.iter().filter(|c| on(&c.available_on)) {
            let command = UnitRef {
                kind: UnitKind::Command,
                path: &cmd.path,
                id: None,
            };
            let members = cmd.members().filter(|(_, _, avail)| on(avail));
            let units = members.map(|(kind, id, _)| UnitRef {
                kind,
                path: &cmd.path,
                id: Some(id),
            });
            if self.exclusions.get(command).is_some() {
                continue;
            }
            for unit in std::iter::once(command).chain(units) {
                if self.exclusions.get(unit).is_none()
                    && !self.ok(on_target(self.index.get(unit), t), &cmd.path, t)
                {
                    return false;
                }
            }
        }
        true
    }

    /// Is a unit under `path` with this wrapper state acceptable on `t`?
    fn ok(&self, state: OnTarget, path: &[String], t: &str) -> bool {
        let req = &self.policy.coverage_requirement;
        let (level, note) = match state {
            OnTarget::Level(l, n) => (l, n),
            OnTarget::Ambiguous => (req.treat_missing_as.clone(), None),
            OnTarget::NoEntry => match self.inherited_iu(path, t) {
                Some(note) => (IU.to_string(), note),
                None => (req.treat_missing_as.clone(), None),
            },
        };
        if !req.allowed_levels.contains(&level) || req.disallowed_levels.contains(&level) {
            return false;
        }
        !(level == IU && self.policy.intentionally_unsupported_requires_note && note.is_none())
    }

    /// The note of the deepest command at or above `path` whose level on `t` is IU, if any.
    fn inherited_iu(&self, path: &[String], t: &str) -> Option<Option<String>> {
        (0..=path.len()).rev().find_map(|n| {
            let command = UnitRef {
                kind: UnitKind::Command,
                path: &path[..n],
                id: None,
            };
            match on_target(self.index.get(command), t) {
                OnTarget::Level(l, note) if l == IU => Some(note),
                _ => None,
            }
        })
    }
}

/// `parity rule version-metadata` (reference `codex-version-metadata`).
pub const COMMAND: drop_in::Command<MetadataArgs> = drop_in::Command {
    name: "version-metadata",
    aliases: &["codex-version-metadata"],
    about: "Write `versions/<V>.json` (reference `codex-version-metadata`)",
    run: |a| {
        drop_in::done(run(&MetadataOptions {
            root: a.rv.root,
            version: a.rv.version,
            status: a.status,
            rules: a.rv.rules,
            epoch: None,
        }))
    },
};

/// The arguments of `parity rule version-metadata`.
#[derive(Debug, clap::Args)]
pub struct MetadataArgs {
    #[command(flatten)]
    rv: drop_in::RootVersion,
    /// `snapshotted`, `reported`, `validated` or `supported`.
    #[arg(long, value_name = "S")]
    status: String,
}
