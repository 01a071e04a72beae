//! Acquisition of a pinned asset: fetch (mirror first, else the pinned URL), verify size then
//! sha256 before anything reads the bytes, extract the first regular file of a `.tar.gz` (any
//! other asset, a codex `.exe` or a Claude Code `claude`, is the binary itself), install it
//! 0755 at the destination by an atomic rename.
//!
//! Everything happens in a scratch directory next to the destination, deleted on success and
//! on failure alike: a failed check leaves no partial file, and the destination only ever holds
//! verified bytes. Archive member names are shown in messages but never used as paths.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};

use super::http::{Http, Measured, hash_copy};
use super::lockfile::LockEntry;

/// The largest binary extracted from an archive (1 GiB): anything larger is refused.
pub const MAX_UNPACKED: u64 = 1 << 30;

/// The largest extension header (PAX, GNU long name) an archive may have before its binary.
pub const MAX_HEADER: u64 = 1 << 20;

/// Where the bytes come from besides the pinned URL.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A directory holding assets, looked up first: at `<version>/<target>/<asset name>` (a
    /// bucket's layout, where every platform's binary is called `claude`), else at `<asset
    /// name>`.
    pub mirror: Option<PathBuf>,
}

/// Fetches, verifies and installs the asset of `entry` at `out` (mode 0755).
pub fn acquire(
    entry: &LockEntry,
    out: &Path,
    sources: &Sources,
    http: &Http,
    cancelled: &AtomicBool,
) -> Result<()> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create directory `{}`", dir.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".parity-acquire-")
        .tempdir_in(dir)
        .with_context(|| {
            format!(
                "failed to create a scratch directory in `{}`",
                dir.display()
            )
        })?;
    let download = scratch.path().join("download");
    fetch_verified(entry, &download, sources, http, cancelled)?;
    let binary = if entry.asset_name.ends_with(".tar.gz") || entry.asset_name.ends_with(".tgz") {
        let binary = scratch.path().join("binary");
        extract_first_file(&download, &entry.asset_name, &binary, MAX_UNPACKED)?;
        binary
    } else {
        download
    };
    install(&binary, out)
}

/// Puts the verified bytes of `entry` at `dest`: from the mirror when it has the asset, else
/// from the pinned URL. On any failure `dest` does not exist.
fn fetch_verified(
    entry: &LockEntry,
    dest: &Path,
    sources: &Sources,
    http: &Http,
    cancelled: &AtomicBool,
) -> Result<()> {
    let in_mirror = |m: &PathBuf| {
        let nested = m
            .join(&entry.version)
            .join(&entry.target_triple)
            .join(&entry.asset_name);
        [nested, m.join(&entry.asset_name)]
            .into_iter()
            .find(|p| p.is_file())
    };
    let result = match sources.mirror.as_ref().and_then(in_mirror) {
        Some(local) => from_mirror(entry, &local, dest, cancelled),
        None => from_url(entry, dest, http, cancelled),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

fn from_mirror(entry: &LockEntry, local: &Path, dest: &Path, cancelled: &AtomicBool) -> Result<()> {
    let what = format!("mirror file `{}`", local.display());
    let reader = File::open(local).with_context(|| format!("failed to read {what}"))?;
    let mut sink = create(dest)?;
    let measured = hash_copy(reader, &mut sink, entry.size_bytes, cancelled)
        .with_context(|| format!("failed to copy {what}"))?;
    let measured = measured.map_err(|_| over_limit(entry, &what))?;
    verify(entry, &measured, &what)?;
    sink.sync_all().context("failed to sync the download")
}

fn from_url(entry: &LockEntry, dest: &Path, http: &Http, cancelled: &AtomicBool) -> Result<()> {
    let what = format!("`{}`", entry.download_url);
    let measured = http
        .fetch_to(&entry.download_url, entry.size_bytes, cancelled, || {
            create(dest)
        })
        .with_context(|| {
            format!(
                "failed to download {what} (pinned: {} bytes, sha256 {})",
                entry.size_bytes, entry.sha256
            )
        })?;
    verify(entry, &measured, &what)?;
    File::open(dest)
        .and_then(|f| f.sync_all())
        .context("failed to sync the download")
}

fn create(path: &Path) -> Result<File> {
    File::create(path).with_context(|| format!("failed to create `{}`", path.display()))
}

fn over_limit(entry: &LockEntry, what: &str) -> anyhow::Error {
    anyhow!(
        "{what} does not match its pin: larger than the pinned {} bytes (sha256 {})",
        entry.size_bytes,
        entry.sha256
    )
}

/// Size first, then sha256; the message has the source, the expected and the actual values.
pub fn verify(entry: &LockEntry, got: &Measured, what: &str) -> Result<()> {
    if got.size != entry.size_bytes {
        bail!(
            "{what} does not match its pin: size mismatch: expected {} bytes (sha256 {}), got {} bytes (sha256 {})",
            entry.size_bytes,
            entry.sha256,
            got.size,
            got.sha256
        );
    }
    if got.sha256 != entry.sha256 {
        bail!(
            "{what} does not match its pin: sha256 mismatch: expected {}, actual {}",
            entry.sha256,
            got.sha256
        );
    }
    Ok(())
}

/// Writes the first regular-file member of the `.tar.gz` `archive` to `dest` (a fixed path:
/// the member's own name is never used). Directories before it are skipped; a link, device
/// or fifo before it, or a member larger than `max` bytes, is refused.
pub fn extract_first_file(archive: &Path, label: &str, dest: &Path, max: u64) -> Result<String> {
    let file = File::open(archive).with_context(|| format!("failed to open `{label}`"))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    // Raw: extension headers (PAX, GNU long names) come as members of their own, so their size
    // is checked before anything reads them (the tar crate would read them whole in memory).
    let entries = tar
        .entries()
        .with_context(|| format!("`{label}` is not a tar.gz archive"))?
        .raw(true);
    for member in entries {
        let mut member = member.with_context(|| format!("`{label}` is not a valid tar.gz"))?;
        let name = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        let kind = member.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            let size = member.header().size().unwrap_or(u64::MAX);
            if size > MAX_HEADER {
                bail!(
                    "`{label}`: an extension header of {size} bytes, over the limit of {MAX_HEADER} bytes"
                );
            }
            continue;
        }
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            bail!(
                "`{label}`: refusing member `{name}`: it is a {} (only regular files are extracted)",
                kind_name(kind)
            );
        }
        let size = member
            .header()
            .size()
            .with_context(|| format!("`{label}`: member `{name}` has an invalid size"))?;
        if size > max {
            bail!("`{label}`: member `{name}` is {size} bytes, over the limit of {max} bytes");
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)
            .with_context(|| format!("failed to create `{}`", dest.display()))?;
        let copied = std::io::copy(&mut (&mut member).take(max + 1), &mut out)
            .with_context(|| format!("`{label}`: failed to extract member `{name}`"))?;
        if copied > max {
            bail!("`{label}`: member `{name}` is over the limit of {max} bytes");
        }
        out.flush()
            .and_then(|()| out.sync_all())
            .with_context(|| format!("failed to write `{}`", dest.display()))?;
        return Ok(name);
    }
    bail!("`{label}` holds no regular file")
}

fn kind_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "fifo",
        _ => "special member",
    }
}

/// Makes `from` executable (0755), syncs it and renames it over `out`.
fn install(from: &Path, out: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(from, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("failed to make `{}` executable", from.display()))?;
    }
    std::fs::rename(from, out).with_context(|| format!("failed to install `{}`", out.display()))
}
