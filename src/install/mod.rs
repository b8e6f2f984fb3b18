//! Running the package managers: version detection, one file per manager, and
//! the process runner they share (sanitized environment, timeout, process
//! group). Used by the server on a miss and by the client's local fallback.

mod composer;
mod detect;
mod npm;
mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use detect::{HostTools, detect_host_tools};
pub use run::{RunError, run_logged};

use crate::protocol::{InstallOptions, Manager};

/// Everything an install needs besides the project folder.
#[derive(Debug, Clone)]
pub struct InstallSettings {
    /// Registry npm installs from (`--registry`); npm's default when `None`.
    pub npm_registry: Option<String>,
    /// Persistent download caches of the tools, so a miss does not refetch
    /// every tarball.
    pub tool_cache: PathBuf,
    pub timeout: Duration,
}

/// Runs the manager's install in `project` (which holds only the uploaded
/// files). Output goes to `log`; the tree lands in `project/<output_dir>`.
pub async fn install(
    manager: Manager,
    project: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    options: Option<&InstallOptions>,
    settings: &InstallSettings,
    log: &Path,
) -> Result<(), RunError> {
    let omit_dev = InstallOptions::omits_dev(options);
    let command = match manager {
        Manager::Npm => npm::command(project, files, omit_dev, settings),
        Manager::Composer => composer::command(project, omit_dev, settings),
    };
    run_logged(command, settings.timeout, log).await
}

/// A program with its argument vector and environment: never a shell string.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The environment every install starts from: nothing of the server's own
/// (no API keys, no cloud credentials), a private HOME and TMPDIR.
fn base_env(project: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "HOME".to_string(),
            project.join(".home").display().to_string(),
        ),
        (
            "TMPDIR".to_string(),
            project.join(".tmp").display().to_string(),
        ),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("CI".to_string(), "true".to_string()),
    ];
    if let Some(path) = std::env::var_os("PATH") {
        env.push(("PATH".to_string(), path.to_string_lossy().into_owned()));
    }
    env
}
