//! Running the probed binary: hermetic environment, timeout, concurrent pipe draining, and the
//! reference's text normalization (spec §1.3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use parity_engine::process::{self, Captured};

/// Runs the probed binary. Every child gets the reference environment (`NO_COLOR=1`,
/// `CLICOLOR=0`, `TERM=dumb`), a null stdin, and a fresh, empty `HOME` and `CODEX_HOME` so the
/// user's codex config cannot leak into the snapshot.
#[derive(Debug)]
pub struct Runner {
    program: PathBuf,
    home: PathBuf,
    codex_home: PathBuf,
    timeout: Duration,
    _sandbox: tempfile::TempDir,
}

/// How one invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// The child exited (any status).
    Exited(Finished),
    /// The child was still running at the deadline and was killed.
    TimedOut,
}

/// A child that exited.
#[derive(Debug)]
pub struct Finished(Captured);

impl Runner {
    /// A runner for `program`, with its own temp `HOME` and `CODEX_HOME`.
    pub fn new(program: PathBuf, timeout: Duration) -> Result<Self> {
        let sandbox = tempfile::Builder::new()
            .prefix("parity-snapshot-")
            .tempdir()
            .context("failed to create a temp HOME for the probed binary")?;
        let home = sandbox.path().join("home");
        let codex_home = sandbox.path().join("codex-home");
        for dir in [&home, &codex_home] {
            std::fs::create_dir(dir)
                .with_context(|| format!("failed to create `{}`", dir.display()))?;
        }
        Ok(Runner {
            program,
            home,
            codex_home,
            timeout,
            _sandbox: sandbox,
        })
    }

    /// The command line as the reference renders it, with the program's full path (stderr).
    pub fn render(&self, args: &[String]) -> String {
        render_cmd(&self.program.display().to_string(), args)
    }

    /// The command line with the program's file name only (for anything written into JSON).
    pub fn render_short(&self, args: &[String]) -> String {
        render_cmd(&file_name(&self.program), args)
    }

    /// Timeout of one invocation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs the binary with `args`, draining stdout and stderr while waiting, killing it (and
    /// its process group) at the deadline.
    pub fn run(&self, args: &[String]) -> std::io::Result<Outcome> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env("CLICOLOR", "0")
            .env("TERM", "dumb")
            .env("HOME", &self.home)
            .env("CODEX_HOME", &self.codex_home);
        Ok(match process::run(&mut cmd, Some(self.timeout), None)? {
            process::Outcome::Exited(done) => Outcome::Exited(Finished(done)),
            process::Outcome::TimedOut | process::Outcome::Cancelled => Outcome::TimedOut,
        })
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

/// `program` + args, each arg Debug-quoted unless made only of `[0-9A-Za-z_./:-]`.
pub fn render_cmd(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for arg in args {
        s.push(' ');
        let plain = !arg.is_empty()
            && arg
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
