//! The `kiln` command's implementation, as a library so that tests can drive the spec-test runner
//! directly.

#![forbid(unsafe_code)]

pub mod commands;
pub mod wast_runner;
