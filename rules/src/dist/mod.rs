//! `dist`: parity's own release artifacts under `distribution-contract@1.0`
//! (`docs/distribution.md`), built by the dist pipeline (`dist/pipeline.toml`) and read back by
//! `parity dist resolve|verify|assets`.
//!
//! Map:
//! - [`contract`] the tuple, its paths and file names, the contract's constants.
//! - [`archive`]  reproducible `.tar.gz` and `.zip` writers.
//! - [`model`]    `manifest.json`, `checksums.json`, `index.json` and the release plan
//!   (`dist/release.toml`).
//! - [`nodes`]    the rules `dist-archive`, `dist-manifest`, `dist-provenance`,
//!   `dist-checksums`, `dist-index`.
//! - [`consume`]  resolve a tuple to exactly one row, verify its files, lay out release assets.
//! - [`ship`]     the release workflows' decisions: plan outputs, image tags, sums, Python
//!   files, the manifest list, the previous index, the published release read back.

pub mod archive;
pub mod consume;
pub mod contract;
pub mod model;
pub mod nodes;
pub mod ship;

pub use nodes::register;

use std::path::Path;

use anyhow::Context;

/// Writes a file of the dist tree or a release asset: atomically, and readable by everyone
/// (0644), as a release serves it.
pub fn write_public(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    parity_engine::fsutil::write_atomic(path, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("failed to make `{}` readable", path.display()))?;
    }
    Ok(())
}

/// [`write_public`] of a value as pretty JSON and a newline.
pub fn write_public_json<T: serde::Serialize + ?Sized>(
    path: &Path,
    value: &T,
) -> anyhow::Result<()> {
    write_public(path, crate::common::to_json_pretty(value)?.as_bytes())
}
