//! The decisions of the release workflows (release.yml, container.yml, python.yml), so that
//! their steps are single `parity dist …` commands: the step outputs of the plan, the image's
//! name and tags, the sha256 lines of a directory against the expected ones, the Python files of
//! a release, the image manifest list read back from the registry, the previous release's
//! index, and the published release read back from GitHub.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};

use super::consume::DistError;
use super::contract::INDEX;
use super::model::{Index, Plan};
use crate::release::github::GitHub;
use crate::release::http::Http;

/// The sums file of a release, beside its assets.
pub const SUMS: &str = "SHA256SUMS";

/// The largest file read back (an archive or a wheel is tens of MB).
const MAX_DOWNLOAD: u64 = 1 << 30;

/// Reads and checks the release plan.
pub fn read_plan(path: &Path) -> Result<Plan, DistError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))
        .map_err(DistError::Index)?;
    Plan::parse(&text, &path.display().to_string()).map_err(DistError::Index)
}

/// The plan's one version; with `tag`, it must be the tag `vX.Y.Z` of that version (a release
/// tag has no pre-release part).
pub fn release_version(plan: &Plan, tag: Option<&str>) -> Result<String, DistError> {
    let version = plan
        .tuple(&plan.targets[0])
        .map_err(DistError::Index)?
        .version;
    if let Some(tag) = tag {
        let digits = tag
            .strip_prefix('v')
            .map(|v| v.split('.').collect::<Vec<_>>())
            .is_some_and(|p| {
                p.len() == 3
                    && p.iter()
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
        if !digits {
            return Err(DistError::Usage(format!(
                "the tag `{tag}` is not a release tag `vX.Y.Z`"
            )));
        }
        if tag != format!("v{version}") {
            return Err(DistError::Usage(format!(
                "the tag `{tag}` is not the plan's version `{version}` (plan the release from the tag)"
            )));
        }
    }
    Ok(version)
}

/// The image of a release: `{registry}/{owner/name in lower case}` and its tags `vX.Y.Z`,
/// `vX.Y`, `vX`, `latest` and `sha-{12 hex digits of the commit}`, each a full reference.
pub fn image_tags(plan: &Plan, registry: &str, repository: &str) -> Result<(String, Vec<String>)> {
    let version = release_version(plan, None).map_err(|e| anyhow!("{e}"))?;
    let parts: Vec<&str> = version.split('.').collect();
    let [major, minor, _] = parts.as_slice() else {
        bail!("the version `{version}` is not X.Y.Z");
    };
    if repository.split('/').count() != 2 || registry.is_empty() || registry.contains('/') {
        bail!(
            "the image needs a registry host and an OWNER/NAME repository (got `{registry}`, `{repository}`)"
        );
    }
    let image = format!("{registry}/{}", repository.to_lowercase());
    let sha = &plan.git_commit[..12];
    let tags = [
        format!("v{version}"),
        format!("v{major}.{minor}"),
        format!("v{major}"),
        "latest".to_string(),
        format!("sha-{sha}"),
    ];
    Ok((
        image.clone(),
        tags.iter().map(|t| format!("{image}:{t}")).collect(),
    ))
}

/// Parses `sha256sum` lines (`<64 hex>  <name>`); errors name the line.
pub fn parse_sums(text: &str) -> Result<BTreeMap<String, String>, DistError> {
    let mut out = BTreeMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = || {
            DistError::Usage(format!(
                "line {} of the sums is not `<sha256>  <file name>`: `{line}`",
                n + 1
            ))
        };
        let (sha, name) = line.split_once("  ").ok_or_else(bad)?;
        let name = name.trim_start_matches('*');
        if !super::model::is_sha256(sha) || name.is_empty() || name.contains(['/', '\\']) {
            return Err(bad());
        }
        if out.insert(name.to_string(), sha.to_string()).is_some() {
            return Err(DistError::Usage(format!("the sums list `{name}` twice")));
        }
    }
    if out.is_empty() {
        return Err(DistError::Usage("the sums list no file".into()));
    }
    Ok(out)
}

/// `sha256sum` lines of every file of `dir` (sorted by name, a final newline).
pub fn sums_of(dir: &Path) -> Result<String, DistError> {
    let mut text = String::new();
    for (name, path) in files_of(dir)? {
        let bytes = read(&path)?;
        text.push_str(&format!(
            "{}  {name}\n",
            parity_engine::hash::sha256_hex(&bytes)
        ));
    }
    Ok(text)
}

/// Checks the files of `dir` against the sums `expected`: each listed file is there with that
/// sha256 (`subset`: those that are there, at least one), no other file is there but a
/// `SHA256SUMS` holding exactly these lines. Returns the names checked.
pub fn check_sums(dir: &Path, expected: &str, subset: bool) -> Result<Vec<String>, DistError> {
    let want = parse_sums(expected)?;
    let have = files_of(dir)?;
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for (name, sha) in &want {
        let Some(path) = have.get(name) else {
            if !subset {
                problems.push(format!("`{name}` is missing from `{}`", dir.display()));
            }
            continue;
        };
        let got = parity_engine::hash::sha256_hex(&read(path)?);
        if &got != sha {
            problems.push(format!("`{name}` has sha256 {got}, not {sha}"));
        }
        checked.push(name.clone());
    }
    for (name, path) in &have {
        if want.contains_key(name) {
            continue;
        }
        if name == SUMS {
            let text = String::from_utf8_lossy(&read(path)?).into_owned();
            if text.trim_end() != expected.trim_end() {
                problems.push(format!("`{SUMS}` does not hold the expected lines"));
            }
        } else {
            problems.push(format!(
                "`{name}` is in `{}` but not in the sums",
                dir.display()
            ));
        }
    }
    if checked.is_empty() && problems.is_empty() {
        problems.push(format!("no file of the sums is in `{}`", dir.display()));
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(DistError::Mismatch(problems))
    }
}

/// The files of `dir` by name (a subdirectory is an error: assets are one flat directory).
fn files_of(dir: &Path) -> Result<BTreeMap<String, std::path::PathBuf>, DistError> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("failed to read the directory `{}`", dir.display()))
        .map_err(DistError::Io)?;
    let mut out = BTreeMap::new();
    for e in entries {
        let e = e
            .with_context(|| format!("failed to read the directory `{}`", dir.display()))
            .map_err(DistError::Io)?;
        let path = e.path();
        if !path.is_file() {
            return Err(DistError::Mismatch(vec![format!(
                "`{}` is not a file (release files are one flat directory)",
                path.display()
            )]));
        }
        out.insert(e.file_name().to_string_lossy().into_owned(), path);
    }
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>, DistError> {
    std::fs::read(path)
        .with_context(|| format!("failed to read `{}`", path.display()))
        .map_err(DistError::Io)
}

/// The wheel platform tags of a target (its OS and architecture, as `host_platform` reads
/// them): the prefixes a tag may start with and the suffix it ends with; `None` for a target no
/// wheel platform is known for.
fn wheel_platform(target: &str) -> Option<(&'static [&'static str], &'static str)> {
    const LINUX: &[&str] = &["manylinux", "musllinux", "linux"];
    const MACOS: &[&str] = &["macosx_"];
    const WINDOWS: &[&str] = &["win_"];
    Some(match parity_engine::workspace::host_platform(target)? {
        ("linux", "x86_64") => (LINUX, "_x86_64"),
        ("linux", "aarch64") => (LINUX, "_aarch64"),
        ("macos", "x86_64") => (MACOS, "_x86_64"),
        ("macos", "aarch64") => (MACOS, "_arm64"),
        ("windows", "x86_64") => (WINDOWS, "amd64"),
        ("windows", "aarch64") => (WINDOWS, "arm64"),
        _ => return None,
    })
}

/// Whether one `.`-separated part of a wheel's platform tag is of `target`.
fn is_wheel_of(target: &str, tag: &str) -> bool {
    wheel_platform(target).is_some_and(|(prefixes, suffix)| {
        prefixes.iter().any(|p| tag.starts_with(p)) && tag.ends_with(suffix)
    })
}

/// The Python files of a release in `dir`: exactly one wheel of `{dist}-{version}` per planned
/// target and the sdist `{dist}-{version}.tar.gz`, nothing else (`dist` = the project name of
/// pyproject.toml, normalized as wheel file names spell it). Returns the project name and the
/// `sha256sum` lines of the files.
pub fn python_files(
    dir: &Path,
    plan: &Plan,
    pyproject: &Path,
) -> Result<(String, String), DistError> {
    #[derive(serde::Deserialize)]
    struct PyProject {
        project: Project,
    }
    #[derive(serde::Deserialize)]
    struct Project {
        name: String,
    }
    let text = String::from_utf8_lossy(&read(pyproject)?).into_owned();
    let name = toml::from_str::<PyProject>(&text)
        .with_context(|| format!("`{}` has no `[project]` `name`", pyproject.display()))
        .map_err(DistError::Index)?
        .project
        .name;
    let dist: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == '.' { '_' } else { c })
        .collect();
    let version = release_version(plan, None)?;
    let files = files_of(dir)?;
    let mut problems = Vec::new();
    let sdist = format!("{dist}-{version}.tar.gz");
    if !files.contains_key(&sdist) {
        problems.push(format!("no sdist `{sdist}` in `{}`", dir.display()));
    }
    let prefix = format!("{dist}-{version}-");
    let mut matched: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for name in files.keys().filter(|n| **n != sdist) {
        let platforms = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".whl"))
            .and_then(|rest| rest.splitn(3, '-').nth(2));
        let Some(platforms) = platforms else {
            problems.push(format!(
                "`{name}` is neither a wheel of {dist} {version} nor its sdist"
            ));
            continue;
        };
        let mut any = false;
        for target in &plan.targets {
            if platforms.split('.').any(|tag| is_wheel_of(target, tag)) {
                matched.entry(target).or_default().push(name);
                any = true;
            }
        }
        if !any {
            problems.push(format!("the wheel `{name}` is of no planned target"));
        }
    }
    for target in &plan.targets {
        if wheel_platform(target).is_none() {
            problems.push(format!(
                "no wheel platform is known for the target `{target}`"
            ));
            continue;
        }
        match matched.get(target.as_str()).map(Vec::as_slice) {
            Some([_]) => {}
            None | Some([]) => problems.push(format!("no wheel for `{target}`")),
            Some(more) => problems.push(format!(
                "{} wheels for `{target}`: {}",
                more.len(),
                more.join(", ")
            )),
        }
    }
    if !problems.is_empty() {
        return Err(DistError::Mismatch(problems));
    }
    Ok((name, sums_of(dir)?))
}

/// Checks a manifest list as the registry serves it (`docker buildx imagetools inspect --raw`):
/// its sha256 is `digest` (`sha256:…`) and it has an image for each of `platforms`
/// (`os/architecture`).
pub fn check_manifest_list(bytes: &[u8], digest: &str, platforms: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let got = format!("sha256:{}", parity_engine::hash::sha256_hex(bytes));
    if got != digest {
        problems.push(format!(
            "the manifest list is {got}, not the pushed {digest}"
        ));
    }
    let listed: Vec<String> = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => v["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let p = &m["platform"];
                format!(
                    "{}/{}",
                    p["os"].as_str().unwrap_or("?"),
                    p["architecture"].as_str().unwrap_or("?")
                )
            })
            .collect(),
        Err(e) => {
            problems.push(format!("the manifest list is not JSON: {e}"));
            Vec::new()
        }
    };
    for p in platforms {
        if !listed.contains(p) {
            problems.push(format!(
                "the manifest list has no `{p}` image (it has: {})",
                listed.join(", ")
            ));
        }
    }
    problems
}

/// Downloads `url` to `to` (through a temporary sibling, renamed into place).
fn download(http: &Http, url: &str, to: &Path) -> Result<()> {
    let part = to.with_file_name(format!(
        ".{}.part",
        to.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ));
    http.fetch_to(url, MAX_DOWNLOAD, &AtomicBool::new(false), || {
        std::fs::File::create(&part)
            .with_context(|| format!("failed to create `{}`", part.display()))
    })?;
    parity_engine::fsutil::rename_into_place(&part, to)?;
    Ok(())
}

/// The index of the newest published (not draft) release of `repo` other than `tag` that has
/// one, written to `out`; its tag, or `None` when no release has one (a first release).
pub fn previous_index(
    gh: &GitHub<'_>,
    http: &Http,
    repo: &str,
    tag: &str,
    out: &Path,
) -> Result<Option<String>> {
    for release in gh.releases(repo)? {
        if release.draft || release.tag_name == tag {
            continue;
        }
        let Some(asset) = release.assets.iter().find(|a| a.name == INDEX) else {
            continue;
        };
        let tmp = tempfile::Builder::new()
            .prefix(".previous-index")
            .tempdir_in(parity_engine::fsutil::parent_dir(out))
            .context("failed to create a temporary directory")?;
        let fetched = tmp.path().join(INDEX);
        download(http, &asset.browser_download_url, &fetched)?;
        let bytes = std::fs::read(&fetched)
            .with_context(|| format!("failed to read `{}`", fetched.display()))?;
        Index::parse(
            &bytes,
            &format!("{INDEX} of release `{}`", release.tag_name),
        )?;
        parity_engine::fsutil::rename_into_place(&fetched, out)?;
        return Ok(Some(release.tag_name));
    }
    Ok(None)
}

/// Reads release `tag` of `repo` back: published (not a draft, not a prerelease), its assets
/// exactly the files of `sums` and `SHA256SUMS`, each downloaded into `out` and checked.
pub fn read_back_release(
    gh: &GitHub<'_>,
    http: &Http,
    repo: &str,
    tag: &str,
    sums: &str,
    out: &Path,
) -> Result<Vec<String>, DistError> {
    let want = parse_sums(sums)?;
    let release = gh.release(repo, tag).map_err(DistError::Io)?;
    let mut problems = Vec::new();
    if release.draft {
        problems.push(format!("release `{tag}` is a draft"));
    }
    if release.prerelease {
        problems.push(format!("release `{tag}` is a prerelease"));
    }
    let names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
    for name in want.keys().map(String::as_str).chain([SUMS]) {
        if !names.contains(&name) {
            problems.push(format!("release `{tag}` has no asset `{name}`"));
        }
    }
    for name in &names {
        if *name != SUMS && !want.contains_key(*name) {
            problems.push(format!(
                "release `{tag}` has the asset `{name}`, which was not built"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(DistError::Mismatch(problems));
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("failed to create `{}`", out.display()))
        .map_err(DistError::Io)?;
    for asset in &release.assets {
        download(http, &asset.browser_download_url, &out.join(&asset.name))
            .map_err(DistError::Io)?;
    }
    check_sums(out, sums, false)
}
