//! Helpers shared by the suite's test modules.
#![allow(dead_code)]

pub mod server;
