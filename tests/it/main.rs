//! Integration tests of the parity CLI.
