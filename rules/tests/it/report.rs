//! Tests of the `report` rule.
