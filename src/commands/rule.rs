//! `parity rule …`: the reference `xtask` commands, same flags and exit codes.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use parity_rules::{metadata, release, report, retain, snapshot, union, validate};

use crate::cli::print_error;

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Crawl a codex binary's help into a per-target snapshot (reference `codex-snapshot`).
    Snapshot(SnapshotArgs),
    /// Merge the per-target snapshots of a version into `union.json` (reference `codex-union`).
    Union(RootVersion),
    /// Write the coverage reports of a version (reference `codex-report`).
    Report(RootVersion),
    /// Write `versions/<V>.json` (reference `codex-version-metadata`).
    VersionMetadata(MetadataArgs),
    /// Validate a parity root (reference `codex-validate`); exit 0 ok, 2 violations, 3 fatal.
    Validate(ValidateArgs),
    /// Print, and with --apply delete, versions outside the retention window (reference `codex-retain`).
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
    /// Output file, `<root>/snapshots/<version>/<target>.json`.
    #[arg(long, value_name = "F")]
    out_file: PathBuf,
    /// Also write the raw help texts under `<root>/raw_help/<version>/<target>/`.
    #[arg(long)]
    capture_raw_help: bool,
    /// Target triple (default: the out-file name without `.json`).
    #[arg(long, value_name = "T")]
    raw_help_target: Option<String>,
    /// Supplement file (`supplement/commands.json`).
    #[arg(long, value_name = "F")]
    supplement: Option<PathBuf>,
    /// RFC 3339 timestamp used verbatim as `collected_at`.
    #[arg(long, value_name = "TS")]
    collected_at: Option<String>,
    /// Timeout of one help invocation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    help_timeout_ms: u64,
    /// Help invocations run at once (default: cores).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
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
        RuleCommand::Snapshot(a) => snapshot::run(&snapshot::SnapshotOptions {
            codex_binary: a.codex_binary,
            out_file: a.out_file,
            capture_raw_help: a.capture_raw_help,
            raw_help_target: a.raw_help_target,
            supplement: a.supplement,
            collected_at: a.collected_at,
            timeout: Duration::from_millis(a.help_timeout_ms),
            jobs: a.jobs.unwrap_or_else(default_jobs),
        }),
        RuleCommand::Union(a) => union::run(&union::UnionOptions {
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
