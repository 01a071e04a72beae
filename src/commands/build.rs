//! `parity build [TARGET...]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use parity_engine::build::{self, BuildOptions, Event, Outcome, Summary};
use parity_engine::memo;
use parity_engine::ops::BuildLock;
use parity_engine::workspace::{NodeStatus, State, StoredState, Workspace};

use crate::cli::{self, GlobalArgs};
use crate::commands::status;
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
}

pub fn exec(g: &GlobalArgs, a: BuildArgs) -> anyhow::Result<i32> {
    let started = std::time::SystemTime::now();
    // The no-op fast path: only for the plain `parity build` (every node, nothing forced, no
    // remote cache), and only when the memo says every node is fresh.
    let plain = a.targets.is_empty()
        && !a.dry_run
        && !a.force
        && g.remote_cache
            .as_deref()
            .is_none_or(|u| u.trim().is_empty());
    let from_memo = if plain {
        noop_from_memo(g, &a)
    } else {
        FromMemo::NotUsed
    };
    if let FromMemo::Done(code) = from_memo {
        return Ok(code);
    }
    let (ws, early) = open(g, a.dry_run)?;
    let targets = cli::select(&ws, &a.targets)?;
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
    let (guard, state) = match early {
        Some((guard, stored)) => (guard, ws.recover(stored)?),
        None => {
            let guard = if a.dry_run {
                None
            } else {
                lock(ws.cache.dir(), true)?
            };
            (guard, ws.load_state()?)
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            parity_engine::sandbox::kill_running();
            std::process::exit(130);
        }
        progress::err_line("interrupted: finishing running nodes (Ctrl-C again to abort)");
    });
    let color = cli::use_color(g);
    let mut reporter = progress::reporter(a.json, g.verbose, color);
    let result = build::build_with_state(
        &ws,
        state,
        guard.as_ref(),
        &targets,
        &opts,
        &cancel,
        reporter.as_mut(),
    );
    drop(reporter);
    let summary = result?;
    if plain && !memo::disabled() && summary.fresh == summary.total && !summary.interrupted {
        // Every node was fresh: nothing changed, remember so.
        let statuses: Vec<NodeStatus> = (0..ws.graph.nodes.len())
            .map(|node| NodeStatus {
                node,
                state: State::Fresh,
                reasons: Vec::new(),
                unavailable: None,
                key: None,
            })
            .collect();
        let order = build::noop_order(&ws, &targets);
        let written = memo::write(
            &ws,
            &g.pipeline,
            &status::memo_identity(),
            started,
            &statuses,
            &order,
        );
        status::trace_write(written);
    } else if summary.ran + summary.cached + summary.remote > 0 && !a.dry_run {
        // The state changed: the memo no longer describes it (its stat tuples would say so
        // too; this is belt and braces).
        memo::remove(&g.pipeline);
    }
    // The process exits now: freeing the graph node by node is wasted time.
    std::mem::forget(ws);
    progress::finish(a.json, color, &summary, a.dry_run);
    if summary.interrupted {
        progress::err_line("error: interrupted; every completed node was kept");
    }
    Ok(summary.exit_code())
}

/// What the no-op memo did for a build.
enum FromMemo {
    /// Answered the build (its exit code).
    Done(i32),
    /// Missing, invalid or disabled; or valid, but some nodes are blocked on this host (the
    /// full path reports them).
    NotUsed,
}

/// Answers a no-op build from the memo when every node is fresh. Prints what the full path
/// would: the plan, every node `fresh` in the scheduler's order, the summary.
fn noop_from_memo(g: &GlobalArgs, a: &BuildArgs) -> FromMemo {
    let started = std::time::Instant::now();
    let Some(m) = status::load_memo(g) else {
        return FromMemo::NotUsed;
    };
    if m.nodes.iter().any(|v| v.state != State::Fresh) {
        return FromMemo::NotUsed;
    }
    let color = cli::use_color(g);
    let mut reporter = progress::reporter(a.json, g.verbose, color);
    reporter.event(Event::Plan {
        total: m.nodes.len(),
        recovered: 0,
    });
    for &i in &m.build_order {
        reporter.event(Event::Finished {
            node: &m.nodes[i as usize].id,
            outcome: &Outcome::Fresh,
            reasons: &[],
            elapsed: std::time::Duration::ZERO,
        });
    }
    drop(reporter);
    let summary = Summary {
        total: m.nodes.len(),
        fresh: m.nodes.len(),
        elapsed: started.elapsed(),
        ..Summary::default()
    };
    progress::finish(a.json, color, &summary, false);
    std::mem::forget(m);
    FromMemo::Done(summary.exit_code())
}

/// A build lock and the state read under it.
type Early = Option<(Option<BuildLock>, StoredState)>;

/// Opens the workspace and, meanwhile on a second thread, takes the build lock (unless a dry
/// run) and reads the recorded state, so a no-op build reads the lock while the graph is
/// expanded, as `status` does. Only when `cache/` already exists and the lock is free: the
/// other cases (first build, another build running) take the lock after the pipeline and the
/// targets were checked, as before.
fn open(g: &GlobalArgs, dry_run: bool) -> anyhow::Result<(Workspace, Early)> {
    let cache = parity_engine::fsutil::parent_dir(&g.pipeline).join("cache");
    let lock_file = g.pipeline.with_extension("lock");
    if !parity_engine::state_is_large(&lock_file) {
        // A small workspace: a second thread would cost more than it saves.
        return Ok((cli::workspace(g)?, None));
    }
    std::thread::scope(|s| {
        let early = s.spawn(|| -> anyhow::Result<Early> {
            if !g.pipeline.is_file() || !cache.is_dir() {
                return Ok(None);
            }
            let guard = if dry_run {
                None
            } else {
                match lock(&cache, false)? {
                    Some(file) => Some(file),
                    None => return Ok(None),
                }
            };
            Ok(Some((guard, StoredState::read(&g.pipeline))))
        });
        let ws = cli::workspace(g);
        let early = early
            .join()
            .map_err(|_| anyhow::anyhow!("the state loader panicked"))?;
        Ok((ws?, early?))
    })
}

/// Takes the build lock of the workspace whose cache is `dir`. If another build holds it: with
/// `wait`, waits for it with a message; without, returns `None`.
fn lock(dir: &std::path::Path, wait: bool) -> anyhow::Result<Option<BuildLock>> {
    Ok(BuildLock::acquire(dir, wait, &mut |path| {
        eprintln!(
            "    Blocking waiting for another `parity build` to finish (lock `{}`)",
            path.display()
        );
    })?)
}

impl BuildArgs {
    /// `parity build TARGETS` with the default options (for commands that build as a step).
    pub fn of(targets: Vec<String>, json: bool) -> BuildArgs {
        BuildArgs {
            targets,
            jobs: None,
            keep_going: false,
            dry_run: false,
            force: false,
            json,
            adopt: false,
        }
    }
}
