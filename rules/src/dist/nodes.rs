//! The dist rules as pipeline nodes (`dist/pipeline.toml`). Each reads its tuple from its
//! output path, so a node whose outputs do not follow the contract is refused when the graph
//! is loaded.
//!
//! | rule              | output                          | inputs (config names the roles)                          |
//! |-------------------|---------------------------------|----------------------------------------------------------|
//! | `dist-archive`    | the `.tar.gz` / `.zip`          | the binary first, then files shipped beside it (README)  |
//! | `dist-manifest`   | `manifest.json`                 | the archive; config `binary`, `plan`, `lockfile`         |
//! | `dist-provenance` | `provenance.json`               | the archive; config `plan`, `lockfile`                   |
//! | `dist-checksums`  | `checksums.json`                | every other file of the tuple directory                  |
//! | `dist-index`      | `index.json` (the tree root)    | manifests and checksums; config `published`, `retain`    |

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, anyhow, bail};
use parity_engine::exec::{Registry, Rule, RuleContext, RuleError};
use parity_engine::graph::{Input, Node, OutputKind};

use super::archive::{self, Member};
use super::contract::{
    CHECKSUMS, CONTRACT, INDEX, MANIFEST, MIN_GENERATIONS, PROVENANCE, RETIRED_ALIAS, Tuple, under,
};
use super::model::{self, Checksums, Index, Manifest, Plan, Retention, Row};
use crate::nodes::no_config_but;

/// Registers the dist rules.
pub fn register(registry: &mut Registry) {
    registry.register(ArchiveRule);
    registry.register(ManifestRule);
    registry.register(ProvenanceRule);
    registry.register(ChecksumsRule);
    registry.register(IndexRule);
}

/// The one committed file output of `node`.
fn single_output(node: &Node) -> Result<&str, String> {
    match &node.outputs[..] {
        [o] if o.kind == OutputKind::Committed && !o.dir => Ok(&o.path),
        _ => Err("declares exactly one output, a committed file".into()),
    }
}

/// The tuple directory of the one output, which must be named `file`.
fn tuple_output(node: &Node, file: &str) -> Result<(String, Tuple), String> {
    let out = single_output(node)?;
    let (root, tuple, name) = Tuple::from_path(out).map_err(|e| format!("{e:#}"))?;
    if name != file {
        return Err(format!("its output must be `{file}` (got `{name}`)"));
    }
    Ok((root, tuple))
}

/// A rule that writes `file` of a tuple directory and whose config names the inputs `keys`.
fn check_tuple_file(node: &Node, file: &str, keys: &[&str]) -> Result<(), String> {
    no_config_but(node, keys)?;
    tuple_output(node, file)?;
    keys.iter()
        .try_for_each(|k| config_input(node, k).map(drop))
}

/// `config.{key}`: a path that the node declares as an input.
fn config_input(node: &Node, key: &str) -> Result<String, String> {
    let path = node
        .config
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("needs `config.{key}` (the path of an input)"))?;
    let declared = node.inputs.iter().any(|i| match i {
        Input::Source { path: p, .. } => p == path,
        Input::Node { file: Some(p), .. } => p == path,
        Input::Node { file: None, .. } => false,
    });
    if !declared {
        return Err(format!(
            "`config.{key}` names `{path}`, which is not among its inputs"
        ));
    }
    Ok(path.to_string())
}

fn read(ctx: &RuleContext<'_>, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = ctx.path(name);
    std::fs::read(&path).with_context(|| format!("failed to read `{name}`"))
}

/// The archive of `tuple` (below `root`) among the present inputs, read.
fn archive_input(ctx: &RuleContext<'_>, root: &str, tuple: &Tuple) -> anyhow::Result<Vec<u8>> {
    let name = under(root, &tuple.artifact_path());
    if !ctx.inputs.contains(&name) {
        bail!(
            "the archive `{name}` is not among the inputs (declare it: `./{name}`, or `?` when the format depends on the target)"
        );
    }
    read(ctx, &name)
}

/// The node's epoch (rules that read time always have one).
fn epoch(ctx: &RuleContext<'_>) -> anyhow::Result<i64> {
    ctx.epoch
        .ok_or_else(|| anyhow!("needs the node's `epoch` (SOURCE_DATE_EPOCH)"))
}

/// The plan, checked against the node's tuple and epoch.
fn plan_for(ctx: &RuleContext<'_>, tuple: &Tuple) -> anyhow::Result<Plan> {
    let name = config_input(ctx.node, "plan").map_err(|e| anyhow!(e))?;
    let text =
        String::from_utf8(read(ctx, &name)?).with_context(|| format!("`{name}` is not UTF-8"))?;
    let plan = Plan::parse(&text, &name)?;
    let planned = plan.tuple(&tuple.target)?;
    if !plan.targets.contains(&tuple.target) || planned != *tuple {
        bail!(
            "`{name}` plans {planned} (its targets: {}), not {tuple}",
            plan.targets.join(", ")
        );
    }
    let epoch = epoch(ctx)?;
    if epoch != plan.source_date_epoch {
        bail!(
            "the node's epoch {epoch} is not the plan's `source_date_epoch` {} (declare `epoch = {{ from = \"{name}\", key = \"source_date_epoch\" }}`)",
            plan.source_date_epoch
        );
    }
    Ok(plan)
}

fn lockfile_sha256(ctx: &RuleContext<'_>) -> anyhow::Result<String> {
    let name = config_input(ctx.node, "lockfile").map_err(|e| anyhow!(e))?;
    Ok(parity_engine::hash::sha256_hex(&read(ctx, &name)?))
}

// ---------------------------------------------------------------------------------------------

/// `dist-archive`: the binary (first input) and the other inputs in one top directory named
/// after the artifact, reproducibly (see [`archive`]).
struct ArchiveRule;

impl Rule for ArchiveRule {
    fn name(&self) -> &'static str {
        "dist-archive"
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        no_config_but(node, &[])?;
        Tuple::from_artifact_path(single_output(node)?).map_err(|e| format!("{e:#}"))?;
        if node.inputs.is_empty() {
            return Err("the first input must be the binary".into());
        }
        Ok(())
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let (_, tuple) = Tuple::from_artifact_path(&ctx.node.outputs[0].path)?;
        let format = tuple.format();
        let mut members = Vec::with_capacity(ctx.inputs.len());
        for (i, name) in ctx.inputs.iter().enumerate() {
            let file = name.rsplit('/').next().unwrap_or(name);
            members.push(Member {
                name: if i == 0 {
                    format.binary_name().to_string()
                } else {
                    file.to_string()
                },
                bytes: read(ctx, name)?,
                executable: i == 0,
            });
        }
        let bytes = archive::build(format, &tuple.stem(), &members, epoch(ctx)?)?;
        super::write_public(&ctx.output(0), &bytes)?;
        Ok(())
    }
}

/// `dist-manifest`: `manifest.json` of a tuple.
struct ManifestRule;

impl Rule for ManifestRule {
    fn name(&self) -> &'static str {
        "dist-manifest"
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_tuple_file(node, MANIFEST, &["binary", "plan", "lockfile"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let (root, tuple) = tuple_output(ctx.node, MANIFEST)?;
        let plan = plan_for(ctx, &tuple)?;
        let archive = archive_input(ctx, &root, &tuple)?;
        let binary = read(ctx, &config_input(ctx.node, "binary")?)?;
        let repro = plan.reproducibility(&tuple.target, lockfile_sha256(ctx)?)?;
        let manifest = model::manifest(tuple, plan.source_date_epoch, &archive, &binary, repro);
        super::write_public_json(&ctx.output(0), &manifest)?;
        Ok(())
    }
}

/// `dist-provenance`: an in-toto v1 statement with a SLSA v1 provenance predicate whose
/// subject is the archive. Deterministic: no start or finish times, no invocation id.
struct ProvenanceRule;

impl Rule for ProvenanceRule {
    fn name(&self) -> &'static str {
        "dist-provenance"
    }
    fn reads_time(&self) -> bool {
        true
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_tuple_file(node, PROVENANCE, &["plan", "lockfile"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let (root, tuple) = tuple_output(ctx.node, PROVENANCE)?;
        let plan = plan_for(ctx, &tuple)?;
        let archive = archive_input(ctx, &root, &tuple)?;
        let lock = lockfile_sha256(ctx)?;
        let repro = plan.reproducibility(&tuple.target, lock.clone())?;
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{
                "name": tuple.file_name(),
                "digest": { "sha256": parity_engine::hash::sha256_hex(&archive) },
            }],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {
                "buildDefinition": {
                    "buildType": format!("{CONTRACT}/cargo-build"),
                    "externalParameters": {
                        "repository": plan.repository,
                        "ref": plan.git_ref,
                        "tuple": tuple,
                    },
                    "internalParameters": {
                        "source_date_epoch": plan.source_date_epoch,
                        "cargo": repro.cargo,
                        "rustflags": repro.rustflags,
                        "cflags": repro.cflags,
                    },
                    "resolvedDependencies": [
                        {
                            "uri": format!("git+{}@{}", plan.repository, plan.git_ref),
                            "digest": { "gitCommit": plan.git_commit },
                        },
                        { "name": "Cargo.lock", "digest": { "sha256": lock } },
                        { "name": "rustc", "annotations": { "version": plan.build.rustc } },
                    ],
                },
                "runDetails": { "builder": { "id": plan.builder } },
            },
        });
        super::write_public_json(&ctx.output(0), &statement)?;
        Ok(())
    }
}

/// `dist-checksums`: sha256 of every input, all files of the same tuple directory, which must
/// include the archive.
struct ChecksumsRule;

impl Rule for ChecksumsRule {
    fn name(&self) -> &'static str {
        "dist-checksums"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_tuple_file(node, CHECKSUMS, &[])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let (root, tuple) = tuple_output(ctx.node, CHECKSUMS)?;
        let dir = under(&root, &tuple.dir());
        let mut files = BTreeMap::new();
        for name in &ctx.inputs {
            let file = name
                .strip_prefix(&dir)
                .and_then(|f| f.strip_prefix('/'))
                .filter(|f| !f.contains('/') && *f != CHECKSUMS)
                .ok_or_else(|| anyhow!("input `{name}` is not a file of `{dir}/`"))?;
            files.insert(
                file.to_string(),
                parity_engine::hash::sha256_hex(&read(ctx, name)?),
            );
        }
        if !files.contains_key(&tuple.file_name()) {
            return Err(anyhow!(
                "the archive `{}` is not among the inputs",
                under(&root, &tuple.artifact_path())
            )
            .into());
        }
        let sums = Checksums {
            contract: CONTRACT.to_string(),
            algorithm: "sha256".to_string(),
            files,
        };
        super::write_public_json(&ctx.output(0), &sums)?;
        Ok(())
    }
}

/// `dist-index`: `index.json` from the manifests (and their checksums) of this build, merged
/// with the published index (`config.published`, optional input) and cut to the newest
/// `config.retain` (default and minimum 6) versions.
struct IndexRule;

impl IndexRule {
    fn retain(node: &Node) -> Result<usize, String> {
        match node.config.get("retain") {
            None => Ok(MIN_GENERATIONS),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n >= MIN_GENERATIONS)
                .ok_or_else(|| {
                    format!(
                        "`config.retain` must be an integer >= {MIN_GENERATIONS} ({CONTRACT} keeps at least {MIN_GENERATIONS} generations); got {v}"
                    )
                }),
        }
    }

    fn root(node: &Node) -> Result<String, String> {
        let out = single_output(node)?;
        if out == RETIRED_ALIAS || out.ends_with(&format!("/{RETIRED_ALIAS}")) {
            return Err(format!(
                "`{out}` is the alias `{{contract}}/index.json`, retired on 2026-07-01: declare `{INDEX}` at the tree root"
            ));
        }
        match out.rsplit_once('/') {
            Some((root, INDEX)) => Ok(root.to_string()),
            None if out == INDEX => Ok(String::new()),
            _ => Err(format!("its output must be named `{INDEX}`")),
        }
    }

    /// The rows of this build: one per manifest input, checked against its checksums.
    fn built_rows(ctx: &RuleContext<'_>, root: &str) -> anyhow::Result<Vec<Row>> {
        let present: BTreeSet<&str> = ctx.inputs.iter().map(String::as_str).collect();
        let mut rows = Vec::new();
        for name in ctx
            .inputs
            .iter()
            .filter(|n| n.ends_with(&format!("/{MANIFEST}")))
        {
            let (at, tuple, _) = Tuple::from_path(name)?;
            if at != root {
                bail!("`{name}` is not below the index's directory `{root}`");
            }
            let bytes = read(ctx, name)?;
            let manifest: Manifest = serde_json::from_slice(&bytes)
                .with_context(|| format!("failed to parse `{name}`"))?;
            if manifest.tuple != tuple || manifest.contract != CONTRACT {
                bail!(
                    "`{name}` describes {} ({}), not {tuple}",
                    manifest.tuple,
                    manifest.contract
                );
            }
            let sums_name = under(root, &tuple.beside(CHECKSUMS));
            if !present.contains(sums_name.as_str()) {
                bail!("`{sums_name}` is not among the inputs (declare the checksums nodes)");
            }
            let sums: Checksums = serde_json::from_slice(&read(ctx, &sums_name)?)
                .with_context(|| format!("failed to parse `{sums_name}`"))?;
            let listed = |file: &str| sums.files.get(file).map(String::as_str);
            if listed(&tuple.file_name()) != Some(manifest.artifact.sha256.as_str())
                || listed(MANIFEST) != Some(parity_engine::hash::sha256_hex(&bytes).as_str())
            {
                bail!(
                    "`{sums_name}` does not agree with `{name}` (the archive's or the manifest's sha256)"
                );
            }
            rows.push(Row::of(&manifest));
        }
        Ok(rows)
    }
}

impl Rule for IndexRule {
    fn name(&self) -> &'static str {
        "dist-index"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        no_config_but(node, &["published", "retain"])?;
        Self::root(node)?;
        Self::retain(node)?;
        if node.config.get("published").is_some() {
            config_input(node, "published")?;
        }
        Ok(())
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let root = Self::root(ctx.node)?;
        let retain = Self::retain(ctx.node)?;
        let built = Self::built_rows(ctx, &root)?;
        let published = match ctx.node.config.get("published").and_then(|v| v.as_str()) {
            Some(name) if ctx.inputs.iter().any(|i| i == name) => {
                Index::parse(&read(ctx, name)?, name)?.rows
            }
            _ => Vec::new(),
        };
        let rows = merge(published, built, retain)?;
        let index = Index {
            contract: CONTRACT.to_string(),
            retention: Retention {
                generations: retain,
            },
            rows,
        };
        super::write_public_json(&ctx.output(0), &index)?;
        Ok(())
    }
}

/// The published rows and the rows of this build, as one index: a tuple that is in both must
/// be the same row (an artifact is immutable: a different build needs a new dist revision);
/// only the newest `retain` versions are kept, and a built row outside them is an error.
pub fn merge(published: Vec<Row>, built: Vec<Row>, retain: usize) -> anyhow::Result<Vec<Row>> {
    let mut by_tuple: BTreeMap<Tuple, Row> = BTreeMap::new();
    let built_versions: BTreeSet<String> = built.iter().map(|r| r.tuple.version.clone()).collect();
    for row in built {
        if by_tuple.insert(row.tuple.clone(), row.clone()).is_some() {
            bail!("the tuple {} is built twice", row.tuple);
        }
    }
    for row in published {
        match by_tuple.get(&row.tuple) {
            Some(new) if *new != row => bail!(
                "{} was already published with sha256 {} ({} bytes); this build gives {} ({} bytes). A published artifact is immutable: bump the dist revision",
                row.tuple,
                row.sha256,
                row.size,
                new.sha256,
                new.size
            ),
            Some(_) => {}
            None => {
                by_tuple.insert(row.tuple.clone(), row);
            }
        }
    }
    let mut versions: Vec<semver::Version> = by_tuple
        .keys()
        .filter_map(|t| model::semver_of(&t.version))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    versions.reverse();
    let kept: BTreeSet<String> = versions
        .iter()
        .take(retain)
        .map(ToString::to_string)
        .collect();
    if let Some(old) = built_versions.iter().find(|v| !kept.contains(*v)) {
        bail!(
            "version {old} is older than the {retain} newest generations of the published index: it would not be in `{INDEX}`"
        );
    }
    let mut rows = Vec::new();
    for (tuple, row) in by_tuple {
        if kept.contains(&tuple.version) {
            rows.push(row);
        }
    }
    model::sort_rows(&mut rows);
    Ok(rows)
}
