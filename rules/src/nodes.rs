//! The codex rules as pipeline nodes, registered into the engine by the binary.
//!
//! Each adapter runs the same function as `parity rule …`, with the sandbox's mirror of the
//! pipeline root as `--root` and the node's epoch as SOURCE_DATE_EPOCH, so a node's output is
//! byte-identical to the reference command's for the same inputs.
//!
//! | rule               | params   | declares (typical)                                           |
//! |--------------------|----------|--------------------------------------------------------------|
//! | `union`            | version  | in: `snapshot@{version}/*?`, `RULES.json`; out: `snapshots/{version}/union.json` |
//! | `report`           | version  | in: `union@{version}`, `wrapper_coverage.json`, `RULES.json`; out: `reports/{version}/` |
//! | `version-metadata` | version  | in: union, report, wrapper coverage, RULES; out: `versions/{version}.json`; config `status` |

use anyhow::{Context, anyhow};
use parity_engine::exec::{Registry, Rule, RuleContext, RuleError};
use parity_engine::graph::Node;

use crate::{metadata, report, union};

/// Registers every codex rule.
pub fn register(registry: &mut Registry) {
    registry.register(UNION);
    registry.register(REPORT);
    registry.register(MetadataRule);
    crate::release::register(registry);
}

/// The node's `version`: its `version` param, else `config.version`.
fn version(node: &Node) -> Result<String, String> {
    node.params
        .get("version")
        .cloned()
        .or_else(|| {
            node.config
                .get("version")
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .ok_or_else(|| "needs a `version` param (or `config.version`)".to_string())
}

fn no_config_but(node: &Node, allowed: &[&str]) -> Result<(), String> {
    if let Some(obj) = node.config.as_object()
        && let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str()))
    {
        return Err(format!(
            "unknown key `config.{k}` (expected one of: {})",
            allowed.join(", ")
        ));
    }
    Ok(())
}

/// A rule over one version's root that stamps a time: `union` and `report`.
struct VersionRule {
    name: &'static str,
    run: fn(&std::path::Path, String, Option<i64>) -> anyhow::Result<()>,
}

const UNION: VersionRule = VersionRule {
    name: "union",
    run: |root, version, epoch| {
        union::run(&union::UnionOptions {
            root: root.to_path_buf(),
            version,
            rules: None,
            epoch,
        })
    },
};

const REPORT: VersionRule = VersionRule {
    name: "report",
    run: |root, version, epoch| {
        report::run(&report::ReportOptions {
            root: root.to_path_buf(),
            version,
            rules: None,
            epoch,
        })
    },
};

impl Rule for VersionRule {
    fn name(&self) -> &'static str {
        self.name
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        version(node)?;
        no_config_but(node, &["version"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        (self.run)(ctx.root(), version(ctx.node)?, ctx.epoch)?;
        Ok(())
    }
}

struct MetadataRule;

impl Rule for MetadataRule {
    fn name(&self) -> &'static str {
        "version-metadata"
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        version(node)?;
        match node.config.get("status").and_then(|s| s.as_str()) {
            Some("snapshotted" | "reported" | "validated" | "supported") => {}
            Some(other) => {
                return Err(format!(
                    "`config.status` `{other}` is not one of snapshotted, reported, validated, supported"
                ));
            }
            None => return Err("`config.status` is required".into()),
        }
        no_config_but(node, &["version", "status"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let status = ctx
            .node
            .config
            .get("status")
            .and_then(|s| s.as_str())
            .ok_or_else(|| anyhow!("no status"))?;
        metadata::run(&metadata::MetadataOptions {
            root: ctx.root().to_path_buf(),
            version: version(ctx.node)?,
            status: status.to_string(),
            rules: None,
            epoch: ctx.epoch,
        })
        .context("version metadata failed")?;
        Ok(())
    }
}
