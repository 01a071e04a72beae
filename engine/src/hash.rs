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

/// SHA-256 of `bytes`, lowercase hex: the digest release pins, snapshots and the remote
/// cache name bytes by (everything parity itself keys on is blake3).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

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
    /// Parses 64 hex digits (either case). A lock holds hundreds of thousands of them: a
    /// table lookup per digit, nothing allocated.
    pub fn from_hex(s: &str) -> Option<Digest> {
        const fn table() -> [u8; 256] {
            let mut t = [0xff; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                t[b'A' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        }
        const HEX: [u8; 256] = table();
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            if (hi | lo) & 0xf0 != 0 {
                return None;
            }
            *o = hi << 4 | lo;
        }
        Some(Digest(out))
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

/// Name -> digest, sorted by name: what the lock records of a node's inputs and outputs. A
/// sorted slice of exactly its length (a node has a handful: a `BTreeMap` allocates room for
/// eleven, a growing `Vec` for four), shared on clone (every fresh node hands its outputs to
/// its consumers), serialized as a JSON object exactly like a `BTreeMap`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestMap(std::sync::Arc<[(Box<str>, FileDigest)]>);

impl Default for DigestMap {
    fn default() -> Self {
        DigestMap(std::sync::Arc::new([]))
    }
}

impl DigestMap {
    /// The digest recorded for `name`.
    pub fn get(&self, name: &str) -> Option<&FileDigest> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// Records `digest` for `name`, returning the one it replaces.
    pub fn insert(&mut self, name: String, digest: FileDigest) -> Option<FileDigest> {
        let mut entries = self.0.to_vec();
        let old = match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, digest)),
            Err(i) => {
                entries.insert(i, (name.into(), digest));
                None
            }
        };
        self.0 = entries.into();
        old
    }

    /// Name and digest, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FileDigest)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// The names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| &**k)
    }

    /// The digests, in name order.
    pub fn values(&self) -> impl Iterator<Item = &FileDigest> {
        self.0.iter().map(|(_, v)| v)
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name))
    }
}

impl<K: Into<Box<str>>> FromIterator<(K, FileDigest)> for DigestMap {
    /// Like a `BTreeMap`: sorted, and a repeated name keeps its last digest.
    fn from_iter<I: IntoIterator<Item = (K, FileDigest)>>(iter: I) -> Self {
        let mut v: Vec<(Box<str>, FileDigest)> =
            iter.into_iter().map(|(k, d)| (k.into(), d)).collect();
        if !v.is_sorted_by(|a, b| a.0 < b.0) {
            v.reverse();
            v.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the last of equal names comes first
            v.dedup_by(|later, first| later.0 == first.0);
        }
        DigestMap(v.into())
    }
}

impl<'a> IntoIterator for &'a DigestMap {
    type Item = (&'a str, &'a FileDigest);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Box<str>, FileDigest)>,
        fn(&'a (Box<str>, FileDigest)) -> (&'a str, &'a FileDigest),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
}

impl serde::Serialize for DigestMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for DigestMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DigestMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of names to digests")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<DigestMap, A::Error> {
                let mut v = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = map.next_entry::<Box<str>, FileDigest>()? {
                    v.push(entry);
                }
                Ok(v.into_iter().collect())
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Files at least this large are hashed a piece at a time on the rayon pool.
const LARGE_FILE: u64 = 16 << 20;

/// How much of a large file is read and hashed at once.
const LARGE_PIECE: usize = 1 << 20;

/// Hashes a file's content.
///
/// A large file is read in pieces of 1 MiB, each hashed by all cores, not mapped
/// whole: a mapped file's pages count in the resident set while it is hashed, and the memo a
/// build writes hashes `pipeline.lock` (58 MB at 100k nodes: the build's peak was 274 MB
/// instead of 217).
pub fn hash_file(path: &Path) -> std::io::Result<FileDigest> {
    use std::io::Read;
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size >= LARGE_FILE {
        let mut piece = Vec::with_capacity(LARGE_PIECE);
        loop {
            piece.clear();
            if (&mut file)
                .take(LARGE_PIECE as u64)
                .read_to_end(&mut piece)?
                == 0
            {
                break;
            }
            hasher.update_rayon(&piece);
        }
    } else {
        hasher.update_reader(file)?;
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
    pub(crate) size: u64,
    /// Nanoseconds since the epoch, modulo 2^64 (exact from 1678 to 2262): 32 bytes a stat,
    /// not 48 with `i128`s. Files record them as `i128`.
    pub(crate) mtime_ns: i64,
    pub(crate) ino: u64,
    pub(crate) ctime_ns: i64,
}

impl StatKey {
    pub(crate) fn of(meta: &std::fs::Metadata) -> StatKey {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            StatKey {
                size: meta.len(),
                mtime_ns: meta
                    .mtime()
                    .wrapping_mul(1_000_000_000)
                    .wrapping_add(meta.mtime_nsec()),
                ino: meta.ino(),
                ctime_ns: meta
                    .ctime()
                    .wrapping_mul(1_000_000_000)
                    .wrapping_add(meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
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

fn path_key(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// What the [`Hasher`] knows of one path: a file's digest under the stat tuple it was computed
/// with (the stat cache), and whether this run has looked at the path. One table for both, keyed
/// once by the path relative to the workspace: a second table for the run's memo doubled the
/// memory of a large workspace's paths.
#[derive(Clone, Copy, Debug)]
struct Known {
    /// The stat tuple the digest was computed under (with `flags & CACHED`); the size is the
    /// digest's.
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    /// A file's digest (with `CACHED`), or what this run found (with `SEEN`, not `GONE`).
    digest: FileDigest,
    flags: u8,
    /// Where the path ends in the [`Table`]'s path bytes (set by the table; it fits in the
    /// padding after `flags`).
    end: u32,
}

/// A file's digest under its stat tuple, as the stat cache records it.
const CACHED: u8 = 1;
/// Looked at in this run: `digest` (or, with `GONE`, the path's absence) is current.
const SEEN: u8 = 2;
/// Looked at in this run and does not exist.
const GONE: u8 = 4;

impl Known {
    /// A file hashed under `stat`, looked at in this run.
    fn file(stat: &StatKey, digest: FileDigest) -> Known {
        Known {
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            ino: stat.ino,
            digest,
            flags: CACHED | SEEN,
            end: 0,
        }
    }

    /// What this run found at a path that is not a cached file: a directory's digest, or
    /// nothing.
    fn seen(digest: Option<FileDigest>) -> Known {
        Known {
            mtime_ns: 0,
            ctime_ns: 0,
            ino: 0,
            digest: digest.unwrap_or(FileDigest {
                blake3: Digest([0; 32]),
                size: 0,
            }),
            flags: if digest.is_some() { SEEN } else { SEEN | GONE },
            end: 0,
        }
    }

    /// The cached digest, if the file still has the stat tuple it was computed under.
    fn cached(&self, stat: &StatKey) -> Option<FileDigest> {
        (self.flags & CACHED != 0
            && self.mtime_ns == stat.mtime_ns
            && self.ctime_ns == stat.ctime_ns
            && self.ino == stat.ino
            && self.digest.size == stat.size)
            .then_some(self.digest)
    }

    fn stat(&self) -> StatKey {
        StatKey {
            size: self.digest.size,
            mtime_ns: self.mtime_ns,
            ino: self.ino,
            ctime_ns: self.ctime_ns,
        }
    }
}

/// The [`Hasher`]'s table of paths: what is known of each (in the order first recorded), the
/// paths' bytes one after another in one buffer, and an index of positions by path. A map
/// keyed by owned paths cost 88 bytes a slot plus an allocation per path; this is 72 bytes an
/// entry, the path's bytes, and 5 bytes an index slot (100k nodes: 31 -> 18 MB).
#[derive(Default)]
struct Table {
    index: hashbrown::HashTable<u32>,
    entries: Vec<Known>,
    paths: Vec<u8>,
}

fn path_hash(path: &[u8]) -> u64 {
    use std::hash::Hasher as _;
    let mut h = FxHasher::default();
    h.write(path);
    h.finish()
}

impl Table {
    fn with_capacity(entries: usize, path_bytes: usize) -> Table {
        Table {
            index: hashbrown::HashTable::with_capacity(entries),
            entries: Vec::with_capacity(entries),
            paths: Vec::with_capacity(path_bytes),
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The path of entry `i`.
    fn path(&self, i: usize) -> &[u8] {
        path_of(&self.entries, &self.paths, i)
    }

    fn position(&self, path: &[u8]) -> Option<usize> {
        self.index
            .find(path_hash(path), |&i| self.path(i as usize) == path)
            .map(|&i| i as usize)
    }

    fn get(&self, path: &[u8]) -> Option<&Known> {
        self.position(path).map(|i| &self.entries[i])
    }

    fn get_mut(&mut self, path: &[u8]) -> Option<&mut Known> {
        self.position(path).map(|i| &mut self.entries[i])
    }

    /// Records `known` for `path`, copying the path only the first time. A table whose paths
    /// would pass 4 GiB records nothing more (the path is then hashed again when asked).
    fn insert(&mut self, path: &[u8], mut known: Known) {
        if let Some(i) = self.position(path) {
            known.end = self.entries[i].end;
            self.entries[i] = known;
            return;
        }
        let (Ok(end), Ok(position)) = (
            u32::try_from(self.paths.len() + path.len()),
            u32::try_from(self.entries.len()),
        ) else {
            return;
        };
        let Table {
            index,
            entries,
            paths,
        } = self;
        index.insert_unique(path_hash(path), position, |&i| {
            path_hash(path_of(entries, paths, i as usize))
        });
        // A quarter more at a time, not twice as much: a table loaded at its saved size mostly
        // grows by the few paths a run adds (doubling cost 2 MB of 5 at 10k nodes).
        if entries.len() == entries.capacity() {
            entries.reserve_exact(entries.len() / 4 + 64);
        }
        if paths.capacity() - paths.len() < path.len() {
            paths.reserve_exact(paths.len() / 4 + path.len() + 1024);
        }
        paths.extend_from_slice(path);
        known.end = end;
        entries.push(known);
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (&[u8], &Known)> {
        (0..self.entries.len()).map(|i| (self.path(i), &self.entries[i]))
    }
}

fn path_of<'t>(entries: &[Known], paths: &'t [u8], i: usize) -> &'t [u8] {
    let start = i.checked_sub(1).map_or(0, |j| entries[j].end as usize);
    &paths[start..entries[i].end as usize]
}

/// Hashes files, consulting and updating the stat cache; memoizes within one run so a file that
/// is the input of many nodes is looked at once. Shared by the worker threads.
pub struct Hasher {
    file: PathBuf,
    base: PathBuf,
    known: RwLock<Table>,
    dirty: std::sync::atomic::AtomicBool,
}

impl Hasher {
    /// Loads the stat cache from `file`. A missing, unreadable, truncated or corrupt cache (its
    /// checksum does not match) is simply empty: it is never trusted. Paths are recorded
    /// relative to `base` (the workspace), never absolute.
    pub fn load(file: PathBuf, base: PathBuf) -> Hasher {
        let known = std::fs::File::open(&file)
            .ok()
            .and_then(|f| {
                let size = f.metadata().ok()?.len();
                decode_stat_cache(f, size)
            })
            .unwrap_or_default();
        Hasher::with(file, base, known)
    }

    /// A hasher that does not read the stat cache (it hashes every file it is asked about),
    /// for an evaluation of a few nodes: loading the cache of a whole large graph costs more
    /// than hashing their files. Its [`Hasher::save`] writes nothing.
    pub fn without_cache(base: PathBuf) -> Hasher {
        Hasher::with(PathBuf::new(), base, Table::default())
    }

    fn with(file: PathBuf, base: PathBuf, known: Table) -> Hasher {
        Hasher {
            file,
            base,
            known: RwLock::new(known),
            dirty: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Digest of the file or directory at `path`, `None` if it does not exist.
    pub fn digest(&self, path: &Path) -> Result<Option<FileDigest>> {
        let rel = self.rel(path);
        let cached = match self.known.read().map_err(poisoned)?.get(rel) {
            Some(k) if k.flags & SEEN != 0 => {
                return Ok((k.flags & GONE == 0).then_some(k.digest));
            }
            Some(k) => Some(*k),
            None => None,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.record(rel, Known::seen(None));
                return Ok(None);
            }
            Err(e) => return Err(Error::io("read", path, e)),
        };
        if meta.is_dir() {
            let entries = tree_entries(path).map_err(|e| Error::io("read", path, e))?;
            let digest = tree_digest(&entries);
            self.record(rel, Known::seen(Some(digest)));
            return Ok(Some(digest));
        }
        let stat = StatKey::of(&meta);
        if let Some(digest) = cached.and_then(|k| k.cached(&stat)) {
            self.record(rel, Known::file(&stat, digest));
            return Ok(Some(digest));
        }
        let digest = hash_file(path).map_err(|e| Error::io("read", path, e))?;
        self.record(rel, Known::file(&stat, digest));
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(digest))
    }

    /// [`Hasher::digest`] without remembering what it hashed: for a pass that asks about each
    /// path once (the racy files a memo vouches for), which would otherwise fill the table
    /// again after [`Hasher::restart`] emptied it.
    pub fn digest_transient(&self, path: &Path) -> Result<Option<FileDigest>> {
        if let Some(k) = self.known.read().map_err(poisoned)?.get(self.rel(path))
            && k.flags & SEEN != 0
        {
            return Ok((k.flags & GONE == 0).then_some(k.digest));
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let entries = tree_entries(path).map_err(|e| Error::io("read", path, e))?;
                Ok(Some(tree_digest(&entries)))
            }
            Ok(_) => hash_file(path)
                .map(Some)
                .map_err(|e| Error::io("read", path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Stores what is known of `rel`, allocating its key only the first time.
    fn record(&self, rel: &[u8], known: Known) {
        if let Ok(mut table) = self.known.write() {
            table.insert(rel, known);
        }
    }

    /// Forgets what this run learnt about `path` (it was just rewritten).
    ///
    /// Drops the path itself and its ancestors (a memoized directory digest that contains it);
    /// only a directory scans the table for what lies below it, so rewriting files stays O(1)
    /// however much the run has hashed.
    pub fn invalidate(&self, path: &Path) {
        let Ok(mut map) = self.known.write() else {
            return;
        };
        for ancestor in path.ancestors() {
            if let Some(k) = map.get_mut(self.rel(ancestor)) {
                k.flags &= !(SEEN | GONE);
            }
        }
        if path.is_dir() {
            let dir = self.rel(path);
            for i in 0..map.len() {
                if dir.is_empty() || is_under(map.path(i), dir) {
                    map.entries[i].flags &= !(SEEN | GONE);
                }
            }
        }
    }

    /// Records a digest computed elsewhere (a file the engine itself just wrote).
    pub fn remember(&self, path: &Path, digest: FileDigest) {
        let known = match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {
                self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
                Known::file(&StatKey::of(&meta), digest)
            }
            _ => Known::seen(Some(digest)),
        };
        self.record(self.rel(path), known);
    }

    /// The stat cache's key of `path`: relative to the workspace. Compares bytes (a no-op
    /// asks for every input and output; `Path::strip_prefix` walks components).
    fn rel<'p>(&self, path: &'p Path) -> &'p [u8] {
        let (p, base) = (path_key(path), path_key(&self.base));
        let is_sep = |c: &u8| std::path::is_separator((*c).into());
        match p.strip_prefix(base) {
            Some(rest) if base.last().is_some_and(is_sep) || rest.first().is_some_and(is_sep) => {
                let start = rest.iter().take_while(|c| is_sep(c)).count();
                &rest[start..]
            }
            _ => p,
        }
    }

    /// Forgets everything, after [`Hasher::save`]: the stat cache and what this run learnt (and
    /// gives their memory back; a later `save` writes nothing). It then hashes every file it is
    /// asked about, as a run that reloaded the saved cache would hash every racy one: for the
    /// memo a build writes, which asks only about racy files.
    pub fn restart(&self) {
        self.dirty
            .store(false, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut table) = self.known.write() {
            *table = Table::default();
        }
    }

    /// Writes the stat cache back if anything was learnt. Racy entries are left out.
    pub fn save(&self) -> Result<()> {
        if !self.dirty.load(std::sync::atomic::Ordering::Relaxed)
            || self.file.as_os_str().is_empty()
        {
            return Ok(());
        }
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let map = self.known.read().map_err(poisoned)?;
        // Positions, not (path, entry) pairs: 4 bytes an entry, not 24.
        let mut kept: Vec<u32> = (0..map.len() as u32)
            .filter(|&i| {
                let k = &map.entries[i as usize];
                k.flags & CACHED != 0 && now_ns - i128::from(k.mtime_ns) >= 1_000_000_000
            })
            .collect();
        kept.sort_unstable_by(|&a, &b| map.path(a as usize).cmp(map.path(b as usize)));
        fsutil::write_atomic_streamed(&self.file, true, |sink| {
            let mut out = fsutil::Summed::new(sink, &self.file);
            encode_stat_cache(&map, &kept, &mut out)?;
            out.finish()?;
            Ok(true)
        })?;
        Ok(())
    }
}

/// Whether the path `p` is `dir` or lies below it (both as [`path_key`] bytes).
fn is_under(p: &[u8], dir: &[u8]) -> bool {
    p.starts_with(dir)
        && (p.len() == dir.len()
            || dir
                .last()
                .is_some_and(|&c| std::path::is_separator(c.into()))
            || std::path::is_separator(p[dir.len()].into()))
}

/// The stat cache file: a versioned header, fixed-size records, and a blake3 checksum of
/// everything before it, so a torn or corrupt file is detected and ignored.
///
/// ```text
/// "parity-stat-cache\0" version:u32 count:u64
/// count x { path_len:u32 path digest:[u8;32] size:u64 mtime_ns:i128 ino:u64 ctime_ns:i128 }
/// blake3(all of the above):[u8;32]
/// ```
/// Integers are little-endian.
const STAT_MAGIC: &[u8] = b"parity-stat-cache\0";
const STAT_VERSION: u32 = 2;

fn encode_stat_cache(table: &Table, kept: &[u32], out: &mut fsutil::Summed<'_>) -> Result<()> {
    out.buf.extend_from_slice(STAT_MAGIC);
    out.buf.extend_from_slice(&STAT_VERSION.to_le_bytes());
    out.buf
        .extend_from_slice(&(kept.len() as u64).to_le_bytes());
    for &i in kept {
        let (path, known) = (table.path(i as usize), &table.entries[i as usize]);
        let (k, d) = (known.stat(), known.digest);
        let buf = &mut out.buf;
        buf.extend_from_slice(&(path.len() as u32).to_le_bytes());
        buf.extend_from_slice(path);
        buf.extend_from_slice(&d.blake3.0);
        buf.extend_from_slice(&k.size.to_le_bytes());
        buf.extend_from_slice(&i128::from(k.mtime_ns).to_le_bytes());
        buf.extend_from_slice(&k.ino.to_le_bytes());
        buf.extend_from_slice(&i128::from(k.ctime_ns).to_le_bytes());
        out.spill()?;
    }
    Ok(())
}

/// The entries of a stat cache file of `size` bytes read from `input`; `None` when it is not
/// one this version wrote, whole. Streamed: the entries are decoded as the bytes come, and
/// dropped if the checksum at the end does not match.
fn decode_stat_cache(mut input: impl std::io::Read, size: u64) -> Option<Table> {
    use std::io::{BufRead, Read};
    let body_len = size.checked_sub(32)?;
    let mut body = std::io::BufReader::with_capacity(
        1 << 16,
        Summing {
            inner: input.by_ref().take(body_len),
            sum: blake3::Hasher::new(),
        },
    );
    let mut take = |buf: &mut [u8]| body.read_exact(buf).ok();
    let mut magic = [0u8; STAT_MAGIC.len()];
    let mut word = [0u8; 4];
    let mut long = [0u8; 8];
    take(&mut magic)?;
    take(&mut word)?;
    if magic != STAT_MAGIC || u32::from_le_bytes(word) != STAT_VERSION {
        return None;
    }
    take(&mut long)?;
    let count = usize::try_from(u64::from_le_bytes(long)).ok()?;
    // Each record is at least 84 bytes: a lying count cannot make this reserve more than the
    // file holds.
    let body_bytes = usize::try_from(body_len).ok()?;
    let count_bound = count.min(body_bytes / 84);
    let mut map = Table::with_capacity(count_bound, body_bytes - count_bound * 84);
    // digest, size, mtime_ns, ino, ctime_ns
    let mut rest = [0u8; 32 + 8 + 16 + 8 + 16];
    let mut path = Vec::new();
    for _ in 0..count {
        take(&mut word)?;
        let len = u32::from_le_bytes(word) as usize;
        if len as u64 > body_len {
            return None;
        }
        path.resize(len, 0);
        take(&mut path)?;
        take(&mut rest)?;
        let mut r = Reader(&rest);
        let blake3 = Digest(r.take(32)?.try_into().ok()?);
        let size = r.u64()?;
        let key = StatKey {
            size,
            mtime_ns: r.i128()? as i64,
            ino: r.u64()?,
            ctime_ns: r.i128()? as i64,
        };
        let mut known = Known::file(&key, FileDigest { blake3, size });
        known.flags = CACHED;
        map.insert(&path, known);
    }
    // All of the body, nothing more, and the checksum of it.
    if !body.fill_buf().ok()?.is_empty() {
        return None;
    }
    let sum = body.into_inner().sum.finalize();
    let mut want = [0u8; 32];
    input.read_exact(&mut want).ok()?;
    let mut after = [0u8; 1];
    (sum.as_bytes() == &want && input.read(&mut after).ok()? == 0).then_some(map)
}

/// A reader that checksums what passes through it.
struct Summing<R> {
    inner: R,
    sum: blake3::Hasher,
}

impl<R: std::io::Read> std::io::Read for Summing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }
}

/// A cursor over a byte slice; every read is bounds-checked (the stat cache and the no-op memo
/// are read through it).
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.take(16)?.try_into().ok()?))
    }
    /// A u32 length, then that many bytes of UTF-8.
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("a worker thread panicked while holding the stat cache".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_hasher_hashes_again_what_it_had_memoized() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.txt");
        std::fs::write(&f, "one").unwrap();
        let hasher = Hasher::without_cache(dir.path().to_path_buf());
        let one = hasher.digest(&f).unwrap().unwrap();
        // Rewritten within the same second, same size: only the content tells.
        std::fs::write(&f, "two").unwrap();
        assert_eq!(
            hasher.digest(&f).unwrap(),
            Some(one),
            "memoized for the run"
        );
        assert_eq!(hasher.digest_transient(&f).unwrap(), Some(one), "memoized");
        hasher.restart();
        // A transient digest is the file's, and is not remembered.
        let two = hasher.digest_transient(&f).unwrap().unwrap();
        assert_eq!(two, hash_file(&f).unwrap());
        std::fs::write(&f, "six").unwrap();
        let six = hasher.digest_transient(&f).unwrap().unwrap();
        assert_eq!(six, hash_file(&f).unwrap());
        assert_eq!(hasher.digest(&f).unwrap(), Some(six));
        assert_ne!(two, one);
        assert_eq!(
            hasher.digest_transient(&dir.path().join("gone")).unwrap(),
            None
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_what_is_not_64_hex_digits() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(Digest::from_hex(&d.to_hex().to_uppercase()), Some(d));
        for bad in ["", "ab", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65)] {
            assert_eq!(Digest::from_hex(bad), None, "{bad}");
        }
    }

    /// A workspace with one file hashed once, its files old enough not to be racy, and the
    /// stat cache saved.
    fn saved_cache() -> (tempfile::TempDir, PathBuf, FileDigest) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, b"hello").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let h = Hasher::load(dir.path().join("stat"), dir.path().to_path_buf());
        let d = h.digest(&file).unwrap().unwrap();
        h.save().unwrap();
        (dir, file, d)
    }

    #[test]
    fn a_large_file_is_hashed_in_pieces_to_the_digest_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.bin");
        // Past the threshold, and not a whole number of pieces.
        let bytes: Vec<u8> = (0..LARGE_FILE as usize + LARGE_PIECE / 3)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&f, &bytes).unwrap();
        let d = hash_file(&f).unwrap();
        assert_eq!(d.blake3.0, *blake3::hash(&bytes).as_bytes());
        assert_eq!(d.size, bytes.len() as u64);
    }

    #[test]
    fn the_path_table_finds_every_path_after_growing_and_updates_in_place() {
        let mut t = Table::default();
        let name = |i: usize| format!("dir{}/file-{i}.txt", i % 7);
        let known = |i: usize| {
            Known::seen(Some(FileDigest {
                blake3: Digest([0; 32]),
                size: i as u64,
            }))
        };
        for i in 0..5000 {
            t.insert(name(i).as_bytes(), known(i));
        }
        // Updating keeps one entry and its path; prefixes and extensions are other paths.
        t.insert(name(42).as_bytes(), known(7));
        assert_eq!(t.len(), 5000);
        assert_eq!(t.get(name(42).as_bytes()).unwrap().digest.size, 7);
        for i in (0..5000).filter(|&i| i != 42) {
            assert_eq!(t.get(name(i).as_bytes()).unwrap().digest.size, i as u64);
        }
        assert!(t.get(b"dir0/file-0.tx").is_none());
        assert!(t.get(b"dir0/file-0.txt2").is_none());
        assert!(t.get(b"").is_none());
        let listed: Vec<(Vec<u8>, u64)> =
            t.iter().map(|(p, k)| (p.to_vec(), k.digest.size)).collect();
        assert_eq!(listed.len(), 5000);
        assert_eq!(
            listed[0],
            (name(0).into_bytes(), 0),
            "in the order first recorded"
        );
        assert_eq!(listed[42], (name(42).into_bytes(), 7));
        assert_eq!(listed[4999], (name(4999).into_bytes(), 4999));
        // The empty path (the workspace itself, as a directory input) is a path like another.
        t.insert(b"", known(1));
        assert_eq!(t.get(b"").unwrap().digest.size, 1);
        assert_eq!(t.get(name(4999).as_bytes()).unwrap().digest.size, 4999);
    }

    #[test]
    fn stat_cache_round_trips_with_relative_paths() {
        let (dir, file, d) = saved_cache();
        let bytes = std::fs::read(dir.path().join("stat")).unwrap();
        let map = decode_stat_cache(&bytes[..], bytes.len() as u64).unwrap();
        assert_eq!(map.len(), 1);
        let (key, known) = map.iter().next().unwrap();
        assert_eq!(key, b"a.txt", "recorded relative to the workspace");
        assert_eq!(known.digest, d);
        let h = Hasher::load(dir.path().join("stat"), dir.path().to_path_buf());
        assert_eq!(h.digest(&file).unwrap(), Some(d));
    }

    #[test]
    fn a_corrupt_stat_cache_is_ignored_not_trusted() {
        let (dir, file, _) = saved_cache();
        let stat = dir.path().join("stat");
        let good = std::fs::read(&stat).unwrap();
        // Lie about the digest of `a.txt`: flip one byte of its recorded digest.
        let mut bad = good.clone();
        let at = STAT_MAGIC.len() + 4 + 8 + 4 + b"a.txt".len();
        bad[at] ^= 0xff;
        assert!(
            decode_stat_cache(&bad[..], bad.len() as u64).is_none(),
            "checksum mismatch"
        );
        std::fs::write(&stat, &bad).unwrap();
        let h = Hasher::load(stat.clone(), dir.path().to_path_buf());
        assert_eq!(
            h.digest(&file).unwrap().unwrap().blake3,
            Digest::of(b"hello"),
            "the file is rehashed, the corrupt record is not used"
        );
        for cut in [0, 5, good.len() / 2, good.len() - 1] {
            assert!(
                decode_stat_cache(&good[..cut], cut as u64).is_none(),
                "truncated at {cut}"
            );
        }
        let mut old_version = good.clone();
        old_version[STAT_MAGIC.len()] = 1;
        let n = old_version.len() - 32;
        let sum = *blake3::hash(&old_version[..n]).as_bytes();
        old_version[n..].copy_from_slice(&sum);
        assert!(
            decode_stat_cache(&old_version[..], old_version.len() as u64).is_none(),
            "other version"
        );
    }

    #[test]
    fn digest_map_behaves_like_a_btree_map() {
        let d = |n: u8| FileDigest {
            blake3: Digest([n; 32]),
            size: n.into(),
        };
        let pairs = [("b", 1), ("a", 2), ("c", 3), ("a", 4)];
        let map: DigestMap = pairs.iter().map(|&(k, n)| (k.to_string(), d(n))).collect();
        let tree: std::collections::BTreeMap<String, FileDigest> =
            pairs.iter().map(|&(k, n)| (k.to_string(), d(n))).collect();
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            serde_json::to_string(&tree).unwrap()
        );
        assert_eq!(map.get("a"), Some(&d(4)));
        assert_eq!(map.get("z"), None);
        let back: DigestMap = serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
        assert_eq!(back, map);
        let mut m = DigestMap::default();
        assert_eq!(m.insert("b".into(), d(1)), None);
        assert_eq!(m.insert("a".into(), d(2)), None);
        assert_eq!(m.insert("b".into(), d(3)), Some(d(1)));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn stat_cache_keys_are_relative_to_the_workspace() {
        let h = |base: &str| Hasher::load(PathBuf::from("/nonexistent/stat"), base.into());
        assert_eq!(h("/w").rel(Path::new("/w/a/b.txt")), b"a/b.txt");
        assert_eq!(h("/w/").rel(Path::new("/w/a/b.txt")), b"a/b.txt");
        assert_eq!(h(".").rel(Path::new("./a/b.txt")), b"a/b.txt");
        assert_eq!(h("/w").rel(Path::new("/wx/b.txt")), b"/wx/b.txt");
        assert_eq!(h(".").rel(Path::new("../b.txt")), b"../b.txt");
        assert_eq!(h(".").rel(Path::new("a.txt")), b"a.txt");
    }

    #[test]
    fn invalidating_a_directory_drops_what_lies_below_it_only() {
        assert!(is_under(b"a/b/c", b"a/b"));
        assert!(is_under(b"a/b", b"a/b"));
        assert!(is_under(b"a/b/c", b"a/b/"));
        assert!(!is_under(b"a/bc", b"a/b"));
    }
}
