//! The workflows keep no logic of their own: every `run:` step is one `parity` command, or
//! plain plumbing (building or testing parity, git, gh, failing with a message). Whatever
//! decides something lives in parity, where the tests run it. (actionlint, in .ci/run, checks
//! the rest of the syntax.)

use std::path::PathBuf;

/// The `run:` scripts of a workflow, with the line each starts on.
fn run_steps(text: &str) -> Vec<(usize, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start().trim_start_matches("- ");
        let Some(rest) = trimmed.strip_prefix("run:") else {
            i += 1;
            continue;
        };
        let key_col = line.len() - line.trim_start().len();
        let rest = rest.trim();
        if rest.is_empty() {
            // `defaults: run: shell: …`, a mapping, not a step.
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut script = Vec::new();
        if rest.starts_with('|') || rest.starts_with('>') {
            i += 1;
            while i < lines.len() {
                let l = lines[i];
                let col = l.len() - l.trim_start().len();
                if !l.trim().is_empty() && col <= key_col {
                    break;
                }
                script.push(l.trim().to_string());
                i += 1;
            }
        } else {
            script.push(rest.to_string());
            i += 1;
        }
        script.retain(|l| !l.is_empty() && !l.starts_with('#'));
        out.push((start, script));
    }
    out
}

fn is_parity(line: &str) -> bool {
    line.starts_with("./target/release/parity ") || line.starts_with("parity ")
}

fn is_plumbing(line: &str) -> bool {
    ["cargo build ", "cargo test ", "git ", "gh "]
        .iter()
        .any(|p| line.starts_with(p))
        || line.starts_with("echo \"::error::")
        || line == "exit 1"
}

/// What is wrong with the `run:` steps of `text`, one line per problem.
fn problems(file: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for needle in ["continue-on-error", "|| true"] {
        if text.contains(needle) {
            out.push(format!("{file}: `{needle}` hides a failure"));
        }
    }
    for (at, script) in run_steps(text) {
        let shell = ["||", "&&", ";", "$(", "`", " | "];
        for l in &script {
            if let Some(s) = shell.iter().find(|s| l.contains(**s)) {
                out.push(format!(
                    "{file}:{at}: `{s}` in `{l}`: shell logic belongs in parity"
                ));
            }
        }
        let parity = script.iter().filter(|l| is_parity(l)).count();
        match (parity, script.len()) {
            (0, 0) => out.push(format!("{file}:{at}: an empty `run:`")),
            (1, 1) => {}
            (0, _) => {
                for l in script.iter().filter(|l| !is_plumbing(l)) {
                    out.push(format!(
                        "{file}:{at}: `{l}` is neither a `parity` command nor plumbing"
                    ));
                }
            }
            _ => out.push(format!(
                "{file}:{at}: a `parity` command must be a step of its own: {script:?}"
            )),
        }
    }
    out
}

#[test]
fn every_workflow_run_step_is_one_parity_command_or_plumbing() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut found = Vec::new();
    let mut steps = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        steps += run_steps(&text).len();
        found.extend(problems(&name, &text));
    }
    assert!(
        steps >= 10,
        "only {steps} run steps found: is the parser right?"
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_workflow_check_catches_shell_logic() {
    let bad = r#"
jobs:
  x:
    steps:
      - name: decide in bash
        run: |
          status=0
          ./target/release/parity watch || status=$?
          if [[ $status == 3 ]]; then exit 0; fi
      - run: jq -e '.complete' union.json
      - name: fine
        run: ./target/release/parity verify
        continue-on-error: true
"#;
    let found = problems("bad.yml", bad);
    for want in [
        "bad.yml: `continue-on-error` hides a failure",
        "bad.yml:6: `||` in `./target/release/parity watch || status=$?`",
        "bad.yml:6: `;` in `if [[ $status == 3 ]]; then exit 0; fi`",
        "bad.yml:6: a `parity` command must be a step of its own",
        "bad.yml:10: `jq -e '.complete' union.json` is neither a `parity` command nor plumbing",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(want)),
            "missing `{want}` in {found:#?}"
        );
    }
    assert!(
        !found.iter().any(|f| f.starts_with("bad.yml:12")),
        "{found:#?}"
    );
}
