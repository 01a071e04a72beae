//! The workflows keep no logic of their own: every `run:` step is one `parity` command, or
//! plain plumbing. Whatever decides something lives in parity, where the tests run it.
//! (actionlint, in .ci/run, checks the rest of the syntax.)
//!
//! Plumbing, one command a line: building or testing parity (`cargo build`, `cargo test`),
//! toolchain setup (`rustup update|default|toolchain install`, `python -m pip install|download`
//! of a pinned `NAME==VERSION`, `maturin`), `git`, `gh`, `chmod +x` (artifacts do not keep file
//! modes), reading the registry back (`docker buildx imagetools inspect`, as `gh` reads GitHub),
//! failing with a message (`echo "::error::…"`, `exit 1`), and the release scripts whose every
//! subcommand used here is run by `.ci/run`: `dist/release.sh plan|binary|patch|wheel` (the
//! release dry run `dist/reproduce.sh` runs plan, patch and binary; `.ci/run` runs wheel) and
//! `dist/stage-image.sh` (`.ci/run` stages the image it builds and runs).

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

/// A `parity` command: `parity`, or a path ending in `/parity` (the built binary, a staged
/// release binary), then its arguments.
fn is_parity(line: &str) -> bool {
    let program = line.split(' ').next().unwrap_or("");
    line.contains(' ')
        && (program == "parity"
            || (program.ends_with("/parity")
                && program
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "./_-".contains(c))))
}

/// The `dist/release.sh` subcommands `.ci/run` runs (see the module docs).
const RELEASE_SH: [&str; 4] = ["plan", "binary", "patch", "wheel"];

fn is_plumbing(line: &str) -> bool {
    let release_sh = line
        .strip_prefix("dist/release.sh ")
        .and_then(|rest| rest.split(' ').next())
        .is_some_and(|sub| RELEASE_SH.contains(&sub));
    [
        "cargo build ",
        "cargo test ",
        "git ",
        "gh ",
        "rustup update ",
        "rustup default ",
        "rustup toolchain install ",
        "python -m pip install ",
        "python -m pip download ",
        "maturin ",
        "chmod +x ",
        "docker buildx imagetools inspect ",
        "dist/stage-image.sh ",
    ]
    .iter()
    .any(|p| line.starts_with(p))
        || release_sh
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
      - run: docker run --rm "$IMAGE" --version
      - run: dist/release.sh publish --everything
      - run: ./parity-evil dist verify
      - run: python -c "print(1)"
      - run: chmod 777 bin/parity
      - run: dist/bin/x86_64-unknown-linux-gnu/parity dist check-sums --dir a --sums "$SUMS"
      - run: rustup toolchain install "$TOOLCHAIN" --profile minimal
      - run: dist/release.sh wheel --target "$TARGET"
"#;
    let found = problems("bad.yml", bad);
    for want in [
        "bad.yml: `continue-on-error` hides a failure",
        "bad.yml:6: `||` in `./target/release/parity watch || status=$?`",
        "bad.yml:6: `;` in `if [[ $status == 3 ]]; then exit 0; fi`",
        "bad.yml:6: a `parity` command must be a step of its own",
        "bad.yml:10: `jq -e '.complete' union.json` is neither a `parity` command nor plumbing",
        "bad.yml:14: `docker run --rm \"$IMAGE\" --version` is neither",
        "bad.yml:15: `dist/release.sh publish --everything` is neither",
        "bad.yml:16: `./parity-evil dist verify` is neither",
        "bad.yml:17: `python -c \"print(1)\"` is neither",
        "bad.yml:18: `chmod 777 bin/parity` is neither",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(want)),
            "missing `{want}` in {found:#?}"
        );
    }
    for fine in [12, 19, 20, 21] {
        let at = format!("bad.yml:{fine}:");
        assert!(!found.iter().any(|f| f.starts_with(&at)), "{found:#?}");
    }
}
