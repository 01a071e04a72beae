//! Tests of the `validate` rule.
