//! `parity rule …`: the reference `xtask` commands, same flags and exit codes.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use parity_rules::snapshot::Cli;
use parity_rules::snapshot::crawl::NotePaths;
use parity_rules::{metadata, release, report, retain, snapshot, union, validate};

use crate::cli::print_error;

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Crawl a codex binary's help into a per-target snapshot (reference `codex-snapshot`).
    #[command(alias = "codex-snapshot")]
    Snapshot(SnapshotArgs),
    /// Crawl a Claude Code binary's help into a per-target snapshot (reference `claude-snapshot`).
    ClaudeSnapshot(ClaudeSnapshotArgs),
    /// Merge the per-target snapshots of a version into `union.json` (reference `codex-union`).
    #[command(alias = "codex-union")]
    Union(RootVersion),
    /// Merge Claude Code per-target snapshots into `union.json` (reference `claude-union`).
    ClaudeUnion(ClaudeRootVersion),
    /// Write the coverage reports of a version (reference `codex-report`).
    #[command(alias = "codex-report")]
    Report(RootVersion),
    /// Write `versions/<V>.json` (reference `codex-version-metadata`).
    #[command(alias = "codex-version-metadata")]
    VersionMetadata(MetadataArgs),
    /// Validate a parity root (reference `codex-validate`); exit 0 ok, 2 violations, 3 fatal.
    #[command(alias = "codex-validate")]
    Validate(ValidateArgs),
    /// Print, and with --apply delete, versions outside the retention window (reference `codex-retain`).
    #[command(alias = "codex-retain")]
    Retain(RetainArgs),
    /// Download, verify and install the pinned binary of one (version, target) of a lock.
    Acquire(AcquireArgs),
}

#[derive(Debug, Args)]
pub struct AcquireArgs {
    /// `artifacts.lock.json`.
    #[arg(long, value_name = "F")]
    lock: PathBuf,
    /// The codex version.
    #[arg(long, value_name = "V")]
    version: String,
    /// The target triple.
    #[arg(long, value_name = "T")]
    target: String,
    /// Where to install the binary (mode 0755).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// A directory of assets by asset name, looked up before the pinned URL.
    #[arg(long, value_name = "DIR", env = "PARITY_MIRROR")]
    mirror: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The codex binary to probe.
    #[arg(long, value_name = "BIN")]
    codex_binary: PathBuf,
    #[command(flatten)]
    common: SnapshotCommon,
    /// Timeout of one help invocation, in milliseconds (retried once with four times as much).
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    help_timeout_ms: u64,
}

#[derive(Debug, Args)]
pub struct ClaudeSnapshotArgs {
    /// The Claude Code binary (or cli.js wrapper script) to probe.
    #[arg(long, value_name = "BIN")]
    claude_binary: PathBuf,
    #[command(flatten)]
    common: SnapshotCommon,
    /// Timeout of one help invocation, in milliseconds (retried once with four times as much).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    help_timeout_ms: u64,
}

/// The flags both snapshot commands share.
#[derive(Debug, Args)]
pub struct SnapshotCommon {
    #[command(flatten)]
    out: SnapshotOut,
    /// Also write the raw help texts under `<root>/raw_help/<version>/<target>/`.
    #[arg(long)]
    capture_raw_help: bool,
    /// Target (default: the out-file name without `.json`).
    #[arg(long, value_name = "T")]
    raw_help_target: Option<String>,
    /// Supplement file (`supplement/commands.json`).
    #[arg(long, value_name = "F")]
    supplement: Option<PathBuf>,
    /// RFC 3339 timestamp used verbatim as `collected_at`.
    #[arg(long, value_name = "TS")]
    collected_at: Option<String>,
    /// Help invocations run at once (default: cores).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
}

/// Exactly one of `--out-file` and `--out-dir`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SnapshotOut {
    /// Per-target mode: `<root>/snapshots/<version>/<target>.json`.
    #[arg(long, value_name = "F")]
    out_file: Option<PathBuf>,
    /// Legacy mode: writes `DIR/current.json` (RULES.json is not read).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

impl SnapshotCommon {
    fn options(
        self,
        cli: Cli,
        binary: PathBuf,
        timeout_ms: u64,
    ) -> anyhow::Result<snapshot::SnapshotOptions> {
        let out = match (self.out.out_file, self.out.out_dir) {
            (Some(f), None) => snapshot::Out::File(f),
            (None, Some(d)) => snapshot::Out::Dir(d),
            _ => anyhow::bail!("give exactly one of --out-file and --out-dir"),
        };
        Ok(snapshot::SnapshotOptions {
            cli,
            binary,
            out,
            capture_raw_help: self.capture_raw_help,
            raw_help_target: self.raw_help_target,
            supplement: self.supplement,
            collected_at: self.collected_at,
            timeout: Duration::from_millis(timeout_ms),
            jobs: self.jobs.unwrap_or_else(default_jobs),
            note_paths: NotePaths::Full,
        })
    }
}

#[derive(Debug, Args)]
pub struct RootVersion {
    /// The parity root.
    #[arg(long, default_value = "cli_manifests/codex", value_name = "DIR")]
    root: PathBuf,
    /// The version.
    #[arg(long, value_name = "V")]
    version: String,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClaudeRootVersion {
    /// The parity root.
    #[arg(long, default_value = "cli_manifests/claude_code", value_name = "DIR")]
    root: PathBuf,
    /// The version.
    #[arg(long, value_name = "V")]
    version: String,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MetadataArgs {
    #[command(flatten)]
    rv: RootVersion,
    /// `snapshotted`, `reported`, `validated` or `supported`.
    #[arg(long, value_name = "S")]
    status: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Check,
    Fix,
}

#[derive(Debug, Args)]
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

#[derive(Debug, Args)]
pub struct RetainArgs {
    /// The parity root.
    #[arg(long, default_value = "cli_manifests/codex", value_name = "DIR")]
    root: PathBuf,
    /// Delete for real (default: print the plan only).
    #[arg(long)]
    apply: bool,
    /// RULES.json (default `<root>/RULES.json`).
    #[arg(long, value_name = "F")]
    rules: Option<PathBuf>,
}

/// Runs one rule command; 0 ok, 1 failure (validate: 0/2/3).
pub fn exec(cmd: RuleCommand) -> i32 {
    let result = match cmd {
        RuleCommand::Snapshot(a) => a
            .common
            .options(Cli::Codex, a.codex_binary, a.help_timeout_ms)
            .and_then(|o| snapshot::run(&o)),
        RuleCommand::ClaudeSnapshot(a) => a
            .common
            .options(Cli::Claude, a.claude_binary, a.help_timeout_ms)
            .and_then(|o| snapshot::run(&o)),
        RuleCommand::Union(a) => union::run(&union::UnionOptions {
            cli: Cli::Codex,
            root: a.root,
            version: a.version,
            rules: a.rules,
            epoch: None,
        }),
        RuleCommand::ClaudeUnion(a) => union::run(&union::UnionOptions {
            cli: Cli::Claude,
            root: a.root,
            version: a.version,
            rules: a.rules,
            epoch: None,
        }),
        RuleCommand::Report(a) => report::run(&report::ReportOptions {
            root: a.root,
            version: a.version,
            rules: a.rules,
            epoch: None,
        }),
        RuleCommand::VersionMetadata(a) => metadata::run(&metadata::MetadataOptions {
            root: a.rv.root,
            version: a.rv.version,
            status: a.status,
            rules: a.rv.rules,
            epoch: None,
        }),
        RuleCommand::Validate(a) => {
            return validate::run(&validate::ValidateOptions {
                root: a.root,
                mode: match a.mode {
                    ModeArg::Check => validate::Mode::Check,
                    ModeArg::Fix => validate::Mode::Fix,
                },
                json: a.json,
                rules: a.rules,
                schema: a.schema,
                version_schema: a.version_schema,
            });
        }
        RuleCommand::Retain(a) => retain::run(&retain::RetainOptions {
            root: a.root,
            apply: a.apply,
            rules: a.rules,
        }),
        RuleCommand::Acquire(a) => {
            release::acquire_from_lock(&a.lock, &a.version, &a.target, &a.out, a.mirror)
        }
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            print_error(&err);
            1
        }
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
