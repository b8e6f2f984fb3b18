//! Installs inside a container of exactly the requested versions (with
//! `--use-docker-on-version-mismatch`): which runtime answers, which image a
//! version maps to, the `run` argument vector, and cleanup. The command is an
//! argument vector built from validated versions and server configuration
//! only; uploaded file contents reach the container through the mounted work
//! dir, never through argv. See docs/containers.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::container_runtime::{RemoveOnDrop, remove, runtime_env};
pub use super::container_runtime::{pick_runtime, runtime_answers, unique_name};
use super::{CommandSpec, RunError, run_logged};
use crate::protocol::check_version;

/// Where the project is mounted inside the container.
const WORK: &str = "/work";
/// Where the tool caches (`tool-cache/npm`, `tool-cache/composer`) are mounted.
const CACHE: &str = "/depcache-cache";
/// Where `--composer-phar` is mounted, read-only.
const PHAR: &str = "/opt/depcache/composer.phar";

/// Server-side container settings, resolved and checked at start-up.
#[derive(Debug)]
pub struct ContainerConfig {
    /// `docker`, `podman` or a path to either.
    pub runtime: String,
    /// Arguments before `run` (e.g. podman's `--cgroup-manager cgroupfs`).
    pub global_args: Vec<String>,
    /// Extra arguments after `run`, before the image (e.g. `--ulimit ...`).
    pub run_args: Vec<String>,
    /// Image templates; `{version}` becomes the node or PHP version.
    pub node_image: String,
    pub php_image: String,
    pub memory: String,
    pub cpus: String,
    pub pids_limit: u32,
    /// `--network`; the runtime's default when `None`.
    pub network: Option<String>,
    /// `UID:GID` the container runs as: the server's own, so the tree it
    /// writes into the mounted work dir belongs to the server.
    pub user: String,
    /// The composer mounted into PHP containers, with the version it reports.
    pub composer_phar: Option<(PathBuf, String)>,
    /// The npm each node image ships, asked once per image.
    image_npm: Mutex<HashMap<String, String>>,
}

/// One container install: the image and the versions it must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlan {
    pub image: String,
    /// `node`/`npm` or `php` (and `composer` when the request named it).
    pub versions: std::collections::BTreeMap<String, String>,
}

pub const DEFAULT_NODE_IMAGE: &str = "node:{version}";
pub const DEFAULT_PHP_IMAGE: &str = "php:{version}-cli";

impl ContainerConfig {
    /// Defaults for `runtime`: the server's uid:gid, 2 GiB, 2 CPUs.
    pub fn new(runtime: String) -> Self {
        let (uid, gid) = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        ContainerConfig {
            runtime,
            global_args: Vec::new(),
            run_args: Vec::new(),
            node_image: DEFAULT_NODE_IMAGE.to_string(),
            php_image: DEFAULT_PHP_IMAGE.to_string(),
            memory: "2g".to_string(),
            cpus: "2".to_string(),
            pids_limit: 4096,
            network: None,
            user: format!("{uid}:{gid}"),
            composer_phar: None,
            image_npm: Mutex::new(HashMap::new()),
        }
    }

    /// Start-up checks of what the operator configured.
    pub fn validate(&self) -> Result<(), String> {
        for (flag, template) in [
            ("--node-image", &self.node_image),
            ("--php-image", &self.php_image),
        ] {
            if !template.contains("{version}")
                || template.starts_with('-')
                || template
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(format!(
                    "{flag} {template:?} must be an image reference containing {{version}}, \
e.g. registry.example/node:{{version}}"
                ));
            }
        }
        for (flag, value) in [
            ("--container-memory", &self.memory),
            ("--container-cpus", &self.cpus),
        ] {
            let ok = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.');
            if !ok {
                return Err(format!(
                    "{flag} {value:?} is not a size or number such as 2g or 1.5"
                ));
            }
        }
        Ok(())
    }

    /// The image for `version` (already validated by `check_version`, checked
    /// again here so no caller can pass anything else).
    pub fn image(&self, template: &str, name: &str, version: &str) -> Result<String, String> {
        check_version(name, version).map_err(|e| e.to_string())?;
        Ok(template.replace("{version}", version))
    }

    /// `run` and every flag shared by installs and probes, up to the image.
    fn run_prefix(&self, name: &str) -> Vec<String> {
        let mut args = self.global_args.clone();
        args.extend([
            "run".to_string(),
            // Removed when it exits; on timeout the CLI is killed and the
            // container removed by name (killing the CLI does not stop it).
            "--rm".to_string(),
            format!("--name={name}"),
            format!("--user={}", self.user),
            format!("--memory={}", self.memory),
            format!("--cpus={}", self.cpus),
            format!("--pids-limit={}", self.pids_limit),
            "--cap-drop=ALL".to_string(),
            "--security-opt=no-new-privileges".to_string(),
        ]);
        if let Some(network) = &self.network {
            args.push(format!("--network={network}"));
        }
        args
    }

    /// Mounts the project at /work and the tool cache, plus the environment
    /// every install gets. `cache` is `tool-cache/<tool>` on the host.
    fn work_mounts(&self, project: &Path, cache: &Path, tool: &str) -> Result<Vec<String>, String> {
        let mut args = vec![
            format!(
                "--mount=type=bind,source={},target={WORK}",
                mount_source(project)?
            ),
            format!(
                "--mount=type=bind,source={},target={CACHE}/{tool}",
                mount_source(cache)?
            ),
            format!("--workdir={WORK}"),
        ];
        for (k, v) in [
            ("HOME", format!("{WORK}/.home")),
            ("TMPDIR", format!("{WORK}/.tmp")),
            ("LANG", "C.UTF-8".to_string()),
            ("CI", "true".to_string()),
        ] {
            args.push(format!("--env={k}={v}"));
        }
        Ok(args)
    }

    /// The argv that installs an npm project in `plan.image`. `image_npm` is
    /// the npm the image ships: used as is when it is the requested one,
    /// otherwise the requested npm runs through `npx --yes npm@<v>` (fetched
    /// once into the mounted cache, then offline).
    #[allow(clippy::too_many_arguments)]
    pub fn npm_command(
        &self,
        name: &str,
        plan: &ContainerPlan,
        image_npm: &str,
        npm_args: &[String],
        registry: Option<&str>,
        project: &Path,
        tool_cache: &Path,
    ) -> Result<CommandSpec, String> {
        let npm = plan.versions.get("npm").map(String::as_str).unwrap_or("");
        check_version("npm", npm).map_err(|e| e.to_string())?;
        let mut args = self.run_prefix(name);
        args.extend(self.work_mounts(project, &tool_cache.join("npm"), "npm")?);
        args.push(format!("--env=npm_config_cache={CACHE}/npm"));
        args.push("--env=NO_UPDATE_NOTIFIER=1".to_string());
        if let Some(registry) = registry {
            // Through the environment so that npx (fetching npm@<v>) uses it too.
            args.push(format!("--env=npm_config_registry={registry}"));
        }
        args.extend(self.run_args.iter().cloned());
        args.push(plan.image.clone());
        if image_npm == npm {
            args.push("npm".to_string());
        } else {
            args.extend(["npx".to_string(), "--yes".to_string(), format!("npm@{npm}")]);
        }
        args.extend(npm_args.iter().cloned());
        Ok(self.spec(args, project))
    }

    /// The argv that installs a composer project in `plan.image`, running the
    /// mounted `--composer-phar` with the image's php.
    pub fn composer_command(
        &self,
        name: &str,
        plan: &ContainerPlan,
        composer_args: &[String],
        project: &Path,
        tool_cache: &Path,
    ) -> Result<CommandSpec, String> {
        let (phar, _) = self
            .composer_phar
            .as_ref()
            .ok_or("container installs of composer projects need --composer-phar")?;
        let mut args = self.run_prefix(name);
        args.extend(self.work_mounts(project, &tool_cache.join("composer"), "composer")?);
        args.push(format!(
            "--mount=type=bind,source={},target={PHAR},readonly",
            mount_source(phar)?
        ));
        for (k, v) in [
            ("COMPOSER_HOME", format!("{CACHE}/composer")),
            ("COMPOSER_CACHE_DIR", format!("{CACHE}/composer/cache")),
            ("COMPOSER_ALLOW_SUPERUSER", "1".to_string()),
        ] {
            args.push(format!("--env={k}={v}"));
        }
        args.extend(self.run_args.iter().cloned());
        args.push(plan.image.clone());
        args.extend(["php".to_string(), PHAR.to_string()]);
        args.extend(composer_args.iter().cloned());
        Ok(self.spec(args, project))
    }

    /// The argv that runs a package manager that is a JS package (pnpm,
    /// yarn) in `plan.image`: `command` exactly as built for a native
    /// install (`node <tool>/bin/... install ...`, its environment but
    /// PATH), run by the image's node. The project, the manager's cache
    /// folders (`writable`) and the fetched package (`tool`, read-only) are
    /// mounted at their host paths, so every absolute path the manager
    /// writes into the tree (pnpm's `.bin` shims, `.modules.yaml`) is the one
    /// a native install writes, and is swapped for placeholders alike.
    pub fn node_manager_command(
        &self,
        name: &str,
        plan: &ContainerPlan,
        command: &CommandSpec,
        tool: &Path,
        writable: &[PathBuf],
    ) -> Result<CommandSpec, String> {
        if command.program != "node" {
            return Err(format!(
                "{} is not run by node, so the container's node cannot run it",
                command.program
            ));
        }
        let project = mount_source(&command.cwd)?;
        let mut args = self.run_prefix(name);
        let bind = |path: &Path, options: &str| -> Result<String, String> {
            let path = mount_source(path)?;
            Ok(format!(
                "--mount=type=bind,source={path},target={path}{options}"
            ))
        };
        args.push(bind(&command.cwd, "")?);
        for dir in writable {
            args.push(bind(dir, "")?);
        }
        args.push(bind(tool, ",readonly")?);
        args.push(format!("--workdir={project}"));
        for (k, v) in &command.env {
            // The image's own PATH finds its node; the host's means nothing there.
            if k != "PATH" {
                args.push(format!("--env={k}={v}"));
            }
        }
        args.extend(self.run_args.iter().cloned());
        args.push(plan.image.clone());
        args.push("node".to_string());
        args.extend(command.args.iter().cloned());
        Ok(self.spec(args, &command.cwd))
    }

    /// `npm --version` in `image`, without mounts or network.
    pub fn probe_command(&self, name: &str, image: &str, project: &Path) -> CommandSpec {
        let mut args = self.run_prefix(name);
        if self.network.is_none() {
            args.push("--network=none".to_string());
        }
        args.extend(self.run_args.iter().cloned());
        args.extend([
            image.to_string(),
            "npm".to_string(),
            "--version".to_string(),
        ]);
        self.spec(args, project)
    }

    fn spec(&self, args: Vec<String>, project: &Path) -> CommandSpec {
        CommandSpec {
            program: self.runtime.clone(),
            args,
            cwd: project.to_path_buf(),
            env: runtime_env(project),
        }
    }

    /// The npm `image` ships, asked once (one container run) and remembered.
    pub async fn image_npm(
        &self,
        image: &str,
        project: &Path,
        log: &Path,
        timeout: Duration,
    ) -> Result<String, RunError> {
        if let Some(v) = self.image_npm.lock().unwrap().get(image) {
            return Ok(v.clone());
        }
        let name = unique_name();
        let spec = self.probe_command(&name, image, project);
        self.run(spec, &name, timeout, log).await?;
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let version = text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| check_version("npm", l).is_ok())
            .ok_or_else(|| RunError::Failed {
                program: format!("{} (npm --version in {image})", self.runtime),
                status: "no version in its output".to_string(),
                tail: super::run::tail_of(log),
            })?
            .to_string();
        self.image_npm
            .lock()
            .unwrap()
            .insert(image.to_string(), version.clone());
        Ok(version)
    }

    /// Runs the runtime CLI like any install, and makes sure the container is
    /// gone afterwards: `--rm` covers normal exits; on a timeout, a failure or
    /// cancellation `<runtime> rm -f <name>` removes it, since killing the CLI
    /// leaves the container running.
    pub async fn run(
        &self,
        spec: CommandSpec,
        name: &str,
        timeout: Duration,
        log: &Path,
    ) -> Result<(), RunError> {
        let mut guard = RemoveOnDrop {
            runtime: self.runtime.clone(),
            global_args: self.global_args.clone(),
            name: Some(name.to_string()),
        };
        let result = run_logged(spec, timeout, log).await;
        if result.is_ok() {
            guard.name = None;
        } else {
            let name = guard.name.take().unwrap_or_default();
            remove(&self.runtime, &self.global_args, &name).await;
        }
        result
    }
}

/// `--mount` splits on commas; a source holding one would change the mount.
fn mount_source(path: &Path) -> Result<String, String> {
    let text = path.display().to_string();
    if !path.is_absolute() || text.contains([',', '\n', '=']) {
        return Err(format!(
            "cannot mount {text:?}: the path must be absolute, without ',' or '='"
        ));
    }
    Ok(text)
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
