//! Tests of the `union` rule.
