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

pub mod archive;
pub mod consume;
pub mod contract;
pub mod model;
pub mod nodes;

pub use nodes::register;
