//! `parity-rules`: the parity rules of codex and Claude Code.
//!
//! Each rule works two ways: as a drop-in for the reference `xtask` command (`parity rule …`,
//! same flags, same exit codes, byte-identical outputs) and as a pipeline node registered into
//! the engine. Exact behaviour: `../shared/spec/REFERENCE_PIPELINE.md` and
//! `../shared/spec/CLAUDE_PIPELINE.md`; deliberate deviations are listed in
//! `docs/deviations.md` and `docs/claude.md`.
//!
//! Map:
//! - [`common`]    JSON writing (serde_json pretty + `\n`, atomic), SOURCE_DATE_EPOCH, path order.
//! - [`rules_json`] `RULES.json`: the one typed model every rule reads.
//! - [`unit`](mod@unit) the unit of parity (command, flag, arg) and its identity.
//! - [`snapshot`]  crawl a codex or Claude Code binary's help into a per-target snapshot (spec §1).
//! - [`union`]     merge per-target snapshots into `union.json` (spec §2), for either CLI.
//! - [`coverage`]  the wrapper coverage manifest and its scope resolution (spec §3).
//! - [`report`]    coverage reports any / all / per target (spec §4).
//! - [`metadata`]  `versions/V.json` (spec §5.1, §5.2).
//! - [`promote`]   recorded validation results, pointers and `current.json` (spec §5.3, §5.4).
//! - [`validate`]  the validator (spec §6).
//! - [`retain`]    pruning of out-of-window versions (spec §7).
//! - [`wrapper_check`] the help-surface check: the wrapper's claims against a real binary.
//! - [`validation`] `validation@V/T`: a declared check of the wrapper against the binary, its
//!   result committed (`validation/V/T.json`).
//! - [`pr_body`]   the title and body of the pull request proposing a version.
//! - [`publish`]   that pull request: commit, push (never forced), open or update.
//! - [`release`]   upstream releases, pins, `artifacts.lock.json`, acquisition (spec §8.1-8.3).
//! - [`dist`]      parity's own release artifacts (`distribution-contract@1.0`).
//! - [`nodes`]     the rules above as pipeline nodes, registered into the engine, and the list
//!   of `parity rule` commands.
//! - [`drop_in`]   how a rule declares its `parity rule` command (clap arguments + a function).
//! - [`adopt`]     the pipeline of a reference-layout tree made before parity (`init --adopt`).

pub mod adopt;
pub mod common;
pub mod coverage;
pub mod dist;
pub mod drop_in;
pub mod metadata;
pub mod nodes;
pub mod pr_body;
pub mod promote;
pub mod publish;
pub mod release;
pub mod report;
pub mod retain;
pub mod rules_json;
pub mod snapshot;
pub mod union;
pub mod unit;
pub mod validate;
pub mod validation;
pub mod wrapper_check;

/// Every `parity rule` command (the reference `xtask` drop-ins), in `parity rule --help` order:
/// each declared in its rule's file (see [`drop_in`]). A new rule with a command adds its line
/// here.
pub static DROP_INS: &[&dyn drop_in::DropIn] = &[
    &snapshot::CODEX_COMMAND,
    &snapshot::CLAUDE_COMMAND,
    &union::CODEX_COMMAND,
    &union::CLAUDE_COMMAND,
    &report::COMMAND,
    &metadata::COMMAND,
    &validate::COMMAND,
    &retain::COMMAND,
    &release::ACQUIRE_COMMAND,
];

/// Registers every rule into the engine; the release rules fetch as `release` says. A new rule
/// adds its line here (beside its `pub mod` line above): with the rule's own file, that is all
/// it takes.
pub fn register(registry: &mut parity_engine::exec::Registry, release: release::Settings) {
    use snapshot::Cli;
    registry.register(nodes::UNION);
    registry.register(nodes::CLAUDE_UNION);
    registry.register(nodes::REPORT);
    registry.register(nodes::MetadataRule);
    registry.register(nodes::SnapshotRule(Cli::Codex));
    registry.register(nodes::SnapshotRule(Cli::Claude));
    registry.register(nodes::PointersRule);
    registry.register(nodes::CurrentRule);
    registry.register(nodes::ValidateRule);
    registry.register(validation::ValidationRule);
    release::register(registry, release);
    dist::register(registry);
}
