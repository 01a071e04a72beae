//! The engine's one error type.
//!
//! Every variant carries what a user needs to find the problem: the file, the node, the span.
//! `pipeline.toml` errors render the offending line with a caret (see [`Error::render`]).

use std::ops::Range;
use std::path::PathBuf;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem located in a source file (`pipeline.toml`, a params file): rendered with a caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file, as the user named it (relative where possible; never made absolute).
    pub file: PathBuf,
    /// The whole text of the file, so the line can be shown.
    pub text: String,
    /// Byte range of the offending token in `text`, if known.
    pub span: Option<Range<usize>>,
}

/// Every error the engine reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `pipeline.toml` (or a params file it points to) is malformed or inconsistent.
    #[error("{message}")]
    Pipeline {
        /// What is wrong, lower case, names in backticks.
        message: String,
        /// Where.
        at: Box<Located>,
        /// An extra hint such as "did you mean `union`?".
        help: Option<String>,
    },
    /// The graph has a cycle; `cycle` is the whole loop, `a -> b -> a`.
    #[error("dependency cycle: {cycle}")]
    Cycle {
        /// The loop, starting and ending at the same node.
        cycle: String,
        /// The input of the first node that names the second, when it is known.
        at: Option<Box<Located>>,
    },
    /// A target given on the command line names no node.
    #[error("no node matches `{pattern}`")]
    UnknownTarget {
        /// What the user typed.
        pattern: String,
        /// "did you mean" suggestion, if any.
        help: Option<String>,
    },
    /// Reading or writing a file failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// "read", "write", "create", "rename", ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file (`pipeline.lock`, a cache entry, the journal) is corrupt.
    #[error("`{path}` is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The remote cache failed a node's lookup, download or upload, and the run requires it
    /// (`--remote-required`): the node fails instead of the remote being disabled.
    #[error("remote cache `{url}` is required (--remote-required): {message}")]
    Remote {
        /// The cache URL, credentials redacted.
        url: String,
        /// What failed.
        message: String,
    },
    /// A node's rule returned an error, or left outputs that are not what the node declares.
    #[error("rule `{rule}` failed")]
    RuleFailed {
        /// The node.
        node: String,
        /// Its rule.
        rule: String,
        /// What the rule said (with its own causes).
        #[source]
        source: crate::exec::RuleError,
    },
    /// A node cannot be built as it stands: an input is missing, no epoch is known, an output
    /// would overwrite a file that is not the node's, an input's producer failed again.
    #[error("{message}")]
    Node {
        /// The node.
        node: String,
        /// Why, naming the input, output or node concerned.
        message: String,
    },
    /// Anything else that is the user's mistake (bad flag value, ...).
    #[error("{0}")]
    Usage(String),
    /// An impossible state: a bug in parity.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error: 1 state unreadable or unwritable, a required
    /// remote failed, or a node failed; 2 usage/pipeline/graph; 101 internal (an interrupted build is not an
    /// error: its summary says 130).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. }
            | Error::Corrupt { .. }
            | Error::Remote { .. }
            | Error::RuleFailed { .. }
            | Error::Node { .. } => 1,
            Error::Pipeline { .. }
            | Error::Cycle { .. }
            | Error::UnknownTarget { .. }
            | Error::Usage(_) => 2,
            Error::Internal(_) => 101,
        }
    }

    /// The kind of error as one stable word, for machine-readable output (`--json`): `pipeline`,
    /// `cycle`, `unknown-target`, `io`, `corrupt`, `remote`, `rule-failed`, `node`, `usage`,
    /// `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Pipeline { .. } => "pipeline",
            Error::Cycle { .. } => "cycle",
            Error::UnknownTarget { .. } => "unknown-target",
            Error::Io { .. } => "io",
            Error::Corrupt { .. } => "corrupt",
            Error::Remote { .. } => "remote",
            Error::RuleFailed { .. } => "rule-failed",
            Error::Node { .. } => "node",
            Error::Usage(_) => "usage",
            Error::Internal(_) => "internal",
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The error as the user sees it, without the `error: ` prefix: the message, then for
    /// located errors ` --> file:line:col`, the line and a caret under the span, then `help:`.
    pub fn render(&self) -> String {
        match self {
            Error::Pipeline { message, at, help } => render_located(message, at, help.as_deref()),
            Error::Cycle { at: Some(at), .. } => render_located(&self.to_string(), at, None),
            Error::UnknownTarget { pattern, help } => {
                let mut s = format!("no node matches `{pattern}`");
                if let Some(h) = help {
                    s.push_str(&format!("\n  help: {h}"));
                }
                s
            }
            other => other.to_string(),
        }
    }
}

impl Error {
    /// [`Error::render`] followed by the chain of causes, `Caused by:` style: for messages
    /// that stand alone (a node's failure), so the OS's reason ("No space left on device")
    /// is never lost.
    pub fn render_with_causes(&self) -> String {
        let mut s = self.render();
        let mut cause = std::error::Error::source(self);
        if cause.is_some() {
            s.push_str("\n\nCaused by:");
        }
        while let Some(c) = cause {
            s.push_str(&format!("\n    {c}"));
            cause = c.source();
        }
        s
    }
}

/// Renders `message` with the located line and a caret, rustc style.
pub fn render_located(message: &str, at: &Located, help: Option<&str>) -> String {
    let mut out = message.to_string();
    let file = at.file.display();
    match &at.span {
        Some(span) => {
            let boundary = |mut i: usize| {
                i = i.min(at.text.len());
                while !at.text.is_char_boundary(i) {
                    i += 1;
                }
                i
            };
            let start = boundary(span.start);
            let line_start = at.text[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = at.text[start..]
                .find('\n')
                .map_or(at.text.len(), |i| start + i);
            let line_no = at.text[..line_start].matches('\n').count() + 1;
            let col = at.text[line_start..start].chars().count() + 1;
            // A very long line (a 5000-character value) is cut after the caret's start.
            const SHOWN: usize = 100;
            let line: String = at.text[line_start..line_end]
                .chars()
                .take(col - 1 + SHOWN)
                .collect();
            let line = if line.len() < line_end - line_start {
                format!("{line}...")
            } else {
                line
            };
            let width = at.text[start..boundary(span.end.clamp(start, line_end))]
                .chars()
                .count()
                .clamp(1, SHOWN);
            let gutter = " ".repeat(line_no.to_string().len());
            out.push_str(&format!(
                "\n{gutter}--> {file}:{line_no}:{col}\n{gutter} |\n"
            ));
            out.push_str(&format!("{line_no} | {line}\n"));
            out.push_str(&format!(
                "{gutter} | {}{}",
                " ".repeat(col - 1),
                "^".repeat(width)
            ));
        }
        None => out.push_str(&format!("\n --> {file}")),
    }
    if let Some(h) = help {
        out.push_str(&format!("\n  help: {h}"));
    }
    out
}

/// "did you mean `X`?" for the [`closest`] candidate to `name`, if any is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The closest candidate to `name` by Jaro-Winkler similarity, if any is close enough.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
