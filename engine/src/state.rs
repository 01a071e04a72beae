//! Build state: `pipeline.lock` (committed) and the journal of a build in progress.
//!
//! `pipeline.lock` records, per node id (sorted), the action key, the rule, a digest of its
//! settings, the digests of its inputs and of its outputs. It is deterministic (no timestamps,
//! sorted, one node per line so diffs stay readable) and only changes when content changes.
//!
//! While a build runs, every completed node is appended to `cache/journal` (one JSON line, one
//! `write`), so a build that is interrupted or killed loses no completed node: the next command
//! replays the journal. At the end of a build the lock is rewritten atomically and the journal
//! removed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fingerprint::ActionKey;
use crate::fsutil;
use crate::hash::{Digest, DigestMap};

/// What the lock records of one node.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The action key of the build that produced the outputs.
    pub key: ActionKey,
    /// `rule@version`, shared by the entries of a rule ([`intern_rule`]).
    #[serde(deserialize_with = "deserialize_rule")]
    pub rule: std::sync::Arc<str>,
    /// Digest of params, config, env and epoch.
    pub settings: Digest,
    /// Input name -> digest.
    #[serde(default, skip_serializing_if = "DigestMap::is_empty")]
    pub inputs: DigestMap,
    /// Output name -> digest.
    pub outputs: DigestMap,
}

/// `rule` as a shared string: the entries of one rule (thousands in a large lock) hold one
/// allocation of its `rule@version`, not one each. A few rules per pipeline: each thread keeps
/// the ones it met in a short list.
pub fn intern_rule(rule: &str) -> std::sync::Arc<str> {
    thread_local! {
        static RULES: std::cell::RefCell<Vec<std::sync::Arc<str>>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    RULES.with_borrow_mut(|rules| {
        if let Some(r) = rules.iter().find(|r| ***r == *rule) {
            return r.clone();
        }
        let r: std::sync::Arc<str> = rule.into();
        // A pathological lock of distinct rules stops sharing past a bound, not growing it.
        if rules.len() < 64 {
            rules.push(r.clone());
        }
        r
    })
}

fn deserialize_rule<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<std::sync::Arc<str>, D::Error> {
    struct Rule;
    impl serde::de::Visitor<'_> for Rule {
        type Value = std::sync::Arc<str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a rule and its version")
        }
        fn visit_str<E: serde::de::Error>(self, rule: &str) -> std::result::Result<Self::Value, E> {
            Ok(intern_rule(rule))
        }
    }
    d.deserialize_str(Rule)
}

/// The recorded state of every node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    /// Node id -> entry.
    pub nodes: BTreeMap<String, LockEntry>,
    /// Entries read without being parsed ([`Lock::read_some`]): their JSON, verbatim, written
    /// back as they were unless [`Lock::nodes`] holds the same id.
    unparsed: BTreeMap<String, Box<str>>,
    /// Read by [`Lock::read_only`]: the other entries were dropped, so it is never written.
    partial: bool,
}

const LOCK_VERSION: u64 = 1;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LockDoc {
    version: u64,
    #[serde(default)]
    nodes: BTreeMap<String, LockEntry>,
}

impl Lock {
    /// Reads `pipeline.lock`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Lock> {
        Lock::read_some(path, &|_| true)
    }

    /// [`Lock::read`], parsing only the entries of the nodes `wanted` says: a build of a few
    /// targets of a large graph reads a few entries, and keeps the other lines as they are
    /// (they are written back verbatim). A lock laid out otherwise is parsed whole.
    pub fn read_some(path: &Path, wanted: &(dyn Fn(&str) -> bool + Sync)) -> Result<Lock> {
        match read_laid_out(path, wanted, true)? {
            Some(lock) => Ok(lock),
            None => Lock::read_strictly(path),
        }
    }

    /// The whole-document parse, for a lock not laid out as [`Lock::to_bytes`] writes it (and
    /// the precise error, if it is not valid).
    fn read_strictly(path: &Path) -> Result<Lock> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        let doc: LockDoc = serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("{e} (delete it and run `parity build` to regenerate it)"),
        })?;
        if doc.version != LOCK_VERSION {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "lock version {} is not supported (this parity writes version {LOCK_VERSION})",
                    doc.version
                ),
            });
        }
        Ok(Lock {
            nodes: doc.nodes,
            ..Lock::default()
        })
    }

    /// The entries of the nodes `wanted` says, for reading only (the others are not kept, and
    /// the lock refuses to be written): read line by line, so a status that evaluates a few
    /// nodes of a large graph never holds the whole file. A lock laid out otherwise is parsed
    /// whole ([`Lock::read_some`]).
    pub fn read_only(path: &Path, wanted: &(dyn Fn(&str) -> bool + Sync)) -> Result<Lock> {
        let mut lock = match read_laid_out(path, wanted, false)? {
            Some(lock) => lock,
            None => {
                let mut whole = Lock::read_strictly(path)?;
                whole.nodes.retain(|id, _| wanted(id));
                whole
            }
        };
        lock.partial = true;
        Ok(lock)
    }

    /// Drops the entries (parsed or not) of ids `keep` rejects; whether any was dropped.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) -> bool {
        let before = self.nodes.len() + self.unparsed.len();
        self.nodes.retain(|id, _| keep(id));
        self.unparsed.retain(|id, _| keep(id));
        self.nodes.len() + self.unparsed.len() != before
    }

    /// The lock's bytes: a JSON document with one node per line, sorted by node id.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out).expect("writing to memory");
        out
    }

    /// Streams [`Lock::to_bytes`] into `out`, one entry at a time.
    fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        write!(out, "{{\n  \"version\": {LOCK_VERSION},\n  \"nodes\": {{")?;
        // Both maps are sorted: merge them, a parsed entry replacing its unparsed line.
        let mut raw = self.unparsed.iter().peekable();
        let mut parsed = self.nodes.iter().peekable();
        let mut first = true;
        loop {
            let take_raw = match (raw.peek(), parsed.peek()) {
                (None, None) => break,
                (Some((r, _)), Some((p, _))) => match r.cmp(p) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Equal => {
                        raw.next();
                        false
                    }
                    std::cmp::Ordering::Greater => false,
                },
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            out.write_all(if first { b"\n    " } else { b",\n    " })?;
            first = false;
            if take_raw {
                let (id, json) = raw.next().expect("peeked");
                serde_json::to_writer(&mut *out, id)?;
                out.write_all(b": ")?;
                out.write_all(json.as_bytes())?;
            } else {
                let (id, entry) = parsed.next().expect("peeked");
                serde_json::to_writer(&mut *out, id)?;
                out.write_all(b": ")?;
                serde_json::to_writer(&mut *out, entry)?;
            }
        }
        out.write_all(if first { b"}\n}\n" } else { b"\n  }\n}\n" })
    }

    /// Writes the lock atomically, unless its bytes would not change. Streamed: neither the
    /// new bytes nor the old are held whole (a lock of 100,000 nodes is 58 MB).
    pub fn write(&self, path: &Path) -> Result<bool> {
        if self.partial {
            return Err(Error::Internal(format!(
                "a lock read in part (Lock::read_only) cannot be written to {}",
                path.display()
            )));
        }
        fsutil::write_atomic_if_changed(path, |out| self.write_to(out))
    }
}

/// One line of the lock: parsed, or kept as it is.
enum Line {
    Parsed(String, LockEntry),
    Raw(String, Box<str>),
}

impl Line {
    fn id(&self) -> &str {
        match self {
            Line::Parsed(id, _) | Line::Raw(id, _) => id,
        }
    }
}

/// [`parse_lines`] of the file at `path` (a missing file is an empty lock).
fn read_laid_out(
    path: &Path,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    keep_raw: bool,
) -> Result<Option<Lock>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Lock::default())),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    parse_lines(reader, size, wanted, keep_raw).map_err(|e| Error::io("read", path, e))
}

/// How many lines of a large lock are parsed at once, in parallel. A batch's lines and
/// entries are held together while it is parsed, in the reading threads' allocator arenas,
/// which keep the pages: batches of 4096 lines made a 10k-node build peak 0.6 MB higher.
const BATCH: usize = 1024;

/// The fast path of [`Lock::read`]: a lock laid out exactly as [`Lock::to_bytes`] writes it
/// (one node per line) is read a line at a time into one buffer, so the file is never held
/// whole; the entries `wanted` rejects are kept unparsed if `keep_raw`, else dropped without
/// a copy (a status after an edit reads a few entries of the lock). A large lock (`size`, the
/// file's, from [`crate::PARALLEL_MIN_BYTES`]) is parsed in parallel batches of lines; a small
/// one on this thread as it is read: starting the thread pool costs more than it saves there.
/// `Ok(None)` for anything else, which then takes the strict whole-document parse.
fn parse_lines(
    mut reader: impl std::io::BufRead,
    size: u64,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    keep_raw: bool,
) -> std::io::Result<Option<Lock>> {
    use rayon::prelude::*;
    let mut line = Vec::new();
    let mut next = |line: &mut Vec<u8>| -> std::io::Result<bool> {
        line.clear();
        Ok(reader.read_until(b'\n', line)? > 0)
    };
    let version = format!("  \"version\": {LOCK_VERSION},\n");
    for want in ["{\n", version.as_str()] {
        if !next(&mut line)? || line != want.as_bytes() {
            return Ok(None);
        }
    }
    if !next(&mut line)? {
        return Ok(None);
    }
    if line == b"  \"nodes\": {}\n" {
        let end = next(&mut line)? && line == b"}\n" && !next(&mut line)?;
        return Ok(end.then(Lock::default));
    }
    if line != b"  \"nodes\": {\n" {
        return Ok(None);
    }
    let parallel = size >= crate::PARALLEL_MIN_BYTES;
    // Entries gather in id order (checked) and become the maps at once: a map built from
    // sorted entries has full nodes, one built by inserting them has half-empty ones.
    let mut parsed: Vec<(String, LockEntry)> = if keep_raw {
        Vec::with_capacity((size / 256) as usize)
    } else {
        Vec::new()
    };
    let mut raw: Vec<(String, Box<str>)> = Vec::new();
    let mut last = String::new();
    let mut take = |line: Option<Option<Line>>| -> bool {
        let Some(line) = line else { return false };
        let Some(line) = line else { return true };
        // Sorted and unique, as written: otherwise let the strict parse decide.
        if !last.is_empty() && *last >= *line.id() {
            return false;
        }
        last.clear();
        last.push_str(line.id());
        match line {
            Line::Parsed(id, entry) => parsed.push((id, entry)),
            Line::Raw(id, json) => raw.push((id, json)),
        }
        true
    };
    let one = |line: &[u8]| parse_line(line, wanted, keep_raw);
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let flush = |batch: &mut Vec<Vec<u8>>, take: &mut dyn FnMut(_) -> bool| -> bool {
        if batch.is_empty() {
            return true;
        }
        let lines: Vec<Option<Option<Line>>> =
            batch.par_iter().with_min_len(64).map(|l| one(l)).collect();
        batch.clear();
        lines.into_iter().all(take)
    };
    // Every entry but the last ends with a comma: whether the one before did.
    let mut comma = None;
    loop {
        if !next(&mut line)? {
            return Ok(None);
        }
        if line == b"  }\n" {
            break;
        }
        let Some(entry) = line
            .strip_prefix(b"    ")
            .and_then(|l| l.strip_suffix(b"\n"))
        else {
            return Ok(None);
        };
        if comma == Some(false) {
            return Ok(None);
        }
        let entry = match entry.strip_suffix(b",") {
            Some(e) => {
                comma = Some(true);
                e
            }
            None => {
                comma = Some(false);
                entry
            }
        };
        if !parallel {
            if !take(one(entry)) {
                return Ok(None);
            }
            continue;
        }
        batch.push(entry.to_vec());
        if batch.len() >= BATCH && !flush(&mut batch, &mut take) {
            return Ok(None);
        }
    }
    if comma != Some(false)
        || !flush(&mut batch, &mut take)
        || !next(&mut line)?
        || line != b"}\n"
        || next(&mut line)?
    {
        return Ok(None);
    }
    Ok(Some(Lock {
        nodes: parsed.into_iter().collect(),
        unparsed: raw.into_iter().collect(),
        partial: false,
    }))
}

/// `"id": {entry}`, its entry parsed if `wanted`, else kept verbatim if `keep_raw` (else
/// `Some(None)`: then neither copied nor checked beyond being an object). `None`: not such a
/// line.
fn parse_line(
    line: &[u8],
    wanted: &(dyn Fn(&str) -> bool + Sync),
    keep_raw: bool,
) -> Option<Option<Line>> {
    let (id, entry) = split_line(line)?;
    // Still an object, so a garbled line takes the strict parse.
    if !(entry.starts_with(b"{") && entry.ends_with(b"}")) {
        return None;
    }
    if wanted(&id) {
        let entry = serde_json::from_slice(entry).ok()?;
        Some(Some(Line::Parsed(id.into_owned(), entry)))
    } else if keep_raw {
        let json = std::str::from_utf8(entry).ok()?;
        Some(Some(Line::Raw(id.into_owned(), json.into())))
    } else {
        Some(None)
    }
}

/// `"id": {entry}` split into the id (unescaped) and the entry. An id without a backslash
/// (every id parity writes) is a slice of the line; another takes the JSON parser.
fn split_line(line: &[u8]) -> Option<(std::borrow::Cow<'_, str>, &[u8])> {
    let quoted = line.strip_prefix(b"\"")?;
    let end = quoted.iter().position(|&b| b == b'"')?;
    let (id, rest) = if quoted[..end].contains(&b'\\') {
        let mut ids = serde_json::Deserializer::from_slice(line).into_iter::<String>();
        let id = ids.next()?.ok()?;
        (id.into(), &line[ids.byte_offset()..])
    } else {
        let id = std::str::from_utf8(&quoted[..end]).ok()?;
        (id.into(), &quoted[end + 1..])
    };
    Some((id, rest.strip_prefix(b": ")?))
}

/// One journal line (written borrowed, read owned).
#[derive(serde::Serialize, serde::Deserialize)]
struct JournalLine<I, E> {
    id: I,
    entry: E,
}

/// The append-only journal of a running build (`cache/journal`).
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
    last_sync: std::time::Instant,
}

impl Journal {
    /// Opens (creating) the journal for appending.
    pub fn open(path: &Path) -> Result<Journal> {
        std::fs::create_dir_all(fsutil::parent_dir(path))
            .map_err(|e| Error::io("create", fsutil::parent_dir(path), e))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            last_sync: std::time::Instant::now(),
        })
    }

    /// Appends a batch of completed nodes with a single `write` (a killed process loses
    /// nothing that was written; a torn last line is ignored by [`Journal::replay`]); fsyncs
    /// at most once a second, and at [`Journal::sync`].
    pub fn append<I: AsRef<str>>(&mut self, batch: &[(I, LockEntry)]) -> Result<()> {
        let mut lines = Vec::new();
        for (id, entry) in batch {
            serde_json::to_writer(
                &mut lines,
                &JournalLine {
                    id: id.as_ref(),
                    entry,
                },
            )
            .map_err(|e| Error::Internal(e.to_string()))?;
            lines.push(b'\n');
        }
        self.file
            .write_all(&lines)
            .map_err(|e| Error::io("write", &self.path, e))?;
        if self.last_sync.elapsed() > std::time::Duration::from_secs(1) {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes the journal to disk.
    pub fn sync(&mut self) -> Result<()> {
        self.last_sync = std::time::Instant::now();
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", &self.path, e))
    }

    /// The entries of a journal left by an earlier build, in order (later lines win). A line
    /// that does not parse (torn by a crash mid-write, or garbage, even bytes that are not
    /// UTF-8) is ignored: the journal only ever adds completed nodes, and its nodes are checked
    /// against their outputs on disk before they are trusted.
    pub fn replay(path: &Path) -> Result<Vec<(String, LockEntry)>> {
        let bytes = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        Ok(bytes
            .split(|&b| b == b'\n')
            .filter_map(|l| serde_json::from_slice::<JournalLine<String, LockEntry>>(l).ok())
            .map(|l| (l.id, l.entry))
            .collect())
    }

    /// Removes the journal (after its content reached `pipeline.lock`).
    pub fn remove(path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> LockEntry {
        LockEntry {
            key: Digest([n; 32]),
            rule: "command@1".into(),
            settings: Digest([0; 32]),
            inputs: DigestMap::default(),
            outputs: [(
                "out.txt".to_string(),
                crate::hash::FileDigest {
                    blake3: Digest([n; 32]),
                    size: 3,
                },
            )]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn lock_round_trips_and_is_sorted() {
        let mut lock = Lock::default();
        lock.nodes.insert("b".into(), entry(2));
        lock.nodes.insert("a@1".into(), entry(1));
        let bytes = lock.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.find("\"a@1\"").unwrap() < text.find("\"b\"").unwrap());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pipeline.lock");
        assert!(lock.write(&p).unwrap());
        assert!(
            !lock.write(&p).unwrap(),
            "unchanged bytes are not rewritten"
        );
        assert_eq!(Lock::read(&p).unwrap(), lock);
    }

    #[test]
    fn the_entries_of_one_rule_share_its_name_as_read() {
        let mut lock = Lock::default();
        for i in 0..3u8 {
            lock.nodes.insert(format!("n{i}"), entry(i));
        }
        let mut other = entry(9);
        other.rule = "snapshot@2".into();
        lock.nodes.insert("z".into(), other);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pipeline.lock");
        lock.write(&p).unwrap();
        let read = Lock::read(&p).unwrap();
        assert_eq!(read, lock);
        let rule = |id: &str| read.nodes[id].rule.clone();
        assert!(std::sync::Arc::ptr_eq(&rule("n0"), &rule("n2")));
        assert_eq!(&*rule("z"), "snapshot@2");
        assert!(!std::sync::Arc::ptr_eq(&rule("n0"), &rule("z")));
    }

    #[test]
    fn a_lock_formatted_otherwise_is_still_read_strictly() {
        let mut lock = Lock::default();
        lock.nodes.insert("b".into(), entry(2));
        lock.nodes.insert("a@1".into(), entry(1));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pipeline.lock");
        let v: serde_json::Value = serde_json::from_slice(&lock.to_bytes()).unwrap();
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        assert!(parse_small(&std::fs::read_to_string(&p).unwrap()).is_none());
        assert_eq!(Lock::read(&p).unwrap(), lock);

        // One bad digest on one line: the fast path declines, the strict parse names it.
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        let bad = text.replacen(&Digest([2; 32]).to_hex(), "zz", 1);
        std::fs::write(&p, &bad).unwrap();
        let err = Lock::read(&p).unwrap_err().to_string();
        assert!(err.contains("expected 64 hex digits"), "{err}");
        assert!(err.contains("line 5"), "{err}");

        // Lines out of order: not the layout `to_bytes` writes, so the strict parse reads it.
        let swapped = format!(
            "{{\n  \"version\": 1,\n  \"nodes\": {{\n    \"b\": {},\n    \"a@1\": {}\n  }}\n}}\n",
            serde_json::to_string(&entry(2)).unwrap(),
            serde_json::to_string(&entry(1)).unwrap()
        );
        assert!(parse_small(&swapped).is_none());
        std::fs::write(&p, &swapped).unwrap();
        assert_eq!(Lock::read(&p).unwrap(), lock);
    }

    /// The fast path's reading of `text`, every entry wanted, a line at a time (as a small
    /// lock is read).
    fn parse_small(text: &str) -> Option<Lock> {
        parse_lines(text.as_bytes(), 0, &|_| true, true).unwrap()
    }

    /// [`parse_small`] line by line, in parallel batches (as a large lock is read).
    fn parse_batched(text: &str) -> Option<Lock> {
        parse_lines(text.as_bytes(), crate::PARALLEL_MIN_BYTES, &|_| true, true).unwrap()
    }

    /// A lock of nodes `a`, `b` and `c`, written to `pipeline.lock` in a temp dir.
    fn written_abc() -> (Lock, tempfile::TempDir, std::path::PathBuf) {
        let mut lock = Lock::default();
        for (id, n) in [("a", 1), ("b", 2), ("c", 3)] {
            lock.nodes.insert(id.into(), entry(n));
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pipeline.lock");
        lock.write(&p).unwrap();
        (lock, dir, p)
    }

    #[test]
    fn entries_read_unparsed_are_written_back_verbatim() {
        let (mut lock, _dir, p) = written_abc();
        let some = Lock::read_some(&p, &|id| id == "b").unwrap();
        assert_eq!(some.nodes.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(some.to_bytes(), lock.to_bytes());
        let mut changed = some.clone();
        changed.nodes.insert("b".into(), entry(9));
        changed.nodes.insert("d".into(), entry(4));
        lock.nodes.insert("b".into(), entry(9));
        lock.nodes.insert("d".into(), entry(4));
        assert_eq!(changed.to_bytes(), lock.to_bytes());
        assert!(changed.retain(|id| id != "a"));
        lock.nodes.remove("a");
        assert_eq!(changed.to_bytes(), lock.to_bytes());
    }

    #[test]
    fn a_lock_read_in_part_holds_only_the_wanted_entries_and_is_never_written() {
        let (lock, _dir, p) = written_abc();
        let wanted = |id: &str| id != "b";
        let part = Lock::read_only(&p, &wanted).unwrap();
        assert_eq!(part.nodes.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(part.nodes["c"], entry(3));
        let err = format!("{:?}", part.write(&p).unwrap_err());
        assert!(err.contains("cannot be written"), "{err}");
        assert_eq!(Lock::read(&p).unwrap(), lock, "the lock is untouched");
        // Laid out otherwise (pretty-printed, empty): the strict parse, still in part.
        let v: serde_json::Value = serde_json::from_slice(&lock.to_bytes()).unwrap();
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        let part = Lock::read_only(&p, &wanted).unwrap();
        assert_eq!(part.nodes.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert!(part.write(&p).is_err());
        std::fs::write(&p, Lock::default().to_bytes()).unwrap();
        assert!(Lock::read_only(&p, &wanted).unwrap().nodes.is_empty());
        // A garbled file is an error, as for a whole read.
        std::fs::write(&p, "{\n  \"version\": 1,\n  \"nodes\": {\n    \"a\": {\n").unwrap();
        assert!(Lock::read_only(&p, &wanted).is_err());
    }

    #[test]
    fn a_large_lock_is_read_in_batches_and_any_disorder_or_stray_comma_declines() {
        let mut lock = Lock::default();
        for i in 0..(2 * BATCH + 7) {
            lock.nodes
                .insert(format!("n@{i:06}"), entry((i % 250) as u8));
        }
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        assert_eq!(parse_batched(&text), Some(lock.clone()));
        assert_eq!(parse_small(&text), Some(lock.clone()));
        // Two ids swapped across the first batch boundary.
        let (x, y) = (format!("n@{:06}", BATCH - 1), format!("n@{:06}", BATCH));
        let swapped = text.replace(&x, "SWAP").replace(&y, &x).replace("SWAP", &y);
        // A comma after the last entry; one missing in the middle.
        let trailing = text.replace("}}\n  }\n}", "}},\n  }\n}");
        let missing = text.replacen("}},\n", "}}\n", 5);
        for bad in [&swapped, &trailing, &missing] {
            assert!(parse_batched(bad).is_none());
            assert!(parse_small(bad).is_none());
        }
        // The strict parse reads the swapped one and the fast path agrees with it otherwise.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pipeline.lock");
        std::fs::write(&p, &text).unwrap();
        assert_eq!(Lock::read(&p).unwrap(), lock);
    }

    #[test]
    fn small_and_batched_reads_agree_on_wanted_entries_escaped_ids_and_garbled_lines() {
        let mut lock = Lock::default();
        for (id, n) in [("a", 1), ("b\"q", 2), ("c\\d", 3), ("e@1/2", 4), ("f", 5)] {
            lock.nodes.insert(id.into(), entry(n));
        }
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        let wanted = |id: &str| id != "b\"q" && id != "f";
        let batched = |text: &str, keep_raw| {
            parse_lines(
                text.as_bytes(),
                crate::PARALLEL_MIN_BYTES,
                &wanted,
                keep_raw,
            )
            .unwrap()
        };
        for keep_raw in [true, false] {
            let small = parse_lines(text.as_bytes(), 0, &wanted, keep_raw)
                .unwrap()
                .unwrap();
            assert_eq!(Some(&small), batched(&text, keep_raw).as_ref());
            assert_eq!(
                small.nodes.keys().collect::<Vec<_>>(),
                ["a", "c\\d", "e@1/2"]
            );
            assert_eq!(small.nodes["c\\d"], entry(3));
            let unparsed: Vec<_> = small.unparsed.keys().collect();
            assert_eq!(unparsed, if keep_raw { vec!["b\"q", "f"] } else { vec![] });
        }
        // Kept verbatim, the others are written back as they were.
        let kept = parse_lines(text.as_bytes(), 0, &wanted, true).unwrap();
        assert_eq!(kept.unwrap().to_bytes(), text.as_bytes());
        // An entry that is not an object declines, wanted or not, kept or dropped.
        for garbled in [
            text.replace("\"f\": {", "\"f\": ["),
            text.replace("\"a\": {", "\"a\": ["),
        ] {
            for keep_raw in [true, false] {
                let small = parse_lines(garbled.as_bytes(), 0, &wanted, keep_raw).unwrap();
                assert!(small.is_none());
                assert!(batched(&garbled, keep_raw).is_none());
            }
        }
    }

    #[test]
    fn empty_lock_is_valid_json() {
        let bytes = Lock::default().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(
            parse_small(std::str::from_utf8(&bytes).unwrap()),
            Some(Lock::default())
        );
    }

    #[test]
    fn journal_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal");
        let mut j = Journal::open(&p).unwrap();
        j.append(&[("a", entry(1))]).unwrap();
        j.append(&[("b", entry(2)), ("c", entry(3))]).unwrap();
        drop(j);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"id\":\"d\",\"entr").unwrap();
        let got = Journal::replay(&p).unwrap();
        assert_eq!(
            got.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }
}
