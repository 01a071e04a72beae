//! `parity dist resolve|verify|assets`: the consumer side of `distribution-contract@1.0`
//! (docs/distribution.md); and the release workflows' decisions, one command per step:
//! `outputs`, `image`, `previous-index`, `check-sums`, `python`, `check-image`,
//! `verify-release`. Exit codes: 0 ok, 1 verification failed (or a file could not be written or
//! fetched), 2 usage or an unreadable / invalid index or plan, 3 no row matches, 4 several rows
//! match.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use parity_rules::dist::consume::{self, Dist, DistError, Query};
use parity_rules::dist::ship;
use parity_rules::release::Settings;
use parity_rules::release::github::GitHub;

use crate::cli;

/// `parity dist`'s commands, built lazily like the top level's.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum DistCommand {
    /// Resolve a tuple to exactly one row of the index; print its archive's path (`--json`: the row).
    Resolve(ResolveArgs),
    /// Resolve exactly one row (`--all`: every matching row) and check its files against the
    /// index, `checksums.json` and `manifest.json`.
    Verify(VerifyArgs),
    /// Verify every row of a version, then copy its files and the index into DIR under their
    /// release asset names, with `SHA256SUMS`.
    Assets(AssetsArgs),
    /// The release plan's values as step outputs (`version`, `toolchain`, `git_sha`,
    /// `targets`); with `--tag`, first check that the tag is `vX.Y.Z` of the plan's version.
    Outputs(OutputsArgs),
    /// The container image of the plan's release: `image` (`REGISTRY/owner/name`, lower case),
    /// `tags` (vX.Y.Z, vX.Y, vX, latest, sha-<12 hex>, one full reference a line) and `refs`
    /// (the same as a JSON array).
    Image(ImageArgs),
    /// Fetch the index of the newest published release (other than `--tag`) into FILE, for the
    /// dist pipeline's retention; none (a first release) writes nothing.
    PreviousIndex(PreviousIndexArgs),
    /// Check the files of DIR against `sha256sum` lines: each listed there with that sha256,
    /// nothing else there but a `SHA256SUMS` holding exactly those lines.
    CheckSums(CheckSumsArgs),
    /// Check the Python files of the release in DIR (one wheel per planned target and the
    /// sdist, nothing else); outputs `package` and `hashes`.
    Python(PythonArgs),
    /// Check an image manifest list read back from the registry: its digest and platforms.
    CheckImage(CheckImageArgs),
    /// Read a published GitHub release back: not a draft or prerelease, exactly the built
    /// assets, each downloaded into DIR with its sha256.
    VerifyRelease(VerifyReleaseArgs),
}

// The index and a (partial) tuple. (Not a doc comment: it would be the `about` of the
// commands that flatten it, see `FetchArgs`.)
#[derive(Debug, Args)]
pub struct TupleArgs {
    /// The index (row paths are relative to its directory).
    #[arg(long, value_name = "FILE", default_value = "dist/index.json")]
    index: PathBuf,
    /// The version (`X.Y.Z`, no `v`).
    #[arg(long, value_name = "V")]
    version: Option<String>,
    /// The target triple.
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// The cargo profile.
    #[arg(long, value_name = "P")]
    profile: Option<String>,
    /// The Rust toolchain (`X.Y.Z`).
    #[arg(long, value_name = "R")]
    toolchain: Option<String>,
    /// The commit: a prefix of it, or all 40 digits.
    #[arg(long, value_name = "SHA")]
    git: Option<String>,
    /// The dist revision (`r1`, `r2`, …).
    #[arg(long, value_name = "rN")]
    dist_revision: Option<String>,
}

impl TupleArgs {
    fn query(&self) -> Query {
        Query {
            version: self
                .version
                .clone()
                .map(|v| v.trim_start_matches('v').to_string()),
            target: self.target.clone(),
            profile: self.profile.clone(),
            toolchain: self.toolchain.clone(),
            git: self.git.clone(),
            dist_revision: self.dist_revision.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    tuple: TupleArgs,
    /// Print the row as JSON instead of the archive's path.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    tuple: TupleArgs,
    /// Verify every row that matches (at least one), instead of exactly one.
    #[arg(long)]
    all: bool,
    /// The release plan: each of its targets must resolve to exactly one row of its tuple, and
    /// those rows are verified (instead of --version/--target).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["all", "version", "target"])]
    plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AssetsArgs {
    #[command(flatten)]
    tuple: TupleArgs,
    /// Where to write the assets.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// GitHub Actions: append the `SHA256SUMS` lines as the step output `sums`.
    #[arg(long)]
    github_output: bool,
}

// The release plan written by `dist/release.sh plan`. (Not a doc comment: see `TupleArgs`.)
#[derive(Debug, Args)]
pub struct PlanArg {
    /// The release plan.
    #[arg(long, value_name = "FILE", default_value = "dist/release.toml")]
    plan: PathBuf,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    plan: PlanArg,
    /// The pushed tag (`vX.Y.Z`): must be the plan's version.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// GitHub Actions: append the outputs to the file `$GITHUB_OUTPUT` names.
    #[arg(long)]
    github_output: bool,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(flatten)]
    plan: PlanArg,
    /// The registry host.
    #[arg(long, value_name = "HOST")]
    registry: String,
    /// The repository, `OWNER/NAME`.
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    repository: String,
    /// GitHub Actions: append `image`, `tags` and `refs` to the file `$GITHUB_OUTPUT` names.
    #[arg(long)]
    github_output: bool,
}

#[derive(Debug, Args)]
pub struct PreviousIndexArgs {
    /// The repository, `OWNER/NAME`.
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    repo: String,
    /// The tag being released (never its own previous release).
    #[arg(long, value_name = "TAG")]
    tag: String,
    /// Where to write the index.
    #[arg(long, value_name = "FILE", default_value = "dist/published-index.json")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckSumsArgs {
    /// The directory of files.
    #[arg(long = "dir", id = "files", value_name = "DIR")]
    dir: PathBuf,
    /// The expected `sha256sum` lines (`<sha256>  <name>`).
    #[arg(long, value_name = "LINES")]
    sums: String,
    /// Only the listed files that are in DIR are checked (at least one).
    #[arg(long)]
    subset: bool,
}

#[derive(Debug, Args)]
pub struct PythonArgs {
    /// The directory holding the wheels and the sdist.
    #[arg(long = "dir", id = "files", value_name = "DIR")]
    dir: PathBuf,
    #[command(flatten)]
    plan: PlanArg,
    /// The Python project (its `[project]` `name`).
    #[arg(long, value_name = "FILE", default_value = "pyproject.toml")]
    pyproject: PathBuf,
    /// GitHub Actions: append `package` and `hashes` to the file `$GITHUB_OUTPUT` names.
    #[arg(long)]
    github_output: bool,
}

#[derive(Debug, Args)]
pub struct CheckImageArgs {
    /// The manifest list as the registry serves it (`docker buildx imagetools inspect --raw`).
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// The pushed digest, `sha256:…`.
    #[arg(long, value_name = "DIGEST")]
    digest: String,
    /// A platform the image must have, `os/architecture` (repeatable).
    #[arg(long = "platform", value_name = "OS/ARCH", required = true)]
    platforms: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyReleaseArgs {
    /// The repository, `OWNER/NAME`.
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    repo: String,
    /// The release's tag.
    #[arg(long, value_name = "TAG")]
    tag: String,
    /// The `SHA256SUMS` lines of the built assets.
    #[arg(long, value_name = "LINES")]
    sums: String,
    /// Where the assets are downloaded.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn exec(cmd: DistCommand) -> i32 {
    let result = match cmd {
        DistCommand::Resolve(a) => resolve(a),
        DistCommand::Verify(a) => verify(a),
        DistCommand::Assets(a) => assets(a),
        DistCommand::Outputs(a) => outputs(a),
        DistCommand::Image(a) => image(a),
        DistCommand::PreviousIndex(a) => previous_index(a),
        DistCommand::CheckSums(a) => check_sums(a),
        DistCommand::Python(a) => python(a),
        DistCommand::CheckImage(a) => check_image(a),
        DistCommand::VerifyRelease(a) => verify_release(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Resolve and verify name one artifact: the version and the target are required.
fn exact(t: &TupleArgs) -> Result<Query, DistError> {
    if t.version.is_none() || t.target.is_none() {
        return Err(DistError::Usage(
            "--version and --target are required (verify: or --all)".into(),
        ));
    }
    Ok(t.query())
}

fn resolve(a: ResolveArgs) -> Result<(), DistError> {
    let query = exact(&a.tuple)?;
    let dist = Dist::open(&a.tuple.index)?;
    let row = dist.resolve(&query)?;
    if a.json {
        let text =
            serde_json::to_string_pretty(row).map_err(|e| DistError::Io(anyhow::Error::new(e)))?;
        println!("{text}");
    } else {
        println!("{}", dist.archive(row).display());
    }
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<(), DistError> {
    let plan = a.plan.as_deref().map(ship::read_plan).transpose()?;
    let query = if a.all || plan.is_some() {
        a.tuple.query()
    } else {
        exact(&a.tuple)?
    };
    let dist = Dist::open(&a.tuple.index)?;
    let rows = match &plan {
        Some(plan) => planned_rows(&dist, plan)?,
        None if a.all => dist.select_some(&query)?,
        None => vec![dist.resolve(&query)?],
    };
    dist.verify(&rows)?;
    for row in &rows {
        println!("{}", dist.archive(row).display());
    }
    eprintln!(
        "verified {} artifact(s){}: sha256 as in `{}`, checksums.json and manifest.json",
        rows.len(),
        if plan.is_some() {
            ", one per planned target"
        } else {
            ""
        },
        a.tuple.index.display()
    );
    Ok(())
}

/// The one row of each target of the plan's tuple.
fn planned_rows<'d>(
    dist: &'d Dist,
    plan: &parity_rules::dist::model::Plan,
) -> Result<Vec<&'d parity_rules::dist::model::Row>, DistError> {
    let mut rows = Vec::new();
    for target in &plan.targets {
        let t = plan.tuple(target).map_err(DistError::Index)?;
        rows.push(dist.resolve(&Query {
            version: Some(t.version),
            target: Some(t.target),
            profile: Some(t.profile),
            toolchain: Some(t.toolchain),
            git: Some(t.git_sha),
            dist_revision: Some(t.dist_revision),
        })?);
    }
    Ok(rows)
}

fn assets(a: AssetsArgs) -> Result<(), DistError> {
    if a.tuple.version.is_none() {
        return Err(DistError::Usage("--version is required".into()));
    }
    let file = github_output(a.github_output)?;
    let dist = Dist::open(&a.tuple.index)?;
    let rows = dist.select_some(&a.tuple.query())?;
    let written = consume::write_assets(&dist, &rows, &a.out)?;
    for asset in &written {
        println!("{}  {}", asset.sha256, asset.name);
    }
    eprintln!(
        "wrote {} release assets and SHA256SUMS to `{}`",
        written.len(),
        a.out.display()
    );
    if let Some(file) = file {
        let sums = std::fs::read_to_string(a.out.join(ship::SUMS))
            .with_context(|| format!("failed to read `{}`", a.out.join(ship::SUMS).display()))
            .map_err(DistError::Io)?;
        append(&file, &cli::github_output_block("sums", &sums))?;
    }
    Ok(())
}

/// `$GITHUB_OUTPUT` when `wanted`.
fn github_output(wanted: bool) -> Result<Option<PathBuf>, DistError> {
    if !wanted {
        return Ok(None);
    }
    cli::github_output_file("--github-output")
        .map(Some)
        .map_err(|e| DistError::Usage(format!("{e:#}")))
}

fn append(file: &Path, text: &str) -> Result<(), DistError> {
    cli::append_github_output(file, text).map_err(DistError::Io)
}

/// Prints `text` (key=value lines and blocks) and appends it to `file`, if any.
fn emit(file: Option<PathBuf>, text: &str) -> Result<(), DistError> {
    print!("{text}");
    match file {
        Some(f) => append(&f, text),
        None => Ok(()),
    }
}

fn outputs(a: OutputsArgs) -> Result<(), DistError> {
    let file = github_output(a.github_output)?;
    let plan = ship::read_plan(&a.plan.plan)?;
    let version = ship::release_version(&plan, a.tag.as_deref())?;
    let t = plan.tuple(&plan.targets[0]).map_err(DistError::Index)?;
    let targets =
        serde_json::to_string(&plan.targets).map_err(|e| DistError::Io(anyhow::Error::new(e)))?;
    emit(
        file,
        &format!(
            "version={version}\ntoolchain={}\ngit_sha={}\ntargets={targets}\n",
            t.toolchain, t.git_sha
        ),
    )
}

fn image(a: ImageArgs) -> Result<(), DistError> {
    let file = github_output(a.github_output)?;
    let plan = ship::read_plan(&a.plan.plan)?;
    let (image, tags) = ship::image_tags(&plan, &a.registry, &a.repository)
        .map_err(|e| DistError::Usage(format!("{e:#}")))?;
    let refs = serde_json::to_string(&tags).map_err(|e| DistError::Io(anyhow::Error::new(e)))?;
    emit(
        file,
        &format!(
            "image={image}\n{}refs={refs}\n",
            cli::github_output_block("tags", &tags.join("\n"))
        ),
    )
}

/// The GitHub API client of the environment (`PARITY_GITHUB_API`, `GITHUB_TOKEN`).
fn github<T>(
    f: impl FnOnce(&GitHub<'_>, &parity_rules::release::http::Http) -> Result<T, DistError>,
) -> Result<T, DistError> {
    let settings = Settings::from_env();
    let http = settings.http().map_err(DistError::Io)?;
    let gh = GitHub::new(&http, settings.api(None));
    f(&gh, &http)
}

fn previous_index(a: PreviousIndexArgs) -> Result<(), DistError> {
    let found = github(|gh, http| {
        ship::previous_index(gh, http, &a.repo, &a.tag, &a.out).map_err(DistError::Io)
    })?;
    match found {
        Some(tag) => eprintln!(
            "wrote the index of release `{tag}` to `{}`",
            a.out.display()
        ),
        None => eprintln!(
            "no published release of `{}` has an index: a first release (nothing written)",
            a.repo
        ),
    }
    Ok(())
}

fn check_sums(a: CheckSumsArgs) -> Result<(), DistError> {
    let checked = ship::check_sums(&a.dir, &a.sums, a.subset)?;
    eprintln!(
        "checked {} file(s) of `{}`: {}",
        checked.len(),
        a.dir.display(),
        checked.join(", ")
    );
    Ok(())
}

fn python(a: PythonArgs) -> Result<(), DistError> {
    let file = github_output(a.github_output)?;
    let plan = ship::read_plan(&a.plan.plan)?;
    let (package, hashes) = ship::python_files(&a.dir, &plan, &a.pyproject)?;
    emit(
        file,
        &format!(
            "package={package}\n{}",
            cli::github_output_block("hashes", &hashes)
        ),
    )
}

fn check_image(a: CheckImageArgs) -> Result<(), DistError> {
    let bytes = std::fs::read(&a.manifest)
        .with_context(|| format!("failed to read `{}`", a.manifest.display()))
        .map_err(DistError::Io)?;
    let problems = ship::check_manifest_list(&bytes, &a.digest, &a.platforms);
    if !problems.is_empty() {
        return Err(DistError::Mismatch(problems));
    }
    eprintln!(
        "the manifest list is {} with {}",
        a.digest,
        a.platforms.join(", ")
    );
    Ok(())
}

fn verify_release(a: VerifyReleaseArgs) -> Result<(), DistError> {
    let checked =
        github(|gh, http| ship::read_back_release(gh, http, &a.repo, &a.tag, &a.sums, &a.out))?;
    eprintln!(
        "release `{}` is published with exactly the {} built assets and SHA256SUMS, each read back into `{}`",
        a.tag,
        checked.len(),
        a.out.display()
    );
    Ok(())
}
