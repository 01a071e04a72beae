//! Helpers of the snapshot tests: file trees, redaction of host-dependent fields, version probes.

use std::path::{Path, PathBuf};

/// Every file under `dir`, relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

/// A snapshot's host- and binary-dependent values replaced, byte layout kept.
pub fn redact(json: &str) -> String {
    let re = |p: &str| regex::Regex::new(p).unwrap();
    let s = re(r#""sha256": "[0-9a-f]{64}""#).replace(json, r#""sha256": "<sha256>""#);
    let s = re(r#""size_bytes": \d+"#).replace(&s, r#""size_bytes": 0"#);
    let s = re(r#""os": "[^"]*""#).replace(&s, r#""os": "<os>""#);
    re(r#""arch": "[^"]*""#)
        .replace(&s, r#""arch": "<arch>""#)
        .into_owned()
}

/// The semantic version a binary's `--version` prints (`0.92.0`, `2.1.29`).
pub fn version_of(binary: &Path) -> String {
    let out = std::process::Command::new(binary)
        .arg("--version")
        .env("DISABLE_AUTOUPDATER", "1")
        .output()
        .unwrap_or_else(|e| panic!("run {} --version: {e}", binary.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    let re = regex::Regex::new(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?").unwrap();
    re.find(&text)
        .unwrap_or_else(|| panic!("no version in {text:?}"))
        .as_str()
        .to_string()
}
