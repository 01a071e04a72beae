//! The generic `command` rule: a shell command with declared inputs and outputs, like a make
//! recipe. It lets anyone declare their own nodes, and the engine be tested and benchmarked
//! without any domain rule. The binary registers it; the engine itself registers nothing.
//!
//! ```toml
//! [artifact.report]
//! rule = "command"
//! params = ["version"]
//! inputs = ["union@{version}", "wrapper.json"]
//! outputs = ["reports/{version}.txt"]
//! config = { command = "cat $in > $out", env = ["LANG"] }
//! ```
//! The command runs with `sh -c` in the sandbox's root (the mirror of the pipeline root), so
//! relative paths work as they do in the pipeline. `$in` is replaced by the present inputs and
//! `$out` by the outputs, shell-quoted and space-separated, relative to that directory; `$$` is
//! a literal `$`. Variables named in `env` are passed through and are part of the action key;
//! the rest of the environment is inherited but not keyed, so a command must not depend on it.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::exec::{Rule, RuleContext, RuleError};
use crate::graph::Node;

/// The `command` rule.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandRule;

impl Rule for CommandRule {
    fn name(&self) -> &'static str {
        "command"
    }

    fn env(&self, node: &Node) -> Vec<String> {
        node.config
            .get("env")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn check(&self, node: &Node) -> Result<(), String> {
        match node.config.get("command") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {}
            Some(_) => return Err("`config.command` must be a non-empty string".into()),
            None => return Err("`config.command` is required".into()),
        }
        match node.config.get("env") {
            None => {}
            Some(serde_json::Value::Array(a)) if a.iter().all(|v| v.is_string()) => {}
            Some(_) => return Err("`config.env` must be a list of variable names".into()),
        }
        if let Some(obj) = node.config.as_object()
            && let Some(k) = obj.keys().find(|k| *k != "command" && *k != "env")
        {
            return Err(format!(
                "unknown key `config.{k}` (expected `command` or `env`)"
            ));
        }
        Ok(())
    }

    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let template = ctx.node.config["command"].as_str().unwrap_or_default();
        let rel = |name: &str| -> String {
            let p = ctx.path(name);
            relative_to(&p, ctx.root())
        };
        let ins: Vec<String> = ctx.inputs.iter().map(|n| shell_quote(&rel(n))).collect();
        let outs: Vec<String> = ctx
            .node
            .outputs
            .iter()
            .map(|o| shell_quote(&rel(&o.name())))
            .collect();
        let script = substitute(template, &ins.join(" "), &outs.join(" "));
        for out in ctx.outputs() {
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(ctx.root())
            .env("PARITY_NODE", ctx.node.id.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `sh`: {e}"))?;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let out_reader = std::thread::spawn(move || read_all(stdout.as_mut()));
        let err_reader = std::thread::spawn(move || read_all(stderr.as_mut()));
        // Poll (so an interrupted build can stop the child) with a backoff from 50 µs to 5 ms:
        // most recipes finish in about a millisecond.
        let mut pause = Duration::from_micros(50);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if ctx.cancelled.load(Ordering::Relaxed) {
                let _ = child.kill();
                let _ = child.wait();
                return Err("interrupted".into());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        };
        let _ = out_reader.join();
        let err_text = err_reader.join().unwrap_or_default();
        if !status.success() {
            let code = status
                .code()
                .map_or("a signal".to_string(), |c| c.to_string());
            let mut msg = format!("command exited with {code}: {script}");
            let tail: Vec<&str> = err_text.lines().rev().take(20).collect();
            if !tail.is_empty() {
                msg.push_str("\n--- stderr ---\n");
                msg.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
            return Err(msg.into());
        }
        Ok(())
    }
}

fn read_all(r: Option<&mut impl Read>) -> String {
    let mut buf = Vec::new();
    if let Some(r) = r {
        let _ = r.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// `$in` / `$out` / `$$` substitution (`$in` only when not followed by a name character).
fn substitute(template: &str, ins: &str, outs: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let word_end = |w: &str| {
            after
                .strip_prefix(w)
                .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        };
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if word_end("in") {
            out.push_str(ins);
            rest = &after[2..];
        } else if word_end("out") {
            out.push_str(outs);
            rest = &after[3..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%=:,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn relative_to(path: &Path, base: &Path) -> String {
    if let Ok(rel) = path.strip_prefix(base) {
        return rel.to_string_lossy().replace('\\', "/");
    }
    // `{cache}` paths live beside the root in the sandbox.
    match (
        path.strip_prefix(base.parent().unwrap_or(base)),
        base.file_name(),
    ) {
        (Ok(rel), Some(_)) => format!("../{}", rel.to_string_lossy().replace('\\', "/")),
        _ => path.to_string_lossy().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_in_and_out_but_not_longer_names() {
        assert_eq!(
            substitute("cat $in > $out; echo $$x $input", "a b", "c"),
            "cat a b > c; echo $x $input"
        );
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(
            shell_quote("snapshots/0.92.0/x.json"),
            "snapshots/0.92.0/x.json"
        );
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }
}
