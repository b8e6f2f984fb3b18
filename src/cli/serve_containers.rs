//! The `serve` flags for versions beyond the PATH tools: other local
//! toolchains and the container fallback, resolved and checked at start-up
//! so that a misconfiguration stops the server instead of failing requests.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::error::CliError;
use crate::install::container::{
    ContainerConfig, DEFAULT_NODE_IMAGE, DEFAULT_PHP_IMAGE, pick_runtime, runtime_answers,
};
use crate::install::toolchain::{detect_node, detect_php, parse_spec};
use crate::install::{NodeToolchain, PhpToolchain, find_on_path};

/// Where the server may run packages' install scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BuildScripts {
    /// Nowhere: trees are `npm ci --ignore-scripts`; clients run the scripts.
    #[default]
    None,
    /// In the install container sandbox, for requests that ask
    /// (`fetch --server-scripts`); needs a container runtime.
    Container,
}

#[derive(Debug, Args)]
pub struct ContainerArgs {
    /// Run npm install scripts on the server, inside the container sandbox,
    /// for clients that ask (fetch --server-scripts); see docs/scripts.md.
    #[arg(long, value_enum, default_value_t = BuildScripts::None, value_name = "WHERE")]
    pub build_scripts: BuildScripts,
    /// Another node toolchain: VERSION=DIR with DIR/bin/node and DIR/bin/npm (repeatable).
    #[arg(long, value_name = "VERSION=DIR")]
    pub node_toolchain: Vec<String>,
    /// Another PHP: VERSION=DIR with DIR/bin/php (and DIR/bin/composer, else the PATH's) (repeatable).
    #[arg(long, value_name = "VERSION=DIR")]
    pub php_toolchain: Vec<String>,
    /// docker or podman (default: docker, else podman, whichever answers).
    #[arg(long, value_name = "RUNTIME")]
    pub container_runtime: Option<String>,
    /// Image for node containers; {version} is the node version.
    #[arg(long, default_value = DEFAULT_NODE_IMAGE, value_name = "TEMPLATE")]
    pub node_image: String,
    /// Image for PHP containers; {version} is the PHP version.
    #[arg(long, default_value = DEFAULT_PHP_IMAGE, value_name = "TEMPLATE")]
    pub php_image: String,
    /// composer.phar mounted read-only into PHP containers (they need one).
    #[arg(long, value_name = "FILE")]
    pub composer_phar: Option<PathBuf>,
    /// Memory limit of an install container.
    #[arg(long, default_value = "2g")]
    pub container_memory: String,
    /// CPU limit of an install container.
    #[arg(long, default_value = "2")]
    pub container_cpus: String,
    /// Process limit of an install container.
    #[arg(long, default_value_t = 4096)]
    pub container_pids_limit: u32,
    /// Network of install containers, e.g. host to reach a registry on 127.0.0.1.
    #[arg(long, value_name = "NETWORK")]
    pub container_network: Option<String>,
    /// Extra runtime argument before `run`, e.g. --cgroup-manager=cgroupfs (repeatable).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub container_global_arg: Vec<String>,
    /// Extra argument of `run`, before the image, e.g. --ulimit=nofile=4096 (repeatable).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub container_run_arg: Vec<String>,
}

/// What `VersionPolicy` gets beyond the PATH tools.
pub struct Resolved {
    pub node: Vec<NodeToolchain>,
    pub php: Vec<PhpToolchain>,
    pub container: Option<Arc<ContainerConfig>>,
}

/// Blocking: runs each toolchain's binaries and asks the container runtime
/// (needed for other versions and for `--build-scripts container`).
pub fn resolve(args: &ContainerArgs, use_containers: bool) -> Result<Resolved, CliError> {
    // The refusal names the flag that needed the runtime.
    let needed_by = if use_containers {
        "--use-docker-on-version-mismatch"
    } else {
        "--build-scripts container"
    };
    let use_containers = use_containers || args.build_scripts == BuildScripts::Container;
    let usage = CliError::Usage;
    let mut node = Vec::new();
    for spec in &args.node_toolchain {
        let (version, dir) = parse_spec("--node-toolchain", spec).map_err(usage)?;
        node.push(detect_node(&version, &dir).map_err(usage)?);
    }
    let host_composer = find_on_path("composer");
    let mut php = Vec::new();
    for spec in &args.php_toolchain {
        let (version, dir) = parse_spec("--php-toolchain", spec).map_err(usage)?;
        php.push(detect_php(&version, &dir, host_composer.as_deref()).map_err(usage)?);
    }
    if !use_containers {
        return Ok(Resolved {
            node,
            php,
            container: None,
        });
    }
    let runtime = pick_runtime(args.container_runtime.as_deref(), |rt| {
        runtime_answers(rt, &args.container_global_arg)
    })
    .map_err(|e| CliError::Usage(e.replacen("--use-docker-on-version-mismatch", needed_by, 1)))?;
    let mut config = ContainerConfig::new(runtime);
    config.global_args = args.container_global_arg.clone();
    config.run_args = args.container_run_arg.clone();
    config.node_image = args.node_image.clone();
    config.php_image = args.php_image.clone();
    config.memory = args.container_memory.clone();
    config.cpus = args.container_cpus.clone();
    config.pids_limit = args.container_pids_limit;
    config.network = args.container_network.clone();
    if let Some(phar) = &args.composer_phar {
        config.composer_phar = Some((phar.clone(), phar_version(phar, &php)?));
    }
    config.validate().map_err(usage)?;
    Ok(Resolved {
        node,
        php,
        container: Some(Arc::new(config)),
    })
}

/// The version `--composer-phar` reports, asked of the host's php (or a PHP
/// toolchain's): it is what containers will put in the key's `composer`.
fn phar_version(phar: &std::path::Path, toolchains: &[PhpToolchain]) -> Result<String, CliError> {
    let phar = std::fs::canonicalize(phar)
        .map_err(|e| CliError::Usage(format!("--composer-phar {}: {e}", phar.display())))?;
    let php = find_on_path("php")
        .or_else(|| toolchains.first().map(|t| t.dir.join("bin/php")))
        .ok_or_else(|| {
            CliError::Usage(
                "--composer-phar: no php on this host to read the phar's version with".to_string(),
            )
        })?;
    let out = std::process::Command::new(&php)
        .arg(&phar)
        .args(["--version", "--no-ansi"])
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            CliError::Usage(format!(
                "--composer-phar: cannot run {}: {e}",
                php.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .filter(|v| crate::protocol::check_version("composer", v).is_ok())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--composer-phar {}: no composer version in its output {:?}",
                phar.display(),
                text.trim()
            ))
        })
}
