//! `RULES.json`: one typed model for every rule that reads it (snapshot, union, report, version
//! metadata, promotion, validate, retain).
//!
//! The file is parsed once, permissively (unknown fields ignored, every section optional);
//! each rule then asks for what it needs through an accessor that fails with the file and the
//! missing field (`invalid rules file: RULES.json: missing \`union.required_target\``), so a
//! rule only depends on the sections it reads, as the reference's per-command structs did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde::Deserialize;

use crate::coverage::TargetSpace;
use crate::unit::{UnitKey, UnitKind, UnitRef};

/// A parsed `RULES.json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RulesJson {
    /// Where it was read from (for messages).
    #[serde(skip)]
    pub path: PathBuf,
    /// `rules_schema_version` (copied into reports).
    #[serde(default)]
    pub rules_schema_version: Option<i64>,
    /// `union`.
    #[serde(default)]
    pub union: UnionRules,
    /// `sorting`.
    #[serde(default)]
    pub sorting: Sorting,
    /// `globals`.
    #[serde(default)]
    pub globals: Globals,
    /// `report`.
    #[serde(default)]
    pub report: ReportRules,
    /// `version_metadata`.
    #[serde(default)]
    pub version_metadata: VersionMetadataRules,
    /// `versioning`.
    #[serde(default)]
    pub versioning: Versioning,
    /// `wrapper_coverage`.
    #[serde(default)]
    pub wrapper_coverage: WrapperCoverageRules,
    /// `parity_exclusions`.
    #[serde(default)]
    pub parity_exclusions: Option<ParityExclusions>,
    /// `storage`.
    #[serde(default)]
    pub storage: Storage,
}

/// `union`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnionRules {
    /// Targets a complete union has, in order (`x86_64-unknown-linux-musl`, `linux-x64`, ...).
    #[serde(default)]
    pub expected_targets: Option<Vec<String>>,
    /// The target a union cannot do without.
    #[serde(default)]
    pub required_target: Option<String>,
    /// target -> platform label (`linux`, `macos`, `windows`).
    #[serde(default)]
    pub platform_mapping: Option<BTreeMap<String, String>>,
    /// Every snapshot must have the union's `tool`.
    #[serde(default)]
    pub require_same_tool: bool,
    /// Every snapshot's semantic version must be the union's.
    #[serde(default)]
    pub require_same_semantic_version: bool,
    /// Every snapshot must have a semantic version.
    #[serde(default)]
    pub require_semantic_version: bool,
}

/// `sorting`: the orders the reference implements (checked, never configurable).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sorting {
    /// `sorting.<key>` for the snapshot and union keys.
    #[serde(flatten)]
    pub keys: BTreeMap<String, serde_json::Value>,
}

/// `globals`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Globals {
    /// `globals.effective_flags_model`.
    #[serde(default)]
    pub effective_flags_model: Option<EffectiveFlagsModel>,
}

/// `globals.effective_flags_model`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EffectiveFlagsModel {
    /// Whether the model applies.
    #[serde(default)]
    pub enabled: bool,
    /// `union_normalization`.
    #[serde(default)]
    pub union_normalization: UnionNormalization,
}

/// `globals.effective_flags_model.union_normalization`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnionNormalization {
    /// Drop from every subcommand the flags the root has.
    #[serde(default)]
    pub dedupe_per_command_flags_against_root: bool,
    /// The key compared (`flag_key`, or empty).
    #[serde(default)]
    pub dedupe_key: String,
}

/// `report`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportRules {
    /// `report.file_naming`.
    #[serde(default)]
    pub file_naming: Option<FileNaming>,
    /// `report.filter_semantics`.
    #[serde(default)]
    pub filter_semantics: Option<FilterSemantics>,
}

/// `report.file_naming`.
#[derive(Debug, Clone, Deserialize)]
pub struct FileNaming {
    /// `coverage.any.json`.
    pub any: String,
    /// `coverage.all.json`.
    pub all: String,
    /// `coverage.<target_triple>.json`.
    pub per_target: String,
}

/// `report.filter_semantics`.
#[derive(Debug, Clone, Deserialize)]
pub struct FilterSemantics {
    /// `when_union_incomplete`.
    pub when_union_incomplete: WhenIncomplete,
}

/// `report.filter_semantics.when_union_incomplete`.
#[derive(Debug, Clone, Deserialize)]
pub struct WhenIncomplete {
    /// `all`: must be `error`.
    pub all: String,
}

/// `version_metadata`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VersionMetadataRules {
    /// `version_metadata.supported_policy`.
    #[serde(default)]
    pub supported_policy: Option<SupportedPolicy>,
}

/// `version_metadata.supported_policy`.
#[derive(Debug, Clone, Deserialize)]
pub struct SupportedPolicy {
    /// `supported` needs a complete union.
    pub requires_union_complete: bool,
    /// The version must be SemVer.
    pub requires_semantic_version: bool,
    /// Which wrapper levels count as supported.
    pub coverage_requirement: CoverageRequirement,
    /// An `intentionally_unsupported` level needs a note.
    pub intentionally_unsupported_requires_note: bool,
}

/// `version_metadata.supported_policy.coverage_requirement`.
#[derive(Debug, Clone, Deserialize)]
pub struct CoverageRequirement {
    /// Levels that count as supported.
    pub allowed_levels: Vec<String>,
    /// Levels that never do.
    pub disallowed_levels: Vec<String>,
    /// The level of a unit without a wrapper entry.
    pub treat_missing_as: String,
}

/// `versioning`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Versioning {
    /// `versioning.pointers`.
    #[serde(default)]
    pub pointers: Option<PointerRules>,
}

/// `versioning.pointers`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PointerRules {
    /// The pattern of a pointer value.
    #[serde(default)]
    pub stable_semver_pattern: Option<String>,
    /// `latest_validated.txt` / `min_supported.txt` may hold `none`.
    #[serde(default)]
    pub root_pointers_allow_none: bool,
}

/// `wrapper_coverage`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WrapperCoverageRules {
    /// `wrapper_coverage.scope_semantics`.
    #[serde(default)]
    pub scope_semantics: Option<ScopeSemantics>,
    /// `wrapper_coverage.validation`.
    #[serde(default)]
    pub validation: Option<WrapperValidation>,
}

/// `wrapper_coverage.scope_semantics`.
#[derive(Debug, Clone, Deserialize)]
pub struct ScopeSemantics {
    /// `defaults.no_scope_means`.
    pub defaults: ScopeDefaults,
    /// Whether `platforms` scopes expand to targets.
    pub platforms_expand_to_expected_targets: bool,
    /// Through what (`union.platform_mapping`).
    pub platforms_expand_using: String,
    /// `scope_set_resolution.mode`.
    pub scope_set_resolution: ScopeSetResolution,
}

/// `wrapper_coverage.scope_semantics.defaults`.
#[derive(Debug, Clone, Deserialize)]
pub struct ScopeDefaults {
    /// `all_expected_targets`.
    pub no_scope_means: String,
}

/// `wrapper_coverage.scope_semantics.scope_set_resolution`.
#[derive(Debug, Clone, Deserialize)]
pub struct ScopeSetResolution {
    /// `union`.
    pub mode: String,
}

/// `wrapper_coverage.validation`.
#[derive(Debug, Clone, Deserialize)]
pub struct WrapperValidation {
    /// Overlapping scopes of one identity are violations.
    pub disallow_overlapping_scopes: bool,
    /// Which identities (`command_path`, `command_flag_key`, `command_arg_name`).
    pub overlap_units: Vec<String>,
}

/// `parity_exclusions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ParityExclusions {
    /// Must be 1 for the exclusions to apply.
    #[serde(default)]
    pub schema_version: Option<u64>,
    /// The excluded units.
    #[serde(default)]
    pub units: Option<Vec<ExclusionUnit>>,
}

/// One `parity_exclusions.units[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct ExclusionUnit {
    /// `command`, `flag` or `arg`.
    pub unit: String,
    /// Command path.
    #[serde(default)]
    pub path: Option<Vec<String>>,
    /// Flag key.
    #[serde(default)]
    pub key: Option<String>,
    /// Arg name.
    #[serde(default)]
    pub name: Option<String>,
    /// Category (`dispatch`, `interactive`, ...).
    #[serde(default)]
    pub category: Option<String>,
    /// Rationale, copied verbatim into reports.
    #[serde(default)]
    pub note: Option<String>,
}

impl ExclusionUnit {
    /// The identity it excludes, if it names one (a flag with a key, an arg with a name).
    pub fn identity(&self) -> Option<UnitKey> {
        let path = self.path.as_deref().unwrap_or_default();
        match UnitKind::parse(&self.unit)? {
            UnitKind::Command => Some(UnitKey::command(path)),
            UnitKind::Flag => Some(UnitKey::member(UnitKind::Flag, path, self.key.as_ref()?)),
            UnitKind::Arg => Some(UnitKey::member(UnitKind::Arg, path, self.name.as_ref()?)),
        }
    }
}

/// `storage`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Storage {
    /// `storage.retention`.
    #[serde(default)]
    pub retention: Option<Retention>,
}

/// `storage.retention`.
#[derive(Debug, Clone, Deserialize)]
pub struct Retention {
    /// How many validated versions `retain` keeps.
    pub keep_last_validated: usize,
}

impl RulesJson {
    /// Reads and parses `path`: `failed to read rules file: <path>: <cause>` or `invalid rules
    /// file: <path>: <parse error>`.
    pub fn read(path: &Path) -> Result<RulesJson> {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow!("failed to read rules file: {}: {e}", path.display()))?;
        let mut rules: RulesJson = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("invalid rules file: {}: {e}", path.display()))?;
        rules.path = path.to_path_buf();
        Ok(rules)
    }

    /// `RULES.json` of the parity root `root`, or `rules` when given (`--rules`).
    pub fn of_root(root: &Path, rules: Option<&Path>) -> Result<RulesJson> {
        match rules {
            Some(p) => RulesJson::read(p),
            None => RulesJson::read(&root.join("RULES.json")),
        }
    }

    /// `value`, or [`RulesJson::missing`] `field`.
    pub fn need<'a, T>(&self, value: &'a Option<T>, field: &str) -> Result<&'a T> {
        value.as_ref().ok_or_else(|| self.missing(field))
    }

    /// The error naming this file and a missing `field`.
    pub fn missing(&self, field: &str) -> anyhow::Error {
        anyhow!(
            "invalid rules file: {}: missing `{field}`",
            self.path.display()
        )
    }

    /// `union.expected_targets`, which must not be empty.
    pub fn expected_targets(&self) -> Result<&[String]> {
        let targets = self.need(&self.union.expected_targets, "union.expected_targets")?;
        if targets.is_empty() {
            bail!("invalid rules file: union.expected_targets must not be empty");
        }
        Ok(targets)
    }

    /// `union.required_target`.
    pub fn required_target(&self) -> Result<&str> {
        Ok(self.need(&self.union.required_target, "union.required_target")?)
    }

    /// `union.expected_targets` with `union.platform_mapping`.
    pub fn target_space(&self) -> Result<TargetSpace> {
        Ok(TargetSpace {
            expected: self.expected_targets()?.to_vec(),
            platform_mapping: self
                .need(&self.union.platform_mapping, "union.platform_mapping")?
                .clone(),
        })
    }

    /// `sorting.<key>=<value>` for every key whose value is not the one wanted (`<missing>`
    /// when absent), in the order given.
    pub fn sorting_mismatches(&self, wanted: &[(&str, &str)]) -> Vec<String> {
        wanted
            .iter()
            .filter_map(|(key, want)| match self.sorting.keys.get(*key) {
                Some(serde_json::Value::String(s)) if s == want => None,
                Some(serde_json::Value::String(s)) => Some(format!("sorting.{key}={s}")),
                Some(other) => Some(format!("sorting.{key}={other}")),
                None => Some(format!("sorting.{key}=<missing>")),
            })
            .collect()
    }

    /// `versioning.pointers.root_pointers_allow_none` (absent = false).
    pub fn root_pointers_allow_none(&self) -> bool {
        self.versioning
            .pointers
            .as_ref()
            .is_some_and(|p| p.root_pointers_allow_none)
    }

    /// The excluded units by identity (empty unless `parity_exclusions.schema_version` is 1;
    /// a duplicate identity: the last entry wins).
    pub fn exclusions(&self) -> Exclusions {
        let mut by_unit = BTreeMap::new();
        let units = self
            .parity_exclusions
            .as_ref()
            .filter(|ex| ex.schema_version == Some(1))
            .and_then(|ex| ex.units.as_ref());
        for u in units.into_iter().flatten() {
            if let Some(id) = u.identity() {
                by_unit.insert(id, u.clone());
            }
        }
        Exclusions(by_unit)
    }
}

/// The excluded units of `parity_exclusions`, by identity.
#[derive(Debug, Clone, Default)]
pub struct Exclusions(BTreeMap<UnitKey, ExclusionUnit>);

impl Exclusions {
    /// The exclusion of `unit`, if it is excluded.
    pub fn get(&self, unit: UnitRef<'_>) -> Option<&ExclusionUnit> {
        self.0.get(&unit.key())
    }
}
