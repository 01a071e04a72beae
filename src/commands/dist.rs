//! `parity dist resolve|verify|assets`: the consumer side of `distribution-contract@1.0`
//! (docs/distribution.md). Exit codes: 0 ok, 1 verification failed (or an asset could not be
//! written), 2 usage or an unreadable / invalid index, 3 no row matches, 4 several rows match.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use parity_rules::dist::consume::{self, Dist, DistError, Query};

#[derive(Debug, Subcommand)]
pub enum DistCommand {
    /// Resolve a tuple to exactly one row of the index; print its archive's path (`--json`: the row).
    Resolve(ResolveArgs),
    /// Resolve exactly one row (`--all`: every matching row) and check its files against the
    /// index, `checksums.json` and `manifest.json`.
    Verify(VerifyArgs),
    /// Verify every row of a version, then copy its files and the index into DIR under their
    /// release asset names, with `SHA256SUMS`.
    Assets(AssetsArgs),
}

/// The index and a (partial) tuple.
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
}

#[derive(Debug, Args)]
pub struct AssetsArgs {
    #[command(flatten)]
    tuple: TupleArgs,
    /// Where to write the assets.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn exec(cmd: DistCommand) -> i32 {
    let result = match cmd {
        DistCommand::Resolve(a) => resolve(a),
        DistCommand::Verify(a) => verify(a),
        DistCommand::Assets(a) => assets(a),
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
    let query = if a.all {
        a.tuple.query()
    } else {
        exact(&a.tuple)?
    };
    let dist = Dist::open(&a.tuple.index)?;
    let rows = if a.all {
        dist.select_some(&query)?
    } else {
        vec![dist.resolve(&query)?]
    };
    dist.verify(&rows)?;
    for row in &rows {
        println!("{}", dist.archive(row).display());
    }
    eprintln!(
        "verified {} artifact(s): sha256 as in `{}`, checksums.json and manifest.json",
        rows.len(),
        a.tuple.index.display()
    );
    Ok(())
}

fn assets(a: AssetsArgs) -> Result<(), DistError> {
    if a.tuple.version.is_none() {
        return Err(DistError::Usage("--version is required".into()));
    }
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
    Ok(())
}
