//! The per-target snapshot document (`snapshots/<V>/<target>.json`, snapshot_schema_version 1),
//! as the snapshot rules write it and the union reads it back: one model for both, and for
//! both CLIs (codex writes `features`, Claude Code never does; spec §1.11, claude §1.9). Field
//! order is the reference's; absent optional fields are omitted, never `null`; reading ignores
//! unknown fields.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A command path: `[]` for the root.
pub type CmdPath = Vec<String>;

/// The snapshot document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always 1.
    pub snapshot_schema_version: u32,
    /// `codex-cli` or `claude-code-cli`.
    pub tool: String,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,
    /// The probed binary.
    pub binary: Binary,
    /// Every command, path order.
    #[serde(default)]
    pub commands: Vec<CommandEntry>,
    /// codex only: the feature probe and the feature-enabled crawl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Value>,
    /// Crawl notes and applied supplement records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_omissions: Option<Vec<String>>,
}

/// The probed binary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Binary {
    /// SHA-256 of the binary file, lowercase hex.
    pub sha256: String,
    /// Its size.
    pub size_bytes: u64,
    /// The host that ran the snapshot.
    pub platform: Platform,
    /// The target (`x86_64-unknown-linux-musl`, `linux-x64`).
    pub target_triple: String,
    /// `--version` output, trimmed.
    pub version_output: String,
    /// The semantic version found in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_version: Option<String>,
    /// codex only: `stable`, `beta` or `nightly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// codex only: a commit hash in the version output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// `binary.platform`: the OS and architecture of the machine that ran the snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`, `macos`, `windows`.
    pub os: String,
    /// `x86_64`, `aarch64`.
    pub arch: String,
}

impl Platform {
    /// This machine.
    pub fn host() -> Platform {
        Platform {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// One `commands[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEntry {
    /// Its path.
    pub path: CmdPath,
    /// Description (clap layouts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// Usage lines joined by `\n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// Never written by a crawl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<String>,
    /// Only from supplements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<String>>,
    /// Positional args, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<ArgEntry>>,
    /// Flags, by long then short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<FlagEntry>>,
}

/// One positional argument of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgEntry {
    /// `PROMPT`, `command`.
    pub name: String,
    /// `<NAME>` rather than `[NAME]`.
    pub required: bool,
    /// `NAME...`.
    pub variadic: bool,
    /// Its description, or `inferred from usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One flag of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagEntry {
    /// `--model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long: Option<String>,
    /// `-m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<String>,
    /// Whether a value name was shown.
    pub takes_value: bool,
    /// `MODEL`, `directories...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
    /// `<X>...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeatable: Option<bool>,
    /// Never written by a crawl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<String>,
    /// Never written by a crawl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<String>>,
}

impl FlagEntry {
    /// Its identity: the long form, else the short.
    pub fn key(&self) -> Option<&str> {
        self.long.as_deref().or(self.short.as_deref())
    }
}
