//! The single integration-test binary: one process shares the in-process npm
//! registry (started once) across every test module.

mod common;
mod fixtures;
