//! `pipeline.toml`: the model, the parser (with spans for errors) and parameter resolution.
//!
//! [`Pipeline::parse`] only checks the shape of the file (known tables and keys, types); the
//! cross-references (rules, params, placeholders, inputs, outputs) are checked when the graph
//! is built ([`crate::graph::Graph::build`]), which also reads the params files through
//! [`DataFiles`]. Every error points into the file it is about with a caret.
//!
//! A file is either a pipeline (`[pipeline]`, `[params]`, `[artifact.*]`) or a workspace of
//! pipelines, `[members]`: a name for each member pipeline file. One workspace has one
//! `pipeline.lock` and one `cache/` (beside its file); a member's node ids are prefixed with
//! its name (`claude:union@2.1.29`) and its paths with its root relative to the workspace
//! (`cli_manifests/claude_code/...`), so ids and paths stay unambiguous (see
//! [`crate::graph`]).
//!
//! ```toml
//! [members]
//! codex = "cli_manifests/codex/pipeline.toml"
//! claude = "cli_manifests/claude_code/pipeline.toml"
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::error::{Located, closest, did_you_mean};
use crate::{Error, Result};

type TomlValue<'i> = toml::Spanned<DeValue<'i>>;
type TomlKey<'i> = toml::Spanned<Cow<'i, str>>;

/// The keys an `[artifact.x]` table may have.
pub const ARTIFACT_KEYS: [&str; 8] = [
    "rule", "params", "host", "epoch", "timeout", "inputs", "outputs", "config",
];
const TOP_KEYS: [&str; 4] = ["pipeline", "params", "artifact", "members"];

/// A value and the byte range it came from in `pipeline.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Byte range in [`Pipeline::text`].
    pub span: Range<usize>,
}

/// A parsed `pipeline.toml`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pipeline {
    /// The file as the user named it.
    pub file: PathBuf,
    /// Its whole text, for error rendering.
    pub text: String,
    /// The directory holding `pipeline.toml` joined with `[pipeline].root`.
    pub root: PathBuf,
    /// `[params]`, in declaration order.
    pub params: Vec<Param>,
    /// `[artifact.*]`, in declaration order.
    pub artifacts: Vec<Artifact>,
    /// `[members]`, in declaration order (a workspace has members and nothing else).
    pub members: Vec<Member>,
}

/// One pipeline of a workspace.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Member {
    /// Its name (span of the key in `[members]`): the prefix of its node ids.
    pub name: Spanned<String>,
    /// Its root relative to the workspace root, `/`-separated, no trailing `/` (the prefix of
    /// its paths).
    pub root: String,
    /// The parsed member file.
    pub pipeline: Pipeline,
}

/// One entry of `[params]`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Param {
    /// The param name (span of the key).
    pub name: Spanned<String>,
    /// Where its values come from.
    pub source: ParamSource,
}

/// Where a param's values come from.
#[derive(Debug, Clone)]
pub enum ParamSource {
    /// A literal list of strings.
    List(Vec<Spanned<String>>),
    /// An array of strings in a JSON or TOML file relative to the root.
    File {
        /// The file, relative to the root.
        from: Spanned<String>,
        /// Where in the file.
        lookup: Lookup,
    },
}

/// A place inside a data file.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Dotted key into a TOML file (`a.b`); may contain `{param}` placeholders.
    Key(Spanned<String>),
    /// RFC 6901 pointer into a JSON file (`/a/b`); may contain `{param}` placeholders.
    Pointer(Spanned<String>),
}

impl Lookup {
    /// The key or pointer text.
    pub fn spanned(&self) -> &Spanned<String> {
        match self {
            Lookup::Key(s) | Lookup::Pointer(s) => s,
        }
    }
}

/// `epoch = ...` of an artifact.
#[derive(Debug, Clone)]
pub enum Epoch {
    /// `epoch = 1769990400`.
    Integer(Spanned<i64>),
    /// `epoch = "{version}"`: must parse as an integer after substitution.
    Template(Spanned<String>),
    /// `epoch = { from = FILE, key = "a.{version}" }` or `pointer = "/a/{version}"`.
    File {
        /// The file, relative to the root.
        from: Spanned<String>,
        /// Where in the file (a template).
        lookup: Lookup,
    },
}

/// The rule config as written: strings keep their spans for substitution errors.
#[derive(Debug, Clone)]
pub enum ConfigValue {
    /// A string (a template).
    String(Spanned<String>),
    /// An array.
    Array(Vec<ConfigValue>),
    /// A table, keys sorted.
    Table(Vec<(String, ConfigValue)>),
    /// A number, boolean or datetime (datetimes become strings).
    Scalar(serde_json::Value),
}

/// One `[artifact.name]` table.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Artifact {
    /// The name.
    pub name: String,
    /// Span of the name in the table header.
    pub span: Range<usize>,
    /// `rule = "..."`.
    pub rule: Spanned<String>,
    /// `params = [...]`, in order.
    pub params: Vec<Spanned<String>>,
    /// `host = "..."` (a template).
    pub host: Option<Spanned<String>>,
    /// `epoch = ...`.
    pub epoch: Option<Epoch>,
    /// `timeout = SECONDS`: the deadline of each of its recipes (not part of any key).
    pub timeout: Option<Spanned<std::time::Duration>>,
    /// `inputs = [...]` (templates).
    pub inputs: Vec<Spanned<String>>,
    /// `outputs = [...]` (templates).
    pub outputs: Vec<Spanned<String>>,
    /// `config = {...}`.
    pub config: Option<ConfigValue>,
}

impl Pipeline {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Pipeline> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                // The lossy text has the same bytes up to `at`: the caret lands there.
                let p = Pipeline::parse(path, "").unwrap_or_else(|_| Pipeline::empty(path));
                return Err(Pipeline { text, ..p }.error(
                    format!("`{}` is not UTF-8 text", path.display()),
                    at..at + 1,
                    Some("pipeline.toml must be UTF-8 (as TOML requires)".into()),
                ));
            }
        };
        Pipeline::parse(path, &text)
    }

    /// The error for a pipeline that declares no artifact (nothing to build: a `build` would
    /// empty `pipeline.lock`).
    pub fn no_artifact_error(&self) -> Error {
        self.error(
            format!("`{}` declares no artifact", self.file.display()),
            0..self.text.len().min(1),
            Some("declare at least one `[artifact.NAME]` table with a `rule` and `outputs`".into()),
        )
    }

    fn empty(file: &Path) -> Pipeline {
        Pipeline {
            file: file.to_path_buf(),
            text: String::new(),
            root: PathBuf::new(),
            params: Vec::new(),
            artifacts: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Parses the text of `file` (only its shape: see the module docs).
    pub fn parse(file: &Path, text: &str) -> Result<Pipeline> {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut p = Pipeline {
            file: file.to_path_buf(),
            text: text.to_string(),
            root: dir.to_path_buf(),
            params: Vec::new(),
            artifacts: Vec::new(),
            members: Vec::new(),
        };
        let doc = DeTable::parse(text).map_err(|e| {
            let msg = e.message().trim().replace('\n', ": ");
            p.error_at(format!("invalid TOML: {msg}"), e.span(), None)
        })?;
        let mut own = None;
        for (key, value) in sorted(doc.get_ref()) {
            let name = key.get_ref().as_ref();
            match name {
                "pipeline" => p.parse_pipeline_table(value)?,
                "params" => p.parse_params(value)?,
                "artifact" => p.parse_artifacts(value)?,
                "members" => p.parse_members(value)?,
                other => {
                    let help = did_you_mean(other, TOP_KEYS);
                    return Err(p.error(format!("unknown table `{other}`"), key.span(), help));
                }
            }
            if name != "members" {
                own.get_or_insert((name.to_string(), key.span()));
            }
        }
        if let (Some(m), Some((table, span))) = (p.members.first(), own) {
            let msg = format!(
                "a workspace (`[members]`, e.g. `{}`) declares nothing else: move `[{table}]` into a member pipeline",
                m.name.value
            );
            return Err(p.error(msg, span, None));
        }
        Ok(p)
    }

    /// Every file the graph of this pipeline is built from: its file, its members' files, and
    /// the data files their params and epochs read (sorted, without repeats).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.file.clone()];
        let from = |f: &Spanned<String>| self.root.join(&f.value);
        for p in &self.params {
            if let ParamSource::File { from: f, .. } = &p.source {
                files.push(from(f));
            }
        }
        for a in &self.artifacts {
            if let Some(Epoch::File { from: f, .. }) = &a.epoch {
                files.push(from(f));
            }
        }
        for m in &self.members {
            files.extend(m.pipeline.files());
        }
        files.sort();
        files.dedup();
        files
    }

    /// The member called `name`.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name.value == name)
    }

    /// `[members]`: each a name and a pipeline file relative to this one, read and parsed now.
    fn parse_members(&mut self, value: &TomlValue) -> Result<()> {
        let dir = self.root.clone();
        for (key, v) in sorted(self.table(value, "[members]")?) {
            let name = Spanned {
                value: key.get_ref().to_string(),
                span: key.span(),
            };
            if name.value.is_empty()
                || !name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                let msg = format!(
                    "member name `{}` must be letters, digits, `-` or `_` (it prefixes node ids: `{}:union@V`)",
                    name.value, name.value
                );
                return Err(self.error(msg, name.span, None));
            }
            let file = self.string(v, &format!("member `{}`", name.value))?;
            let path = dir.join(&file.value);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                let msg = format!("cannot read the pipeline of member `{}`: {e}", name.value);
                self.error(msg, file.span.clone(), None)
            })?;
            let pipeline = Pipeline::parse(&path, &text)?;
            if !pipeline.members.is_empty() {
                let msg = format!(
                    "member `{}` is itself a workspace; members are pipelines",
                    name.value
                );
                return Err(self.error(msg, file.span.clone(), None));
            }
            let root = relative_root(&dir, &pipeline.root).ok_or_else(|| {
                let msg = format!(
                    "the root of member `{}` (`{}`) is not inside the workspace",
                    name.value,
                    pipeline.root.display()
                );
                self.error(msg, file.span.clone(), None)
            })?;
            let nested = |a: &str, b: &str| {
                a == b || a.is_empty() || b.is_empty() || a.starts_with(&format!("{b}/"))
            };
            if let Some(other) = self
                .members
                .iter()
                .find(|m| nested(&root, &m.root) || nested(&m.root, &root))
            {
                let msg = format!(
                    "the roots of members `{}` (`{}`) and `{}` (`{root}`) overlap: each member needs a directory of its own",
                    other.name.value, other.root, name.value
                );
                return Err(self.error(msg, file.span.clone(), None));
            }
            self.members.push(Member {
                name,
                root,
                pipeline,
            });
        }
        if self.members.is_empty() {
            return Err(self.error("`[members]` names no pipeline", value.span(), None));
        }
        Ok(())
    }

    /// An [`Error::Pipeline`] pointing at `span` of this file.
    pub fn error(
        &self,
        message: impl Into<String>,
        span: Range<usize>,
        help: Option<String>,
    ) -> Error {
        self.error_at(message, Some(span), help)
    }

    fn error_at(
        &self,
        message: impl Into<String>,
        span: Option<Range<usize>>,
        help: Option<String>,
    ) -> Error {
        let at = Located {
            file: self.file.clone(),
            text: self.text.clone(),
            span,
        };
        Error::Pipeline {
            message: message.into(),
            at: Box::new(at),
            help,
        }
    }

    /// The artifact named `name`, if any.
    pub fn artifact(&self, name: &str) -> Option<usize> {
        self.artifacts.iter().position(|a| a.name == name)
    }

    fn parse_pipeline_table(&mut self, value: &TomlValue) -> Result<()> {
        for (key, v) in sorted(self.table(value, "[pipeline]")?) {
            match key.get_ref().as_ref() {
                "root" => {
                    let root = self.string(v, "`root`")?;
                    self.root = self.root.join(&root.value);
                }
                other => {
                    let help = did_you_mean(other, ["root"]);
                    return Err(self.error(
                        format!("unknown key `{other}` in `[pipeline]`"),
                        key.span(),
                        help,
                    ));
                }
            }
        }
        Ok(())
    }

    fn parse_params(&mut self, value: &TomlValue) -> Result<()> {
        for (key, v) in sorted(self.table(value, "[params]")?) {
            let name = Spanned {
                value: key.get_ref().to_string(),
                span: key.span(),
            };
            let source = match v.get_ref() {
                DeValue::Array(_) => {
                    ParamSource::List(self.string_list(v, &format!("param `{}`", name.value))?)
                }
                DeValue::Table(t) => {
                    let (from, lookup) =
                        self.file_lookup(t, v.span(), &format!("param `{}`", name.value))?;
                    ParamSource::File { from, lookup }
                }
                _ => {
                    let msg = format!(
                        "param `{}` must be a list of strings or {{ from = FILE, pointer = \"/a/b\" }} or {{ from = FILE, key = \"a.b\" }}",
                        name.value
                    );
                    return Err(self.error(msg, v.span(), None));
                }
            };
            self.params.push(Param { name, source });
        }
        Ok(())
    }

    /// `{ from = FILE, key = K }` or `{ from = FILE, pointer = P }`.
    fn file_lookup(
        &self,
        t: &DeTable,
        span: Range<usize>,
        what: &str,
    ) -> Result<(Spanned<String>, Lookup)> {
        let (mut from, mut lookup) = (None, None);
        for (key, v) in sorted(t) {
            match key.get_ref().as_ref() {
                "from" => from = Some(self.string(v, "`from`")?),
                "key" | "pointer" if lookup.is_some() => {
                    return Err(self.error(
                        format!("{what}: give either `key` or `pointer`, not both"),
                        key.span(),
                        None,
                    ));
                }
                "key" => lookup = Some(Lookup::Key(self.string(v, "`key`")?)),
                "pointer" => {
                    let p = self.string(v, "`pointer`")?;
                    if !p.value.is_empty() && !p.value.starts_with('/') {
                        return Err(self.error(
                            format!("pointer `{}` must start with `/`", p.value),
                            p.span,
                            None,
                        ));
                    }
                    lookup = Some(Lookup::Pointer(p));
                }
                other => {
                    let help = did_you_mean(other, ["from", "key", "pointer"]);
                    return Err(self.error(
                        format!("unknown key `{other}` in {what}"),
                        key.span(),
                        help,
                    ));
                }
            }
        }
        match (from, lookup) {
            (Some(f), Some(l)) => Ok((f, l)),
            (None, _) => Err(self.error(format!("{what} needs `from = FILE`"), span, None)),
            (_, None) => Err(self.error(
                format!("{what} needs `key = \"a.b\"` (TOML) or `pointer = \"/a/b\"` (JSON)"),
                span,
                None,
            )),
        }
    }

    fn parse_artifacts(&mut self, value: &TomlValue) -> Result<()> {
        for (key, v) in sorted(self.table(value, "[artifact]")?) {
            let name = key.get_ref().to_string();
            if let Some(c) = name
                .chars()
                .find(|c| INVALID_NAME_CHARS.contains(c) || c.is_whitespace())
            {
                return Err(self.error(
                    format!("artifact name `{name}` must not contain `{c}`"),
                    key.span(),
                    None,
                ));
            }
            let artifact = self.parse_artifact(name, key.span(), v)?;
            self.artifacts.push(artifact);
        }
        Ok(())
    }

    fn parse_artifact(
        &self,
        name: String,
        span: Range<usize>,
        value: &TomlValue,
    ) -> Result<Artifact> {
        let what = format!("[artifact.{name}]");
        let table = self.table(value, &format!("`{what}`"))?;
        let mut rule = None;
        let mut a = Artifact {
            name,
            span: span.clone(),
            rule: Spanned {
                value: String::new(),
                span: span.clone(),
            },
            params: Vec::new(),
            host: None,
            epoch: None,
            timeout: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            config: None,
        };
        for (key, v) in sorted(table) {
            match key.get_ref().as_ref() {
                "rule" => rule = Some(self.string(v, "`rule`")?),
                "params" => a.params = self.string_list(v, "`params`")?,
                "host" => a.host = Some(self.string(v, "`host`")?),
                "epoch" => a.epoch = Some(self.epoch(v)?),
                "timeout" => a.timeout = Some(self.timeout(v)?),
                "inputs" => a.inputs = self.string_list(v, "`inputs`")?,
                "outputs" => a.outputs = self.string_list(v, "`outputs`")?,
                "config" => {
                    self.table(v, "`config`")?;
                    a.config = Some(self.config(v));
                }
                other => {
                    let help = did_you_mean(other, ARTIFACT_KEYS);
                    return Err(self.error(
                        format!("unknown key `{other}` in `{what}`"),
                        key.span(),
                        help,
                    ));
                }
            }
        }
        a.rule =
            rule.ok_or_else(|| self.error(format!("`{what}` has no `rule`"), span.clone(), None))?;
        if a.outputs.is_empty() {
            return Err(self.error(format!("`{what}` declares no `outputs`"), span, None));
        }
        Ok(a)
    }

    fn timeout(&self, v: &TomlValue) -> Result<Spanned<std::time::Duration>> {
        let secs = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => None,
        };
        match secs {
            Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => Ok(Spanned {
                value: std::time::Duration::from_secs_f64(s),
                span: v.span(),
            }),
            _ => Err(self.error(
                "`timeout` must be a positive number of seconds",
                v.span(),
                Some("for example `timeout = 600` (ten minutes)".into()),
            )),
        }
    }

    fn epoch(&self, v: &TomlValue) -> Result<Epoch> {
        match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map(|value| Epoch::Integer(Spanned { value, span: v.span() }))
                .map_err(|_| self.error("`epoch` does not fit in 64 bits", v.span(), None)),
            DeValue::String(s) => Ok(Epoch::Template(Spanned { value: s.to_string(), span: v.span() })),
            DeValue::Table(t) => {
                let (from, lookup) = self.file_lookup(t, v.span(), "`epoch`")?;
                Ok(Epoch::File { from, lookup })
            }
            _ => Err(self.error(
                "`epoch` must be an integer, a string, or { from = FILE, key = K } / { from = FILE, pointer = P }",
                v.span(),
                None,
            )),
        }
    }

    fn config(&self, v: &TomlValue) -> ConfigValue {
        match v.get_ref() {
            DeValue::String(s) => ConfigValue::String(Spanned {
                value: s.to_string(),
                span: v.span(),
            }),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => ConfigValue::Scalar(n.into()),
                Err(_) => ConfigValue::Scalar(i.as_str().into()),
            },
            DeValue::Float(f) => {
                let n = f
                    .as_str()
                    .replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64);
                ConfigValue::Scalar(n.map_or(serde_json::Value::Null, serde_json::Value::Number))
            }
            DeValue::Boolean(b) => ConfigValue::Scalar((*b).into()),
            DeValue::Datetime(d) => ConfigValue::Scalar(d.to_string().into()),
            DeValue::Array(items) => {
                ConfigValue::Array(items.iter().map(|i| self.config(i)).collect())
            }
            DeValue::Table(t) => {
                let mut entries: Vec<_> = t
                    .iter()
                    .map(|(k, v)| (k.get_ref().to_string(), self.config(v)))
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                ConfigValue::Table(entries)
            }
        }
    }

    fn table<'a, 'i>(&self, v: &'a TomlValue<'i>, what: &str) -> Result<&'a DeTable<'i>> {
        v.get_ref().as_table().ok_or_else(|| {
            self.error(
                format!("{what} must be a table, not a {}", v.get_ref().type_str()),
                v.span(),
                None,
            )
        })
    }

    fn string(&self, v: &TomlValue, what: &str) -> Result<Spanned<String>> {
        match v.get_ref() {
            DeValue::String(s) => Ok(Spanned {
                value: s.to_string(),
                span: v.span(),
            }),
            other => Err(self.error(
                format!("{what} must be a string, not a {}", other.type_str()),
                v.span(),
                None,
            )),
        }
    }

    fn string_list(&self, v: &TomlValue, what: &str) -> Result<Vec<Spanned<String>>> {
        let items = v.get_ref().as_array().ok_or_else(|| {
            self.error(
                format!(
                    "{what} must be a list of strings, not a {}",
                    v.get_ref().type_str()
                ),
                v.span(),
                None,
            )
        })?;
        items
            .iter()
            .map(|i| self.string(i, &format!("each of {what}")))
            .collect()
    }
}

/// The longest param value, in bytes: values become path components (file names), which most
/// filesystems cap at 255 bytes; a longer one would fail only when a rule writes it.
pub const MAX_VALUE_LEN: usize = 255;

/// `root` relative to `base` (both as joined by the parser, both relative or both absolute),
/// `/`-separated, `.`s dropped; `None` when it is not below `base`. The workspace itself is `""`.
fn relative_root(base: &Path, root: &Path) -> Option<String> {
    use std::path::Component;
    let normal = |p: &Path| -> Option<Vec<String>> {
        let mut out = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::Normal(s) => out.push(s.to_str()?.to_string()),
                Component::ParentDir => {
                    out.pop()?;
                }
                Component::RootDir => out.push("/".to_string()),
                Component::Prefix(pre) => out.push(pre.as_os_str().to_str()?.to_string()),
            }
        }
        Some(out)
    };
    let (base, root) = (normal(base)?, normal(root)?);
    let rest = root.strip_prefix(base.as_slice())?;
    Some(rest.join("/"))
}

/// Characters a param value or artifact name may not contain (nor whitespace).
pub const INVALID_NAME_CHARS: [char; 6] = ['/', '@', '*', '?', '{', '}'];

/// Table entries in the order they appear in the file (the TOML map sorts by key).
fn sorted<'a, 'i>(t: &'a DeTable<'i>) -> Vec<(&'a TomlKey<'i>, &'a TomlValue<'i>)> {
    let mut entries: Vec<_> = t.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// JSON and TOML data files (params, epochs) read relative to the root, each parsed once.
#[derive(Debug, Default)]
pub struct DataFiles {
    files: HashMap<String, serde_json::Value>,
}

impl DataFiles {
    /// The value at `lookup` in `from`, `path` being the substituted lookup: the pointer alone,
    /// or the key's dotted segments. Errors point at `from` or at the lookup in `pipeline.toml`.
    pub fn get(
        &mut self,
        p: &Pipeline,
        from: &Spanned<String>,
        lookup: &Lookup,
        path: &[String],
    ) -> Result<&serde_json::Value> {
        let doc = self.load(p, from, lookup)?;
        let found = match lookup {
            Lookup::Pointer(_) => doc.pointer(path.concat().as_str()),
            Lookup::Key(_) => path.iter().try_fold(doc, |v, k| v.get(k)),
        };
        let text = match lookup {
            Lookup::Pointer(_) => path.concat(),
            Lookup::Key(_) => path.join("."),
        };
        let kind = if matches!(lookup, Lookup::Pointer(_)) {
            "pointer"
        } else {
            "key"
        };
        found.ok_or_else(|| {
            p.error(
                format!("{kind} `{text}` not found in `{}`", from.value),
                lookup.spanned().span.clone(),
                nearest_key(doc, lookup, path),
            )
        })
    }

    fn load(
        &mut self,
        p: &Pipeline,
        from: &Spanned<String>,
        lookup: &Lookup,
    ) -> Result<&serde_json::Value> {
        if !self.files.contains_key(&from.value) {
            let path = p.root.join(&from.value);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                p.error(
                    format!("cannot read params file `{}`: {e}", path.display()),
                    from.span.clone(),
                    None,
                )
            })?;
            let value = match lookup {
                Lookup::Pointer(_) => serde_json::from_str(&text).map_err(|e| {
                    let offset = line_col_offset(&text, e.line(), e.column());
                    data_file_error(&path, &text, format!("invalid JSON: {e}"), offset)
                })?,
                Lookup::Key(_) => toml::from_str::<serde_json::Value>(&text).map_err(|e| {
                    let msg = e.message().trim().replace('\n', ": ");
                    data_file_error(
                        &path,
                        &text,
                        format!("invalid TOML: {msg}"),
                        e.span().map_or(0, |s| s.start),
                    )
                })?,
            };
            self.files.insert(from.value.clone(), value);
        }
        Ok(&self.files[&from.value])
    }
}

/// "did you mean" for a key or pointer not found in a data file: the name at the first level
/// that lacks the wanted one, among that level's names (`tracked` for `trakced`, `/union/x`
/// for `/unoin/x`).
fn nearest_key(doc: &serde_json::Value, lookup: &Lookup, path: &[String]) -> Option<String> {
    let segments: Vec<String> = match lookup {
        Lookup::Key(_) => path.to_vec(),
        Lookup::Pointer(_) => path
            .concat()
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
    };
    let mut here = doc;
    for (i, seg) in segments.iter().enumerate() {
        let next = match here {
            serde_json::Value::Object(map) => map.get(seg),
            serde_json::Value::Array(items) => seg.parse::<usize>().ok().and_then(|n| items.get(n)),
            _ => None,
        };
        match next {
            Some(v) => here = v,
            None => {
                let serde_json::Value::Object(map) = here else {
                    return None;
                };
                let name = closest(seg, map.keys().map(String::as_str))?;
                let mut fixed = segments.clone();
                fixed[i] = name.to_string();
                let shown = match lookup {
                    Lookup::Key(_) => fixed.join("."),
                    Lookup::Pointer(_) => fixed
                        .iter()
                        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
                        .collect(),
                };
                return Some(format!("did you mean `{shown}`?"));
            }
        }
    }
    None
}

fn data_file_error(path: &Path, text: &str, message: String, offset: usize) -> Error {
    let at = Located {
        file: path.to_path_buf(),
        text: text.to_string(),
        span: Some(offset..offset + 1),
    };
    Error::Pipeline {
        message,
        at: Box::new(at),
        help: None,
    }
}

/// Byte offset of a 1-based line and column (serde_json's convention).
fn line_col_offset(text: &str, line: usize, col: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + col.saturating_sub(1)).min(text.len())
}

impl Pipeline {
    /// Resolves every param to its values (literal or from its file), checking each value.
    pub fn resolve_params(&self, files: &mut DataFiles) -> Result<Vec<Vec<String>>> {
        self.params
            .iter()
            .map(|param| self.resolve_param(param, files))
            .collect()
    }

    fn resolve_param(&self, param: &Param, files: &mut DataFiles) -> Result<Vec<String>> {
        let name = &param.name.value;
        let values: Vec<(String, Range<usize>)> = match &param.source {
            ParamSource::List(items) => items
                .iter()
                .map(|s| (s.value.clone(), s.span.clone()))
                .collect(),
            ParamSource::File { from, lookup } => {
                let span = lookup.spanned().span.clone();
                let path = match lookup {
                    Lookup::Pointer(s) => vec![s.value.clone()],
                    Lookup::Key(s) => s.value.split('.').map(str::to_string).collect(),
                };
                let value = files.get(self, from, lookup, &path)?;
                let not_list = || {
                    let msg = format!(
                        "param `{name}`: `{}` in `{}` is not a list of strings",
                        lookup.spanned().value,
                        from.value
                    );
                    self.error(msg, span.clone(), None)
                };
                let items = value.as_array().ok_or_else(not_list)?;
                let strings: Option<Vec<_>> = items
                    .iter()
                    .map(|v| v.as_str().map(|s| (s.to_string(), span.clone())))
                    .collect();
                strings.ok_or_else(not_list)?
            }
        };
        let source = match &param.source {
            ParamSource::List(_) => "its list".to_string(),
            ParamSource::File { from, lookup } => {
                format!("`{}` at `{}`", from.value, lookup.spanned().value)
            }
        };
        let mut seen = std::collections::HashSet::new();
        for (value, span) in &values {
            if let Some(problem) = value_problem(value) {
                let shown: String = value.chars().take(40).collect();
                let shown = if shown.len() < value.len() {
                    format!("{shown}...")
                } else {
                    shown
                };
                let msg = format!(
                    "param `{name}` has an invalid value `{shown}` (from {source}): {problem}"
                );
                return Err(self.error(msg, span.clone(), None));
            }
            if !seen.insert(value.as_str()) {
                let msg = format!("param `{name}` lists the value `{value}` twice (from {source})");
                return Err(self.error(msg, span.clone(), None));
            }
        }
        Ok(values.into_iter().map(|(v, _)| v).collect())
    }
}

/// Why `value` cannot be a param value, if it cannot.
fn value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("it is empty".into());
    }
    if value.len() > MAX_VALUE_LEN {
        return Some(format!(
            "it is {} bytes long; values become file names, which hold at most {MAX_VALUE_LEN}",
            value.len()
        ));
    }
    let c = value
        .chars()
        .find(|c| INVALID_NAME_CHARS.contains(c) || c.is_whitespace())?;
    Some(format!(
        "it contains {c:?}; values may not contain `/`, `@`, `*`, `?`, `{{`, `}}` or whitespace"
    ))
}
