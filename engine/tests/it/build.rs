//! Tests of the scheduler and executors, with a fake rule that records its calls and fails,
//! sleeps or interrupts on demand.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use parity_engine::Error;
use parity_engine::build::{self, BuildOptions, Event, Outcome, Reporter, Summary};
use parity_engine::exec::{Registry, Rule, RuleContext, RuleError};
use parity_engine::workspace::{State, Workspace};

/// One recorded rule run.
#[derive(Clone, Debug)]
struct Call {
    node: String,
}

/// `fake`: writes every output as the node id followed by its inputs' contents (or
/// `config.content`); `config.fail`, `config.sleep_ms`, `config.interrupt` do what they say;
/// `config.meet = N` waits until N runs (this one included) have started, and fails if that
/// does not happen within a minute: N runs that all succeed were running at the same time.
#[derive(Clone, Default)]
struct FakeRule {
    calls: Arc<Mutex<Vec<Call>>>,
    interrupt: Arc<AtomicBool>,
    started: Arc<(Mutex<u64>, Condvar)>,
}

impl Rule for FakeRule {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let cfg = &ctx.node.config;
        if let Some(n) = cfg.get("meet").and_then(|v| v.as_u64()) {
            let (count, cond) = &*self.started;
            let mut started = count.lock().unwrap();
            *started += 1;
            cond.notify_all();
            let (started, wait) = cond
                .wait_timeout_while(started, Duration::from_secs(60), |s| *s < n)
                .unwrap();
            if wait.timed_out() {
                return Err(format!("only {} of {n} runs started together", *started).into());
            }
        }
        if let Some(ms) = cfg.get("sleep_ms").and_then(|v| v.as_u64()) {
            std::thread::sleep(Duration::from_millis(ms));
        }
        if cfg.get("interrupt").and_then(|v| v.as_bool()) == Some(true) {
            self.interrupt.store(true, Ordering::SeqCst);
        }
        self.calls.lock().unwrap().push(Call {
            node: ctx.node.id.to_string(),
        });
        if cfg.get("fail").and_then(|v| v.as_bool()) == Some(true) {
            return Err(format!("`{}` failed on purpose", ctx.node.id).into());
        }
        let content = match cfg.get("content").and_then(|v| v.as_str()) {
            Some(c) => c.to_string(),
            None => {
                let mut s = ctx.node.id.to_string();
                for name in &ctx.inputs {
                    s.push('|');
                    s.push_str(&std::fs::read_to_string(ctx.path(name))?);
                }
                s
            }
        };
        for out in ctx.outputs() {
            std::fs::create_dir_all(out.parent().unwrap())?;
            std::fs::write(out, &content)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Recorder {
    outcomes: Vec<(String, Outcome)>,
}

impl Reporter for Recorder {
    fn event(&mut self, event: Event<'_>) {
        if let Event::Finished { node, outcome, .. } = event {
            self.outcomes.push((node.to_string(), outcome.clone()));
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    rule: FakeRule,
}

impl Fixture {
    fn new(pipeline: &str) -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
            rule: FakeRule::default(),
        };
        f.write("pipeline.toml", pipeline);
        f
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }
    fn ws(&self) -> Workspace {
        let mut reg = Registry::new();
        reg.register(self.rule.clone());
        Workspace::open(&self.path("pipeline.toml"), reg).unwrap()
    }
    fn build_with(
        &self,
        targets: &[&str],
        opts: BuildOptions,
    ) -> (Summary, Vec<(String, Outcome)>) {
        let ws = self.ws();
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        let sel = if targets.is_empty() {
            (0..ws.graph.nodes.len()).collect()
        } else {
            ws.graph.select(&targets).unwrap()
        };
        let mut rec = Recorder::default();
        let summary = build::build(&ws, &sel, &opts, &self.rule.interrupt, &mut rec).unwrap();
        (summary, rec.outcomes)
    }
    fn build(&self) -> (Summary, Vec<(String, Outcome)>) {
        self.build_with(&[], opts(2))
    }
    fn calls(&self) -> Vec<String> {
        let mut calls = self.rule.calls.lock().unwrap();
        calls.drain(..).map(|c| c.node).collect()
    }
    fn states(&self) -> Vec<(String, State)> {
        let ws = self.ws();
        let hasher = ws.hasher();
        let (lock, _) = ws.recorded_state(&hasher).unwrap();
        let all: Vec<usize> = (0..ws.graph.nodes.len()).collect();
        ws.status(&hasher, &lock, &all)
            .unwrap()
            .into_iter()
            .map(|s| (ws.graph.nodes[s.node].id.to_string(), s.state))
            .collect()
    }
}

fn opts(jobs: usize) -> BuildOptions {
    BuildOptions {
        jobs,
        keep_going: false,
        force: false,
        dry_run: false,
        remote: None,
        adopt: false,
    }
}

fn outcome<'a>(outcomes: &'a [(String, Outcome)], node: &str) -> &'a Outcome {
    &outcomes
        .iter()
        .find(|(n, _)| n == node)
        .unwrap_or_else(|| panic!("no outcome for {node}"))
        .1
}

const CHAIN: &str = r#"
[artifact.a]
rule = "fake"
inputs = ["src.txt"]
outputs = ["a.txt"]

[artifact.b]
rule = "fake"
inputs = ["a"]
outputs = ["b.txt"]

[artifact.c]
rule = "fake"
inputs = ["b.txt", "other.txt"]
outputs = ["c.txt"]
"#;

fn chain() -> Fixture {
    let f = Fixture::new(CHAIN);
    f.write("src.txt", "1");
    f.write("other.txt", "o");
    f
}

#[test]
fn dependencies_run_before_consumers_and_a_second_build_does_nothing() {
    let f = chain();
    let (s, _) = f.build();
    assert_eq!(f.calls(), ["a", "b", "c"]);
    assert_eq!((s.ran, s.fresh), (3, 0));
    assert_eq!(f.read("c.txt"), "c|b|a|1|o");
    let (s, out) = f.build();
    assert!(f.calls().is_empty(), "a no-op build runs nothing");
    assert_eq!((s.ran, s.fresh), (0, 3));
    assert!(out.iter().all(|(_, o)| *o == Outcome::Fresh));
}

#[test]
fn an_edited_input_rebuilds_only_what_depends_on_it() {
    let f = chain();
    f.build();
    f.calls();
    f.write("other.txt", "changed");
    assert_eq!(
        f.states()
            .into_iter()
            .filter(|(_, s)| *s != State::Fresh)
            .collect::<Vec<_>>(),
        [("c".to_string(), State::Stale)]
    );
    f.build();
    assert_eq!(f.calls(), ["c"]);
}

#[test]
fn early_cutoff_stops_at_identical_outputs() {
    let f = Fixture::new(
        r#"
[artifact.a]
rule = "fake"
inputs = ["src.txt"]
outputs = ["a.txt"]
config = { content = "constant" }

[artifact.b]
rule = "fake"
inputs = ["a"]
outputs = ["b.txt"]
"#,
    );
    f.write("src.txt", "1");
    f.build();
    f.calls();
    f.write("src.txt", "2");
    let (_, out) = f.build();
    assert_eq!(
        f.calls(),
        ["a"],
        "a reran, produced the same bytes, so b did not"
    );
    assert_eq!(*outcome(&out, "b"), Outcome::Fresh);
}

#[test]
fn independent_nodes_run_in_parallel() {
    // Each run waits for the other three to start: the build succeeds only if all four ran at
    // once (sequential runs would each wait a minute and fail).
    let f = Fixture::new(
        r#"
[params]
i = ["1", "2", "3", "4"]

[artifact.slow]
rule = "fake"
params = ["i"]
outputs = ["slow/{i}.txt"]
config = { meet = 4 }
"#,
    );
    let (summary, outcomes) = f.build_with(&[], opts(4));
    assert_eq!(summary.failed, 0, "{outcomes:?}");
    assert_eq!(f.rule.calls.lock().unwrap().len(), 4);
}

#[test]
fn a_failure_stops_the_build_unless_keep_going() {
    let pipeline = r#"
[artifact.bad]
rule = "fake"
outputs = ["bad.txt"]
config = { fail = true }

[artifact.after]
rule = "fake"
inputs = ["bad"]
outputs = ["after.txt"]

[artifact.z_independent]
rule = "fake"
outputs = ["z.txt"]
config = { sleep_ms = 50 }
"#;
    let f = Fixture::new(pipeline);
    let (s, out) = f.build_with(&[], opts(1));
    assert_eq!(s.exit_code(), 1);
    // The failure keeps its kind: the rule's error, with the node and the rule, and what the
    // rule said as its cause.
    let Outcome::Failed(failure) = outcome(&out, "bad") else {
        panic!("`bad` did not fail: {:?}", outcome(&out, "bad"));
    };
    let Error::RuleFailed { node, rule, source } = failure.error() else {
        panic!("not a rule failure: {failure:?}");
    };
    assert_eq!((node.as_str(), rule.as_str()), ("bad", "fake"));
    assert!(source.to_string().contains("failed on purpose"), "{source}");
    assert!(
        failure
            .to_string()
            .starts_with("rule `fake` failed\n\nCaused by:\n"),
        "{failure}"
    );
    assert!(matches!(outcome(&out, "after"), Outcome::Skipped(_)));
    assert!(!f.path("bad.txt").exists(), "a failed node writes nothing");

    let f = Fixture::new(pipeline);
    let (s, out) = f.build_with(
        &[],
        BuildOptions {
            keep_going: true,
            ..opts(1)
        },
    );
    assert_eq!(s.exit_code(), 1);
    assert_eq!(
        *outcome(&out, "z_independent"),
        Outcome::Ran,
        "keep-going builds what does not depend on the failure"
    );
    assert!(matches!(outcome(&out, "after"), Outcome::Skipped(m) if m.contains("bad")));
    assert_eq!((s.failed, s.ran, s.skipped), (1, 1, 1));
}

/// Two snapshots, one per host in `hosts`, and a union over them with optional fan-in.
fn fan_in(hosts: [&str; 2]) -> String {
    format!(
        r#"
[params]
target = ["{}", "{}"]

[artifact.snap]
rule = "fake"
params = ["target"]
host = "{{target}}"
outputs = ["snap/{{target}}.txt"]

[artifact.union]
rule = "fake"
inputs = ["snap@*?"]
outputs = ["union.txt"]
"#,
        hosts[0], hosts[1]
    )
}

#[test]
fn host_bound_nodes_are_blocked_and_optional_fan_in_runs_with_the_rest() {
    let os = std::env::consts::OS;
    let f = Fixture::new(&fan_in([os, "plan9"]));
    let (s, out) = f.build();
    assert!(matches!(outcome(&out, "snap@plan9"), Outcome::Blocked(m) if m.contains("plan9")));
    assert_eq!(*outcome(&out, "union"), Outcome::Ran);
    assert_eq!(f.read("union.txt"), format!("union|snap@{os}"));
    assert_eq!(
        (s.exit_code(), s.blocked),
        (0, 1),
        "blocked is not a failure"
    );
    let states = f.states();
    assert!(states.contains(&("snap@plan9".to_string(), State::Blocked)));
    assert!(states.contains(&("union".to_string(), State::Fresh)));

    // The other host's output arrives (here: the host constraint now matches): the set of
    // present inputs changes, so the union is stale and rebuilt complete.
    let os_arch = format!("{os}-{}", std::env::consts::ARCH);
    f.write("pipeline.toml", &fan_in([os, &os_arch]));
    let (_, out) = f.build();
    assert_eq!(*outcome(&out, "union"), Outcome::Ran);
    assert_eq!(f.read("union.txt").matches("|snap@").count(), 2);
}

#[test]
fn a_required_input_from_a_blocked_node_blocks_the_consumer() {
    let f = Fixture::new(&fan_in([std::env::consts::OS, "plan9"]).replace("snap@*?", "snap@*"));
    let (s, out) = f.build();
    assert!(matches!(outcome(&out, "union"), Outcome::Blocked(m) if m.contains("snap@plan9")));
    assert_eq!(s.exit_code(), 0);
    assert!(!f.path("union.txt").exists());
}

/// `?` leaves out a producer that is blocked on this host, not one that failed (the doc of
/// `Input::Node` said otherwise): the consumer is skipped, never built without the input.
#[test]
fn an_optional_input_of_a_failed_producer_skips_the_consumer() {
    let f = Fixture::new(
        r#"
[artifact.good]
rule = "fake"
outputs = ["good.txt"]

[artifact.bad]
rule = "fake"
outputs = ["bad.txt"]
config = { fail = true }

[artifact.union]
rule = "fake"
inputs = ["good?", "bad?"]
outputs = ["union.txt"]
"#,
    );
    let keep_going = BuildOptions {
        keep_going: true,
        ..opts(1)
    };
    let (s, out) = f.build_with(&[], keep_going);
    assert_eq!(*outcome(&out, "good"), Outcome::Ran);
    assert!(matches!(outcome(&out, "bad"), Outcome::Failed(_)));
    assert!(matches!(outcome(&out, "union"), Outcome::Skipped(m) if m.contains("bad")));
    assert_eq!(s.exit_code(), 1);
    assert!(
        !f.path("union.txt").exists(),
        "no union without the failed input"
    );
}

#[test]
fn an_interrupted_build_keeps_every_completed_node() {
    let f = Fixture::new(
        r#"
[artifact.first]
rule = "fake"
outputs = ["first.txt"]
config = { interrupt = true }

[artifact.second]
rule = "fake"
inputs = ["first"]
outputs = ["second.txt"]
"#,
    );
    let (s, out) = f.build_with(&[], opts(1));
    assert_eq!(s.exit_code(), 130);
    assert_eq!(*outcome(&out, "first"), Outcome::Ran);
    assert!(matches!(outcome(&out, "second"), Outcome::Skipped(_)));
    assert!(!f.path("second.txt").exists());
    f.rule.interrupt.store(false, Ordering::SeqCst);
    f.calls();
    let states = f.states();
    assert!(
        states.contains(&("first".to_string(), State::Fresh)),
        "{states:?}"
    );
    f.build();
    assert_eq!(f.calls(), ["second"], "the completed node is not run again");
}

#[test]
fn a_deleted_output_is_restored_from_the_cache_without_running() {
    let f = chain();
    f.build();
    f.calls();
    std::fs::remove_file(f.path("b.txt")).unwrap();
    assert!(f.states().contains(&("b".to_string(), State::Missing)));
    let (s, out) = f.build();
    assert!(f.calls().is_empty());
    assert_eq!(*outcome(&out, "b"), Outcome::Cached);
    assert_eq!((s.cached, s.fresh), (1, 2));
    assert_eq!(f.read("b.txt"), "b|a|1");
}

#[test]
fn a_corrupt_cache_object_is_detected_and_rebuilt() {
    let f = chain();
    f.build();
    f.calls();
    std::fs::remove_file(f.path("b.txt")).unwrap();
    // Objects are hard links to the outputs they were stored from: replace them (a corrupt
    // store), do not edit the shared files in place (that would edit the outputs too).
    for entry in walk(&f.path("cache/cas")) {
        std::fs::remove_file(&entry).unwrap();
        std::fs::write(&entry, "garbage").unwrap();
    }
    let (_, out) = f.build();
    assert_eq!(
        *outcome(&out, "b"),
        Outcome::Ran,
        "the corrupt object was not used"
    );
    assert_eq!(f.calls(), ["b"]);
    assert_eq!(f.read("b.txt"), "b|a|1");
}

#[test]
fn a_hand_edited_output_is_modified_and_rebuilt() {
    let f = chain();
    f.build();
    f.calls();
    f.write("a.txt", "edited");
    assert!(f.states().contains(&("a".to_string(), State::Modified)));
    f.build();
    assert_eq!(f.read("a.txt"), "a|1");
}

#[test]
fn dry_run_writes_nothing() {
    let f = chain();
    let (s, out) = f.build_with(
        &[],
        BuildOptions {
            dry_run: true,
            ..opts(2)
        },
    );
    assert_eq!(s.would_run, 3);
    assert!(out.iter().all(|(_, o)| *o == Outcome::WouldRun));
    assert!(f.calls().is_empty());
    for p in ["a.txt", "pipeline.lock", "cache/journal"] {
        assert!(!f.path(p).exists(), "{p} written by a dry run");
    }
}

#[test]
fn force_reruns_only_the_named_targets() {
    let f = chain();
    f.build();
    f.calls();
    f.build_with(
        &["b"],
        BuildOptions {
            force: true,
            ..opts(2)
        },
    );
    assert_eq!(f.calls(), ["b"]);
}

#[test]
fn building_one_target_builds_only_its_dependencies() {
    let f = chain();
    f.build_with(&["b"], opts(2));
    assert_eq!(f.calls(), ["a", "b"]);
    assert!(!f.path("c.txt").exists());
}

#[test]
fn the_lock_is_deterministic() {
    let f = chain();
    f.build();
    let first = f.read("pipeline.lock");
    let g = chain();
    g.build();
    assert_eq!(
        first,
        g.read("pipeline.lock"),
        "same inputs, same lock bytes"
    );
    assert!(
        !first.contains(&f.dir.path().display().to_string()),
        "no absolute paths"
    );
}

#[test]
fn cache_only_outputs_are_materialized_when_a_consumer_runs() {
    let f = Fixture::new(
        r#"
[artifact.bin]
rule = "fake"
inputs = ["src.txt"]
outputs = ["{cache}/bin/tool"]

[artifact.use]
rule = "fake"
inputs = ["bin", "other.txt"]
outputs = ["use.txt"]
"#,
    );
    f.write("src.txt", "1");
    f.write("other.txt", "x");
    f.build();
    f.calls();
    // A fresh clone: the committed files only, no cache.
    std::fs::remove_dir_all(f.path("cache")).unwrap();
    assert!(
        f.states().iter().all(|(_, s)| *s == State::Fresh),
        "fresh without the bytes"
    );
    // A consumer must run: the producer's bytes are gone everywhere, so it is re-run here.
    f.write("other.txt", "y");
    f.build();
    assert_eq!(f.calls(), ["bin", "use"]);
    assert_eq!(f.read("use.txt"), "use|bin|1|y");
    // With the bytes in the cache, only the consumer runs.
    f.write("other.txt", "z");
    std::fs::remove_dir_all(f.path("cache/out")).unwrap();
    f.build();
    assert_eq!(f.calls(), ["use"]);
}

#[test]
fn lost_cache_only_inputs_are_remade_once_as_scheduled_work_even_through_two_levels() {
    let f = Fixture::new(
        r#"
[artifact.tool]
rule = "fake"
inputs = ["src.txt"]
outputs = ["{cache}/bin/tool"]

[artifact.lib]
rule = "fake"
inputs = ["tool"]
outputs = ["{cache}/lib/x"]

[artifact.one]
rule = "fake"
inputs = ["lib", "a.txt"]
outputs = ["one.txt"]

[artifact.two]
rule = "fake"
inputs = ["lib", "b.txt"]
outputs = ["two.txt"]
"#,
    );
    f.write("src.txt", "1");
    f.write("a.txt", "a");
    f.write("b.txt", "b");
    f.build();
    f.calls();
    std::fs::remove_dir_all(f.path("cache")).unwrap();
    f.write("a.txt", "A");
    f.write("b.txt", "B");
    let (summary, _) = f.build();
    let mut calls = f.calls();
    // `lib` needs `tool` on disk before it can run again: each producer is re-run once, for
    // both consumers, before them.
    assert_eq!(&calls[..2], ["tool", "lib"]);
    calls.sort();
    assert_eq!(calls, ["lib", "one", "tool", "two"]);
    assert_eq!(f.read("one.txt"), "one|lib|tool|1|A");
    assert_eq!(f.read("two.txt"), "two|lib|tool|1|B");
    // The re-runs are not nodes of this build's outcome: two ran, two fresh.
    assert_eq!((summary.ran, summary.fresh), (2, 2));
    assert!(f.states().iter().all(|(_, s)| *s == State::Fresh));
    f.build();
    assert!(f.calls().is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn an_optional_source_file_is_keyed_by_its_presence() {
    let f = Fixture::new(
        r#"
[artifact.union]
rule = "fake"
inputs = ["linux.json", "macos.json?"]
outputs = ["union.txt"]
"#,
    );
    f.write("linux.json", "L");
    f.build();
    assert_eq!(f.read("union.txt"), "union|L");
    f.write("macos.json", "M");
    assert!(
        f.states().contains(&("union".to_string(), State::Stale)),
        "the file appeared"
    );
    f.build();
    assert_eq!(f.read("union.txt"), "union|L|M");
}

#[test]
fn claude_code_platform_names_are_hosts() {
    use parity_engine::workspace::host_matches;
    let here = (std::env::consts::OS, std::env::consts::ARCH);
    for (name, os, arch) in [
        ("linux-x64", "linux", "x86_64"),
        ("linux-arm64", "linux", "aarch64"),
        ("darwin-arm64", "macos", "aarch64"),
        ("darwin-x64", "macos", "x86_64"),
        ("win32-x64", "windows", "x86_64"),
    ] {
        assert_eq!(host_matches(name), here == (os, arch), "{name}");
    }
    assert!(!host_matches("plan9-x64"));
    assert!(!host_matches("linux-mips"));
}
