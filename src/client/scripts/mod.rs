//! The lifecycle work a real install would have done, run by the client in
//! its own job after the tree is in place (restored, or installed by the
//! local fallback with scripts off): npm's dependency install scripts, bin
//! links and the root project's scripts; composer's autoloader (it depends on
//! the project's own sources, which the server never sees) and root scripts.
//! Same trust as the job's own `npm ci` / `composer install`: the job's user,
//! environment and configuration. See docs/scripts.md.

mod composer;
mod links;
mod npm;
mod npm_plan;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Instant;

use crate::client::ClientError;
use crate::protocol::{Manager, ValidRequest};

#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptOptions {
    /// `--ignore-scripts`: npm runs nothing, composer only rebuilds the
    /// autoloader (with scripts and plugins off).
    pub ignore: bool,
    /// Output only on failure, no summary line.
    pub quiet: bool,
    /// The restored tree's index says the server built it with its install
    /// scripts (in its container sandbox): npm has nothing left to run.
    pub built: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{name} is not valid JSON, so its scripts cannot be run: {source}")]
    Manifest {
        name: String,
        source: serde_json::Error,
    },
    #[error("could not start `{what}`: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("`{what}` failed ({status}); the tree is left in place. Its output ends with:\n{tail}")]
    Failed {
        what: String,
        status: ExitStatus,
        tail: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What ran, for the summary line.
struct Ran {
    what: String,
}

/// Runs what the install would have run in `dir`, whose tree is in place.
pub fn after_install(
    request: &ValidRequest,
    dir: &Path,
    options: ScriptOptions,
) -> Result<(), ClientError> {
    let started = Instant::now();
    let ran = match request.manager {
        Manager::Npm => npm::run(request, dir, options)?,
        Manager::Composer => composer::run(request, dir, options)?,
        // A cached pnpm tree has nothing left to run: the server refuses
        // trees with pending builds and projects with root install scripts.
        Manager::Pnpm => None,
        // The server caches no yarn tree with anything left to run (see
        // install::yarn::finish), and the local fallback ran yarn's own.
        Manager::Yarn => None,
    };
    if let Some(ran) = ran
        && !options.quiet
    {
        eprintln!(
            "ran {}, {}",
            ran.what,
            super::progress::seconds(started.elapsed())
        );
    }
    Ok(())
}

fn parse(request: &ValidRequest, name: &str) -> Result<Option<serde_json::Value>, ScriptError> {
    request
        .files
        .get(name)
        .map(|bytes| {
            serde_json::from_slice(bytes).map_err(|source| ScriptError::Manifest {
                name: name.to_string(),
                source,
            })
        })
        .transpose()
}
