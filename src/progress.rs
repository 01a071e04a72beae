//! Build reporters: a live bar on a TTY, plain lines in CI or pipes, JSON Lines for machines.
//! Humans read stderr; machines read stdout.

use std::io::Write;
use std::time::Duration;

use parity_engine::build::{Event, Outcome, Reporter, Summary};

/// Picks the reporter for this run.
pub fn reporter(json: bool, verbose: bool, color: bool) -> Box<dyn Reporter> {
    use std::io::IsTerminal;
    if json {
        return Box::new(JsonReporter);
    }
    let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    Box::new(HumanReporter {
        verbose,
        color,
        bar: None,
        tty,
        done: 0,
        running: Vec::new(),
    })
}

/// The closing line(s): the JSON summary record, or the human sentence.
pub fn finish(json: bool, color: bool, summary: &Summary, dry_run: bool) {
    if json {
        let mut v = serde_json::to_value(summary).unwrap_or_default();
        v["event"] = "summary".into();
        v["elapsed_ms"] = (summary.elapsed.as_millis() as u64).into();
        out_line(&v.to_string());
        return;
    }
    let did = summary.ran + summary.cached + summary.remote + summary.would_run;
    if did == 0 && summary.failed == 0 && summary.blocked == 0 {
        err_line("no work to do.");
        return;
    }
    let mut parts = Vec::new();
    if dry_run {
        parts.push(format!("{} would run", summary.would_run));
    } else {
        parts.push(format!("{} ran", summary.ran));
        if summary.cached > 0 {
            parts.push(format!("{} from cache", summary.cached));
        }
        if summary.remote > 0 {
            parts.push(format!("{} from remote cache", summary.remote));
        }
    }
    parts.push(format!("{} fresh", summary.fresh));
    for (n, what) in [
        (summary.blocked, "blocked"),
        (summary.failed, "failed"),
        (summary.skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let verb = if summary.failed > 0 {
        paint(color, "1;31", "Failed")
    } else {
        paint(color, "1;32", "Finished")
    };
    err_line(&format!(
        "{:>12} {} in {:.2}s",
        verb,
        parts.join(", "),
        summary.elapsed.as_secs_f64()
    ));
}

/// One line on stderr. A closed stderr (`parity build 2>&1 | head -1`) does not stop a build:
/// the line is dropped, the build goes on.
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// One line on stdout, dropped if stdout is closed (a build goes on).
fn out_line(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

struct JsonReporter;

impl Reporter for JsonReporter {
    fn event(&mut self, event: Event<'_>) {
        let v = match event {
            Event::Plan { total, recovered } => {
                serde_json::json!({"event": "plan", "total": total, "recovered": recovered})
            }
            Event::Started { node } => serde_json::json!({"event": "started", "node": node}),
            Event::Finished {
                node,
                outcome,
                reasons,
                elapsed,
            } => {
                let mut v = serde_json::json!({
                    "event": "finished",
                    "node": node,
                    "outcome": outcome.as_str(),
                    "source": source(outcome),
                    "reasons": reasons,
                    "elapsed_ms": elapsed.as_millis() as u64,
                });
                if let Some(msg) = detail(outcome) {
                    v["message"] = msg.into();
                }
                if let Outcome::Failed(f) = outcome {
                    v["error"] = f.error().kind().into();
                }
                v
            }
            Event::Warning { message } => {
                // Humans read stderr: the warning is there too.
                err_line(&format!("warning: {message}"));
                serde_json::json!({"event": "warning", "message": message})
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }
}

/// Where a node's outputs came from: `ran`, `local-cache`, `remote-cache`, `fresh`, or nothing.
fn source(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Ran => Some("ran"),
        Outcome::Cached => Some("local-cache"),
        Outcome::Remote => Some("remote-cache"),
        Outcome::Fresh => Some("fresh"),
        _ => None,
    }
}

fn detail(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Blocked(m) | Outcome::Skipped(m) => Some(m.clone()),
        Outcome::Failed(f) => Some(f.to_string()),
        _ => None,
    }
}

struct HumanReporter {
    verbose: bool,
    color: bool,
    tty: bool,
    bar: Option<indicatif::ProgressBar>,
    done: u64,
    running: Vec<String>,
}

impl HumanReporter {
    fn line(&self, verb: &str, code: &str, rest: &str) {
        let text = format!("{:>12} {rest}", paint(self.color, code, verb));
        match &self.bar {
            Some(bar) => bar.println(text),
            None => err_line(&text),
        }
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            bar.set_message(self.running.join(", "));
        }
    }
}

impl Reporter for HumanReporter {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Plan { total, recovered } => {
                if recovered > 0 {
                    self.line(
                        "Recovered",
                        "1;33",
                        &format!("{recovered} node(s) from an interrupted build"),
                    );
                }
                if self.tty {
                    let bar = indicatif::ProgressBar::new(total as u64);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{prefix:>12.cyan.bold} [{pos}/{len}] {wide_msg} eta {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.set_prefix("Building");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bar = Some(bar);
                }
            }
            Event::Started { node } => {
                self.running.push(node.to_string());
                if !self.tty && self.verbose {
                    self.line("Running", "1;36", node.as_str());
                }
                self.refresh();
            }
            Event::Finished {
                node,
                outcome,
                reasons,
                elapsed,
            } => {
                self.done += 1;
                self.running.retain(|r| r != node.as_str());
                let why = reasons
                    .first()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                let secs = format!("{:.2}s", elapsed.as_secs_f64());
                match outcome {
                    Outcome::Ran => self.line("Built", "1;32", &format!("{node} in {secs}{why}")),
                    Outcome::Cached => {
                        self.line("Restored", "1;32", &format!("{node} from the cache{why}"))
                    }
                    Outcome::Remote => self.line(
                        "Restored",
                        "1;32",
                        &format!("{node} from the remote cache{why}"),
                    ),
                    Outcome::WouldRun => self.line("Would build", "1;36", &format!("{node}{why}")),
                    Outcome::WouldRestore => {
                        self.line("Would restore", "1;36", &format!("{node}{why}"))
                    }
                    Outcome::Blocked(m) => self.line("Blocked", "1;33", &format!("{node}: {m}")),
                    Outcome::Failed(m) => self.line("Failed", "1;31", &format!("{node}: {m}")),
                    Outcome::Skipped(m) if self.verbose => {
                        self.line("Skipped", "1;33", &format!("{node}: {m}"))
                    }
                    Outcome::Fresh if self.verbose => self.line("Fresh", "1;32", node.as_str()),
                    _ => {}
                }
                if self.verbose && reasons.len() > 1 {
                    for r in &reasons[1..] {
                        self.line("", "0", &format!("  also: {r}"));
                    }
                }
                self.refresh();
            }
            Event::Warning { message } => {
                let text = format!("{}: {message}", paint(self.color, "1;33", "warning"));
                match &self.bar {
                    Some(bar) => bar.println(text),
                    None => err_line(&text),
                }
            }
        }
    }
}

impl Drop for HumanReporter {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
