//! Errors that end a command, each with its documented exit code.

use std::process::ExitCode;

/// Exit codes, as `--help` and the README document them.
pub mod exit {
    // 0 is success: `ExitCode::SUCCESS`, not a constant of ours.
    /// Anything not listed below: I/O, a corrupt store, a bug.
    pub const FAILURE: u8 = 1;
    /// Bad command line or configuration (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The server could not be reached or kept failing, and no fallback ran.
    pub const UNREACHABLE: u8 = 3;
    /// The server refused our credentials (401).
    pub const AUTH: u8 = 4;
    /// The server refused the request (other 4xx), e.g. an unsupported version.
    pub const REJECTED: u8 = 5;
    /// The bundle failed verification (bad hash, unsafe path, truncated), or
    /// `admin verify` found corrupt blobs or bad indexes and did not repair them,
    /// or `store verify` could not remove what it found.
    pub const VERIFY: u8 = 6;
    /// The package manager failed (on the server, or in the local fallback).
    pub const INSTALL: u8 = 7;
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failure(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Verify(String),
    #[error("{0}")]
    Install(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Failure(_) => exit::FAILURE,
            CliError::Unreachable(_) => exit::UNREACHABLE,
            CliError::Auth(_) => exit::AUTH,
            CliError::Rejected(_) => exit::REJECTED,
            CliError::Verify(_) => exit::VERIFY,
            CliError::Install(_) => exit::INSTALL,
        })
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Failure(e.to_string())
    }
}
