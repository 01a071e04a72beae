//! Helpers shared by every rule: byte-exact JSON writing, timestamps, command paths. (File
//! operations, digests and child processes are the engine's: `fsutil`, `hash`, `process`.)

use std::path::Path;

use anyhow::{Context, Result};
use parity_engine::fsutil;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// serde_json "pretty" output plus one trailing `\n`: the byte format of every JSON artifact
/// (spec §0.1).
pub fn to_json_pretty<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(value).context("failed to serialize JSON")?;
    s.push('\n');
    Ok(s)
}

/// Serializes `value` as pretty JSON + `\n` and writes it atomically (the engine's
/// [`fsutil::write_atomic`]: temp file in the same directory, fsync, rename).
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    Ok(fsutil::write_atomic(
        path,
        to_json_pretty(value)?.as_bytes(),
    )?)
}

/// Reads and parses a JSON file; errors name the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("failed to parse JSON: `{}`", path.display()))
}

/// The timestamp every rule stamps into its output (spec §0.3): `SOURCE_DATE_EPOCH` rendered
/// RFC 3339 UTC without fraction; when unset, the current time with up to 9 fractional digits
/// (trailing zeros trimmed). Deviation from the reference: an unparsable `SOURCE_DATE_EPOCH`
/// is an error instead of a silent fallback to the clock.
pub fn timestamp() -> Result<String> {
    match parity_engine::workspace::env_epoch()? {
        Some(secs) => epoch_to_rfc3339(secs),
        None => Ok(now_rfc3339()),
    }
}

/// The timestamp for a run whose SOURCE_DATE_EPOCH the caller knows (a pipeline node's epoch);
/// `None` falls back to [`timestamp`] (the environment, then the clock).
pub fn timestamp_for(epoch: Option<i64>) -> Result<String> {
    match epoch {
        Some(secs) => epoch_to_rfc3339(secs),
        None => timestamp(),
    }
}

/// `secs` since the Unix epoch as RFC 3339 UTC without fraction (`1970-01-01T00:00:00Z`).
/// Years past 9999 render as `1970-01-01T00:00:00Z`, as the reference does.
pub fn epoch_to_rfc3339(secs: i64) -> Result<String> {
    let ts = jiff::Timestamp::from_second(secs)
        .with_context(|| format!("invalid SOURCE_DATE_EPOCH `{secs}`: out of range"))?;
    let s = ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    if s.len() != 20 {
        return Ok("1970-01-01T00:00:00Z".to_string());
    }
    Ok(s)
}

/// The current UTC time, RFC 3339 with `Z` and up to 9 fractional digits, trailing zeros trimmed
/// (the fraction is omitted when zero).
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    let base = now.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = now.subsec_nanosecond();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// A command path rendered for messages: tokens joined by a space, or `<root>` for `[]`.
pub fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        "<root>".to_string()
    } else {
        path.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_renders_without_fraction() {
        assert_eq!(epoch_to_rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            epoch_to_rfc3339(1_700_000_000).unwrap(),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn pretty_json_has_trailing_newline_and_lowercase_escapes() {
        let s = to_json_pretty(&serde_json::json!({"b": "\u{1b}[1m", "a": []})).unwrap();
        assert_eq!(s, "{\n  \"a\": [],\n  \"b\": \"\\u001b[1m\"\n}\n");
    }
}
