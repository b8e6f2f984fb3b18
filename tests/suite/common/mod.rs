//! Fixtures shared by the integration tests.

pub mod crafted_server;
