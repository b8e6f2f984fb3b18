//! Running the package managers: version detection, one file per manager, and
//! the process runner they share (sanitized environment, timeout, process
//! group); other local toolchains and the container runner for versions the
//! PATH tools lack. Used by the server on a miss and by the client's local
//! fallback.

mod composer;
pub mod container;
mod container_runtime;
mod detect;
pub mod node_tools;
pub(crate) mod npm;
pub(crate) mod pnpm;
pub(crate) mod pnpm_registries;
pub(crate) mod private;
mod run;
mod tool_unpack;
pub mod toolchain;
pub(crate) mod trusted;
pub mod unreachable;
pub mod yarn;
mod yarn_pnp;
mod yarn_private;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use container::{ContainerConfig, ContainerPlan};
pub use detect::{HostTools, detect_host_tools, detect_tool, find_on_path};
pub use private::{PrivateRegistries, RegistryCa, ScopeRegistry, parse_credentials};
pub use run::{RunError, run_logged};
pub use toolchain::{NodeToolchain, PhpToolchain, ToolchainRun};
pub use trusted::{AllowedHost, TrustedSources, Untrusted};

use crate::protocol::{InstallOptions, Manager, ValidRequest};

/// Everything an install needs besides the project folder.
#[derive(Debug, Clone)]
pub struct InstallSettings {
    /// Registry npm installs from (`--registry`); npm's default when `None`.
    pub npm_registry: Option<String>,
    /// Persistent download caches of the tools, so a miss does not refetch
    /// every tarball.
    pub tool_cache: PathBuf,
    pub timeout: Duration,
    /// What a server-side install may fetch from; checked before each one.
    pub sources: TrustedSources,
}

/// How an install gets the versions its key names.
#[derive(Debug, Clone)]
pub enum Runner {
    /// The tools on the server's PATH.
    Native,
    /// Another local toolchain (`--node-toolchain`, `--php-toolchain`).
    Toolchain(ToolchainRun),
    /// A container of exactly the requested versions.
    Container(Arc<ContainerConfig>, ContainerPlan),
    /// The PATH node running a yarn release file (`serve --yarn-release`).
    YarnRelease(Arc<yarn::YarnRelease>),
}

/// Runs the manager's install in `project` (which holds only the uploaded
/// files) through `runner`: the tools on PATH, another toolchain first on
/// PATH, or wrapped into `<runtime> run ... <image>`. Output goes to `log`;
/// the tree lands in `project/<output_dir>`.
pub async fn install_with(
    runner: &Runner,
    request: &ValidRequest,
    project: &Path,
    settings: &InstallSettings,
    log: &Path,
    tool: Option<&node_tools::ToolCli>,
) -> Result<(), RunError> {
    let manager = request.manager;
    let omit_dev = InstallOptions::omits_dev(request.options.as_ref());
    let scripts = InstallOptions::builds_scripts(request.options.as_ref());
    // The last line of defence: whatever decided the runner, a package's
    // script never runs on the server's own machine.
    if scripts && !matches!(runner, Runner::Container(..)) {
        return Err(RunError::Spawn {
            program: "npm".to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "install scripts run only inside the container sandbox, and this install \
would run outside one",
            ),
        });
    }
    // A script may write into npm's cache; the shared one would then serve
    // what it wrote to later installs. Built installs get their own.
    let private_cache;
    let settings = if scripts {
        let mut own = settings.clone();
        own.tool_cache = project.with_file_name("tool-cache");
        private_cache = own;
        &private_cache
    } else {
        settings
    };
    let command = match manager {
        Manager::Npm => {
            let npm = request.versions.get("npm").map(String::as_str);
            npm::command(project, &request.files, omit_dev, scripts, npm, settings)
        }
        Manager::Composer => composer::command(project, omit_dev, settings),
        Manager::Pnpm => {
            let Some(tool) = tool else {
                return Err(RunError::Spawn {
                    program: "pnpm".to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::Unsupported,
                        "pnpm installs run with the pnpm the tool cache provides, and none was given",
                    ),
                });
            };
            pnpm::command(project, omit_dev, tool, settings)
        }
        Manager::Yarn => {
            // A `--yarn-release` file, else the exact yarn the tool cache
            // gave (PATH or fetched), else the PATH one.
            let (program, prefix) = match (runner, tool) {
                (Runner::YarnRelease(release), _) => (
                    "node".to_string(),
                    vec![release.entry.display().to_string()],
                ),
                (_, Some(tool)) => (tool.program.clone(), tool.prefix.clone()),
                _ => ("yarn".to_string(), Vec::new()),
            };
            yarn::command(project, &request.files, program, prefix, omit_dev, settings)
        }
    };
    let private = settings.sources.private();
    if !private.is_empty() {
        // Container installs would need the config mounted; refused loudly
        // rather than run without the scopes and credentials.
        if let Runner::Container(config, _) = runner
            && settings.sources.uses_private(manager, &request.files)
        {
            return Err(RunError::Spawn {
                program: config.runtime.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "private registries are not passed to container installs yet",
                ),
            });
        }
        if !matches!(runner, Runner::Container(..)) {
            private
                .write_install_config(project)
                .map_err(|e| RunError::Log {
                    path: "the registry config beside the project".to_string(),
                    source: e,
                })?;
            if manager == Manager::Yarn {
                yarn_private::prepare(project, &request.files, settings).map_err(|source| {
                    RunError::Spawn {
                        program: "yarn".to_string(),
                        source,
                    }
                })?;
            }
        }
    }
    let (config, plan) = match runner {
        Runner::Native | Runner::YarnRelease(_) => {
            return run_logged(command, settings.timeout, log).await;
        }
        Runner::Toolchain(run) => {
            return run_logged(toolchain::apply(command, run), settings.timeout, log).await;
        }
        Runner::Container(config, plan) => (config, plan),
    };
    let name = container::unique_name();
    let refused = |message: String| RunError::Spawn {
        program: config.runtime.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    };
    // The runtime mounts these; they must exist and be the server's.
    for tool in ["npm", "composer", "pnpm-store", "yarn"] {
        std::fs::create_dir_all(settings.tool_cache.join(tool)).map_err(|e| RunError::Log {
            path: settings.tool_cache.display().to_string(),
            source: e,
        })?;
    }
    let spec = match manager {
        Manager::Npm => {
            let probe_log = log.with_extension("probe.log");
            let image_npm = config
                .image_npm(&plan.image, project, &probe_log, settings.timeout)
                .await?;
            config.npm_command(
                &name,
                plan,
                &image_npm,
                &command.args,
                settings.npm_registry.as_deref(),
                project,
                &settings.tool_cache,
            )
        }
        Manager::Composer => {
            config.composer_command(&name, plan, &command.args, project, &settings.tool_cache)
        }
        // The command built above, run by the image's node with the
        // fetched package mounted; only the folder the manager writes its
        // cache or store into is writable besides the project.
        Manager::Pnpm | Manager::Yarn => match tool.map(|t| &t.origin) {
            Some(node_tools::ToolOrigin::Cache(dir)) => {
                let cache = if manager == Manager::Pnpm {
                    "pnpm-store"
                } else {
                    "yarn"
                };
                let writable = settings.tool_cache.join(cache);
                config.node_manager_command(&name, plan, &command, dir, &[writable])
            }
            _ => Err(format!(
                "{manager} runs in a container only as the package fetched into the tool cache"
            )),
        },
    }
    .map_err(refused)?;
    tracing::info!(image = %plan.image, container = %name, "installing in a container");
    config.run(spec, &name, settings.timeout, log).await
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
