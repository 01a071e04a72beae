//! Action keys and the reasons a node is dirty.
//!
//! | goes into the action key                              | deliberately does not          |
//! |-------------------------------------------------------|--------------------------------|
//! | rule name and rule version                            | mtimes, inodes, sizes on disk  |
//! | params of the node (sorted)                           | absolute paths, host names     |
//! | rule config after substitution (canonical JSON)       | the order inputs were declared |
//! | the declared output names                             |                                |
//! | each present input: its name and content digest       | wall-clock time                |
//! | (node inputs: the producer's recorded output digests) | the output paths' old content  |
//! | the values of the rule's declared env allow-list      | any other environment variable |
//! | SOURCE_DATE_EPOCH of the node, when the rule reads it | the machine running the build  |
//!
//! The key is blake3 over a canonical serialization (serde_json of BTreeMaps) of that material.
//! A node input's digest is the producer's *output* digest, so a rebuild that yields identical
//! bytes changes no consumer key (early cutoff).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::graph::{Output, OutputKind};
use crate::hash::{Digest, DigestMap, FileDigest};

/// Everything an action key is computed from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct KeyMaterial {
    /// Rule name.
    pub rule: String,
    /// Rule version (bumped by a rule when its behaviour changes).
    pub rule_version: u32,
    /// Params of the node.
    pub params: BTreeMap<String, String>,
    /// Rule config (canonical JSON).
    pub config: serde_json::Value,
    /// SOURCE_DATE_EPOCH, when the rule reads the time.
    pub epoch: Option<i64>,
    /// Declared environment variables and their values (`None` = unset).
    pub env: BTreeMap<String, Option<String>>,
    /// Declared output names (`path` or `{cache}/path`), in declaration order.
    pub outputs: Vec<String>,
    /// Present inputs: name -> digest.
    pub inputs: BTreeMap<String, FileDigest>,
}

/// A node's action key.
pub type ActionKey = Digest;

const KEY_PREFIX: &[u8] = b"parity-action-key/1\n";

/// blake3 of `prefix` followed by the JSON of `value`, serialized into a buffer reused by the
/// thread and hashed a [`KEY_PIECE`] at a time: most keys are hashed whole, in one update (many
/// small updates are slower), and a node of 20,000 inputs, whose JSON is 2 MB, is not held
/// whole by each thread that ever evaluated it. Nothing is allocated once the buffer is grown.
fn digest_json(prefix: &[u8], value: &impl serde::Serialize) -> Digest {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    struct Pieces<'a> {
        buf: &'a mut Vec<u8>,
        hasher: blake3::Hasher,
    }
    impl std::io::Write for Pieces<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() >= KEY_PIECE {
                self.hasher.update(self.buf);
                self.buf.clear();
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.extend_from_slice(prefix);
        let mut out = Pieces {
            buf: &mut buf,
            hasher: blake3::Hasher::new(),
        };
        // Serializing these types into memory cannot fail.
        let _ = serde_json::to_writer(&mut out, value);
        out.hasher.update(out.buf);
        Digest(*out.hasher.finalize().as_bytes())
    })
}

/// How many bytes of a key's JSON [`digest_json`] gathers before hashing them.
const KEY_PIECE: usize = 64 * 1024;

/// [`KeyMaterial`] borrowed from the graph: serializes to the same bytes, so it yields the same
/// key, without cloning a node's params, config and names (a no-op evaluates every node).
#[derive(serde::Serialize)]
pub struct KeyView<'a> {
    /// Rule name.
    pub rule: &'a str,
    /// Rule version.
    pub rule_version: u32,
    /// Params of the node.
    pub params: &'a crate::graph::Params,
    /// Rule config.
    pub config: &'a serde_json::Value,
    /// SOURCE_DATE_EPOCH, when the rule reads the time.
    pub epoch: Option<i64>,
    /// Declared environment variables and their values.
    pub env: &'a BTreeMap<String, Option<String>>,
    /// Declared outputs.
    #[serde(serialize_with = "output_names")]
    pub outputs: &'a [Output],
    /// Present inputs: name -> digest (the names mostly borrowed from the graph).
    pub inputs: BTreeMap<Cow<'a, str>, FileDigest>,
}

impl KeyView<'_> {
    /// The action key: equal to [`KeyMaterial::key`] of the same material.
    pub fn key(&self) -> ActionKey {
        digest_json(KEY_PREFIX, self)
    }

    /// The owned material (to run the node, or to diff it against its record). The input map
    /// is consumed as the owned one is built: a node of 20,000 inputs does not hold both.
    pub fn into_material(self) -> KeyMaterial {
        KeyMaterial {
            rule: self.rule.to_string(),
            rule_version: self.rule_version,
            params: self.params.to_map(),
            config: self.config.clone(),
            epoch: self.epoch,
            env: self.env.clone(),
            outputs: self.outputs.iter().map(Output::name).collect(),
            inputs: self
                .inputs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v))
                .collect(),
        }
    }
}

/// Serializes outputs as their [`Output::name`]s without allocating them.
fn output_names<S: serde::Serializer>(outputs: &&[Output], s: S) -> Result<S::Ok, S::Error> {
    struct Name<'a>(&'a Output);
    impl serde::Serialize for Name<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0.kind {
                OutputKind::Committed => s.serialize_str(&self.0.path),
                OutputKind::Cache => s.collect_str(&format_args!("{{cache}}/{}", self.0.path)),
            }
        }
    }
    s.collect_seq(outputs.iter().map(Name))
}

impl KeyMaterial {
    /// The action key.
    pub fn key(&self) -> ActionKey {
        digest_json(KEY_PREFIX, self)
    }

    /// `name@version` of the rule, as recorded in the lock.
    pub fn rule_id(&self) -> String {
        format!("{}@{}", self.rule, self.rule_version)
    }

    /// Digest of everything but the inputs and the rule: params, config, epoch, env, outputs. Recorded
    /// so that `explain` can tell "config changed" from "input changed".
    pub fn settings_digest(&self) -> Digest {
        // The same bytes as a JSON array of the five, without building a `Value` tree.
        let settings = (
            &self.params,
            &self.config,
            self.epoch,
            &self.env,
            &self.outputs,
        );
        digest_json(b"", &settings)
    }
}

/// Why a node must be (re)built, or is not fresh.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DirtyReason {
    /// No record of a previous build.
    NeverBuilt,
    /// `--force`.
    Forced,
    /// The rule, or its version, changed.
    RuleChanged {
        /// Recorded `name@version`.
        old: String,
        /// Current `name@version`.
        new: String,
    },
    /// Params, config, env allow-list values or SOURCE_DATE_EPOCH changed.
    ConfigChanged,
    /// An input's content changed, or an input appeared or disappeared.
    InputChanged {
        /// Input name (path, or `{cache}/path`).
        input: String,
        /// Recorded digest (`None`: the input is new).
        old: Option<FileDigest>,
        /// Current digest (`None`: the input is gone).
        new: Option<FileDigest>,
    },
    /// A dependency is not fresh, so this node will be reconsidered after it.
    DependencyStale {
        /// The dependency.
        dependency: String,
    },
    /// A recorded output does not exist.
    OutputMissing {
        /// Output name.
        output: String,
    },
    /// An output's bytes differ from the recorded digest: edited by hand.
    OutputModified {
        /// Output name.
        output: String,
        /// Recorded digest.
        recorded: FileDigest,
        /// Digest on disk.
        actual: FileDigest,
        /// For a directory output: the first file in it that was changed, added or removed,
        /// when the recorded tree is known (the local action cache has it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
}

impl fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirtyReason::NeverBuilt => f.write_str("never built"),
            DirtyReason::Forced => f.write_str("forced"),
            DirtyReason::RuleChanged { old, new } => write!(f, "rule changed ({old} -> {new})"),
            DirtyReason::ConfigChanged => f.write_str(
                "settings changed (params, config, epoch, env values or declared outputs)",
            ),
            DirtyReason::InputChanged {
                input,
                old: Some(o),
                new: Some(n),
            } => {
                write!(
                    f,
                    "input `{input}` changed ({} -> {})",
                    o.blake3.short(),
                    n.blake3.short()
                )
            }
            DirtyReason::InputChanged {
                input, old: None, ..
            } => write!(f, "input `{input}` added"),
            DirtyReason::InputChanged {
                input, new: None, ..
            } => {
                write!(f, "input `{input}` removed")
            }
            DirtyReason::DependencyStale { dependency } => {
                write!(f, "dependency `{dependency}` is not fresh")
            }
            DirtyReason::OutputMissing { output } => write!(f, "output `{output}` is missing"),
            DirtyReason::OutputModified {
                output,
                recorded,
                actual,
                file,
            } => {
                write!(
                    f,
                    "output `{output}` was modified (recorded {}, now {})",
                    recorded.blake3.short(),
                    actual.blake3.short()
                )?;
                match file {
                    Some(file) => write!(f, ": `{file}` differs"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl DirtyReason {
    /// The full digests behind the reason, one line each, for `parity explain` (the
    /// [`Display`](fmt::Display) line names them short).
    pub fn details(&self) -> Vec<String> {
        let line = |what: &str, d: &FileDigest| format!("{what} {} ({} bytes)", d.blake3, d.size);
        match self {
            DirtyReason::InputChanged { old, new, .. } => (old.iter().map(|o| line("old", o)))
                .chain(new.iter().map(|n| line("new", n)))
                .collect(),
            DirtyReason::OutputModified {
                recorded, actual, ..
            } => vec![line("recorded", recorded), line("on disk ", actual)],
            _ => Vec::new(),
        }
    }
}

/// The key-side reasons a recorded build no longer matches `now`: rule, settings, then every
/// input that changed, appeared or disappeared (sorted by name). Empty when the keys match.
pub fn diff_key(
    recorded_rule: &str,
    recorded_settings: Digest,
    recorded_inputs: &DigestMap,
    now: &KeyMaterial,
) -> Vec<DirtyReason> {
    let mut reasons = Vec::new();
    if recorded_rule != now.rule_id() {
        reasons.push(DirtyReason::RuleChanged {
            old: recorded_rule.to_string(),
            new: now.rule_id(),
        });
    }
    if recorded_settings != now.settings_digest() {
        reasons.push(DirtyReason::ConfigChanged);
    }
    let mut names: Vec<&str> = recorded_inputs
        .keys()
        .chain(now.inputs.keys().map(String::as_str))
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let (old, new) = (recorded_inputs.get(name), now.inputs.get(name));
        if old != new {
            reasons.push(DirtyReason::InputChanged {
                input: name.to_string(),
                old: old.copied(),
                new: new.copied(),
            });
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_hashed_in_pieces_is_the_digest_of_its_whole_json() {
        // Small (one update) and several pieces long.
        for n in [3, KEY_PIECE / 4] {
            let inputs: BTreeMap<String, u64> = (0..n)
                .map(|i| (format!("report/0.{i}.0.json"), i as u64))
                .collect();
            let mut whole = KEY_PREFIX.to_vec();
            serde_json::to_writer(&mut whole, &inputs).unwrap();
            assert!(n == 3 || whole.len() > 3 * KEY_PIECE, "{}", whole.len());
            assert_eq!(digest_json(KEY_PREFIX, &inputs), Digest::of(&whole));
        }
    }

    fn material() -> KeyMaterial {
        KeyMaterial {
            rule: "command".into(),
            rule_version: 1,
            params: BTreeMap::from([("version".into(), "0.92.0".into())]),
            config: serde_json::json!({"command": "cat $in > $out", "env": ["A"]}),
            epoch: Some(1_769_990_400),
            env: BTreeMap::from([("A".into(), Some("1".into())), ("B".into(), None)]),
            outputs: vec!["b.txt".into(), "{cache}/a".into()],
            inputs: BTreeMap::from([(
                "in.txt".into(),
                FileDigest {
                    blake3: Digest([7; 32]),
                    size: 3,
                },
            )]),
        }
    }

    /// Keys are recorded in every committed `pipeline.lock`: streaming them must not change a
    /// single byte of what is hashed.
    #[test]
    fn streamed_digests_equal_the_documented_serialization() {
        let m = material();
        let mut bytes = b"parity-action-key/1\n".to_vec();
        bytes.extend(serde_json::to_vec(&m).unwrap());
        assert_eq!(m.key(), Digest::of(&bytes));
        let v = serde_json::json!([m.params, m.config, m.epoch, m.env, m.outputs]);
        assert_eq!(
            m.settings_digest(),
            Digest::of(&serde_json::to_vec(&v).unwrap())
        );
    }

    #[test]
    fn a_borrowed_view_yields_the_same_key() {
        let m = material();
        let outputs = [
            Output {
                path: "b.txt".into(),
                kind: OutputKind::Committed,
                dir: false,
            },
            Output {
                path: "a".into(),
                kind: OutputKind::Cache,
                dir: true,
            },
        ];
        let inputs = m
            .inputs
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), *v))
            .collect();
        let params = crate::graph::Params::from([("version", "0.92.0")]);
        let view = KeyView {
            rule: &m.rule,
            rule_version: m.rule_version,
            params: &params,
            config: &m.config,
            epoch: m.epoch,
            env: &m.env,
            outputs: &outputs,
            inputs,
        };
        assert_eq!(view.key(), m.key());
        assert_eq!(view.into_material(), m);
    }
}
