//! `validation@V/T`: the declared check of the wrapper against the real binary of V on T, run
//! where that binary runs (`host = "{target}"`), its result committed as
//! `validation/V/T.json`. Version metadata derives `validation` and `status` from these files,
//! so a version whose required target passes is promoted with no human step.
//!
//! ```toml
//! [artifact.validation]
//! rule = "validation"
//! params = ["pinned", "target"]
//! host = "{target}"
//! inputs = ["binary@{pinned}/{target}", "wrapper_coverage.json", "RULES.json"]
//! outputs = ["validation/{pinned}/{target}.json"]
//! config = { version = "{pinned}", check = "help-surface" }
//! ```
//!
//! Checks (`config.check`):
//! - `help-surface` (default): [`wrapper_check::check`], what `wrapper_coverage.json` claims as
//!   covered on the target exists in the binary's help (inputs: the binary first, then
//!   `wrapper_coverage.json` and `RULES.json`); `config.help_timeout_ms` per invocation;
//!   `config.cli` = `codex` (default: clap's help) or `claude` (Claude Code's Commander help,
//!   run as `claude-snapshot` runs it: cleared environment, fresh HOME).
//! - `command`: `config.command` run with `sh -c` in the sandbox root (where the declared inputs
//!   are: e.g. the wrapper's sources), the binary's absolute path in `PARITY_BINARY`, the version
//!   and target in `PARITY_VERSION` / `PARITY_TARGET`; exit 0 = passed. `config.env` names the
//!   variables it depends on (their values are part of the key); the rest of the environment is
//!   inherited, unkeyed, except `CODEX_HOME`, a fresh empty directory. `config.timeout_secs`
//!   (default 1800) bounds it; the process group is killed at the deadline (a failure).
//!
//! A check that fails is a result (`"result": "failed"` with the failures), not a failed node:
//! the version then stays `reported`. A check that cannot run at all (no `sh`, unreadable
//! inputs) fails the node. The result file holds no time, path or host name: the same binary and
//! claims give the same bytes.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use parity_engine::exec::{Rule, RuleContext, RuleError};
use parity_engine::graph::{Node, OutputKind};
use serde::{Deserialize, Serialize};

use crate::coverage::TargetSpace;
use crate::snapshot::Cli;
use crate::snapshot::exec::{Outcome, Purpose, Runner, render_cmd};
use crate::wrapper_check::{self, Failure};
use crate::{common, nodes};

/// Where the results live under the pipeline root: `validation/<version>/<target>.json`.
pub const RESULTS_DIR: &str = "validation";

/// The committed result of one `validation@V/T` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationResult {
    /// Format version (1).
    pub schema_version: u32,
    /// The upstream version validated.
    pub version: String,
    /// The target whose binary ran.
    pub target: String,
    /// `help-surface` or `command`.
    pub check: String,
    /// The command run (`command` checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `passed` or `failed`.
    pub result: String,
    /// What was checked (`help-surface`: commands and flags/args).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<Checked>,
    /// Why it failed; empty when it passed.
    pub failures: Vec<ResultFailure>,
}

/// The counts of a `help-surface` check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checked {
    /// Command paths whose help was read.
    pub commands: usize,
    /// Flags and args looked up in that help.
    pub units: usize,
}

/// One failure of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultFailure {
    /// What was claimed or run.
    pub claim: String,
    /// Why it does not hold.
    pub reason: String,
}

impl ValidationResult {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.result == "passed"
    }

    /// Reads and checks a result file; errors name it.
    pub fn read(path: &Path) -> Result<ValidationResult> {
        let r: ValidationResult = common::read_json(path)?;
        let ok = r.schema_version == 1
            && matches!(r.result.as_str(), "passed" | "failed")
            && (r.result == "passed") == r.failures.is_empty();
        if !ok {
            bail!(
                "`{}` is not a validation result (schema_version 1, result `passed` with no failures or `failed` with some)",
                path.display()
            );
        }
        Ok(r)
    }
}

/// The path of the result of (version, target), relative to the pipeline root.
pub fn result_path(version: &str, target: &str) -> String {
    format!("{RESULTS_DIR}/{version}/{target}.json")
}

/// The declared check of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    HelpSurface { timeout: Duration, cli: Cli },
    Command { command: String, timeout: Duration },
}

impl Check {
    fn of(node: &Node) -> Result<Check, String> {
        let positive = |key: &str, default: u64| -> Result<u64, String> {
            match node.config.get(key) {
                None => Ok(default),
                Some(v) => v
                    .as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`config.{key}` must be a positive integer (got {v})")),
            }
        };
        let command = node.config.get("command");
        let kind = node.config.get("check").and_then(|c| c.as_str());
        match (kind, command) {
            (None | Some("help-surface"), None) => {
                nodes::no_config_but(node, &["version", "check", "help_timeout_ms", "cli"])?;
                let cli = match node.config.get("cli") {
                    None => Cli::Codex,
                    Some(v) if v == "codex" => Cli::Codex,
                    Some(v) if v == "claude" => Cli::Claude,
                    Some(v) => {
                        return Err(format!(
                            "`config.cli` must be `codex` or `claude` (got {v})"
                        ));
                    }
                };
                Ok(Check::HelpSurface {
                    timeout: Duration::from_millis(positive("help_timeout_ms", 30_000)?),
                    cli,
                })
            }
            (None | Some("command"), Some(c)) => {
                nodes::no_config_but(
                    node,
                    &["version", "check", "command", "env", "timeout_secs"],
                )?;
                let command = c
                    .as_str()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or("`config.command` must be a non-empty string")?;
                match node.config.get("env") {
                    None => {}
                    Some(serde_json::Value::Array(a)) if a.iter().all(|v| v.is_string()) => {}
                    Some(_) => return Err("`config.env` must be a list of variable names".into()),
                }
                Ok(Check::Command {
                    command: command.to_string(),
                    timeout: Duration::from_secs(positive("timeout_secs", 1800)?),
                })
            }
            (Some("help-surface"), Some(_)) => {
                Err("`config.command` runs with `check = \"command\"`, not `help-surface`".into())
            }
            (Some("command"), None) => {
                Err("`config.check = \"command\"` needs `config.command`".into())
            }
            (Some(other), _) => Err(format!(
                "`config.check` `{other}` is not `help-surface` or `command`"
            )),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Check::HelpSurface { .. } => "help-surface",
            Check::Command { .. } => "command",
        }
    }
}

/// The `validation` rule.
pub struct ValidationRule;

const WRAPPER: &str = "wrapper_coverage.json";
const RULES: &str = "RULES.json";

fn target(node: &Node) -> Result<&str, String> {
    node.params
        .get("target")
        .ok_or_else(|| "needs a `target` param".to_string())
}

impl Rule for ValidationRule {
    fn name(&self) -> &'static str {
        "validation"
    }
    /// `config.env`, as for the `command` rule.
    fn env(&self, node: &Node) -> Vec<String> {
        parity_engine::command::CommandRule.env(node)
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        nodes::version(node)?;
        target(node)?;
        let check = Check::of(node)?;
        if node.inputs.is_empty() {
            return Err("the first input must be the binary (`binary@{version}/{target}`)".into());
        }
        if matches!(check, Check::HelpSurface { .. }) {
            for f in [WRAPPER, RULES] {
                if !nodes::has_source_input(node, &nodes::named(node, f)) {
                    return Err(format!(
                        "the `help-surface` check reads `{f}`: declare it as an input"
                    ));
                }
            }
        }
        match &node.outputs[..] {
            [o] if !o.dir && o.kind == OutputKind::Committed => Ok(()),
            _ => Err(
                "declares one output, the committed result (`validation/{version}/{target}.json`)"
                    .into(),
            ),
        }
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let node = ctx.node;
        let (version, target) = (nodes::version(node)?, target(node)?.to_string());
        let check = Check::of(node)?;
        let binary_name = ctx.inputs.first().ok_or("the binary input is absent")?;
        let private = tempfile::Builder::new()
            .prefix("bin-")
            .tempdir_in(ctx.root().parent().unwrap_or(ctx.root()))
            .context("failed to create a private directory for the binary")?;
        let binary = nodes::executable(&ctx.path(binary_name), private.path())?;
        let mut result = ValidationResult {
            schema_version: 1,
            version: version.clone(),
            target: target.clone(),
            check: check.name().to_string(),
            command: None,
            result: String::new(),
            checked: None,
            failures: Vec::new(),
        };
        match &check {
            Check::HelpSurface { timeout, cli } => {
                let space = target_space(&ctx.path(&nodes::named(ctx.node, RULES)))?;
                let report = wrapper_check::check(
                    &binary,
                    &ctx.path(&nodes::named(ctx.node, WRAPPER)),
                    &space,
                    &target,
                    *timeout,
                    *cli,
                )
                .with_context(|| format!("help-surface check of `{binary_name}` failed to run"))?;
                result.checked = Some(Checked {
                    commands: report.commands,
                    units: report.units,
                });
                result.failures = report
                    .failures
                    .into_iter()
                    .map(ResultFailure::from)
                    .collect();
            }
            Check::Command { command, timeout } => {
                result.command = Some(command.clone());
                result.failures = run_command(ctx, command, &binary, &version, &target, *timeout)?;
            }
        }
        result.result = if result.failures.is_empty() {
            "passed"
        } else {
            "failed"
        }
        .to_string();
        eprintln!(
            "validation of {version} on {target} ({}): {}{}",
            result.check,
            result.result,
            result
                .failures
                .iter()
                .map(|f| format!("\n  {}: {}", f.claim, f.reason))
                .collect::<String>()
        );
        common::write_json(&ctx.output(0), &result)?;
        Ok(())
    }
}

impl From<Failure> for ResultFailure {
    fn from(f: Failure) -> ResultFailure {
        ResultFailure {
            claim: f.claim,
            reason: f.reason,
        }
    }
}

/// RULES `union.expected_targets` and `union.platform_mapping`.
fn target_space(rules: &Path) -> Result<TargetSpace> {
    #[derive(Deserialize)]
    struct Rules {
        union: Union,
    }
    #[derive(Deserialize)]
    struct Union {
        expected_targets: Vec<String>,
        #[serde(default)]
        platform_mapping: std::collections::BTreeMap<String, String>,
    }
    let r: Rules = common::read_json(rules)?;
    Ok(TargetSpace {
        expected: r.union.expected_targets,
        platform_mapping: r.union.platform_mapping,
    })
}

/// Lines of the command's output shown on stderr when it fails.
const TAIL_LINES: usize = 40;

/// Runs the `command` check; the failures (none = passed).
fn run_command(
    ctx: &RuleContext<'_>,
    command: &str,
    binary: &Path,
    version: &str,
    target: &str,
    timeout: Duration,
) -> Result<Vec<ResultFailure>> {
    let binary = std::path::absolute(binary)
        .with_context(|| format!("failed to resolve `{}`", binary.display()))?;
    // A test suite that timed out is a failure, not a slow probe to give a second chance.
    let mut runner = Runner::new("sh".into(), timeout, Cli::Codex)?
        .no_retry()
        .current_dir(&nodes::layout_root(ctx))
        .env("PARITY_BINARY", binary.as_os_str())
        .env("PARITY_VERSION", version)
        .env("PARITY_TARGET", target);
    // The wrapper's own tooling (cargo) needs the real HOME; only CODEX_HOME stays hermetic.
    if let Some(home) = std::env::var_os("HOME") {
        runner = runner.env("HOME", home);
    }
    let args = ["-c".to_string(), command.to_string()];
    let claim = format!("`{command}`");
    let outcome = runner
        .run(&args, Purpose::Other)
        .map_err(|e| anyhow!("cannot start `sh` for the command check: {e}"))?;
    Ok(match outcome {
        Outcome::Exited(done) if done.success() => Vec::new(),
        Outcome::Exited(done) => {
            let text = done.failure(&render_cmd("sh", &args));
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
            eprintln!("validation command failed (last {TAIL_LINES} lines):\n{tail}");
            vec![ResultFailure {
                claim,
                reason: format!("exited {}", done.code()),
            }]
        }
        Outcome::TimedOut => vec![ResultFailure {
            claim,
            reason: format!("timed out after {} s", timeout.as_secs()),
        }],
    })
}
