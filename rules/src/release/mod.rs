//! Upstream releases, pins and acquisition: `parity watch`, `parity pin`, and the rules
//! `github-release-pin` and `claude-release-pin` (`pins@V/T`), `merge-lock` (`lock`) and
//! `acquire` (`binary@V/T`). The release source is a property of the pipeline (its pin
//! artifact's rule): GitHub releases (codex) or a release bucket (Claude Code).
//!
//! Map:
//! - [`http`]      the reqwest client: timeouts, bounded redirects, retries with backoff, hashing.
//! - [`github`]    releases through the REST API (pagination), stable versions, watch policy.
//! - [`bucket`]    a release bucket: its `stable` pointer and per-version manifests.
//! - [`lockfile`]  pin files and `artifacts.lock.json` (reference shape and order).
//! - [`acquire`]   download or mirror, verify size then sha256, safe extraction, 0755 install.
//! - [`versions`]  `versions.toml` edits (tracked versions, epochs).
//!
//! Pins are digests: `binary@V/T` keys on its own pin file only, so freshness is decided
//! without the network and pinning a new version leaves every other binary fresh. Where the
//! bytes come from (`PARITY_MIRROR`, `PARITY_GITHUB_API`, `GITHUB_TOKEN`) is read once when the
//! rules are registered and is deliberately NOT part of any action key: it changes the
//! transport, never the bytes accepted, which the pins fix.

pub mod acquire;
pub mod bucket;
pub mod github;
pub mod http;
pub mod lockfile;
pub mod versions;

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use parity_engine::exec::{Registry, Rule, RuleContext, RuleError};
use parity_engine::graph::{Node, OutputKind};
use parity_engine::pipeline::{ConfigValue, ParamSource, Pipeline};

use bucket::Bucket;
use github::{GitHub, Policy, Version};
use http::{Http, HttpOptions};
use lockfile::{LockEntry, LockUpstream, Pin};

/// The rules whose outputs a pin fixes: a pin is measured once (trust on first download) and
/// an acquired binary is verified against it, so rebuilding them proves nothing about the
/// build and costs a download; `parity verify --rebuild` keeps them as recorded.
pub const FACT_RULES: [&str; 3] = ["github-release-pin", "claude-release-pin", "acquire"];

/// The largest asset measured when pinning (4 GiB).
const MAX_ASSET: u64 = 4 << 30;

/// Where the bytes come from: read from the environment once, never part of a key.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `PARITY_GITHUB_API`: the API base URL (tests point it at a loopback server).
    pub api: Option<String>,
    /// `GITHUB_TOKEN`: sent to the API only, never printed.
    pub token: Option<String>,
    /// `PARITY_CLAUDE_BUCKET`: a release bucket's root URL (tests point it at a loopback
    /// server), instead of the pin artifact's `config.bucket`.
    pub bucket: Option<String>,
    /// `PARITY_MIRROR`: a directory of assets by asset name, looked up first.
    pub mirror: Option<PathBuf>,
    /// Timeouts and retries.
    pub http: HttpOptions,
}

impl Settings {
    /// From `PARITY_GITHUB_API`, `GITHUB_TOKEN`, `PARITY_CLAUDE_BUCKET` and `PARITY_MIRROR`
    /// (empty = unset).
    pub fn from_env() -> Settings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Settings {
            api: var("PARITY_GITHUB_API"),
            token: var("GITHUB_TOKEN"),
            bucket: var("PARITY_CLAUDE_BUCKET"),
            mirror: var("PARITY_MIRROR").map(PathBuf::from),
            http: HttpOptions::default(),
        }
    }

    /// The API base: `PARITY_GITHUB_API`, else the config's `api`, else GitHub's.
    pub fn api<'a>(&'a self, configured: Option<&'a str>) -> &'a str {
        self.api
            .as_deref()
            .or(configured)
            .unwrap_or(github::DEFAULT_API)
    }

    /// The bucket root: `PARITY_CLAUDE_BUCKET`, else the config's.
    pub fn bucket<'a>(&'a self, configured: &'a str) -> &'a str {
        self.bucket.as_deref().unwrap_or(configured)
    }

    /// An HTTP client for these settings.
    pub fn http(&self) -> Result<Http> {
        Http::new(self.http.clone(), self.token.as_deref())
    }
}

/// Registers `github-release-pin`, `claude-release-pin`, `merge-lock` and `acquire`, fetching
/// as `settings` say (the CLI passes the environment plus `--mirror`).
pub fn register(registry: &mut Registry, settings: Settings) {
    registry.register(PinRule(settings.clone()));
    registry.register(BucketPinRule(settings.clone()));
    registry.register(MergeLockRule);
    registry.register(AcquireRule(settings));
}

/// The asset of `target` by default: `codex-{target}.exe` on Windows, else `.tar.gz`.
pub fn default_asset(target: &str) -> String {
    let ext = if target.contains("-windows") {
        ".exe"
    } else {
        ".tar.gz"
    };
    format!("codex-{target}{ext}")
}

fn param<'n>(node: &'n Node, name: &str) -> Result<&'n str, String> {
    node.params
        .get(name)
        .ok_or_else(|| format!("needs a `{name}` param"))
}

/// The node's upstream version: its `version` param, else `config.version` (for artifacts over
/// another param, e.g. `params = ["pinned", "target"]` with `config = { version = "{pinned}" }`).
fn version_of(node: &Node) -> Result<&str, String> {
    node.params
        .get("version")
        .or_else(|| config_str(node, "version"))
        .ok_or_else(|| "needs a `version` param (or `config.version`)".to_string())
}

fn config_str<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    node.config.get(key).and_then(|v| v.as_str())
}

fn check_config(node: &Node, allowed: &[&str], required: &[&str]) -> Result<(), String> {
    if let Some(obj) = node.config.as_object() {
        if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "unknown key `config.{k}` (expected one of: {})",
                allowed.join(", ")
            ));
        }
        if let Some(k) = obj.iter().find(|(_, v)| !v.is_string()).map(|(k, _)| k) {
            return Err(format!("`config.{k}` must be a string"));
        }
    }
    match required.iter().find(|k| config_str(node, k).is_none()) {
        Some(k) => Err(format!("`config.{k}` is required")),
        None => Ok(()),
    }
}

fn one_file_output(node: &Node, kind: OutputKind) -> Result<(), String> {
    match &node.outputs[..] {
        [o] if !o.dir && o.kind == kind => Ok(()),
        _ => Err(match kind {
            OutputKind::Committed => "declares exactly one output: a committed file".into(),
            OutputKind::Cache => "declares exactly one output: a `{cache}/...` file".into(),
        }),
    }
}

/// `github-release-pin`: measures one release asset and writes its pin file.
///
/// config: `repo` (`openai/codex`, required), `tag` (default `rust-v{version}`), `asset`
/// (default `codex-{target}.tar.gz`, `.exe` on Windows), `api` (default GitHub's), `version`
/// (when the version param is not named `version`).
struct PinRule(Settings);

impl Rule for PinRule {
    fn name(&self) -> &'static str {
        "github-release-pin"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_pin(node, &["api", "asset", "repo", "tag", "version"], &["repo"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let node = ctx.node;
        let (version, target) = (version_of(node)?, param(node, "target")?);
        let repo = config_str(node, "repo").ok_or("no `config.repo`")?;
        let tag = config_str(node, "tag").map_or_else(|| format!("rust-v{version}"), String::from);
        let asset = config_str(node, "asset").map_or_else(|| default_asset(target), String::from);
        let pin = measure(&self.0, config_str(node, "api"), repo, &tag, &asset, ctx)
            .map(|(release, asset, measured)| Pin {
                entry: LockEntry {
                    version: version.to_string(),
                    target_triple: target.to_string(),
                    asset_name: asset.name,
                    download_url: asset.browser_download_url,
                    sha256: measured.sha256,
                    size_bytes: measured.size,
                },
                date: release.published_at.unwrap_or_default(),
            })
            .with_context(|| format!("failed to pin `{asset}` of `{repo}` release `{tag}`"))?;
        let upstream = LockUpstream::GitHub { repo: repo.into() };
        write_pin(ctx, &pin, &upstream)
    }
}

/// What both pin rules require of a node: a version `X.Y.Z`, a `target` param, the config
/// keys `allowed` (`required` among them), and one committed file output.
fn check_pin(node: &Node, allowed: &[&str], required: &[&str]) -> Result<(), String> {
    version_of(node)?
        .parse::<Version>()
        .map_err(|e| e.to_string())?;
    param(node, "target")?;
    check_config(node, allowed, required)?;
    one_file_output(node, OutputKind::Committed)
        .map_err(|e| format!("{e} (a pin in the cache would be made again on a fresh clone)"))
}

/// Checks a pin and writes it to the node's output.
fn write_pin(ctx: &RuleContext<'_>, pin: &Pin, upstream: &LockUpstream) -> Result<(), RuleError> {
    pin.entry.check(&format!("pin of `{}`", ctx.node.id))?;
    parity_engine::fsutil::write_atomic(&ctx.output(0), pin.to_json(upstream)?.as_bytes())?;
    Ok(())
}

/// `claude-release-pin`: the pin of one platform of a bucket release, from the release's
/// manifest (its checksum and size: no download; `acquire` verifies the bytes against them).
///
/// config: `bucket` (the bucket root, required), `asset` (default `claude`, `claude.exe` for
/// a `win32-*` target), `version` (when the version param is not named `version`).
struct BucketPinRule(Settings);

impl Rule for BucketPinRule {
    fn name(&self) -> &'static str {
        "claude-release-pin"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_pin(node, &["asset", "bucket", "version"], &["bucket"])
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let node = ctx.node;
        let (version, target) = (version_of(node)?, param(node, "target")?);
        let v: Version = version.parse()?;
        let configured = config_str(node, "bucket").ok_or("no `config.bucket`")?;
        let asset = config_str(node, "asset").unwrap_or(bucket::default_asset(target));
        let http = self.0.http()?;
        let bucket = Bucket::new(&http, self.0.bucket(configured));
        let pin = bucket
            .manifest(v.clone())
            .and_then(|m| {
                let p = m.platform(target)?;
                Ok(Pin {
                    entry: LockEntry {
                        version: version.to_string(),
                        target_triple: target.to_string(),
                        asset_name: asset.to_string(),
                        download_url: bucket.asset_url(v, target, asset),
                        sha256: p.checksum.clone(),
                        size_bytes: p.size,
                    },
                    date: m.build_date.clone(),
                })
            })
            .with_context(|| format!("failed to pin `{target}` of Claude Code {version}"))?;
        let upstream = LockUpstream::Bucket {
            channel: "stable".into(),
            bucket_root: configured.into(),
        };
        write_pin(ctx, &pin, &upstream)
    }
}

/// Looks the release up, requires it pinnable, and streams the asset through sha256 (nothing
/// is stored: `acquire` downloads it again and checks it against the pin).
fn measure(
    settings: &Settings,
    api: Option<&str>,
    repo: &str,
    tag: &str,
    asset: &str,
    ctx: &RuleContext<'_>,
) -> Result<(github::Release, github::Asset, http::Measured)> {
    let http = settings.http()?;
    let release = GitHub::new(&http, settings.api(api)).release(repo, tag)?;
    release.require_pinnable()?;
    let asset = release.asset(asset)?.clone();
    let url = &asset.browser_download_url;
    // More than the API lists is already wrong: stop there, not at MAX_ASSET.
    let limit = asset.size.min(MAX_ASSET);
    let measured = http.fetch_to(url, limit, ctx.cancelled, || Ok(std::io::sink()))?;
    if measured.size != asset.size {
        bail!(
            "`{url}` sent {} bytes but the API lists {} bytes for `{}`",
            measured.size,
            asset.size,
            asset.name
        );
    }
    Ok((release, asset, measured))
}

/// `merge-lock`: every input pin file into `artifacts.lock.json`. config: `upstream_repo`
/// (GitHub releases: the codex lock), or `bucket_root` and optionally `channel` (default
/// `stable`: the Claude Code lock).
struct MergeLockRule;

impl MergeLockRule {
    fn upstream(node: &Node) -> Result<LockUpstream, String> {
        match (
            config_str(node, "upstream_repo"),
            config_str(node, "bucket_root"),
        ) {
            (Some(repo), None) if config_str(node, "channel").is_none() => {
                Ok(LockUpstream::GitHub { repo: repo.into() })
            }
            (None, Some(root)) => Ok(LockUpstream::Bucket {
                channel: config_str(node, "channel").unwrap_or("stable").into(),
                bucket_root: root.into(),
            }),
            _ => Err(
                "set `config.upstream_repo` (GitHub releases) or `config.bucket_root` (a release bucket, with an optional `channel`)"
                    .into(),
            ),
        }
    }
}

impl Rule for MergeLockRule {
    fn name(&self) -> &'static str {
        "merge-lock"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_config(node, &["bucket_root", "channel", "upstream_repo"], &[])?;
        Self::upstream(node)?;
        one_file_output(node, OutputKind::Committed)
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let upstream = Self::upstream(ctx.node)?;
        let entries = ctx
            .inputs
            .iter()
            .map(|name| lockfile::read_pin(&ctx.path(name)).map(|p| p.entry))
            .collect::<Result<Vec<_>>>()?;
        let lock = lockfile::merge(&upstream, entries)?;
        parity_engine::fsutil::write_atomic(&ctx.output(0), lock.as_bytes())?;
        Ok(())
    }
}

/// `acquire`: the verified binary of one pin (its only input) at a `{cache}/` path. config:
/// `version` (optional, as for `github-release-pin`): checked against the pin, as is `target`.
struct AcquireRule(Settings);

impl Rule for AcquireRule {
    fn name(&self) -> &'static str {
        "acquire"
    }
    fn check(&self, node: &Node) -> Result<(), String> {
        check_config(node, &["version"], &[])?;
        if node.inputs.len() != 1 {
            return Err(
                "takes exactly one input, its pin (`pins@{version}/{target}`), so that its key is that pin alone"
                    .into(),
            );
        }
        one_file_output(node, OutputKind::Cache)
    }
    fn run(&self, ctx: &RuleContext<'_>) -> Result<(), RuleError> {
        let [input] = ctx.inputs.as_slice() else {
            return Err(format!("expected one pin input, got {}", ctx.inputs.len()).into());
        };
        let pin = lockfile::read_pin(&ctx.path(input)).with_context(|| format!("pin `{input}`"))?;
        let node = ctx.node;
        for (p, pinned, ours) in [
            ("version", &pin.entry.version, version_of(node).ok()),
            (
                "target",
                &pin.entry.target_triple,
                param(node, "target").ok(),
            ),
        ] {
            if let Some(v) = ours
                && v != pinned
            {
                return Err(anyhow!("pin `{input}` is for {p} `{pinned}`, not `{v}`").into());
            }
        }
        let sources = acquire::Sources {
            mirror: self.0.mirror.clone(),
        };
        acquire::acquire(
            &pin.entry,
            &ctx.output(0),
            &sources,
            &self.0.http()?,
            ctx.cancelled,
        )?;
        Ok(())
    }
}

/// `parity rule acquire`: the binary of (version, target) of the lock file `lock` at `out`.
pub fn acquire_from_lock(
    lock: &std::path::Path,
    version: &str,
    target: &str,
    out: &std::path::Path,
    mirror: Option<PathBuf>,
) -> Result<()> {
    let entry = lockfile::lock_entry(lock, version, target)?;
    let settings = Settings::from_env();
    let cancelled = std::sync::atomic::AtomicBool::new(false);
    acquire::acquire(
        &entry,
        out,
        &acquire::Sources { mirror },
        &settings.http()?,
        &cancelled,
    )
}

/// The pin rules: the release source of a pipeline is its pin artifact's rule.
pub const PIN_RULES: [&str; 2] = ["github-release-pin", "claude-release-pin"];

/// What `parity watch` and `parity pin` read from `pipeline.toml`: the (one) pin artifact
/// (`github-release-pin` or `claude-release-pin`) and what surrounds it.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The pin artifact's name (`pins`).
    pub pins: String,
    /// Where releases are published.
    pub source: Source,
    /// The version lists `parity pin` adds to, each a TOML file and key, without repeats: the
    /// `version` param's (`versions.toml`, `tracked`: every version the pipeline builds), then
    /// the pin artifact's version param's (`versions.toml`, `pinned`) when that is another list.
    pub lists: Vec<(String, String)>,
    /// The `merge-lock` artifacts (`lock`).
    pub locks: Vec<String>,
}

/// A release source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// GitHub releases tagged `{tag_prefix}X.Y.Z` (codex).
    GitHub {
        /// `owner/name`.
        repo: String,
        /// The tag before the version (`rust-v`).
        tag_prefix: String,
        /// The config's `api`, if any.
        api: Option<String>,
    },
    /// A release bucket with a `stable` pointer and per-version manifests (Claude Code).
    Bucket {
        /// The config's `bucket`.
        root: String,
    },
}

impl Upstream {
    /// Finds the pin artifact of `pipeline`.
    pub fn of(pipeline: &Pipeline) -> Result<Upstream> {
        let mut pins = pipeline
            .artifacts
            .iter()
            .filter(|a| PIN_RULES.contains(&a.rule.value.as_str()));
        let a = pins.next().ok_or_else(|| {
            anyhow!(
                "`{}` declares no artifact with rule `{}` or `{}`",
                pipeline.file.display(),
                PIN_RULES[0],
                PIN_RULES[1]
            )
        })?;
        if let Some(b) = pins.next() {
            bail!(
                "`{}` declares two pin artifacts (`{}`, `{}`): one release source per pipeline",
                pipeline.file.display(),
                a.name,
                b.name
            );
        }
        let get = |key: &str| match &a.config {
            Some(ConfigValue::Table(entries)) => entries.iter().find_map(|(k, v)| match v {
                ConfigValue::String(s) if k == key => Some(s.value.clone()),
                _ => None,
            }),
            _ => None,
        };
        let need = |key: &str| {
            get(key).ok_or_else(|| anyhow!("`[artifact.{}]` has no `config.{key}`", a.name))
        };
        let version_param = version_param(&a.name, get("version"))?;
        let source = if a.rule.value == "claude-release-pin" {
            Source::Bucket {
                root: need("bucket")?,
            }
        } else {
            let tag = get("tag").unwrap_or_else(|| format!("rust-v{{{version_param}}}"));
            let tag_prefix = tag
                .strip_suffix(&format!("{{{version_param}}}"))
                .filter(|p| !p.contains('{'))
                .ok_or_else(|| {
                    anyhow!(
                        "`[artifact.{}]`: `config.tag` `{tag}` must be a prefix followed by `{{{version_param}}}`",
                        a.name
                    )
                })?
                .to_string();
            Source::GitHub {
                repo: need("repo")?,
                tag_prefix,
                api: get("api"),
            }
        };
        let mut lists = Vec::new();
        for name in ["version", version_param.as_str()] {
            if let Some(list) = toml_list(pipeline, name)
                && !lists.contains(&list)
            {
                lists.push(list);
            }
        }
        let locks = pipeline
            .artifacts
            .iter()
            .filter(|a| a.rule.value == "merge-lock")
            .map(|a| a.name.clone())
            .collect();
        Ok(Upstream {
            pins: a.name.clone(),
            source,
            lists,
            locks,
        })
    }

    /// What `parity watch` proposes unless told otherwise: the release before the newest on
    /// GitHub (the reference's lag), the `stable` pointer of a bucket.
    pub fn default_policy(&self) -> Policy {
        match self.source {
            Source::GitHub { .. } => Policy::StableMinusOne,
            Source::Bucket { .. } => Policy::Latest,
        }
    }

    /// The stable versions published, newest first, and how many releases were looked at:
    /// every stable GitHub release, or the bucket's `stable` pointer alone.
    pub fn stable_versions(&self, settings: &Settings) -> Result<(Vec<Version>, usize)> {
        let http = settings.http()?;
        match &self.source {
            Source::GitHub {
                repo,
                tag_prefix,
                api,
            } => {
                let releases = GitHub::new(&http, settings.api(api.as_deref())).releases(repo)?;
                let stable = github::stable_versions(&releases, tag_prefix);
                Ok((stable, releases.len()))
            }
            Source::Bucket { root } => {
                let stable = Bucket::new(&http, settings.bucket(root)).stable()?;
                Ok((vec![stable], 1))
            }
        }
    }

    /// Checks that `version` can be pinned and returns its SOURCE_DATE_EPOCH: the GitHub
    /// release's `published_at` (not a draft or a prerelease), or the manifest's `buildDate`.
    pub fn pinnable_epoch(&self, settings: &Settings, version: Version) -> Result<i64> {
        let http = settings.http()?;
        match &self.source {
            Source::GitHub {
                repo,
                tag_prefix,
                api,
            } => {
                let tag = format!("{tag_prefix}{version}");
                let release =
                    GitHub::new(&http, settings.api(api.as_deref())).release(repo, &tag)?;
                release.require_pinnable()
            }
            Source::Bucket { root } => Bucket::new(&http, settings.bucket(root))
                .manifest(version)?
                .epoch(),
        }
    }

    /// The upstream CLI's name in titles: the repository's name (`codex` of `openai/codex`), or
    /// `claude-code` for Claude Code's release bucket.
    pub fn tool(&self) -> &str {
        match &self.source {
            Source::GitHub { repo, .. } => repo.rsplit('/').next().unwrap_or(repo),
            Source::Bucket { .. } => "claude-code",
        }
    }

    /// The branch the automation proposes `version` on, as the reference names it:
    /// `automation/codex-cli-V` (`{repo name}-cli`), `automation/claude-code-V`.
    pub fn automation_branch(&self, version: &str) -> String {
        match &self.source {
            Source::GitHub { .. } => format!("automation/{}-cli-{version}", self.tool()),
            Source::Bucket { .. } => format!("automation/{}-{version}", self.tool()),
        }
    }

    /// The GitHub API base the pipeline names (`config.api` of a GitHub pin artifact), if any:
    /// where pull requests and branches are looked up (tests point it at a loopback server).
    pub fn github_api(&self) -> Option<&str> {
        match &self.source {
            Source::GitHub { api, .. } => api.as_deref(),
            Source::Bucket { .. } => None,
        }
    }

    /// The source, for messages: `openai/codex`, or the bucket root.
    pub fn name(&self) -> &str {
        match &self.source {
            Source::GitHub { repo, .. } => repo,
            Source::Bucket { root } => root,
        }
    }
}

/// The param holding the pin artifact's version: `P` of `config.version = "{P}"`, else `version`.
fn version_param(artifact: &str, configured: Option<String>) -> Result<String> {
    let Some(text) = configured else {
        return Ok("version".into());
    };
    text.strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .filter(|p| !p.is_empty() && !p.contains(['{', '}']))
        .map(String::from)
        .ok_or_else(|| {
            anyhow!(
                "`[artifact.{artifact}]`: `config.version` `{text}` must be one param, `{{name}}`"
            )
        })
}

/// The TOML file and key the param `name` is read from, if it is a TOML list.
fn toml_list(pipeline: &Pipeline, name: &str) -> Option<(String, String)> {
    let param = pipeline.params.iter().find(|p| p.name.value == name)?;
    match &param.source {
        ParamSource::File {
            from,
            lookup: parity_engine::pipeline::Lookup::Key(k),
        } => Some((from.value.clone(), k.value.clone())),
        _ => None,
    }
}

/// `parity rule acquire`: one binary of an `artifacts.lock.json`, downloaded (or taken from the
/// mirror), verified and installed.
pub const ACQUIRE_COMMAND: crate::drop_in::Command<AcquireArgs> = crate::drop_in::Command {
    name: "acquire",
    aliases: &[],
    about: "Download, verify and install the pinned binary of one (version, target) of a lock",
    run: |a| {
        crate::drop_in::done(acquire_from_lock(
            &a.lock, &a.version, &a.target, &a.out, a.mirror,
        ))
    },
};

/// The arguments of `parity rule acquire`.
#[derive(Debug, clap::Args)]
pub struct AcquireArgs {
    /// `artifacts.lock.json`.
    #[arg(long, value_name = "F")]
    lock: PathBuf,
    /// The codex version.
    #[arg(long, value_name = "V")]
    version: String,
    /// The target triple.
    #[arg(long, value_name = "T")]
    target: String,
    /// Where to install the binary (mode 0755).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// A directory of assets by asset name, looked up before the pinned URL.
    #[arg(long, value_name = "DIR", env = "PARITY_MIRROR")]
    mirror: Option<PathBuf>,
}
