//! What only the codex snapshot does (spec §1.3-§1.7): `channel` and `commit` from the version
//! output, the feature probe (`codex features list`), and the second crawl with every feature
//! enabled, merged into the first; the `features` object.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use anyhow::{Result, bail};
use regex::Regex;
use serde_json::{Map, Value, json};

use super::crawl::{self, Crawl};
use super::exec::{Outcome, Purpose, Runner};
use super::model::{CmdPath, CommandEntry};

static COMMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b([0-9a-f]{7,40})\b").expect("commit pattern is valid"));

/// The release channel a codex semantic version names.
pub fn channel(semantic_version: &str) -> String {
    let channel = if semantic_version.contains("nightly") {
        "nightly"
    } else if semantic_version.contains("beta") {
        "beta"
    } else {
        "stable"
    };
    channel.to_string()
}

/// A commit hash in the version output, if any.
pub fn commit(version_output: &str) -> Option<String> {
    COMMIT.captures(version_output).map(|c| c[1].to_string())
}

/// Probes the features, crawls (twice when there are features) and returns the crawl with
/// the `features` object.
pub fn discover(runner: &Runner, jobs: usize) -> Result<(Crawl, Value)> {
    let probe = probe_features(runner)?;
    let found = passes(runner, probe.as_deref().unwrap_or_default(), jobs)?;
    let features = features_object(&probe, &found);
    let crawl = Crawl {
        commands: found.commands,
        help: found.help,
        notes: Vec::new(),
    };
    Ok((crawl, features))
}

/// One listed feature (`codex features list`).
#[derive(Debug, Clone)]
struct Feature {
    name: String,
    stage: String,
    effective: bool,
}

/// What the crawl passes found (spec §1.5).
#[derive(Debug)]
struct Discovery {
    commands: BTreeMap<CmdPath, CommandEntry>,
    /// Help text per path: pass B's when it ran, else pass A's (the reference's capture-only
    /// third crawl runs the same invocations as pass A, so its texts are pass A's).
    help: BTreeMap<CmdPath, String>,
    /// Pass B: the `--enable` names and the paths it added; `None` when it did not run.
    pass_b: Option<(Vec<String>, Vec<CmdPath>)>,
}

/// Pass A without global args; with features, pass B with `--enable` for each, merged A ← B.
fn passes(runner: &Runner, features: &[Feature], jobs: usize) -> Result<Discovery> {
    let pass_a = crawl::crawl(runner, &[], jobs)?;
    if features.is_empty() {
        return Ok(Discovery {
            commands: pass_a.commands,
            help: pass_a.help,
            pass_b: None,
        });
    }
    let names: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
    let global: Vec<String> = names
        .iter()
        .flat_map(|n| ["--enable".to_string(), n.clone()])
        .collect();
    let pass_b = crawl::crawl(runner, &global, jobs)?;
    let added: Vec<CmdPath> = pass_b
        .commands
        .keys()
        .filter(|p| !pass_a.commands.contains_key(*p))
        .cloned()
        .collect();
    let mut commands = pass_a.commands;
    crawl::merge_passes(&mut commands, pass_b.commands);
    Ok(Discovery {
        commands,
        help: pass_b.help,
        pass_b: Some((names, added)),
    })
}

/// The `features` object; a `Value` map, so its keys serialize sorted (spec §1.11).
fn features_object(probe: &Result<Vec<Feature>, String>, found: &Discovery) -> Value {
    let mut features = Map::new();
    if let Some((names, added)) = &found.pass_b {
        features.insert("commands_added_when_all_enabled".into(), json!(added));
        features.insert("enabled_for_snapshot".into(), json!(names));
    }
    match probe {
        Ok(listed) => {
            let listed: Vec<Value> = listed
                .iter()
                .map(|f| json!({"name": f.name, "stage": f.stage, "effective": f.effective}))
                .collect();
            features.insert("listed".into(), Value::Array(listed));
        }
        Err(e) => {
            features.insert("probe_error".into(), Value::String(e.clone()));
        }
    }
    features.insert("mode".into(), json!("default_plus_all_enabled"));
    Value::Object(features)
}

/// `<bin> features list` (spec §1.4). A non-zero exit is recorded, not fatal (`Err` = the
/// probe error text, with the program as its file name); a timeout is fatal.
fn probe_features(runner: &Runner) -> Result<Result<Vec<Feature>, String>> {
    let args = ["features".to_string(), "list".to_string()];
    let done = match runner.run(&args, Purpose::Other) {
        Err(e) => return Ok(Err(format!("spawn failed: {e}"))),
        Ok(Outcome::TimedOut) => bail!(
            "command failed: timeout after {}ms: {}",
            runner.timeout().as_millis(),
            runner.render(&args)
        ),
        Ok(Outcome::Exited(done)) => done,
    };
    if !done.success() {
        return Ok(Err(done
            .failure(&runner.render_short(&args))
            .trim()
            .to_string()));
    }
    Ok(Ok(parse_features(&done.text())))
}

fn parse_features(text: &str) -> Vec<Feature> {
    let mut features: Vec<Feature> = text
        .lines()
        .filter_map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.len() < 3 {
                return None;
            }
            let effective = match tokens[2].to_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            Some(Feature {
                name: tokens[0].into(),
                stage: tokens[1].into(),
                effective,
            })
        })
        .collect();
    features.sort_by(|a, b| a.name.cmp(&b.name));
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_need_a_boolean_third_column_and_sort_by_name() {
        // codex 0.169.0 prints the stage `under development` as two words: such lines are
        // skipped, as the reference does.
        let text = "zeta  stable  TRUE\nalpha  experimental  false\nbeta  under development  false\n\nbad\n";
        let names: Vec<(String, bool)> = parse_features(text)
            .into_iter()
            .map(|f| (f.name, f.effective))
            .collect();
        assert_eq!(
            names,
            [("alpha".to_string(), false), ("zeta".to_string(), true)]
        );
    }

    #[test]
    fn channel_and_commit_from_the_version_output() {
        assert_eq!(channel("1.2.3-beta.1"), "beta");
        assert_eq!(channel("0.92.0"), "stable");
        assert_eq!(
            COMMIT
                .captures("codex 0.1.0 ABCDEF1")
                .map(|c| c[1].to_string())
                .as_deref(),
            Some("ABCDEF1")
        );
        assert!(COMMIT.captures("codex-cli 0.92.0").is_none());
    }
}
