//! The command line: global options, subcommands, error printing and exit codes.

use std::io::Write;
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
#[command(
    name = "parity",
    version,
    about,
    max_term_width = 100,
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print version (with `-v`: also the host and how `command` recipes are sandboxed here).
    #[arg(short = 'V', long = "version", action = clap::ArgAction::SetTrue)]
    pub version: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `parity --version`, and with `-v` what else a bug report needs: the host and the sandbox.
fn print_version(verbose: bool) {
    println!("parity {}", env!("CARGO_PKG_VERSION"));
    if verbose {
        println!("host: {}-{}", std::env::consts::ARCH, std::env::consts::OS);
        println!(
            "sandbox: {}",
            parity_engine::sandbox::Isolation::current().describe()
        );
    }
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
    /// Where bytes come from, for the commands that build (`build`, `pin`): their
    /// [`FetchArgs`], copied here once parsed.
    #[arg(skip)]
    pub fetch: Option<FetchArgs>,
}

// Where a build's bytes come from: the shared remote cache and the release mirror. Only the
// commands that build take them (`build`, `pin`), so only their `--help` lists them. (Not a
// doc comment: clap makes a flattened struct's doc the `about` of the command it is built
// into, and the commands are built lazily, after their own `about`.)
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Remote cache and mirror")]
pub struct FetchArgs {
    /// Shared remote cache (Bazel HTTP layout: `{URL}/cas/<sha256>`, `{URL}/ac/<sha256>`), or
    /// a directory with that layout (`file:///path`).
    #[arg(long, value_name = "URL", env = "PARITY_REMOTE_CACHE")]
    pub remote_cache: Option<String>,
    /// Read from the remote cache, never write to it (untrusted runs).
    #[arg(
        long,
        env = "PARITY_REMOTE_READ_ONLY",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::SetTrue
    )]
    pub remote_read_only: bool,
    /// Any remote cache failure fails the node it happened for (exit 1) instead of disabling
    /// the remote, and so does a host-bound node the remote has no result for (jobs that exist
    /// to publish, or to assemble what others published).
    #[arg(
        long,
        env = "PARITY_REMOTE_REQUIRED",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::SetTrue
    )]
    pub remote_required: bool,
    /// Seconds before a remote cache request is given up (and the remote disabled).
    #[arg(
        long,
        value_name = "SECS",
        default_value = "30",
        env = "PARITY_REMOTE_TIMEOUT"
    )]
    pub remote_timeout: f64,
    /// A directory of release assets by asset name, tried before the pinned URL (the bytes are
    /// verified against the same pins; never part of an action key).
    #[arg(long, value_name = "DIR", env = "PARITY_MIRROR")]
    pub mirror: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The commands. Each one's arguments are built only when it is the one run (`defer`):
/// building the whole tree cost every run 0.25 ms and 50 page faults (a no-op at 1k nodes
/// takes 4 ms).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Start a pipeline here (a starter pipeline.toml and cache/.gitignore), or adopt a
    /// reference-layout tree (`--adopt DIR`).
    Init(commands::init::InitArgs),
    /// Bring targets (default: every node) up to date, and nothing else.
    Build(commands::build::BuildArgs),
    /// Show which nodes are fresh, stale, missing, modified, broken or blocked, and why.
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
    /// The jobs of the workflow proposing version V: runners, node patterns, branch, artifacts.
    Jobs(commands::jobs::JobsArgs),
    /// Track version V: pin its release assets (`pins@V/*`) and rebuild the lock.
    Pin(commands::pin::PinArgs),
    /// The title and body of the pull request proposing version V, from its artifacts.
    PrBody(commands::pr_body::PrBodyArgs),
    /// Propose version V: commit on its automation branch, push (never forced), open the PR.
    Publish(commands::publish::PublishArgs),
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
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            // Whoever read our output went away (`parity list | head -1`): stop quietly and
            // successfully, as ripgrep does, ending any recipe still running.
            parity_engine::process::kill_running();
            std::process::exit(0);
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "error: internal error: {info}");
        let _ = writeln!(
            err,
            "parity hit a bug; please report it with the command you ran."
        );
    }));
    let mut cli = Cli::parse();
    if cli.version {
        print_version(cli.global.verbose);
        return 0;
    }
    let Some(command) = cli.command.take() else {
        <Cli as clap::CommandFactory>::command()
            .error(
                clap::error::ErrorKind::MissingSubcommand,
                "a command is required (`parity help` lists them)",
            )
            .exit();
    };
    cli.global.fetch = match &command {
        Command::Build(a) => Some(a.fetch.clone()),
        Command::Pin(a) => Some(a.fetch.clone()),
        _ => None,
    };
    // `--mirror` is relative to where parity was started, not to `-C DIR`.
    if let Some(m) = cli.global.fetch.as_mut().and_then(|f| f.mirror.as_mut())
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
    let result = match command {
        Command::Init(a) => commands::init::exec(g, a),
        Command::Build(a) => commands::build::exec(g, a),
        Command::Status(a) => commands::status::exec(g, a),
        Command::Explain(a) => commands::explain::exec(g, a),
        Command::Graph(a) => commands::graph::exec(g, a),
        Command::List(a) => commands::list::exec(g, a),
        Command::Gc(a) => commands::gc::exec(g, a),
        Command::Verify(a) => commands::verify::exec(g, a),
        Command::Watch(a) => commands::watch::exec(g, a),
        Command::Pin(a) => commands::pin::exec(g, a),
        Command::Jobs(a) => commands::jobs::exec(g, a),
        Command::PrBody(a) => commands::pr_body::exec(g, a),
        Command::Publish(a) => commands::publish::exec(g, a),
        Command::Rule(cmd) => return commands::rule::exec(cmd),
        Command::Dist(cmd) => return commands::dist::exec(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints an error and returns its exit code: the engine's own codes for engine errors (found
/// anywhere in the chain, under any context added on the way), 1 otherwise.
pub fn report(err: &anyhow::Error) -> i32 {
    let first = err.chain().next();
    if let Some(e) = first.and_then(|e| e.downcast_ref::<parity_engine::Error>()) {
        eprintln!("error: {}", e.render());
        print_causes(err.chain().skip(1));
        return e.exit_code();
    }
    print_error(err);
    err.chain()
        .find_map(|e| e.downcast_ref::<parity_engine::Error>())
        .map_or(1, parity_engine::Error::exit_code)
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
    parity_rules::register(&mut r, release_settings(g));
    r
}

/// Where release bytes come from: the environment, and `--mirror` / `PARITY_MIRROR`.
pub fn release_settings(g: &GlobalArgs) -> parity_rules::release::Settings {
    let mut settings = parity_rules::release::Settings::from_env();
    if let Some(m) = g.fetch.as_ref().and_then(|f| f.mirror.as_ref()) {
        settings.mirror = Some(m.clone());
    }
    settings
}

/// A usage error unless the pipeline file exists.
pub fn ensure_pipeline(g: &GlobalArgs) -> anyhow::Result<()> {
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
    let Some(f) = &g.fetch else {
        return Ok(None);
    };
    let Some(url) = f.remote_cache.as_deref().filter(|u| !u.trim().is_empty()) else {
        if f.remote_required {
            return Err(parity_engine::Error::Usage(
                "--remote-required needs a remote cache (--remote-cache URL or PARITY_REMOTE_CACHE)"
                    .into(),
            )
            .into());
        }
        return Ok(None);
    };
    if !(f.remote_timeout.is_finite() && f.remote_timeout > 0.0) {
        return Err(parity_engine::Error::Usage(format!(
            "invalid --remote-timeout `{}`: expected a positive number of seconds",
            f.remote_timeout
        ))
        .into());
    }
    let opts = RemoteOptions {
        url: url.to_string(),
        read_only: f.remote_read_only,
        required: f.remote_required,
        timeout: std::time::Duration::from_secs_f64(f.remote_timeout),
    };
    Ok(Some(Arc::new(RemoteCache::new(&opts)?)))
}

/// A version argument, `X.Y.Z` (a clap value parser: anything else is a usage error).
pub fn version_arg(s: &str) -> Result<parity_rules::release::github::Version, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

/// A version of a workspace's member pipeline: `[PIPELINE:]X.Y.Z`.
#[derive(Debug, Clone)]
pub struct MemberVersion {
    /// The member named before `:`, if any.
    pub member: Option<String>,
    /// The version.
    pub version: parity_rules::release::github::Version,
}

/// Parses `[PIPELINE:]X.Y.Z` (a clap value parser).
pub fn member_version_arg(s: &str) -> Result<MemberVersion, String> {
    let (member, version) = match s.split_once(':') {
        Some((m, v)) => (Some(m.to_string()), v),
        None => (None, s),
    };
    Ok(MemberVersion {
        member,
        version: version_arg(version)?,
    })
}

/// The parsed pipeline file named by the global options (no graph, no rules).
pub fn pipeline(g: &GlobalArgs) -> anyhow::Result<parity_engine::pipeline::Pipeline> {
    ensure_pipeline(g)?;
    Ok(parity_engine::pipeline::Pipeline::load(&g.pipeline)?)
}

/// The pipeline whose upstream `parity watch` / `parity pin` look at, and that upstream.
pub struct Pinned<'p> {
    /// The pipeline (a workspace's member, or the pipeline file itself).
    pub pipeline: &'p parity_engine::pipeline::Pipeline,
    /// The member's name (`claude`), or `None` for a pipeline that is no workspace.
    pub member: Option<String>,
    /// The prefix of its node ids: `claude:` for a member, else nothing.
    pub prefix: String,
    /// Its root, relative to the directory of the pipeline file, `/`-separated (`.` for a
    /// single pipeline's own directory).
    pub root: String,
    /// Its release source and version lists.
    pub upstream: parity_rules::release::Upstream,
}

/// The pipeline named `member` of the workspace `p` (or `p` itself when it is no workspace)
/// and its upstream. Without a name, a workspace's only member with a release source. Any
/// other case is a usage error.
pub fn upstream<'p>(
    p: &'p parity_engine::pipeline::Pipeline,
    member: Option<&str>,
) -> anyhow::Result<Pinned<'p>> {
    use parity_rules::release::Upstream;
    let usage = |m: String| -> anyhow::Error { parity_engine::Error::Usage(m).into() };
    if p.members.is_empty() {
        if let Some(name) = member {
            return Err(usage(format!(
                "`{}` is a single pipeline, not a workspace: there is no member `{name}`",
                p.file.display()
            )));
        }
        let upstream = Upstream::of(p).map_err(|e| usage(format!("{e:#}")))?;
        let base = parity_engine::fsutil::parent_dir(&p.file);
        let root = p.root.strip_prefix(base).unwrap_or(&p.root);
        let root = root.to_string_lossy().replace('\\', "/");
        return Ok(Pinned {
            pipeline: p,
            member: None,
            prefix: String::new(),
            root: if root.is_empty() { ".".into() } else { root },
            upstream,
        });
    }
    let names: Vec<&str> = p.members.iter().map(|m| m.name.value.as_str()).collect();
    let m = match member {
        Some(name) => p.member(name).ok_or_else(|| {
            usage(format!(
                "no member `{name}` in `{}` (members: {})",
                p.file.display(),
                names.join(", ")
            ))
        })?,
        None => {
            let with: Vec<_> = (p.members.iter())
                .filter(|m| Upstream::of(&m.pipeline).is_ok())
                .collect();
            match with.as_slice() {
                [one] => *one,
                _ => {
                    return Err(usage(format!(
                        "`{}` is a workspace: name the member pipeline ({})",
                        p.file.display(),
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let upstream = Upstream::of(&m.pipeline).map_err(|e| usage(format!("{e:#}")))?;
    Ok(Pinned {
        pipeline: &m.pipeline,
        member: Some(m.name.value.clone()),
        prefix: format!("{}:", m.name.value),
        root: m.root.clone(),
        upstream,
    })
}

/// Every pipeline of `p` with a release source, in declaration order: each member of a
/// workspace that has one (at least one must), or `p` itself.
pub fn upstreams(p: &parity_engine::pipeline::Pipeline) -> anyhow::Result<Vec<Pinned<'_>>> {
    if p.members.is_empty() {
        return Ok(vec![upstream(p, None)?]);
    }
    let with: Vec<Pinned<'_>> = (p.members.iter())
        .filter(|m| parity_rules::release::Upstream::of(&m.pipeline).is_ok())
        .map(|m| upstream(p, Some(&m.name.value)))
        .collect::<anyhow::Result<_>>()?;
    if with.is_empty() {
        return Err(parity_engine::Error::Usage(format!(
            "no member of `{}` has a release source (a pin artifact)",
            p.file.display()
        ))
        .into());
    }
    Ok(with)
}

/// The file `$GITHUB_OUTPUT` names (GitHub Actions' step outputs), for the option `flag`; a
/// usage error when the variable is unset or empty.
pub fn github_output_file(flag: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("GITHUB_OUTPUT")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            parity_engine::Error::Usage(format!("{flag} needs the variable GITHUB_OUTPUT")).into()
        })
}

/// Appends `text` (`key=value` lines, or `key<<DELIMITER` blocks) to the step-outputs file.
pub fn append_github_output(file: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .with_context(|| format!("failed to open `{}`", file.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("failed to write `{}`", file.display()))
}

/// A multi-line step output: `key<<DELIMITER`, the value's lines, the delimiter (one that
/// occurs in no line of the value).
pub fn github_output_block(key: &str, value: &str) -> String {
    let mut delimiter = format!("PARITY_{}_END", key.to_uppercase());
    while value.lines().any(|l| l == delimiter) {
        delimiter.push('_');
    }
    format!(
        "{key}<<{delimiter}\n{}\n{delimiter}\n",
        value.trim_end_matches('\n')
    )
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
    Ok(parity_engine::ops::select(ws, targets)?)
}

/// What the engine's operations need from the command line: the pipeline, the rules, this
/// binary's identity (for the no-op memo) and `PARITY_MEMO_TRACE=1` (whether the memo was used
/// or written, and why not, on stderr).
pub fn session<'a>(g: &'a GlobalArgs, registry: &'a Registry) -> parity_engine::ops::Session<'a> {
    parity_engine::ops::Session {
        pipeline: &g.pipeline,
        registry,
        identity: concat!("parity ", env!("CARGO_PKG_VERSION")),
        trace: &|msg| {
            if std::env::var_os("PARITY_MEMO_TRACE").is_some_and(|v| v == "1") {
                eprintln!("{msg}");
            }
        },
    }
}
