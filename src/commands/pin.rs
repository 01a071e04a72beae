//! `parity pin [PIPELINE:]V`: track version V and build its pins and the lock.
//!
//! In a workspace, `PIPELINE` names the member (`claude:2.1.30`; it may be left out when one
//! member has a release source). The release must be pinnable: GitHub's `{tag prefix}V`
//! published, not a draft or a prerelease; a bucket's `V/manifest.json` readable with a
//! `buildDate`. V is added to the TOML list of the `version` param (`tracked`: the versions the
//! pipeline builds) and to the list of the pin artifact's version param (`pinned`, when that is
//! another list), with `epoch."V"` = the release's date (GitHub's `published_at`, the
//! manifest's `buildDate`): every artifact of V is stamped with it. Then `pins@V/*` and every
//! `merge-lock` node are built as `parity build` would. If that build fails, the versions file
//! is put back and the pin files it wrote for V are removed.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use parity_engine::graph::OutputKind;
use parity_rules::release::versions;

use crate::cli::{self, GlobalArgs};
use crate::commands::build::{self, BuildArgs};

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The version to pin, `X.Y.Z`; `PIPELINE:X.Y.Z` names a workspace's member pipeline.
    #[arg(value_name = "[PIPELINE:]VERSION", value_parser = cli::member_version_arg)]
    version: cli::MemberVersion,
    /// Build events as JSON lines on stdout (as `parity build --json`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub fetch: cli::FetchArgs,
}

pub fn exec(g: &GlobalArgs, a: PinArgs) -> anyhow::Result<i32> {
    let cli::MemberVersion { member, version } = a.version;
    let workspace = cli::pipeline(g)?;
    let pinned = cli::upstream(&workspace, member.as_deref())?;
    let (upstream, prefix) = (&pinned.upstream, &pinned.prefix);
    let file = versions_file(&upstream.lists)?;
    let keys: Vec<&str> = upstream.lists.iter().map(|(_, k)| k.as_str()).collect();
    let settings = cli::release_settings(g);
    let epoch = upstream
        .pinnable_epoch(&settings, version.clone())
        .with_context(|| format!("cannot pin {version} of `{}`", upstream.name()))?;
    let path = pinned.pipeline.root.join(&file);
    let before = std::fs::read(&path).ok();
    let tracked = versions::track(&path, &keys, version.clone(), epoch)?;
    if !tracked.added.is_empty() {
        let lists = tracked.added.join("`, `");
        eprintln!("    added {version} to `{lists}` in `{file}` (SOURCE_DATE_EPOCH {epoch})");
    }
    match tracked.epoch_was {
        Some(was) => {
            eprintln!("    {version}: SOURCE_DATE_EPOCH {was} -> {epoch} (the release's date)")
        }
        None if tracked.added.is_empty() => eprintln!("    {version} is already pinned"),
        None => {}
    }
    let pins = format!("{prefix}{}@{version}", upstream.pins);
    let new_pins = if tracked.changed {
        missing_outputs(g, &pins)?
    } else {
        Vec::new()
    };
    let mut targets = vec![pins];
    targets.extend(upstream.locks.iter().map(|l| format!("{prefix}{l}")));
    let result = build::exec(g, BuildArgs::of(targets, a.json, a.fetch));
    if tracked.changed && !matches!(result, Ok(0)) {
        match &before {
            Some(bytes) => parity_engine::fsutil::write_atomic(&path, bytes)?,
            None => std::fs::remove_file(&path)?,
        }
        remove_new_pins(&new_pins)?;
        eprintln!("    pinning {version} failed: `{file}` restored");
    }
    result
}

/// The committed outputs of the nodes `pattern` selects that do not exist yet: the pin files
/// this run may write, removed again when it fails (V is then no longer tracked, and a pin of
/// one of its targets would be left behind).
fn missing_outputs(g: &GlobalArgs, pattern: &str) -> anyhow::Result<Vec<PathBuf>> {
    let ws = cli::workspace(g)?;
    let nodes = ws.graph.select(&[pattern.to_string()])?;
    Ok(nodes
        .into_iter()
        .flat_map(|ni| &ws.graph.nodes[ni].outputs)
        .filter(|o| o.kind == OutputKind::Committed)
        .map(|o| ws.output_path(o))
        .filter(|p| !p.exists())
        .collect())
}

/// Removes these files, and their directories when that leaves them empty.
fn remove_new_pins(files: &[PathBuf]) -> anyhow::Result<()> {
    for f in files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("failed to remove `{}`", f.display())),
        }
        if let Some(dir) = f.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
    Ok(())
}

/// The one TOML file holding every list `parity pin` adds to.
fn versions_file(lists: &[(String, String)]) -> Result<String, parity_engine::Error> {
    let usage = |m: &str| parity_engine::Error::Usage(m.into());
    match lists {
        [] => Err(usage(
            "the `version` param must come from a TOML file (`version = { from = \"versions.toml\", key = \"tracked\" }`) for `parity pin` to add to it",
        )),
        [(file, _), rest @ ..] if rest.iter().all(|(f, _)| f == file) => Ok(file.clone()),
        _ => Err(usage(
            "the version lists `parity pin` adds to (the `version` param and the pin artifact's) must come from the same TOML file",
        )),
    }
}
