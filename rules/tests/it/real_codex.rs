//! Opt-in: the example wrapper's claims against a real codex binary, and the recorded result in
//! `cli_manifests/codex/validation.toml` for that version and target.
//!
//!     PARITY_REAL_CODEX=/path/to/codex-x86_64-unknown-linux-musl \
//!       cargo test -p parity-rules --test it real_codex -- --nocapture
//!
//! `PARITY_REAL_CODEX_TARGET` names the binary's target (default `x86_64-unknown-linux-musl`).
//! It is `#[ignore]`d: run it with `--ignored` (as `.ci/run` does); without `PARITY_REAL_CODEX`
//! it fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parity_rules::coverage::TargetSpace;
use parity_rules::promote::{Outcome, Results};
use parity_rules::rules_json::RulesJson;
use parity_rules::wrapper_check;

use crate::files::version_of;

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli_manifests/codex")
}

fn space() -> TargetSpace {
    RulesJson::read(&manifests().join("RULES.json"))
        .and_then(|r| r.target_space())
        .unwrap()
}

#[test]
#[ignore = "needs PARITY_REAL_CODEX=/path/to/codex (a real binary; .ci/run sets it)"]
fn real_codex_backs_the_recorded_validation() {
    let binary = std::env::var("PARITY_REAL_CODEX")
        .expect("set PARITY_REAL_CODEX=/path/to/codex to run this opt-in test");
    let binary = PathBuf::from(binary);
    let target = std::env::var("PARITY_REAL_CODEX_TARGET")
        .unwrap_or_else(|_| "x86_64-unknown-linux-musl".to_string());
    let version = version_of(&binary);
    let space = space();
    let report = wrapper_check::check(
        &binary,
        &manifests().join("wrapper_coverage.json"),
        &space,
        &target,
        Duration::from_secs(30),
        parity_rules::snapshot::Cli::Codex,
    )
    .unwrap();
    eprintln!(
        "codex {version} on {target}: {} commands, {} flags/args checked, {} failures",
        report.commands,
        report.units,
        report.failures.len()
    );
    for f in &report.failures {
        eprintln!("  {}: {}", f.claim, f.reason);
    }
    assert!(report.commands > 0, "the wrapper claims no command");
    let results = Results::read(&manifests().join("validation.toml"), &space.expected).unwrap();
    let want = if report.failures.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    assert_eq!(
        results.outcome(&version, &target),
        Some(want),
        "validation.toml must record {want:?} for {version} on {target}"
    );
}
