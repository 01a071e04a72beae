//! `versions.toml`: the version lists (`tracked`: built by the pipeline; `pinned`: pinned and
//! acquired) and the SOURCE_DATE_EPOCH of each version, edited in place (comments, order and
//! formatting kept) by `parity pin`.
//!
//! ```toml
//! tracked = ["0.92.0", "0.97.0"]
//! pinned = ["0.97.0"]
//!
//! [epoch]
//! "0.92.0" = 1769990400
//! ```

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use toml_edit::{DocumentMut, Item, Table, value};

use super::github::Version;

/// What [`track`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// The lists (keys) the version was added to, in the order given.
    pub added: Vec<String>,
    /// The epoch before, when there was one and it differed.
    pub epoch_was: Option<i64>,
    /// Whether the file was rewritten.
    pub changed: bool,
}

/// Adds `version` to each of the `keys` arrays (each kept in ascending order when it is) and
/// sets `epoch."{version}" = epoch`, in the TOML file `path` (created when missing). A table
/// under `epoch` (`[epoch.union]`: the stamps of one artifact of an adopted tree, see
/// [`crate::adopt`]) gets `"{version}" = epoch` too, unless it has the version already.
pub fn track(path: &Path, keys: &[&str], version: Version, epoch: i64) -> Result<Tracked> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", path.display())),
    };
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("failed to parse `{}`", path.display()))?;
    let name = version.to_string();
    let mut added = Vec::new();
    for key in keys {
        if add_to_array(&mut doc, key, &name).with_context(|| format!("in `{}`", path.display()))? {
            added.push(key.to_string());
        }
    }
    let epochs = doc
        .entry("epoch")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| anyhow!("`{}`: `epoch` is not a table", path.display()))?;
    let before = epochs.get(&name).and_then(|i| i.as_integer());
    if before != Some(epoch) {
        epochs.insert(&name, value(epoch));
    }
    let mut stamped = false;
    for (_, table) in epochs.iter_mut() {
        if let Some(table) = table.as_table_like_mut()
            && table.get(&name).is_none()
        {
            table.insert(&name, value(epoch));
            stamped = true;
        }
    }
    let changed = !added.is_empty() || before != Some(epoch) || stamped;
    if changed {
        parity_engine::fsutil::write_atomic(path, doc.to_string().as_bytes())?;
    }
    Ok(Tracked {
        added,
        epoch_was: before.filter(|&b| b != epoch),
        changed,
    })
}

/// The strings of the array `key` in the TOML file `path` (empty when the key is absent).
pub fn list(path: &Path, key: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    let doc: DocumentMut = text
        .parse()
        .with_context(|| format!("failed to parse `{}`", path.display()))?;
    let Some(item) = doc.get(key) else {
        return Ok(Vec::new());
    };
    let array = item
        .as_array()
        .ok_or_else(|| anyhow!("`{}`: `{key}` is not an array", path.display()))?;
    Ok(array
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect())
}

fn add_to_array(doc: &mut DocumentMut, key: &str, name: &str) -> Result<bool> {
    let array = doc
        .entry(key)
        .or_insert_with(|| value(toml_edit::Array::new()))
        .as_array_mut()
        .ok_or_else(|| anyhow!("`{key}` is not an array"))?;
    let versions: Vec<Option<Version>> = array
        .iter()
        .map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect();
    if array.iter().any(|v| v.as_str() == Some(name)) {
        return Ok(false);
    }
    let new: Version = name.parse()?;
    let sorted = versions.iter().all(Option::is_some) && versions.windows(2).all(|w| w[0] <= w[1]);
    let at = if sorted {
        versions
            .iter()
            .take_while(|v| v.as_ref().is_some_and(|v| *v < new))
            .count()
    } else {
        array.len()
    };
    array.insert(at, name);
    array.fmt();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("versions.toml");
        std::fs::write(
            &p,
            "# tracked versions\ntracked = [\"0.61.0\", \"0.97.0\"]\n\n[epoch]\n# the reference epoch\n\"0.61.0\" = 1\n\"0.97.0\" = 2\n",
        )
        .unwrap();
        let t = track(&p, &["tracked"], "0.92.0".parse().unwrap(), 5).unwrap();
        assert_eq!(
            (t.added, t.epoch_was, t.changed),
            (vec!["tracked".to_string()], None, true)
        );
        let t = track(&p, &["tracked"], "0.97.0".parse().unwrap(), 3).unwrap();
        assert_eq!((t.added, t.epoch_was, t.changed), (vec![], Some(2), true));
        let t = track(&p, &["tracked"], "0.97.0".parse().unwrap(), 3).unwrap();
        assert!(!t.changed);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# tracked versions\ntracked = [\"0.61.0\", \"0.92.0\", \"0.97.0\"]\n\n[epoch]\n# the reference epoch\n\"0.61.0\" = 1\n\"0.97.0\" = 3\n\"0.92.0\" = 5\n"
        );
    }

    #[test]
    fn a_new_version_gets_its_epoch_in_every_adopted_stamp_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("versions.toml");
        std::fs::write(
            &p,
            "tracked = [\"0.92.0\"]\n\n[epoch]\n\"0.92.0\" = 1\n\n[epoch.union]\n\"0.92.0\" = 7\n",
        )
        .unwrap();
        track(&p, &["tracked"], "0.97.0".parse().unwrap(), 5).unwrap();
        let doc: toml::Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
        assert_eq!(doc["epoch"]["0.97.0"].as_integer(), Some(5));
        assert_eq!(doc["epoch"]["union"]["0.97.0"].as_integer(), Some(5));
        assert_eq!(doc["epoch"]["union"]["0.92.0"].as_integer(), Some(7));
        assert!(
            !track(&p, &["tracked"], "0.97.0".parse().unwrap(), 5)
                .unwrap()
                .changed
        );
    }

    #[test]
    fn adds_to_every_list_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("versions.toml");
        std::fs::write(
            &p,
            "tracked = [\"0.61.0\", \"0.97.0\"]\n# none pinned yet\npinned = []\n\n[epoch]\n\"0.61.0\" = 1\n\"0.97.0\" = 2\n",
        )
        .unwrap();
        let keys = ["tracked", "pinned"];
        let t = track(&p, &keys, "0.97.0".parse().unwrap(), 2).unwrap();
        assert_eq!((t.added, t.epoch_was), (vec!["pinned".to_string()], None));
        let t = track(&p, &keys, "0.98.0".parse().unwrap(), 7).unwrap();
        assert_eq!(t.added, ["tracked", "pinned"]);
        assert!(
            !track(&p, &keys, "0.98.0".parse().unwrap(), 7)
                .unwrap()
                .changed
        );
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "tracked = [\"0.61.0\", \"0.97.0\", \"0.98.0\"]\n# none pinned yet\npinned = [\"0.97.0\", \"0.98.0\"]\n\n[epoch]\n\"0.61.0\" = 1\n\"0.97.0\" = 2\n\"0.98.0\" = 7\n"
        );
    }
}
