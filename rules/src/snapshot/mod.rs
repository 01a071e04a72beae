//! The per-target snapshot of a CLI's surface, crawled from its help: codex (clap, spec §1)
//! and Claude Code (Commander, claude spec §1), the reference's `codex-snapshot` and
//! `claude-snapshot`.
//!
//! - [`exec`]   running the binary: hermetic env, timeout, text normalization.
//! - [`parse`]  help-text parsing and usage inference (one scanner, each CLI's command rule).
//! - [`crawl`]  the discovery crawls.
//! - [`codex`]  codex only: channel and commit, the feature probe, the second crawl.
//! - [`model`]  the snapshot document.
//! - this file: order of operations, layout checks, supplements, raw help layout, output.
//!
//! Nothing is written until everything succeeded: the snapshot is written atomically, raw help
//! goes to a staging directory that replaces `raw_help/<version>/<target>/` at the end.

pub mod codex;
pub mod crawl;
pub mod exec;
pub mod model;
pub mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use regex::Regex;
use serde::Deserialize;

use crate::common;
use crate::rules_json::RulesJson;
use crawl::NotePaths;
use exec::{Purpose, Runner};
use model::{Binary, CmdPath, CommandEntry, Platform, Snapshot};

/// The upstream CLI a snapshot is of: its help format, its crawl and its raw help layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// OpenAI's `codex` (clap).
    Codex,
    /// Anthropic's Claude Code (Commander).
    Claude,
}

impl Cli {
    /// The snapshot's `tool`.
    pub fn tool(self) -> &'static str {
        match self {
            Cli::Codex => "codex-cli",
            Cli::Claude => "claude-code-cli",
        }
    }

    /// The program's name in messages (`invalid codex binary path`).
    pub fn name(self) -> &'static str {
        match self {
            Cli::Codex => "codex",
            Cli::Claude => "claude",
        }
    }

    /// Where the raw help of `path` goes, relative to `raw_help/<version>/<target>/`: `help.txt`
    /// for the root; codex `commands/<t1>/<t2>/…/help.txt`; Claude Code
    /// `commands/<prefix>__<sha256>/help.txt` (claude spec §1.8).
    pub fn raw_help_file(self, path: &[String]) -> PathBuf {
        let mut file = PathBuf::new();
        if !path.is_empty() {
            file.push("commands");
            match self {
                Cli::Codex => file.extend(path),
                Cli::Claude => file.push(hashed_dir_name(path)),
            }
        }
        file.push("help.txt");
        file
    }
}

/// `<prefix>__<hash>`: hash = sha256 of the tokens joined by U+001F; prefix = the tokens joined
/// by `-`, cut to 40 bytes, trailing `-` removed (`cmd` if nothing is left).
fn hashed_dir_name(path: &[String]) -> String {
    let hash = parity_engine::hash::sha256_hex(path.join("\u{1f}").as_bytes());
    let mut prefix = path.join("-");
    if prefix.len() > 40 {
        let mut cut = 40;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
        prefix = prefix.trim_end_matches('-').to_string();
    }
    if prefix.is_empty() {
        prefix = "cmd".to_string();
    }
    format!("{prefix}__{hash}")
}

/// Where the snapshot goes.
#[derive(Debug, Clone)]
pub enum Out {
    /// Per-target mode: `<root>/snapshots/<version>/<target>.json`.
    File(PathBuf),
    /// Legacy mode: `<dir>/current.json`, RULES not read.
    Dir(PathBuf),
}

/// `parity rule codex-snapshot` / `claude-snapshot` options.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Which CLI.
    pub cli: Cli,
    /// The binary to probe.
    pub binary: PathBuf,
    /// `--out-file` or `--out-dir`.
    pub out: Out,
    /// Also write `<root>/raw_help/<version>/<target>/…/help.txt`.
    pub capture_raw_help: bool,
    /// Target name (default: the out-file stem).
    pub raw_help_target: Option<String>,
    /// `supplement/commands.json`.
    pub supplement: Option<PathBuf>,
    /// RFC 3339 override of `collected_at`, copied verbatim.
    pub collected_at: Option<String>,
    /// Timeout of one invocation (retried once with four times as much).
    pub timeout: Duration,
    /// Help invocations run at once.
    pub jobs: usize,
    /// How Claude Code notes name the binary.
    pub note_paths: NotePaths,
}

/// Where the outputs go (spec §1.10).
#[derive(Debug)]
struct Layout {
    out_file: PathBuf,
    target: String,
    raw_help_dir: Option<PathBuf>,
}

/// Probes the binary and writes the snapshot (and raw help).
pub fn run(opts: &SnapshotOptions) -> Result<()> {
    let cli = opts.cli;
    let binary = canonical_binary(&opts.binary, cli)?;
    let collected_at = collected_at(opts.collected_at.as_deref())?;
    let bytes = std::fs::read(&binary)
        .map_err(|e| anyhow!("I/O error: failed to read `{}`: {e}", binary.display()))?;
    let runner = Runner::new(binary, opts.timeout, cli)?;
    let version_args = ["--version".to_string()];
    let version_output = crawl::strict(&runner, &version_args, Purpose::Other)?
        .trim()
        .to_string();
    let semantic_version = SEMVER.find(&version_output).map(|m| m.as_str().to_string());
    let version_dir = match (&opts.out, &semantic_version) {
        (_, Some(v)) => v.clone(),
        (Out::Dir(_), None) => "unknown".to_string(),
        (Out::File(_), None) => {
            let cmd = runner.render(&version_args);
            return Err(anyhow!("`{cmd}` printed {version_output:?}")
                .context("failed to probe semantic version; required for per-target snapshots"));
        }
    };
    let layout = resolve_layout(opts, &version_dir)?;

    let (mut found, features) = match cli {
        Cli::Codex => {
            let (found, features) = codex::discover(&runner, opts.jobs)?;
            (found, Some(features))
        }
        Cli::Claude => (
            crawl::crawl_claude(&runner, opts.jobs, opts.note_paths)?,
            None,
        ),
    };
    let mut known_omissions = std::mem::take(&mut found.notes);
    if let Some(path) = &opts.supplement {
        known_omissions.extend(apply_supplement(&mut found.commands, path)?);
    }
    let (channel, commit) = match cli {
        Cli::Codex => (
            semantic_version.as_deref().map(codex::channel),
            codex::commit(&version_output),
        ),
        Cli::Claude => (None, None),
    };
    let snapshot = Snapshot {
        snapshot_schema_version: 1,
        tool: cli.tool().to_string(),
        collected_at: Some(collected_at),
        binary: Binary {
            sha256: parity_engine::hash::sha256_hex(&bytes),
            size_bytes: bytes.len() as u64,
            platform: Platform::host(),
            target_triple: layout.target.clone(),
            version_output,
            semantic_version,
            channel,
            commit,
        },
        commands: found.commands.into_values().collect(),
        features,
        known_omissions: (!known_omissions.is_empty()).then_some(known_omissions),
    };
    write_outputs(cli, &layout, &snapshot, &found.help)
}

static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?").expect("semver pattern is valid")
});

/// `--collected-at` validated as RFC 3339 and kept verbatim, else the §0.3 timestamp.
fn collected_at(given: Option<&str>) -> Result<String> {
    match given {
        Some(s) => {
            s.parse::<jiff::Timestamp>()
                .map_err(|_| anyhow!("invalid collected_at (must be RFC3339): {s}"))?;
            Ok(s.to_string())
        }
        None => common::timestamp(),
    }
}

/// Raw help is staged first, then the snapshot is written atomically, then the staged raw help
/// replaces the old directory: a failure before this point leaves every output untouched.
fn write_outputs(
    cli: Cli,
    layout: &Layout,
    snapshot: &Snapshot,
    help: &BTreeMap<CmdPath, String>,
) -> Result<()> {
    let json = common::to_json_pretty(snapshot)?;
    let staged = match &layout.raw_help_dir {
        Some(dir) => Some((dir, stage_raw_help(cli, dir, help)?)),
        None => None,
    };
    parity_engine::fsutil::write_atomic(&layout.out_file, json.as_bytes()).map_err(io_error)?;
    if let Some((dir, staged)) = staged {
        parity_engine::fsutil::rename_into_place(&staged.keep(), dir).map_err(io_error)?;
    }
    Ok(())
}

/// The reference's `I/O error: …` text, with the engine error's cause.
fn io_error(e: parity_engine::Error) -> anyhow::Error {
    anyhow!("I/O error: {:#}", anyhow::Error::from(e))
}

fn canonical_binary(given: &Path, cli: Cli) -> Result<PathBuf> {
    let invalid = |p: &Path| anyhow!("invalid {} binary path: {}", cli.name(), p.display());
    let canonical = std::fs::canonicalize(given).map_err(|_| invalid(given))?;
    if !canonical.is_file() {
        return Err(invalid(&canonical));
    }
    Ok(canonical)
}

/// Resolves and checks where the outputs go (spec §1.10): in out-file mode the
/// `<root>/snapshots/<version>/<target>.json` layout and RULES.json; in out-dir mode nothing.
fn resolve_layout(opts: &SnapshotOptions, version: &str) -> Result<Layout> {
    let no_target = || {
        anyhow!(
            "--capture-raw-help requires a target triple (use --raw-help-target, or infer it from --out-file)"
        )
    };
    let out = match &opts.out {
        Out::File(out) => out,
        Out::Dir(dir) => {
            let target = opts.raw_help_target.as_deref().unwrap_or("unknown");
            let mut raw_help_dir = None;
            if opts.capture_raw_help {
                let base = dir.join("raw_help").join(version);
                raw_help_dir = Some(match &opts.raw_help_target {
                    Some(_) if target == "unknown" => return Err(no_target()),
                    Some(t) => base.join(t),
                    None => base,
                });
            }
            return Ok(Layout {
                out_file: dir.join("current.json"),
                target: target.to_string(),
                raw_help_dir,
            });
        }
    };
    let layout_err = |msg: String| anyhow!("invalid --out-file layout: {msg}");
    let name_of = |p: Option<&Path>| {
        p.and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let parent = out.parent();
    let parent_name = name_of(parent);
    if parent_name != version {
        return Err(layout_err(format!(
            "expected parent dir name {version}, got {parent_name}"
        )));
    }
    let snapshots = parent.and_then(Path::parent);
    let grand_name = name_of(snapshots);
    if grand_name != "snapshots" {
        return Err(layout_err(format!(
            "expected snapshots/<version> layout, got .../{grand_name}/{parent_name}"
        )));
    }
    let file_name = name_of(Some(out));
    let Some(stem) = file_name.strip_suffix(".json") else {
        return Err(layout_err(
            "expected out-file name like <target_triple>.json".into(),
        ));
    };
    let target = opts
        .raw_help_target
        .clone()
        .unwrap_or_else(|| stem.to_string());
    if file_name != format!("{target}.json") {
        return Err(layout_err(format!(
            "expected filename {target}.json, got {file_name}"
        )));
    }
    let root = match snapshots.and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if opts.capture_raw_help && target == "unknown" {
        return Err(no_target());
    }
    check_rules(&root.join("RULES.json"), &target)?;
    let raw_help_dir = opts
        .capture_raw_help
        .then(|| root.join("raw_help").join(version).join(&target));
    Ok(Layout {
        out_file: out.clone(),
        target,
        raw_help_dir,
    })
}

fn check_rules(path: &Path, target: &str) -> Result<()> {
    let rules = RulesJson::read(path)?;
    let bad = rules.sorting_mismatches(&[
        ("commands", "lexicographic_path"),
        ("flags", "by_key_then_long_then_short"),
        ("args", "by_name"),
    ]);
    if !bad.is_empty() {
        bail!("unsupported rules configuration: {}", bad.join(", "));
    }
    let expected = rules.need(&rules.union.expected_targets, "union.expected_targets")?;
    if !expected.iter().any(|t| t == target) {
        bail!("raw_help_target={target} is not in RULES.json.union.expected_targets");
    }
    Ok(())
}

/// `supplement/commands.json`.
#[derive(Debug, Deserialize)]
struct Supplement {
    version: u32,
    commands: Vec<SupplementItem>,
}

#[derive(Debug, Deserialize)]
struct SupplementItem {
    path: CmdPath,
    platforms: Option<Vec<String>>,
    #[allow(dead_code)]
    note: String,
}

/// Inserts missing paths and overwrites differing platforms (spec §1.8); returns the sorted,
/// de-duplicated records of the applied items.
fn apply_supplement(
    commands: &mut BTreeMap<CmdPath, CommandEntry>,
    path: &Path,
) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("I/O error: failed to read `{}`: {e}", path.display()))?;
    let supplement: Supplement = serde_json::from_str(&text)
        .map_err(|e| anyhow!("failed to parse JSON: {}: {e}", path.display()))?;
    if supplement.version != 1 {
        bail!(
            "supplement file version must be 1 (got {})",
            supplement.version
        );
    }
    let mut records = Vec::new();
    for item in supplement.commands {
        let mut applied = false;
        let entry = commands.entry(item.path.clone()).or_insert_with(|| {
            applied = true;
            CommandEntry {
                path: item.path.clone(),
                ..CommandEntry::default()
            }
        });
        if item.platforms.is_some() && item.platforms != entry.platforms {
            entry.platforms = item.platforms;
            applied = true;
        }
        if applied {
            records.push(format!(
                "supplement/commands.json:v1:{}",
                item.path.join(" ")
            ));
        }
    }
    records.sort();
    records.dedup();
    Ok(records)
}

/// Writes every help text into a fresh staging directory next to `dir`, in `cli`'s layout.
fn stage_raw_help(
    cli: Cli,
    dir: &Path,
    help: &BTreeMap<CmdPath, String>,
) -> Result<tempfile::TempDir> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| anyhow!("I/O error: failed to create `{}`: {e}", parent.display()))?;
    let staged = tempfile::Builder::new()
        .prefix(".parity-raw-help-")
        .tempdir_in(parent)
        .map_err(|e| {
            anyhow!(
                "I/O error: failed to create a temp dir in `{}`: {e}",
                parent.display()
            )
        })?;
    for (path, text) in help {
        let file = staged.path().join(cli.raw_help_file(path));
        if let Some(d) = file.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| anyhow!("I/O error: failed to create `{}`: {e}", d.display()))?;
        }
        std::fs::write(&file, text)
            .map_err(|e| anyhow!("I/O error: failed to write `{}`: {e}", file.display()))?;
    }
    Ok(staged)
}

/// `parity rule snapshot` (reference `codex-snapshot`).
pub const CODEX_COMMAND: crate::drop_in::Command<SnapshotArgs> = crate::drop_in::Command {
    name: "snapshot",
    aliases: &["codex-snapshot"],
    about: "Crawl a codex binary's help into a per-target snapshot (reference `codex-snapshot`)",
    run: |a| {
        let opts = a
            .common
            .options(Cli::Codex, a.codex_binary, a.help_timeout_ms)?;
        crate::drop_in::done(run(&opts))
    },
};

/// `parity rule claude-snapshot` (reference `claude-snapshot`).
pub const CLAUDE_COMMAND: crate::drop_in::Command<ClaudeSnapshotArgs> = crate::drop_in::Command {
    name: "claude-snapshot",
    aliases: &[],
    about: "Crawl a Claude Code binary's help into a per-target snapshot (reference `claude-snapshot`)",
    run: |a| {
        let opts = a
            .common
            .options(Cli::Claude, a.claude_binary, a.help_timeout_ms)?;
        crate::drop_in::done(run(&opts))
    },
};

/// The arguments of `parity rule snapshot`.
#[derive(Debug, clap::Args)]
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

/// The arguments of `parity rule claude-snapshot`.
#[derive(Debug, clap::Args)]
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
#[derive(Debug, clap::Args)]
struct SnapshotCommon {
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
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct SnapshotOut {
    /// Per-target mode: `<root>/snapshots/<version>/<target>.json`.
    #[arg(long, value_name = "F")]
    out_file: Option<PathBuf>,
    /// Legacy mode: writes `DIR/current.json` (RULES.json is not read).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

impl SnapshotCommon {
    fn options(self, cli: Cli, binary: PathBuf, timeout_ms: u64) -> Result<SnapshotOptions> {
        let out = match (self.out.out_file, self.out.out_dir) {
            (Some(f), None) => Out::File(f),
            (None, Some(d)) => Out::Dir(d),
            _ => bail!("give exactly one of --out-file and --out-dir"),
        };
        Ok(SnapshotOptions {
            cli,
            binary,
            out,
            capture_raw_help: self.capture_raw_help,
            raw_help_target: self.raw_help_target,
            supplement: self.supplement,
            collected_at: self.collected_at,
            timeout: Duration::from_millis(timeout_ms),
            jobs: self
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            note_paths: NotePaths::Full,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_version_stops_at_a_plus() {
        let m = |s: &str| SEMVER.find(s).map(|m| m.as_str().to_string());
        assert_eq!(m("codex-cli 0.92.0").as_deref(), Some("0.92.0"));
        assert_eq!(m("2.1.29 (Claude Code)").as_deref(), Some("2.1.29"));
        assert_eq!(m("x 9.9.9-rc.1+b7").as_deref(), Some("9.9.9-rc.1"));
    }

    #[test]
    fn hashed_raw_help_dirs_are_the_reference_ones() {
        let p = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let name = |t: &[&str]| hashed_dir_name(&p(t));
        assert_eq!(
            name(&["mcp", "list"]),
            "mcp-list__06983314595b4f0230ced701be01de44f19a081a8f3ec652c01627783cfa0cc4"
        );
        assert_eq!(
            name(&["plugin", "marketplace", "repository-settings", "xy"]),
            "plugin-marketplace-repository-settings-x__182023bb6b9295e6475a50dd82b487a96d7f863eb2d4b8a72ec64f4380f63352"
        );
        assert_eq!(
            name(&["configuration-management-subcommand-xyz", "list"]),
            "configuration-management-subcommand-xyz__56140bcf1ef368651e47a3d0be169819695828fa3efccce771dfd6162cdb3dbb"
        );
        assert_eq!(Cli::Claude.raw_help_file(&[]), PathBuf::from("help.txt"));
    }
}
