//! Tests of the `snapshot` rule.
