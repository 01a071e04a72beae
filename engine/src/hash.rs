//! Content digests (blake3) of files and directory trees, and the stat cache.
//!
//! The stat cache (`cache/stat`) maps a path to the (size, mtime, inode, ctime) it had when it
//! was hashed, and the digest; a no-op build stats files and rehashes nothing. Entries whose
//! mtime is too close to the moment the cache is written are not kept ("racy" entries, as git
//! does): a file could still change within the same timestamp tick.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::error::{Error, Result};
use crate::fsutil;

/// A blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Digest of a byte string.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Digest> {
        blake3::Hash::from_hex(s)
            .ok()
            .map(|h| Digest(*h.as_bytes()))
    }
    /// The first 12 hex digits, for messages.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.short())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(blake3::Hash::from_bytes(self.0).to_hex().as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// What the lock records of an output or input: digest and size. For a directory the digest is
/// that of its tree manifest and the size the sum of its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FileDigest {
    /// blake3 of the content (or of the tree manifest).
    pub blake3: Digest,
    /// Bytes.
    pub size: u64,
}

/// Files at least this large are hashed with blake3's multi-threaded mmap update.
const LARGE_FILE: u64 = 16 << 20;

/// Hashes a file's content.
pub fn hash_file(path: &Path) -> std::io::Result<FileDigest> {
    let mut hasher = blake3::Hasher::new();
    let size = std::fs::metadata(path)?.len();
    if size >= LARGE_FILE {
        hasher.update_mmap_rayon(path)?;
    } else {
        hasher.update_reader(std::fs::File::open(path)?)?;
    }
    Ok(FileDigest {
        blake3: Digest(*hasher.finalize().as_bytes()),
        size,
    })
}

/// One file of a directory tree: path relative to the tree root (`/` separators), digest, mode.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeEntry {
    /// Relative path.
    pub path: String,
    /// Content digest and size.
    pub digest: FileDigest,
    /// Executable bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

/// The sorted file list of a directory (empty directories and symlinks are not part of it).
pub fn tree_entries(dir: &Path) -> std::io::Result<Vec<TreeEntry>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .map_err(std::io::Error::other)?;
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        out.push(TreeEntry {
            path: rel.join("/"),
            digest: hash_file(entry.path())?,
            executable: is_executable(&entry.metadata().map_err(std::io::Error::other)?),
        });
    }
    Ok(out)
}

/// The digest of a tree: blake3 over its canonical manifest.
pub fn tree_digest(entries: &[TreeEntry]) -> FileDigest {
    let manifest = serde_json::to_vec(entries).unwrap_or_default();
    FileDigest {
        blake3: Digest::of(&manifest),
        size: entries.iter().map(|e| e.digest.size).sum(),
    }
}

/// Whether a file's owner-execute bit is set (always false off Unix).
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o100 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// The identity of a file's current bytes as the filesystem tells it, without reading them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatKey {
    size: u64,
    mtime_ns: i128,
    ino: u64,
    ctime_ns: i128,
}

impl StatKey {
    fn of(meta: &std::fs::Metadata) -> StatKey {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            StatKey {
                size: meta.len(),
                mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
                ino: meta.ino(),
                ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128);
            StatKey {
                size: meta.len(),
                mtime_ns,
                ino: 0,
                ctime_ns: 0,
            }
        }
    }
}

/// A fast, non-cryptographic hasher (FxHash) for the engine's in-memory path maps: their keys
/// come from the workspace itself, so SipHash's flooding resistance buys nothing here.
#[derive(Clone, Copy, Default)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// Hashes files, consulting and updating the stat cache; memoizes within one run so a file that
/// is the input of many nodes is looked at once. Shared by the worker threads.
pub struct Hasher {
    file: PathBuf,
    base: PathBuf,
    entries: RwLock<FxHashMap<PathBuf, (StatKey, FileDigest)>>,
    memo: RwLock<FxHashMap<PathBuf, Option<FileDigest>>>,
    dirty: std::sync::atomic::AtomicBool,
}

impl Hasher {
    /// Loads the stat cache from `file` (a missing or unreadable cache is simply empty). Paths
    /// are recorded relative to `base` (the workspace), never absolute.
    pub fn load(file: PathBuf, base: PathBuf) -> Hasher {
        let entries = std::fs::read_to_string(&file)
            .map(|t| parse_stat_cache(&t))
            .unwrap_or_default();
        Hasher {
            file,
            base,
            entries: RwLock::new(entries),
            memo: RwLock::new(FxHashMap::default()),
            dirty: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Digest of the file or directory at `path`, `None` if it does not exist.
    pub fn digest(&self, path: &Path) -> Result<Option<FileDigest>> {
        if let Some(d) = self.memo.read().map_err(poisoned)?.get(path) {
            return Ok(*d);
        }
        let d = self.digest_uncached(path)?;
        self.memo
            .write()
            .map_err(poisoned)?
            .insert(path.to_path_buf(), d);
        Ok(d)
    }

    /// Forgets what this run learnt about `path` (it was just rewritten).
    ///
    /// Drops the path itself and its ancestors (a memoized directory digest that contains it);
    /// only a directory scans the memo for what lies below it, so rewriting files stays O(1)
    /// however much the run has hashed.
    pub fn invalidate(&self, path: &Path) {
        let Ok(mut memo) = self.memo.write() else {
            return;
        };
        for ancestor in path.ancestors() {
            memo.remove(ancestor);
        }
        if path.is_dir() {
            memo.retain(|p, _| !p.starts_with(path));
        }
    }

    /// Records a digest computed elsewhere (a file the engine itself just wrote).
    pub fn remember(&self, path: &Path, digest: FileDigest) {
        if let Ok(meta) = std::fs::metadata(path)
            && meta.is_file()
            && let Ok(mut entries) = self.entries.write()
        {
            entries.insert(self.rel(path), (StatKey::of(&meta), digest));
            self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Ok(mut memo) = self.memo.write() {
            memo.insert(path.to_path_buf(), Some(digest));
        }
    }

    fn digest_uncached(&self, path: &Path) -> Result<Option<FileDigest>> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        if meta.is_dir() {
            let entries = tree_entries(path).map_err(|e| Error::io("read", path, e))?;
            return Ok(Some(tree_digest(&entries)));
        }
        let key = StatKey::of(&meta);
        let rel = self.rel(path);
        if let Some((k, d)) = self.entries.read().map_err(poisoned)?.get(&rel)
            && *k == key
        {
            return Ok(Some(*d));
        }
        let digest = hash_file(path).map_err(|e| Error::io("read", path, e))?;
        self.entries
            .write()
            .map_err(poisoned)?
            .insert(rel, (key, digest));
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(digest))
    }

    fn rel(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.base).unwrap_or(path).to_path_buf()
    }

    /// Writes the stat cache back if anything was learnt. Racy entries are left out.
    pub fn save(&self) -> Result<()> {
        if !self.dirty.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let entries = self.entries.read().map_err(poisoned)?;
        let mut sorted: Vec<_> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut text = String::from("parity-stat-cache 1\n");
        for (path, (k, d)) in sorted {
            if now_ns - k.mtime_ns < 1_000_000_000 {
                continue;
            }
            let Some(p) = path.to_str() else { continue };
            text.push_str(&format!(
                "{} {} {} {} {} {}\n",
                d.blake3, k.size, k.mtime_ns, k.ino, k.ctime_ns, p
            ));
        }
        fsutil::write_atomic(&self.file, text.as_bytes())
    }
}

fn parse_stat_cache(text: &str) -> FxHashMap<PathBuf, (StatKey, FileDigest)> {
    let mut lines = text.lines();
    if lines.next() != Some("parity-stat-cache 1") {
        return FxHashMap::default();
    }
    lines
        .filter_map(|line| {
            let mut it = line.splitn(6, ' ');
            let digest = Digest::from_hex(it.next()?)?;
            let size = it.next()?.parse().ok()?;
            let mtime_ns = it.next()?.parse().ok()?;
            let ino = it.next()?.parse().ok()?;
            let ctime_ns = it.next()?.parse().ok()?;
            let path = PathBuf::from(it.next()?);
            Some((
                path,
                (
                    StatKey {
                        size,
                        mtime_ns,
                        ino,
                        ctime_ns,
                    },
                    FileDigest {
                        blake3: digest,
                        size,
                    },
                ),
            ))
        })
        .collect()
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("a worker thread panicked while holding the stat cache".into())
}
