//! The `validation` node: the declared check of the wrapper against a binary, its result
//! committed with deterministic bytes; a failed check is a result, not a failed node.

use crate::support::Project;

const LINUX: &str = "x86_64-unknown-linux-musl";

/// A codex answering `greet --help` / `help greet` and the root help only.
const FAKE_CODEX: &str = r#"#!/bin/sh
case "$*" in
  --version) echo "codex-cli 1.0.0" ;;
  "greet --help"|"help greet") printf 'Greet someone\n\nUsage: codex greet [OPTIONS] <NAME>\n\nOptions:\n      --loud  Shout\n' ;;
  *) printf 'Codex\n\nUsage: codex [OPTIONS] [PROMPT]\n' ;;
esac
"#;

const RULES: &str = r#"{"union": {"expected_targets": ["x86_64-unknown-linux-musl"],
  "platform_mapping": {"x86_64-unknown-linux-musl": "linux"}}}"#;

/// A wrapper claiming `greet --loud <NAME>`, plus `extra` commands.
fn wrapper(extra: &[&str]) -> String {
    let mut coverage = vec![serde_json::json!({"path": ["greet"], "level": "explicit",
        "flags": [{"key": "--loud", "level": "explicit"}],
        "args": [{"name": "NAME", "level": "passthrough"}]})];
    for e in extra {
        coverage.push(serde_json::json!({"path": [e], "level": "explicit"}));
    }
    serde_json::json!({"schema_version": 1, "coverage": coverage}).to_string()
}

fn project(config: &str, extra_inputs: &str) -> Project {
    let codex = Cli {
        binary: ("codex", FAKE_CODEX),
        version: "1.0.0",
        target: LINUX,
        rules: RULES,
    };
    codex.project(config, extra_inputs, &wrapper(&[]))
}

/// A CLI under validation: its binary (name, script), version, target and RULES.json.
struct Cli<'a> {
    binary: (&'a str, &'a str),
    version: &'a str,
    target: &'a str,
    rules: &'a str,
}

impl Cli<'_> {
    /// A pipeline of one validation node over the binary, with `config` and `coverage`.
    fn project(&self, config: &str, extra_inputs: &str, coverage: &str) -> Project {
        let (name, script) = self.binary;
        let (version, target) = (self.version, self.target);
        let pipeline = format!(
            r#"[pipeline]
root = "m"

[params]
version = ["{version}"]
target = ["{target}"]

[artifact.validation]
rule = "validation"
params = ["version", "target"]
inputs = ["{name}", "wrapper_coverage.json", "RULES.json"{extra_inputs}]
outputs = ["validation/{{version}}/{{target}}.json"]
config = {config}
"#
        );
        let p = Project::new()
            .file("pipeline.toml", &pipeline)
            .file(&format!("m/{name}"), script)
            .file("m/RULES.json", self.rules)
            .file("m/wrapper_coverage.json", coverage);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(p.path(&format!("m/{name}")), mode).unwrap();
        }
        p
    }
}

fn result(p: &Project) -> serde_json::Value {
    serde_json::from_str(&p.read(&format!("m/validation/1.0.0/{LINUX}.json"))).unwrap()
}

// The fake codex is a shell script run as a binary: Unix only.
#[cfg(unix)]
#[test]
fn a_help_surface_check_commits_what_it_checked_and_its_failures() {
    let p = project(r#"{ check = "help-surface" }"#, "");
    p.parity(&["build"]).ok();
    let path = format!("m/validation/1.0.0/{LINUX}.json");
    assert_eq!(
        p.read(&path),
        format!(
            "{{\n  \"schema_version\": 1,\n  \"version\": \"1.0.0\",\n  \"target\": \"{LINUX}\",\n  \"check\": \"help-surface\",\n  \"result\": \"passed\",\n  \"checked\": {{\n    \"commands\": 1,\n    \"units\": 2\n  }},\n  \"failures\": []\n}}\n"
        )
    );
    // The wrapper claims a command the binary lacks: a failed result, the node succeeds.
    p.write("m/wrapper_coverage.json", &wrapper(&["wave"]));
    let run = p.parity(&["build"]);
    run.ok();
    let r = result(&p);
    assert_eq!(r["result"], "failed");
    assert_eq!(r["checked"]["commands"], 2);
    assert_eq!(r["failures"][0]["claim"], "command `wave`");
    assert_eq!(
        r["failures"][0]["reason"],
        "`codex wave --help` printed no `Usage:` line for `wave`"
    );
    assert!(
        run.stderr.contains("validation of 1.0.0 on"),
        "{}",
        run.stderr
    );

    // Same binary, same claims, another clone: the same bytes.
    let again = project(r#"{ check = "help-surface" }"#, "");
    again.write("m/wrapper_coverage.json", &wrapper(&["wave"]));
    again.parity(&["build"]).ok();
    assert_eq!(again.read(&path), p.read(&path));
}

#[cfg(unix)]
#[test]
fn a_command_check_gets_the_binary_and_passes_or_fails_on_its_exit_code() {
    let ok = r#"{ command = 'test -x "$PARITY_BINARY" && "$PARITY_BINARY" --version | grep -q "codex-cli $PARITY_VERSION" && test "$PARITY_TARGET" = x86_64-unknown-linux-musl && test -f tests/wrapper.sh' }"#;
    let p = project(ok, r#", "tests/wrapper.sh""#).file("m/tests/wrapper.sh", "true\n");
    p.parity(&["build"]).ok();
    let r = result(&p);
    assert_eq!(r["check"], "command");
    assert_eq!(r["result"], "passed", "{r}");
    assert_eq!(r["failures"], serde_json::json!([]));
    assert!(r.get("checked").is_none());

    let p = project(
        r#"{ command = "echo the wrapper tests failed; exit 3" }"#,
        "",
    );
    let run = p.parity(&["build"]);
    run.ok();
    let r = result(&p);
    assert_eq!(r["result"], "failed");
    assert_eq!(
        r["failures"],
        serde_json::json!([{"claim": "`echo the wrapper tests failed; exit 3`", "reason": "exited 3"}])
    );
    assert!(
        run.stderr.contains("the wrapper tests failed"),
        "{}",
        run.stderr
    );

    let p = project(r#"{ command = "sleep 30", timeout_secs = 1 }"#, "");
    p.parity(&["build"]).ok();
    assert_eq!(result(&p)["failures"][0]["reason"], "timed out after 1 s");
}

#[test]
fn a_bad_validation_config_names_the_node_and_the_key() {
    for (config, want) in [
        (
            r#"{ check = "vibes" }"#,
            "`config.check` `vibes` is not `help-surface` or `command`",
        ),
        (r#"{ check = "command" }"#, "needs `config.command`"),
        (
            r#"{ check = "help-surface", command = "true" }"#,
            "not `help-surface`",
        ),
        (
            r#"{ command = "true", help_timeout_ms = 5 }"#,
            "unknown key `config.help_timeout_ms`",
        ),
        (
            r#"{ command = "true", timeout_secs = 0 }"#,
            "`config.timeout_secs` must be a positive integer",
        ),
        (
            r#"{ check = "help-surface", cli = "gemini" }"#,
            "`config.cli` must be `codex` or `claude`",
        ),
        (
            r#"{ command = "true", cli = "claude" }"#,
            "unknown key `config.cli`",
        ),
    ] {
        let run = project(config, "").parity(&["status"]);
        run.code(2);
        assert!(run.stderr.contains(want), "{config}: {}", run.stderr);
        assert!(run.stderr.contains("validation@1.0.0/"), "{}", run.stderr);
    }
}

/// A Claude Code answering `mcp --help` and the root help; any other word prints the root help
/// again, as releases from 2.1.153 on do. It sees the environment `claude-snapshot` gives it.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
test -z "$CODEX_HOME" && test "$DISABLE_AUTOUPDATER" = 1 || { echo "not hermetic" >&2; exit 9; }
case "$*" in
  "mcp --help") printf 'Usage: claude mcp [options] [command]\n\nConfigure MCP servers\n\nOptions:\n  -h, --help  Display help for command\n\nCommands:\n  list  List servers\n' ;;
  *) printf 'Usage: claude [options] [command] [prompt]\n\nOptions:\n  -p, --print  Print response and exit\n  -h, --help  Display help\n\nCommands:\n  mcp  Configure MCP servers\n' ;;
esac
"#;

/// The claude member's validation node (`cli = "claude"`): the claims found in Commander's help
/// pass; a subcommand answered with the root help again is not taken for the subcommand.
#[cfg(unix)]
#[test]
fn a_claude_help_surface_check_reads_commander_help_run_hermetically() {
    let rules = r#"{"union": {"expected_targets": ["linux-x64"], "platform_mapping": {"linux-x64": "linux"}}}"#;
    let coverage = |extra: &str| {
        format!(
            r#"{{"schema_version": 1, "coverage": [
  {{"path": [], "level": "explicit", "flags": [{{"key": "--print", "level": "explicit"}}]}},
  {{"path": ["mcp"], "level": "passthrough", "flags": [{{"key": "--help", "level": "passthrough"}}]}}{extra}]}}"#
        )
    };
    let claude = Cli {
        binary: ("claude", FAKE_CLAUDE),
        version: "2.1.30",
        target: "linux-x64",
        rules,
    };
    let p = claude.project(
        r#"{ check = "help-surface", cli = "claude" }"#,
        "",
        &coverage(""),
    );
    p.parity(&["build"]).ok();
    let read = || -> serde_json::Value {
        serde_json::from_str(&p.read("m/validation/2.1.30/linux-x64.json")).unwrap()
    };
    let r = read();
    assert_eq!(r["result"], "passed", "{r}");
    assert_eq!(r["checked"], serde_json::json!({"commands": 2, "units": 2}));

    p.write(
        "m/wrapper_coverage.json",
        &coverage(r#", {"path": ["plugin"], "level": "explicit"}"#),
    );
    p.parity(&["build"]).ok();
    let r = read();
    assert_eq!(r["result"], "failed");
    assert_eq!(
        r["failures"],
        serde_json::json!([{"claim": "command `plugin`",
            "reason": "`claude plugin --help` printed no `Usage:` line for `plugin`"}])
    );
}
