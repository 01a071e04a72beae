//! `parity build [TARGET...]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use parity_engine::build::BuildOptions;
use parity_engine::ops;

use crate::cli::{self, GlobalArgs};
use crate::progress;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Nodes or patterns (`union@0.92.0`, `snapshot@0.92.0/*`, `report`); default: all.
    targets: Vec<String>,
    /// Parallel jobs (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// After a failure, go on building what does not depend on it.
    #[arg(short, long)]
    keep_going: bool,
    /// Say what would be built; build nothing, write nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Rebuild the named targets even if they are fresh (not their dependencies).
    #[arg(long)]
    force: bool,
    /// One JSON event per line on stdout, ending with a `summary` record.
    #[arg(long)]
    json: bool,
    /// Let nodes overwrite existing files at their output paths that `pipeline.lock` does not
    /// record as theirs (hand-written files); without it, such a node fails.
    #[arg(long)]
    adopt: bool,
    #[command(flatten)]
    pub fetch: cli::FetchArgs,
}

pub fn exec(g: &GlobalArgs, a: BuildArgs) -> anyhow::Result<i32> {
    cli::ensure_pipeline(g)?;
    let opts = BuildOptions {
        jobs: a
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        keep_going: a.keep_going,
        force: a.force,
        dry_run: a.dry_run,
        remote: cli::remote(g)?,
        adopt: a.adopt,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            parity_engine::process::kill_running();
            std::process::exit(130);
        }
        progress::err_line("interrupted: finishing running nodes (Ctrl-C again to abort)");
    });
    let color = cli::use_color(g);
    let mut reporter = progress::reporter(a.json, g.verbose, color);
    let registry = cli::registry(g);
    let built = ops::build(
        &cli::session(g, &registry),
        &a.targets,
        &opts,
        &cancel,
        reporter.as_mut(),
        &mut |path| {
            progress::err_line(&format!(
                "    Blocking waiting for another `parity build` to finish (lock `{}`)",
                path.display()
            ))
        },
    );
    drop(reporter);
    let (summary, ws) = built?;
    // The process exits now: freeing the graph node by node is wasted time.
    std::mem::forget(ws);
    progress::finish(a.json, color, &summary, a.dry_run);
    if summary.interrupted {
        progress::err_line("error: interrupted; every completed node was kept");
    }
    Ok(summary.exit_code())
}

impl BuildArgs {
    /// `parity build TARGETS` with the default options (for commands that build as a step;
    /// the remote cache and mirror are the command's own, in [`GlobalArgs::fetch`]).
    pub fn of(targets: Vec<String>, json: bool, fetch: cli::FetchArgs) -> BuildArgs {
        BuildArgs {
            targets,
            jobs: None,
            keep_going: false,
            dry_run: false,
            force: false,
            json,
            adopt: false,
            fetch,
        }
    }
}
