//! The wrapper coverage manifest `wrapper_coverage.json` and its scope resolution (spec §3).
