//! Tests of the `metadata` rule.
