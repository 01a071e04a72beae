//! Tests of the `retain` rule.
