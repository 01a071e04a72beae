//! `parity init`: a starter pipeline; `parity init --adopt DIR`: a reference-layout tree made
//! before parity becomes a member pipeline, every node rebuilt in a scratch copy, and the nodes
//! whose committed bytes it reproduces recorded as fresh.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use parity_engine::error::Error;
use parity_engine::fsutil;
use parity_engine::graph::OutputKind;
use parity_engine::state::{Lock, LockEntry};
use parity_engine::workspace::{DepState, Workspace};

use super::rebuild;
use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Adopt the reference-layout tree DIR (`cli_manifests/codex`, `cli_manifests/claude_code`):
    /// write its pipeline, versions and pins, rebuild every node in a scratch copy, record the
    /// nodes whose committed bytes match as fresh and name every artifact that does not.
    #[arg(long, value_name = "DIR")]
    adopt: Option<PathBuf>,
}

/// The starter pipeline: three `command` nodes, one edge each way a node can be named.
const STARTER: &str = r#"# A parity pipeline. Each [artifact.NAME] declares a node: a rule, its inputs (files, or other
# nodes by name) and its outputs. `parity build` runs what is not fresh, `parity status` says
# why, `parity explain NODE` shows the input whose digest changed. The `command` rule runs its
# recipe with `sh -c` in a sandbox: `$in` is the inputs, `$out` the outputs (shell-quoted), and
# a recipe may write nothing else. Outputs are committed; parity records them in pipeline.lock.

# No inputs: writes a list of words.
[artifact.words]
rule = "command"
outputs = ["out/words.txt"]
config = { command = "printf 'parity\nbuilds\nwhat changed\n' > $out" }

# One node input: `words` stands for its outputs.
[artifact.upper]
rule = "command"
inputs = ["words"]
outputs = ["out/upper.txt"]
config = { command = "tr a-z A-Z < $in > $out" }

# Two node inputs: rebuilt when either changes.
[artifact.count]
rule = "command"
inputs = ["words", "upper"]
outputs = ["out/count.txt"]
config = { command = "wc -l $in > $out" }
"#;

/// What `cache/.gitignore` says: nothing of the cache is committed.
const CACHE_IGNORE: &str =
    "# parity's local cache (objects, action cache, stat cache, lock): never committed.\n*\n";

pub fn exec(g: &GlobalArgs, a: InitArgs) -> anyhow::Result<i32> {
    match &a.adopt {
        None => init(g),
        Some(dir) => adopt(g, dir),
    }
}

fn usage(message: String) -> anyhow::Error {
    Error::Usage(message).into()
}

fn init(g: &GlobalArgs) -> anyhow::Result<i32> {
    let file = &g.pipeline;
    if file.exists() {
        return Err(usage(format!(
            "`{}` already exists: `parity init` never overwrites a pipeline (to adopt a reference-layout tree: `parity init --adopt DIR`)",
            file.display()
        )));
    }
    fsutil::write_atomic(file, STARTER.as_bytes())?;
    println!(
        "created `{}`: three `command` nodes, words -> upper -> count",
        file.display()
    );
    if let Some(ignore) = write_cache_ignore(file)? {
        println!("created `{}`", ignore.display());
    }
    println!("next: `parity build`, then `parity status -v`");
    Ok(0)
}

/// Writes `cache/.gitignore` beside the pipeline file unless it exists; the path if written.
fn write_cache_ignore(pipeline_file: &Path) -> anyhow::Result<Option<PathBuf>> {
    let path = match pipeline_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("cache/.gitignore"),
        _ => PathBuf::from("cache/.gitignore"),
    };
    if path.exists() {
        return Ok(None);
    }
    fsutil::write_atomic(&path, CACHE_IGNORE.as_bytes())?;
    Ok(Some(path))
}

/// What became of one node of the adopted pipeline.
enum Verdict {
    /// Its committed outputs are what its inputs produce (or a pin, taken from the lock).
    Fresh(LockEntry),
    /// Rebuilt; these committed outputs differ (path shown, how).
    Stale(Vec<(String, String)>),
    /// Not rebuilt here: why.
    Unchecked(String),
}

fn adopt(g: &GlobalArgs, dir: &Path) -> anyhow::Result<i32> {
    if !dir.is_dir() {
        return Err(usage(format!(
            "`{}` is not a directory (expected a reference-layout tree such as `cli_manifests/codex`)",
            dir.display()
        )));
    }
    let base = fsutil::parent_dir(&g.pipeline).to_path_buf();
    let rel = relative_below(&base, dir)?;
    let rel_shown = rel.to_string_lossy().replace('\\', "/");
    let member_file = dir.join("pipeline.toml");
    if member_file.exists() {
        return Err(usage(format!(
            "`{}` already exists: this tree is a pipeline already (`parity status`)",
            member_file.display()
        )));
    }
    let plan = parity_rules::adopt::plan(dir)?;
    let name = plan.cli.member();
    let root_text = root_pipeline_text(&g.pipeline, name, &rel_shown)?;

    println!("adopt: `{rel_shown}` is a {name} tree");
    for note in &plan.notes {
        println!("  {note}");
    }

    // The scratch copy: a workspace of this one member, with the files adoption writes.
    let scratch = tempfile::Builder::new()
        .prefix("parity-adopt-")
        .tempdir()
        .context("failed to create a temporary directory")?;
    let scratch_file = scratch.path().join("pipeline.toml");
    fsutil::write_atomic(&scratch_file, member_table(name, &rel_shown).as_bytes())?;
    let copy_dir = scratch.path().join(&rel);
    rebuild::copy_tree_except(dir, &copy_dir, &[])?;
    let mut written = Vec::new();
    for (file, text) in &plan.files {
        // A pin file the tree has already is its own fact: kept, never overwritten.
        if dir.join(file).exists() {
            continue;
        }
        fsutil::write_atomic(&copy_dir.join(file), text.as_bytes())?;
        written.push((file, text));
    }
    let copy = Workspace::open(&scratch_file, cli::registry(g))?;
    let verdicts = rebuild_scratch(&copy, &base, scratch.path())?;

    // The tree: its files, the workspace's member, the cache's .gitignore, then the lock.
    for (file, text) in &written {
        fsutil::write_atomic(&dir.join(file), text.as_bytes())?;
    }
    fsutil::write_atomic(&g.pipeline, root_text.as_bytes())?;
    write_cache_ignore(&g.pipeline)?;
    println!(
        "wrote {} file{} in `{rel_shown}` ({}) and the member `{name}` in `{}`",
        written.len(),
        if written.len() == 1 { "" } else { "s" },
        summarize(written.iter().map(|(f, _)| f.as_path())),
        g.pipeline.display()
    );
    let ws = Workspace::open(&g.pipeline, cli::registry(g))?;
    let mut on_wait = |p: &Path| {
        eprintln!(
            "    Blocking waiting for another `parity build` to finish (lock `{}`)",
            p.display()
        )
    };
    let _guard = parity_engine::ops::BuildLock::acquire(ws.cache.dir(), true, &mut on_wait)?;
    let mut lock = Lock::read(&ws.lock_path)?;
    let (mut fresh, mut stale, mut unchecked) = (0, Vec::new(), Vec::new());
    for (id, verdict) in verdicts {
        match verdict {
            Verdict::Fresh(entry) => {
                lock.nodes.insert(id, entry);
                fresh += 1;
            }
            Verdict::Stale(outputs) => stale.push((id, outputs)),
            Verdict::Unchecked(why) => unchecked.push((id, why)),
        }
    }
    lock.write(&ws.lock_path)?;
    println!(
        "rebuilt every node in a scratch copy: {fresh} reproduce the committed bytes (recorded as fresh in `{}`), {} do not, {} not checked",
        ws.lock_path
            .strip_prefix(".")
            .unwrap_or(&ws.lock_path)
            .display(),
        stale.len(),
        unchecked.len()
    );
    for (id, outputs) in &stale {
        for (path, how) in outputs {
            println!("stale: {path} (node {id}): the rebuild {how}");
        }
    }
    for (id, why) in &unchecked {
        println!("not checked: {id}: {why}");
    }
    if !stale.is_empty() || !unchecked.is_empty() {
        eprintln!(
            "warning: {} node{} of `{rel_shown}` {} not recorded as fresh: `parity verify` fails until `parity build --adopt` rebuilds {} (review the diff, then commit it)",
            stale.len() + unchecked.len(),
            if stale.len() + unchecked.len() == 1 {
                ""
            } else {
                "s"
            },
            if stale.len() + unchecked.len() == 1 {
                "is"
            } else {
                "are"
            },
            if stale.len() + unchecked.len() == 1 {
                "it"
            } else {
                "them"
            },
        );
    }
    Ok(0)
}

/// `dir` relative to `base` (the directory of the pipeline file), which must hold it.
fn relative_below(base: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let canon = |p: &Path| {
        p.canonicalize()
            .with_context(|| format!("failed to resolve `{}`", p.display()))
    };
    let (base_c, dir_c) = (canon(base)?, canon(dir)?);
    match dir_c.strip_prefix(&base_c) {
        Ok(rel) if !rel.as_os_str().is_empty() => Ok(rel.to_path_buf()),
        _ => Err(usage(format!(
            "`{}` must be a directory below `{}`, where the workspace's pipeline file is",
            dir.display(),
            base.display()
        ))),
    }
}

/// `[members]` with the one member `name`.
fn member_table(name: &str, rel: &str) -> String {
    format!("[members]\n{name} = \"{rel}/pipeline.toml\"\n")
}

/// The workspace file with the member `name` added: a new workspace when there is none; an
/// error when the file is a single pipeline or has that member already.
fn root_pipeline_text(file: &Path, name: &str, rel: &str) -> anyhow::Result<String> {
    if !file.exists() {
        return Ok(format!(
            "# A workspace of pipelines, one per upstream CLI (node ids `{name}:union@V`, ...).\n{}",
            member_table(name, rel)
        ));
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("failed to read `{}`", file.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("failed to parse `{}`", file.display()))?;
    let Some(members) = doc.get_mut("members").and_then(|m| m.as_table_like_mut()) else {
        return Err(usage(format!(
            "`{}` is a single pipeline: `parity init --adopt` adds a member to a workspace (a file with only `[members]`), or writes one where there is none",
            file.display()
        )));
    };
    if members.contains_key(name) {
        return Err(usage(format!(
            "`{}` has a member `{name}` already",
            file.display()
        )));
    }
    members.insert(name, toml_edit::value(format!("{rel}/pipeline.toml")));
    Ok(doc.to_string())
}

/// Records the pins (facts: taken from the lock, never re-measured), rebuilds every other
/// node that can run here, and compares each node's committed outputs with the tree's.
fn rebuild_scratch(
    copy: &Workspace,
    base: &Path,
    scratch: &Path,
) -> anyhow::Result<Vec<(String, Verdict)>> {
    let nodes = &copy.graph.nodes;
    let is_fact = |ix: usize| rebuild::is_fact(copy, ix);
    let hasher = copy.hasher();
    let mut lock = Lock::default();
    for ix in (0..nodes.len()).filter(|&ix| is_fact(ix)) {
        if let Some(entry) = record_as_is(copy, &hasher, ix)? {
            lock.nodes.insert(nodes[ix].id.to_string(), entry);
        }
    }
    lock.write(&copy.lock_path)?;
    let rebuilt = rebuild::rebuild(copy, true, "adopt")?;
    let lock = Lock::read(&copy.lock_path)?;
    let mut verdicts = Vec::new();
    for (ix, node) in nodes.iter().enumerate() {
        let id = node.id.to_string();
        let verdict = if is_fact(ix) {
            match lock.nodes.get(&id) {
                Some(entry) => Verdict::Fresh(entry.clone()),
                None => Verdict::Unchecked("its committed output is missing".into()),
            }
        } else if let Some((_, m)) = rebuilt.failed.iter().find(|(n, _)| *n == id) {
            Verdict::Unchecked(format!("failed in the rebuild: {m}"))
        } else if !copy.can_run_here(ix) {
            Verdict::Unchecked("cannot run on this host".into())
        } else if let Some(entry) = lock.nodes.get(&id) {
            let mut differ = Vec::new();
            for o in node
                .outputs
                .iter()
                .filter(|o| o.kind == OutputKind::Committed)
            {
                let theirs = copy.output_path(o);
                let rel = theirs.strip_prefix(scratch)?;
                let ours = base.join(rel);
                let shown = rel.to_string_lossy().replace('\\', "/");
                if !ours.exists() {
                    differ.push((shown, "wrote it; the tree lacks it".to_string()));
                } else if let Some(detail) = rebuild::differs(&ours, &theirs)? {
                    differ.push((shown, detail));
                }
            }
            if differ.is_empty() {
                Verdict::Fresh(entry.clone())
            } else {
                Verdict::Stale(differ)
            }
        } else {
            Verdict::Unchecked("not rebuilt (a dependency failed or cannot run here)".into())
        };
        verdicts.push((id, verdict));
    }
    Ok(verdicts)
}

/// The lock entry of node `ix` built as its outputs are now, without running it: for the
/// fact rules (a pin is the lock's entry, measured once upstream). `None` when an output is
/// missing.
fn record_as_is(
    ws: &Workspace,
    hasher: &parity_engine::hash::Hasher,
    ix: usize,
) -> anyhow::Result<Option<LockEntry>> {
    let node = &ws.graph.nodes[ix];
    let mut outputs = parity_engine::hash::DigestMap::default();
    for o in &node.outputs {
        if o.kind != OutputKind::Committed {
            return Ok(None);
        }
        let Some(d) = hasher.digest(&ws.output_path(o))? else {
            return Ok(None);
        };
        outputs.insert(o.name(), d);
    }
    let no_deps = |_| Cow::Owned(DepState::Unknown);
    let eval = ws.evaluate(hasher, ix, None, &no_deps, false)?;
    let (Some(key), Some(material)) = (eval.key, eval.material) else {
        return Ok(None);
    };
    Ok(Some(LockEntry {
        key,
        rule: material.rule_id().into(),
        settings: material.settings_digest(),
        inputs: material.inputs.into_iter().collect(),
        outputs,
    }))
}

/// `pipeline.toml, versions.toml, pins/0.92.0/*.json (3)`.
fn summarize<'a>(files: impl Iterator<Item = &'a Path>) -> String {
    let mut plain = Vec::new();
    let mut pins = std::collections::BTreeMap::<String, usize>::new();
    for f in files {
        let shown = f.to_string_lossy().replace('\\', "/");
        match shown.strip_prefix("pins/").and_then(|r| r.rsplit_once('/')) {
            Some((v, _)) => *pins.entry(format!("pins/{v}/*.json")).or_default() += 1,
            None => plain.push(shown),
        }
    }
    plain.extend(pins.into_iter().map(|(p, n)| format!("{p} ({n})")));
    plain.join(", ")
}
