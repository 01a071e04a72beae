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
//! timeout = 600                     # seconds (default: an hour); not part of the key
//! config = { command = "cat $in > $out", env = ["LANG"], path = "/usr/bin:/bin" }
//! ```
//! The command runs with `sh -c` (or directly when it is a simple command, [`crate::simple`])
//! in a sandbox ([`crate::sandbox`]) whose working directory
//! shows the pipeline root: `$in` is replaced by the present inputs, shell-quoted and
//! space-separated, as declared (`{cache}/x` inputs as `../cache/x`); `$out` by the outputs,
//! which are written under flat names in the sandbox (`../out/0-x.json`) and moved into place
//! when the command succeeded; `$$` is a literal `$`.
//!
//! Its environment is exactly: `PATH` (`config.path`, default [`DEFAULT_PATH`]), `HOME` and
//! `TMPDIR` (empty directories inside the sandbox), `SOURCE_DATE_EPOCH` (the artifact's
//! `epoch`, when it declares one; never parity's own), `PARITY_NODE` (the node id), and the
//! variables named in `env` with parity's values. All of it is part of the action
//! key (`PATH` through the config, the epoch and `env` values directly, the rest through the
//! rule version); no other variable reaches the command.

use std::path::Path;

use crate::exec::{Rule, RuleContext, RuleError, SandboxKind};
use crate::graph::Node;
use crate::sandbox::DEFAULT_PATH;

/// The `command` rule.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandRule;

impl Rule for CommandRule {
    fn name(&self) -> &'static str {
        "command"
    }

    /// 2: the recipe runs in a sandbox with a fixed environment (was: parity's environment).
    fn version(&self) -> u32 {
        2
    }

    fn passes_epoch(&self) -> bool {
        true
    }

    fn sandbox(&self) -> SandboxKind {
        SandboxKind::Process
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
        for name in self.env(node) {
            if RESERVED.contains(&name.as_str()) {
                return Err(format!(
                    "`config.env` names `{name}`, which the sandbox sets itself{}",
                    if name == "PATH" {
                        " (use `config.path`)"
                    } else {
                        ""
                    }
                ));
            }
        }
        match node.config.get("path") {
            None => {}
            Some(serde_json::Value::String(s)) if !s.is_empty() => {}
            Some(_) => return Err("`config.path` must be a non-empty string (a PATH)".into()),
        }
        if let Some(obj) = node.config.as_object()
            && let Some(k) = obj
                .keys()
                .find(|k| !["command", "env", "path"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown key `config.{k}` (expected `command`, `env` or `path`)"
            ));
        }
        Ok(())
    }

    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let template = ctx.node.config["command"].as_str().unwrap_or_default();
        let root = ctx.root();
        let rel = |p: &Path| shell_quote(&relative_to(p, root));
        let ins: Vec<String> = ctx.inputs.iter().map(|n| rel(&ctx.path(n))).collect();
        let outs: Vec<String> = ctx.outputs().iter().map(|p| rel(p)).collect();
        let script = substitute(template, &ins.join(" "), &outs.join(" "));
        let path = ctx.node.config.get("path").and_then(|v| v.as_str());
        let mut vars = vec![
            ("PATH".to_string(), path.unwrap_or(DEFAULT_PATH).to_string()),
            ("PARITY_NODE".to_string(), ctx.node.id.to_string()),
        ];
        if let Some(epoch) = ctx.epoch {
            vars.push(("SOURCE_DATE_EPOCH".into(), epoch.to_string()));
        }
        for (name, value) in &ctx.env {
            if let Some(v) = value {
                vars.push((name.clone(), v.clone()));
            }
        }
        ctx.run_shell(&script, &vars)
    }
}

/// Variables the sandbox sets itself: `env` may not name them.
const RESERVED: [&str; 5] = ["PATH", "HOME", "TMPDIR", "SOURCE_DATE_EPOCH", "PARITY_NODE"];

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
