//! The local cache: a content-addressed store and an action cache, under `cache/`.
//!
//! - `cas/ab/abcdef…`: objects named by the blake3 of their bytes: a hard link to the output a
//!   rule produced where possible (no copy, no new inode), else a copy written atomically.
//!   Verified against their name on every read: a corrupt object (torn by a power loss, or
//!   edited in place through the workspace file it is linked to) is deleted and reported as
//!   missing, so the caller rebuilds instead of using it.
//! - `ac/<action key>`: what an action produced (output name -> digest, mode, tree).
//! - `parity gc --max-size` deletes least recently used objects (reads touch the mtime).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fingerprint::ActionKey;
use crate::fsutil;
use crate::graph::Output;
use crate::hash::{self, Digest, FileDigest, TreeEntry};

/// What an action produced for one output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputRecord {
    /// Digest of the file, or of the tree manifest for a directory.
    pub digest: FileDigest,
    /// Executable bit (files).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    /// The files of a directory output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<Vec<TreeEntry>>,
}

/// An action-cache entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActionEntry {
    /// Output name -> record.
    pub outputs: BTreeMap<String, OutputRecord>,
}

impl ActionEntry {
    /// Checks an entry before anything is restored from it, wherever it came from (the local
    /// action cache, which `actions/cache` may bring from elsewhere, or a remote cache): it names
    /// exactly `outputs` (`(name, is_dir)`), each with the shape its declaration says (a tree
    /// for a directory, none for a file); every tree path is a clean relative path (no `..`,
    /// `.`, empty or absolute part), listed once and in order, never both a file and the
    /// parent of another (`x.txt` and `x.txt/y`); and a directory's digest is that of its tree.
    pub fn validate<S: AsRef<str>>(
        &self,
        outputs: impl IntoIterator<Item = (S, bool)>,
    ) -> std::result::Result<(), String> {
        let mut declared = 0;
        for (name, dir) in outputs {
            let name = name.as_ref();
            declared += 1;
            let Some(rec) = self.outputs.get(name) else {
                return Err(format!("it lacks the output `{name}`"));
            };
            match (&rec.tree, dir) {
                (None, false) => {}
                (Some(tree), true) => check_tree(name, tree, &rec.digest)?,
                (Some(_), false) => return Err(format!("output `{name}` is a file, not a tree")),
                (None, true) => return Err(format!("output `{name}` is a directory, not a file")),
            }
        }
        if self.outputs.len() != declared {
            return Err("it names outputs the node does not declare".into());
        }
        Ok(())
    }
}

/// Whether `path` is a clean relative `/`-separated path.
pub fn is_clean_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path.split('/').all(|p| !matches!(p, "" | "." | ".."))
}

fn check_tree(
    name: &str,
    tree: &[TreeEntry],
    digest: &FileDigest,
) -> std::result::Result<(), String> {
    let mut files = std::collections::BTreeSet::new();
    for e in tree {
        if !is_clean_relative(&e.path) {
            return Err(format!("output `{name}` lists a bad path `{}`", e.path));
        }
        if !files.insert(e.path.as_str()) {
            return Err(format!("output `{name}` lists `{}` twice", e.path));
        }
    }
    for path in &files {
        let mut parent = path.rsplit_once('/').map(|(p, _)| p);
        while let Some(p) = parent {
            if files.contains(p) {
                return Err(format!(
                    "output `{name}` lists both the file `{p}` and `{path}` inside it"
                ));
            }
            parent = p.rsplit_once('/').map(|(p, _)| p);
        }
    }
    if hash::tree_digest(tree) != *digest {
        return Err(format!("output `{name}`: the tree digest does not match"));
    }
    Ok(())
}

/// Sizes before and after a garbage collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Bytes of objects before.
    pub before: u64,
    /// Bytes of objects after.
    pub after: u64,
    /// Objects deleted.
    pub deleted: usize,
}

/// The local cache rooted at `cache/`.
#[derive(Clone, Debug)]
pub struct LocalCache {
    dir: PathBuf,
}

impl LocalCache {
    /// A cache rooted at `dir` (created lazily).
    pub fn new(dir: PathBuf) -> LocalCache {
        LocalCache { dir }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn object_path(&self, d: &Digest) -> PathBuf {
        let hex = d.to_hex();
        self.dir.join("cas").join(&hex[..2]).join(hex)
    }

    pub(crate) fn action_path(&self, key: &ActionKey) -> PathBuf {
        self.dir.join("ac").join(key.to_hex())
    }

    /// Whether an object is present (not verified).
    pub fn has_object(&self, d: &Digest) -> bool {
        self.object_path(d).is_file()
    }

    /// Adds the file at `path`, whose digest is `digest`, to the store (no-op if present): a
    /// hard link to it where the filesystem allows (no copy, and no new inode, which is what
    /// creating files costs most on some disks), else a copy. An object shared so with a
    /// workspace file that is later edited in place no longer matches its name: every read
    /// verifies it, and discards it.
    pub fn put_file(&self, path: &Path, digest: &FileDigest) -> Result<()> {
        let dest = self.object_path(&digest.blake3);
        if dest.is_file() {
            return Ok(());
        }
        let dir = fsutil::parent_dir(&dest);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        match std::fs::hard_link(path, &dest) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(_) => {}
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        if Digest::of(&bytes) != digest.blake3 {
            return Err(Error::Internal(format!(
                "`{}` changed while it was stored",
                path.display()
            )));
        }
        fsutil::write_atomic_unsynced(&dest, &bytes)
    }

    /// Adds raw bytes, returning their digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<FileDigest> {
        let digest = FileDigest {
            blake3: Digest::of(bytes),
            size: bytes.len() as u64,
        };
        let dest = self.object_path(&digest.blake3);
        if !dest.is_file() {
            fsutil::write_atomic_unsynced(&dest, bytes)?;
        }
        Ok(digest)
    }

    /// Streams an object from `r` into the store, never holding it in memory: the bytes go to
    /// a temp file while they are hashed, and become the object only if they are exactly
    /// `want` (size and blake3). Reads at most one byte past the size. `false` if they are not.
    pub fn put_reader(&self, r: &mut dyn Read, want: &FileDigest) -> Result<bool> {
        let dest = self.object_path(&want.blake3);
        let dir = fsutil::parent_dir(&dest);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".parity-tmp-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("create a temp file in", dir, e))?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut len = 0u64;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("download", &dest, e)),
            };
            len += n as u64;
            if len > want.size {
                return Ok(false);
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| Error::io("write", tmp.path(), e))?;
        }
        if len != want.size || Digest(*hasher.finalize().as_bytes()) != want.blake3 {
            return Ok(false);
        }
        tmp.persist(&dest)
            .map_err(|e| Error::io("write", &dest, e.error))?;
        Ok(true)
    }

    /// The bytes of an object, verified; `None` if absent or corrupt (a corrupt object is deleted).
    pub fn get_bytes(&self, d: &Digest) -> Result<Option<Vec<u8>>> {
        let path = self.object_path(d);
        let mut bytes = Vec::new();
        match std::fs::File::open(&path) {
            Ok(mut f) => f
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io("read", &path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        if Digest::of(&bytes) != *d {
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        touch(&path);
        Ok(Some(bytes))
    }

    /// Writes the object `digest` to `dest` atomically (with the executable bit if asked),
    /// verifying it first. `false` if the object is absent or was corrupt (then deleted).
    pub fn restore_file(&self, digest: &FileDigest, executable: bool, dest: &Path) -> Result<bool> {
        let Some(bytes) = self.get_bytes(&digest.blake3)? else {
            return Ok(false);
        };
        if bytes.len() as u64 != digest.size {
            return Ok(false);
        }
        let dir = fsutil::parent_dir(dest);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".parity-tmp-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("create a temp file in", dir, e))?;
        tmp.write_all(&bytes)
            .map_err(|e| Error::io("write", dest, e))?;
        set_executable(tmp.path(), executable)?;
        tmp.persist(dest)
            .map_err(|e| Error::io("write", dest, e.error))?;
        Ok(true)
    }

    /// Stores the output at `path` (file or directory) and returns its record.
    pub fn store_output(&self, path: &Path) -> Result<OutputRecord> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
        if meta.is_dir() {
            let entries = hash::tree_entries(path).map_err(|e| Error::io("read", path, e))?;
            for e in &entries {
                self.put_file(&fsutil::join_rel(path, &e.path), &e.digest)?;
            }
            Ok(OutputRecord {
                digest: hash::tree_digest(&entries),
                executable: false,
                tree: Some(entries),
            })
        } else {
            let digest = hash::hash_file(path).map_err(|e| Error::io("read", path, e))?;
            self.put_file(path, &digest)?;
            Ok(OutputRecord {
                digest,
                executable: hash::is_executable(&meta),
                tree: None,
            })
        }
    }

    /// Materializes a recorded output at `dest` (through a temp sibling, then a rename).
    /// `false` if any object is missing or corrupt; nothing is left at `dest` then.
    pub fn restore_output(&self, rec: &OutputRecord, dest: &Path) -> Result<bool> {
        let Some(tree) = &rec.tree else {
            return self.restore_file(&rec.digest, rec.executable, dest);
        };
        let dir = fsutil::parent_dir(dest);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".parity-tmp-")
            .tempdir_in(dir)
            .map_err(|e| Error::io("create a temp dir in", dir, e))?;
        for e in tree {
            if !self.restore_file(
                &e.digest,
                e.executable,
                &fsutil::join_rel(tmp.path(), &e.path),
            )? {
                return Ok(false);
            }
        }
        fsutil::rename_into_place(&tmp.keep(), dest)?;
        Ok(true)
    }

    /// Records what an action produced.
    pub fn put_action(&self, key: &ActionKey, entry: &ActionEntry) -> Result<()> {
        let bytes = serde_json::to_vec(entry).map_err(|e| Error::Internal(e.to_string()))?;
        fsutil::write_atomic_unsynced(&self.action_path(key), &bytes)
    }

    /// What an action produced, if recorded, valid for a node declaring `outputs`
    /// ([`ActionEntry::validate`]) and every object it names is present. An entry that does not
    /// parse or validate is deleted: it is a miss, and the node runs.
    pub fn get_action(&self, key: &ActionKey, outputs: &[Output]) -> Option<ActionEntry> {
        let path = self.action_path(key);
        let bytes = std::fs::read(&path).ok()?;
        let entry = serde_json::from_slice::<ActionEntry>(&bytes)
            .ok()
            .filter(|e| {
                e.validate(outputs.iter().map(|o| (o.name(), o.dir)))
                    .is_ok()
            });
        let Some(entry) = entry else {
            self.remove_action(key);
            return None;
        };
        let complete = entry.outputs.values().all(|r| match &r.tree {
            Some(t) => t.iter().all(|e| self.has_object(&e.digest.blake3)),
            None => self.has_object(&r.digest.blake3),
        });
        complete.then_some(entry)
    }

    /// Deletes the entry of `key` (it could not be restored from); a missing one is fine.
    pub fn remove_action(&self, key: &ActionKey) {
        let _ = std::fs::remove_file(self.action_path(key));
    }

    /// Deletes least recently used objects until the store holds at most `max_size` bytes.
    pub fn gc(&self, max_size: u64) -> Result<GcStats> {
        let cas = self.dir.join("cas");
        let mut objects = Vec::new();
        if cas.is_dir() {
            for entry in walkdir::WalkDir::new(&cas).min_depth(2).max_depth(2) {
                let entry = entry.map_err(|e| Error::io("read", &cas, std::io::Error::other(e)))?;
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::io("read", entry.path(), std::io::Error::other(e)))?;
                let used = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                objects.push((used, meta.len(), entry.into_path()));
            }
        }
        objects.sort();
        let before: u64 = objects.iter().map(|o| o.1).sum();
        let mut stats = GcStats {
            before,
            after: before,
            deleted: 0,
        };
        for (_, len, path) in objects {
            if stats.after <= max_size {
                break;
            }
            std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
            stats.after -= len;
            stats.deleted += 1;
        }
        Ok(stats)
    }
}

/// Marks an object used (its mtime orders `gc`), unless it is linked to a workspace file,
/// whose stat tuple must not change (and which keeps it in use anyway).
fn touch(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata(path).is_ok_and(|m| m.nlink() > 1) {
            return;
        }
    }
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

fn set_executable(path: &Path, executable: bool) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fsutil::output_mode(executable);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, executable);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_object_is_detected_and_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalCache::new(dir.path().join("cache"));
        let d = cache.put_bytes(b"hello").unwrap();
        let obj = cache.object_path(&d.blake3);
        std::fs::write(&obj, b"hellO").unwrap();
        let dest = dir.path().join("out.txt");
        assert!(!cache.restore_file(&d, false, &dest).unwrap());
        assert!(!obj.exists(), "the corrupt object is deleted");
        assert!(!dest.exists(), "nothing is written from a corrupt object");
    }

    #[test]
    fn directory_outputs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalCache::new(dir.path().join("cache"));
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/help.txt"), "x").unwrap();
        std::fs::write(src.join("top.txt"), "y").unwrap();
        let rec = cache.store_output(&src).unwrap();
        let dest = dir.path().join("dest");
        assert!(cache.restore_output(&rec, &dest).unwrap());
        assert_eq!(
            std::fs::read_to_string(dest.join("a/b/help.txt")).unwrap(),
            "x"
        );
        assert_eq!(cache.store_output(&dest).unwrap().digest, rec.digest);
    }

    #[test]
    fn gc_keeps_the_store_under_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalCache::new(dir.path().join("cache"));
        for i in 0..10u8 {
            cache.put_bytes(&[i; 100]).unwrap();
        }
        let stats = cache.gc(450).unwrap();
        assert_eq!(stats.before, 1000);
        assert!(stats.after <= 450);
        assert_eq!(stats.deleted, 6);
    }
}
