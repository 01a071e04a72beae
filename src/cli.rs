//! The command line: global options, subcommands, error printing and exit codes.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use parity_engine::exec::Registry;
use parity_engine::remote::{RemoteCache, RemoteOptions};
use parity_engine::workspace::Workspace;

use crate::commands;

/// A declarative, incremental build graph for the artifacts that keep a CLI wrapper in parity
/// with its upstream.
#[derive(Debug, Parser)]
#[command(name = "parity", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Change to DIR before doing anything.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The pipeline file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "pipeline.toml"
    )]
    pub pipeline: PathBuf,
    /// When to use colors.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorChoice,
    /// Say more (fresh nodes, reasons, timings).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Shared remote cache (Bazel HTTP layout: `{URL}/cas/<sha256>`, `{URL}/ac/<sha256>`).
    #[arg(long, global = true, value_name = "URL", env = "PARITY_REMOTE_CACHE")]
    pub remote_cache: Option<String>,
    /// Read from the remote cache, never write to it (untrusted runs).
    #[arg(
        long,
        global = true,
        env = "PARITY_REMOTE_READ_ONLY",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::SetTrue
    )]
    pub remote_read_only: bool,
    /// Seconds before a remote cache request is given up (and the remote disabled).
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        default_value = "30",
        env = "PARITY_REMOTE_TIMEOUT"
    )]
    pub remote_timeout: f64,
    /// A directory of release assets by asset name, tried before the pinned URL (the bytes are
    /// verified against the same pins; never part of an action key).
    #[arg(long, global = true, value_name = "DIR", env = "PARITY_MIRROR")]
    pub mirror: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring targets (default: every node) up to date, and nothing else.
    Build(commands::build::BuildArgs),
    /// Show which nodes are fresh, stale, missing, modified or blocked, and why.
    Status(commands::status::StatusArgs),
    /// Show exactly why a node is not fresh: each changed input, old and new digest.
    Explain(commands::explain::ExplainArgs),
    /// Print the graph (dot, mermaid or json).
    Graph(commands::graph::GraphArgs),
    /// List the nodes, in build order.
    List(commands::list::ListArgs),
    /// Trim the local cache.
    Gc(commands::gc::GcArgs),
    /// CI gate: fail on any committed output edited by hand or node not rebuilt after a change.
    Verify(commands::verify::VerifyArgs),
    /// Is there a new upstream release to pin? Exit 0 yes (version on stdout), 3 no.
    Watch(commands::watch::WatchArgs),
    /// Track version V: pin its release assets (`pins@V/*`) and rebuild the lock.
    Pin(commands::pin::PinArgs),
    /// The consumer side of parity's releases: resolve and verify `dist/index.json` rows.
    #[command(subcommand)]
    Dist(commands::dist::DistCommand),
    /// Run one reference rule directly, as a drop-in for the reference `xtask` commands.
    #[command(subcommand)]
    Rule(commands::rule::RuleCommand),
}

/// Runs the process and returns its exit code.
pub fn main() -> i32 {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}");
        eprintln!("parity hit a bug; please report it with the command you ran.");
    }));
    let mut cli = Cli::parse();
    // `--mirror` is relative to where parity was started, not to `-C DIR`.
    if let Some(m) = cli.global.mirror.as_mut()
        && m.is_relative()
        && let Ok(cwd) = std::env::current_dir()
    {
        *m = cwd.join(&*m);
    }
    if let Some(dir) = &cli.global.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("error: cannot change to directory `{}`: {e}", dir.display());
        return 2;
    }
    let g = &cli.global;
    let result = match cli.command {
        Command::Build(a) => commands::build::exec(g, a),
        Command::Status(a) => commands::status::exec(g, a),
        Command::Explain(a) => commands::explain::exec(g, a),
        Command::Graph(a) => commands::graph::exec(g, a),
        Command::List(a) => commands::list::exec(g, a),
        Command::Gc(a) => commands::gc::exec(g, a),
        Command::Verify(a) => commands::verify::exec(g, a),
        Command::Watch(a) => commands::watch::exec(g, a),
        Command::Pin(a) => commands::pin::exec(g, a),
        Command::Rule(cmd) => return commands::rule::exec(cmd),
        Command::Dist(cmd) => return commands::dist::exec(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints an error and returns its exit code: the engine's own codes for engine errors,
/// 1 otherwise.
pub fn report(err: &anyhow::Error) -> i32 {
    if let Some(e) = err.downcast_ref::<parity_engine::Error>() {
        eprintln!("error: {}", e.render());
        print_causes(err.chain().skip(1));
        return e.exit_code();
    }
    print_error(err);
    1
}

/// Prints an error with its `Caused by:` chain to stderr.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    print_causes(err.chain().skip(1));
}

fn print_causes<'a>(chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) {
    let mut chain = chain.peekable();
    if chain.peek().is_some() {
        eprintln!("\nCaused by:");
        for cause in chain {
            eprintln!("    {cause}");
        }
    }
}

/// The rules this binary knows: the generic `command` rule and the codex rules (the release
/// rules with `--mirror`).
pub fn registry(g: &GlobalArgs) -> Registry {
    let mut r = Registry::new();
    r.register(parity_engine::command::CommandRule);
    parity_rules::nodes::register(&mut r, release_settings(g));
    r
}

/// Where release bytes come from: the environment, and `--mirror` / `PARITY_MIRROR`.
pub fn release_settings(g: &GlobalArgs) -> parity_rules::release::Settings {
    let mut settings = parity_rules::release::Settings::from_env();
    if let Some(m) = &g.mirror {
        settings.mirror = Some(m.clone());
    }
    settings
}

/// A usage error unless the pipeline file exists.
fn ensure_pipeline(g: &GlobalArgs) -> anyhow::Result<()> {
    if !g.pipeline.exists() {
        return Err(parity_engine::Error::Usage(format!(
            "no `{}` here (run parity in the directory holding it, or pass -C DIR / --pipeline FILE)",
            g.pipeline.display()
        ))
        .into());
    }
    Ok(())
}

/// Loads the workspace of the pipeline file named by the global options.
pub fn workspace(g: &GlobalArgs) -> anyhow::Result<Workspace> {
    ensure_pipeline(g)?;
    Ok(Workspace::open(&g.pipeline, registry(g))?)
}

/// [`workspace`], with its stat cache and recorded state loaded on a second thread meanwhile
/// (for commands that only read the state).
pub fn workspace_with_state(
    g: &GlobalArgs,
) -> anyhow::Result<(
    Workspace,
    parity_engine::hash::Hasher,
    parity_engine::state::Lock,
)> {
    ensure_pipeline(g)?;
    Ok(Workspace::open_with_state(&g.pipeline, registry(g))?)
}

/// The remote cache named by `--remote-cache` / `PARITY_REMOTE_CACHE`, if any.
pub fn remote(g: &GlobalArgs) -> anyhow::Result<Option<Arc<RemoteCache>>> {
    let Some(url) = g.remote_cache.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    if !(g.remote_timeout.is_finite() && g.remote_timeout > 0.0) {
        return Err(parity_engine::Error::Usage(format!(
            "invalid --remote-timeout `{}`: expected a positive number of seconds",
            g.remote_timeout
        ))
        .into());
    }
    let opts = RemoteOptions {
        url: url.to_string(),
        read_only: g.remote_read_only,
        timeout: std::time::Duration::from_secs_f64(g.remote_timeout),
    };
    Ok(Some(Arc::new(RemoteCache::new(&opts)?)))
}

/// The parsed pipeline file named by the global options (no graph, no rules).
pub fn pipeline(g: &GlobalArgs) -> anyhow::Result<parity_engine::pipeline::Pipeline> {
    ensure_pipeline(g)?;
    Ok(parity_engine::pipeline::Pipeline::load(&g.pipeline)?)
}

/// The upstream the pipeline pins (a pipeline without one is a usage error).
pub fn upstream(
    p: &parity_engine::pipeline::Pipeline,
) -> anyhow::Result<parity_rules::release::Upstream> {
    parity_rules::release::Upstream::of(p)
        .map_err(|e| parity_engine::Error::Usage(format!("{e:#}")).into())
}

/// Whether to color stderr.
pub fn use_color(g: &GlobalArgs) -> bool {
    use std::io::IsTerminal;
    match g.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

/// Selects nodes by patterns (all nodes when none are given).
pub fn select(ws: &Workspace, targets: &[String]) -> anyhow::Result<Vec<usize>> {
    if targets.is_empty() {
        return Ok((0..ws.graph.nodes.len()).collect());
    }
    Ok(ws.graph.select(targets)?)
}
