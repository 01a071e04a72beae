//! Running the probed binary: hermetic environment, timeouts with one longer retry, output
//! captured through files and the process group killed (the engine's [`process`]), and the
//! reference's text normalization (spec §1.3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use parity_engine::process::{self, Captured};

use super::Cli;

/// A timed-out invocation is tried once more with this many times the budget before it counts
/// as a timeout: how long a help takes depends on the machine's load, and bytes must not (the
/// configured budget stays in every message; claude spec §9 B3).
pub const RETRY_FACTOR: u32 = 4;

/// Runs the probed binary, hermetically: a fresh, empty `HOME` (and `CODEX_HOME` for codex),
/// a null stdin, the reference's variables (`NO_COLOR=1`, `CLICOLOR=0`, `TERM=dumb`; for
/// Claude Code also `DISABLE_AUTOUPDATER=1`, and `CI=1` for help probes). Claude Code children
/// get nothing else of the caller's environment but `PATH` (a cli.js build needs `node`) and
/// run in an empty working directory, so no `~/.claude`, `ANTHROPIC_*` or `CLAUDE_*` setting
/// can reach them.
#[derive(Debug)]
pub struct Runner {
    program: PathBuf,
    cli: Cli,
    home: PathBuf,
    codex_home: PathBuf,
    work: PathBuf,
    tmp: PathBuf,
    timeout: Duration,
    env: Vec<(String, std::ffi::OsString)>,
    dir: Option<PathBuf>,
    retry: bool,
    _sandbox: tempfile::TempDir,
}

/// What an invocation is for (Claude Code help probes get `CI=1`, its `--version` does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A `--help` probe.
    Help,
    /// Anything else (`--version`, `features list`).
    Other,
}

/// How one invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// The child exited (any status).
    Exited(Finished),
    /// The child was still running at the deadline (and at the retry's) and was killed.
    TimedOut,
}

/// A child that exited.
#[derive(Debug)]
pub struct Finished(Captured);

/// Variables of the caller's environment a Claude Code child keeps: `PATH`, and what Windows
/// programs cannot start without.
const KEPT_ENV: [&str; 5] = ["PATH", "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT"];

impl Runner {
    /// A runner for `program` of `cli`, with its own temp home and working directory.
    pub fn new(program: PathBuf, timeout: Duration, cli: Cli) -> Result<Self> {
        let sandbox = tempfile::Builder::new()
            .prefix("parity-snapshot-")
            .tempdir()
            .context("failed to create a temp HOME for the probed binary")?;
        let home = sandbox.path().join("home");
        let codex_home = sandbox.path().join("codex-home");
        let work = sandbox.path().join("work");
        let tmp = sandbox.path().join("tmp");
        for dir in [&home, &codex_home, &work, &tmp] {
            std::fs::create_dir(dir)
                .with_context(|| format!("failed to create `{}`", dir.display()))?;
        }
        Ok(Runner {
            program,
            cli,
            home,
            codex_home,
            work,
            tmp,
            timeout,
            env: Vec::new(),
            dir: None,
            retry: true,
            _sandbox: sandbox,
        })
    }

    /// Also sets `key` in every child's environment (after the hermetic defaults, so it may
    /// replace one of them).
    pub fn env(mut self, key: &str, value: impl Into<std::ffi::OsString>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Gives a timed-out run no second chance.
    pub fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }

    /// Runs every child in `dir`.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// The command line as the reference renders it, with the program's full path.
    pub fn render(&self, args: &[String]) -> String {
        render_cmd(&self.program.display().to_string(), args)
    }

    /// The command line with the program's file name only (deterministic across machines).
    pub fn render_short(&self, args: &[String]) -> String {
        render_cmd(&file_name(&self.program), args)
    }

    /// Timeout of one invocation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs the binary with `args` within the timeout; a timed-out run is retried once with
    /// [`RETRY_FACTOR`] times the budget (said on stderr), unless [`Runner::no_retry`].
    pub fn run(&self, args: &[String], purpose: Purpose) -> std::io::Result<Outcome> {
        let budgets = [self.timeout, self.timeout * RETRY_FACTOR];
        for budget in &budgets[..if self.retry { 2 } else { 1 }] {
            let budget = *budget;
            match process::capture(&mut self.command(args, purpose), Some(budget), None)? {
                process::Outcome::Exited(done) => return Ok(Outcome::Exited(Finished(done))),
                process::Outcome::TimedOut | process::Outcome::Cancelled => {}
            }
            if self.retry && budget == self.timeout {
                eprintln!(
                    "warning: `{}` did not finish within {} ms; trying once more with {} ms",
                    self.render(args),
                    budget.as_millis(),
                    (budget * RETRY_FACTOR).as_millis()
                );
            }
        }
        Ok(Outcome::TimedOut)
    }

    fn command(&self, args: &[String], purpose: Purpose) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(args);
        match self.cli {
            Cli::Codex => {
                cmd.env("HOME", &self.home)
                    .env("CODEX_HOME", &self.codex_home);
            }
            Cli::Claude => {
                cmd.env_clear().current_dir(&self.work);
                for name in KEPT_ENV {
                    if let Some(v) = std::env::var_os(name) {
                        cmd.env(name, v);
                    }
                }
                let tmp = self.tmp.as_path();
                cmd.env("HOME", &self.home)
                    .env("USERPROFILE", &self.home)
                    .env("TMPDIR", tmp)
                    .env("TEMP", tmp)
                    .env("TMP", tmp)
                    .env("DISABLE_AUTOUPDATER", "1");
                if purpose == Purpose::Help {
                    cmd.env("CI", "1");
                }
            }
        }
        cmd.env("NO_COLOR", "1")
            .env("CLICOLOR", "0")
            .env("TERM", "dumb")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }
}

impl Finished {
    /// Exit code, `-1` when killed by a signal.
    pub fn code(&self) -> i32 {
        self.0.code()
    }

    /// Whether the child exited 0.
    pub fn success(&self) -> bool {
        self.0.status.success()
    }

    /// The help text: stdout if it has non-whitespace, else stderr (spec §1.3).
    pub fn text(&self) -> String {
        normalize_text(&self.0.stdout, &self.0.stderr)
    }

    /// The reference's failure text: `<cmd> (exit N)` plus the non-blank stdout / stderr.
    pub fn failure(&self, cmd: &str) -> String {
        let mut msg = format!("{cmd} (exit {})", self.code());
        for (name, bytes) in [("stdout", &self.0.stdout), ("stderr", &self.0.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            if !text.trim().is_empty() {
                msg.push_str(&format!("\n{name}:\n{text}"));
            }
        }
        msg
    }
}

/// `program` + args, each arg Debug-quoted unless made only of `[0-9A-Za-z_./:-]` (an empty
/// arg is written as nothing, as the reference does).
pub fn render_cmd(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for arg in args {
        s.push(' ');
        let plain = arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c));
        if plain {
            s.push_str(arg);
        } else {
            s.push_str(&format!("{arg:?}"));
        }
    }
    s
}

/// Lossy UTF-8; stdout unless blank, then stderr; `\r\n` → `\n`; ANSI escapes removed
/// (a deviation: the reference keeps them, real binaries with `NO_COLOR` print none).
pub fn normalize_text(stdout: &[u8], stderr: &[u8]) -> String {
    let out = String::from_utf8_lossy(stdout);
    let text = if out.trim().is_empty() {
        String::from_utf8_lossy(stderr)
    } else {
        out
    };
    strip_ansi(&text.replace("\r\n", "\n"))
}

/// Removes CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or `ESC ] … ESC \`) and two-byte
/// `ESC x` sequences.
pub fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The probed binary's display name in errors that end up in JSON.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_quotes_only_unusual_args() {
        let args = ["--enable".to_string(), "a b".to_string(), "x=1".to_string()];
        assert_eq!(render_cmd("codex", &args), r#"codex --enable "a b" "x=1""#);
    }

    #[test]
    fn normalize_prefers_non_blank_stdout_and_fixes_crlf() {
        assert_eq!(normalize_text(b"a\r\nb\r", b"err"), "a\nb\r");
        assert_eq!(normalize_text(b" \n", b"err\r\n"), "err\n");
    }

    #[test]
    fn strip_ansi_removes_csi_and_osc() {
        assert_eq!(strip_ansi("\u{1b}[1mexec\u{1b}[0m  Run"), "exec  Run");
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
    }
}
