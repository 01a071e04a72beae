//! Careful file operations: atomic writes, moving outputs into place, copying inputs.
//!
//! Every file the engine writes whole goes through [`write_atomic`] (fsynced),
//! [`write_atomic_unsynced`] (cache entries, verified on every read) or [`rename_into_place`]: a
//! reader (or a crash) sees the old content or the new one, never half of it. The journal is
//! appended to instead (`crate::state::Journal`), and downloads into the store are renamed in by
//! `tempfile` ([`crate::cache::LocalCache::put_reader`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path`: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_renamed(path, bytes, true)
}

/// Like [`write_atomic`] without the fsync: still all-or-nothing for readers and crashes of
/// the process, but a power loss may leave a torn file. Only for cache entries, which are
/// verified against their digest on every read and discarded when torn.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    write_renamed(path, bytes, false)
}

fn write_renamed(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let dir = parent_dir(path);
    let mut tmp = temp_file_beside(path).map_err(|e| Error::io("create a temp file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io("write", path, e))?;
    put_in_place(tmp, path, sync)
}

/// A new temp file in the directory of `path` (made if missing), with the mode `open(2)` would
/// give a file under the umask, not a temp file's 0600.
fn temp_file_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".parity-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(output_mode(false)));
    }
    builder.tempfile_in(dir)
}

/// Renames the written temp file `tmp` to `path`, after an fsync if `sync`.
fn put_in_place(tmp: tempfile::NamedTempFile, path: &Path, sync: bool) -> Result<()> {
    if sync {
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("write", path, e))?;
    }
    tmp.persist(path)
        .map_err(|e| Error::io("write", path, e.error))?;
    Ok(())
}

/// Writes what `produce` writes to `path` atomically (after an fsync if `sync`, see
/// [`write_atomic_unsynced`]), without holding the bytes: they go to a temp file beside `path`
/// through a buffer. When `produce` answers `false`, or fails, the temp file is removed and
/// `path` is left as it was. Returns what `produce` answered.
pub fn write_atomic_streamed(
    path: &Path,
    sync: bool,
    produce: impl FnOnce(&mut dyn Write) -> Result<bool>,
) -> Result<bool> {
    let dir = parent_dir(path);
    let tmp = temp_file_beside(path).map_err(|e| Error::io("create a temp file in", dir, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp);
    if !produce(&mut w)? {
        return Ok(false);
    }
    let tmp = w
        .into_inner()
        .map_err(|e| Error::io("write", path, e.into_error()))?;
    put_in_place(tmp, path, sync)?;
    Ok(true)
}

/// A writer of a file that ends with the blake3 checksum of everything before it (the stat
/// cache, the no-op memo): bytes gather in `buf`, go to the sink in pieces of about 64 KiB
/// ([`Summed::spill`]), and are checksummed on their way; [`Summed::finish`] appends the
/// checksum.
pub(crate) struct Summed<'w> {
    pub(crate) buf: Vec<u8>,
    sum: blake3::Hasher,
    sink: &'w mut dyn Write,
    /// Where the bytes go, for messages.
    path: &'w Path,
}

impl<'w> Summed<'w> {
    const PIECE: usize = 1 << 16;

    pub(crate) fn new(sink: &'w mut dyn Write, path: &'w Path) -> Summed<'w> {
        Summed {
            buf: Vec::with_capacity(Self::PIECE + 4096),
            sum: blake3::Hasher::new(),
            sink,
            path,
        }
    }

    /// Sends what gathered once it is a piece.
    pub(crate) fn spill(&mut self) -> Result<()> {
        if self.buf.len() >= Self::PIECE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.sum.update(&self.buf);
        self.sink
            .write_all(&self.buf)
            .map_err(|e| Error::io("write", self.path, e))?;
        self.buf.clear();
        Ok(())
    }

    /// Sends the rest, then the checksum.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.flush()?;
        let sum = self.sum.finalize();
        self.sink
            .write_all(sum.as_bytes())
            .map_err(|e| Error::io("write", self.path, e))
    }
}

/// Writes what `produce` writes to `path` like [`write_atomic`], unless it is exactly what
/// `path` holds: then nothing is written and the answer is `Ok(false)`. Streamed: the new
/// bytes are compared with the old file as they come, and a temp file is started only at the
/// first difference (with the old file's matching prefix copied into it), so neither version
/// is ever held whole in memory.
pub fn write_atomic_if_changed(
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<bool> {
    let mut w = IfChanged {
        path,
        old: std::fs::File::open(path).ok().map(std::io::BufReader::new),
        matched: 0,
        new: None,
    };
    produce(&mut w)
        .and_then(|()| w.close())
        .map_err(|e| Error::io("write", path, e))?;
    let Some(new) = w.new else {
        return Ok(false);
    };
    let tmp = new
        .into_inner()
        .map_err(|e| Error::io("write", path, e.into_error()))?;
    put_in_place(tmp, path, true)?;
    Ok(true)
}

/// [`write_atomic_if_changed`]'s writer: compares with the old file until the first
/// difference, then writes the temp file.
struct IfChanged<'a> {
    path: &'a Path,
    /// The old file, while everything so far matched it.
    old: Option<std::io::BufReader<std::fs::File>>,
    /// Bytes that matched it.
    matched: u64,
    /// The temp file, once something differed.
    new: Option<std::io::BufWriter<tempfile::NamedTempFile>>,
}

impl IfChanged<'_> {
    /// The temp file, holding the matched prefix of the old file.
    fn diverge(&mut self) -> std::io::Result<&mut std::io::BufWriter<tempfile::NamedTempFile>> {
        if self.new.is_none() {
            let mut new = std::io::BufWriter::with_capacity(1 << 16, temp_file_beside(self.path)?);
            if let Some(old) = self.old.take() {
                use std::io::{Read, Seek};
                let mut file = old.into_inner();
                file.seek(std::io::SeekFrom::Start(0))?;
                let copied = std::io::copy(&mut (&mut file).take(self.matched), &mut new)?;
                if copied != self.matched {
                    return Err(std::io::Error::other(
                        "the file changed while it was rewritten",
                    ));
                }
            }
            self.new = Some(new);
        }
        Ok(self.new.as_mut().expect("just made"))
    }

    /// After the last byte: a new content that is a strict prefix of the old differs too.
    fn close(&mut self) -> std::io::Result<()> {
        use std::io::BufRead;
        let ended = match &mut self.old {
            Some(old) => old.fill_buf()?.is_empty(),
            None => self.new.is_some(),
        };
        if !ended {
            self.diverge()?;
        }
        if let Some(new) = &mut self.new {
            new.flush()?;
        }
        Ok(())
    }
}

impl Write for IfChanged<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let mut rest = buf;
        if self.new.is_none()
            && let Some(old) = &mut self.old
        {
            while !rest.is_empty() {
                let have = old.fill_buf()?;
                let n = have.len().min(rest.len());
                if n == 0 || have[..n] != rest[..n] {
                    break;
                }
                old.consume(n);
                self.matched += n as u64;
                rest = &rest[n..];
            }
            if rest.is_empty() {
                return Ok(buf.len());
            }
        }
        self.diverge()?.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Moves `from` (a file or a directory) to `to`, replacing what is there. Same filesystem:
/// a rename. Across filesystems: a copy into a temp sibling of `to`, then a rename. A replaced
/// directory is first moved aside and deleted after the new one is in place.
pub fn rename_into_place(from: &Path, to: &Path) -> Result<()> {
    let dir = parent_dir(to);
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let old_dir = if to.is_dir() && !to.is_symlink() {
        let aside = sibling_temp_path(to);
        std::fs::rename(to, &aside).map_err(|e| Error::io("move aside", to, e))?;
        Some(aside)
    } else {
        None
    };
    let moved = match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(_) => copy_then_rename(from, to),
    };
    if let Err(e) = moved {
        if let Some(aside) = &old_dir {
            let _ = std::fs::rename(aside, to);
        }
        return Err(e);
    }
    if let Some(aside) = old_dir {
        let _ = std::fs::remove_dir_all(aside);
    }
    Ok(())
}

fn copy_then_rename(from: &Path, to: &Path) -> Result<()> {
    let tmp = sibling_temp_path(to);
    copy_tree(from, &tmp).inspect_err(|_| {
        let _ = remove_any(&tmp);
    })?;
    std::fs::rename(&tmp, to).map_err(|e| {
        let _ = remove_any(&tmp);
        Error::io("rename into", to, e)
    })
}

fn sibling_temp_path(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        ".parity-tmp-{}-{}-{name}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    parent_dir(to).join(unique)
}

/// Copies a file (with its permissions) or a whole directory tree.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| Error::io("create", to, e))?;
        let entries = std::fs::read_dir(from).map_err(|e| Error::io("read", from, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read", from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| Error::io("copy", from, e))
    }
}

/// Removes a file or a directory tree; a missing path is fine.
pub fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Where the input or output called `name` lives: `{cache}/path` below `cache`, any other
/// `path` below `root` (the workspace, a sandbox, a slot: each has the two).
pub fn name_path(root: &Path, cache: &Path, name: &str) -> PathBuf {
    match name.strip_prefix("{cache}/") {
        Some(rest) => join_rel(cache, rest),
        None => join_rel(root, name),
    }
}

/// Joins a `/`-separated relative path onto `base`.
pub fn join_rel(base: &Path, rel: &str) -> PathBuf {
    let mut p = PathBuf::with_capacity(base.as_os_str().len() + rel.len() + 1);
    p.push(base);
    for part in rel.split('/').filter(|s| !s.is_empty()) {
        p.push(part);
    }
    p
}

/// The first directory on the way from `base` to the `/`-separated relative path `rel` (its
/// parents, not `rel` itself) that is a symbolic link, if any: writing `rel` would then leave
/// `base`. Missing directories are fine (they are created as plain ones).
pub fn symlinked_dir(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut dir = base.to_path_buf();
    let mut parts = rel.split('/').filter(|s| !s.is_empty()).peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            break;
        }
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => return Some(dir),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// This process's umask (read once from `/proc/self/status` on Linux; `022` elsewhere or if
/// unreadable): reading it with `umask(2)` would change it for a moment under other threads.
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    })
}

/// The mode a file gets in the workspace: what `open(2)` would give it under the umask,
/// executable if `executable`. Outputs do not keep the private modes of temp files (0600).
pub fn output_mode(executable: bool) -> u32 {
    (if executable { 0o777 } else { 0o666 }) & !umask()
}

/// Gives `path` (a file, or a directory and everything in it) the modes files created by hand
/// would have under the umask, keeping each file's owner-executable bit.
pub fn normalize_modes(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in walkdir::WalkDir::new(path) {
            let entry = entry.map_err(|e| Error::io("read", path, std::io::Error::other(e)))?;
            let meta = entry
                .metadata()
                .map_err(|e| Error::io("read", entry.path(), std::io::Error::other(e)))?;
            let mode = if meta.is_dir() {
                output_mode(true)
            } else {
                output_mode(meta.permissions().mode() & 0o100 != 0)
            };
            if meta.permissions().mode() & 0o7777 != mode {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io("set permissions of", entry.path(), e))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` in pieces of `piece` bytes; whether it wrote and what the file holds.
    fn write_if_changed(path: &Path, text: &str, piece: usize) -> (bool, String) {
        let wrote = write_atomic_if_changed(path, |out| {
            for chunk in text.as_bytes().chunks(piece) {
                out.write_all(chunk)?;
            }
            Ok(())
        })
        .unwrap();
        (wrote, std::fs::read_to_string(path).unwrap())
    }

    #[test]
    fn a_streamed_write_leaves_an_identical_file_alone_and_replaces_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/f.json");
        let long = "0123456789".repeat(20_000);
        for piece in [1, 7, 1 << 20] {
            std::fs::remove_dir_all(dir.path().join("sub")).ok();
            assert_eq!(write_if_changed(&path, &long, piece), (true, long.clone()));
            let modified = |p: &Path| std::fs::metadata(p).map(|m| m.modified().unwrap()).unwrap();
            let before = modified(&path);
            assert_eq!(write_if_changed(&path, &long, piece), (false, long.clone()));
            assert_eq!(
                modified(&path),
                before,
                "an unchanged file is not rewritten"
            );
            // A difference in the middle, a shorter and a longer content.
            let mut middle = long.clone();
            middle.replace_range(100_000..100_001, "x");
            for text in [
                middle,
                long[..150_000].to_string(),
                format!("{long}!"),
                String::new(),
            ] {
                assert_eq!(write_if_changed(&path, &text, piece), (true, text.clone()));
                assert_eq!(write_if_changed(&path, &long, piece), (true, long.clone()));
            }
        }
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["f.json"], "no temp file is left behind");
    }
}
