//! The container runtime itself: which one answers (`docker`, else
//! `podman`), the environment its CLI gets, unique container names, and
//! removing a container by name, which killing the CLI does not do.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A container name no other install (or earlier server) uses.
pub fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "depcache-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The runtime CLI's own environment: what it needs to find its daemon, its
/// configuration and registry credentials. Nothing of it reaches the
/// container, which gets only the `--env` values above.
pub(super) fn runtime_env(project: &Path) -> Vec<(String, String)> {
    let mut env = vec![(
        "TMPDIR".to_string(),
        project.join(".tmp").display().to_string(),
    )];
    for name in [
        "PATH",
        "HOME",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_CONFIG",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
        "CONTAINER_HOST",
        "CONTAINERS_CONF",
        "CONTAINERS_STORAGE_CONF",
        "REGISTRY_AUTH_FILE",
    ] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_string(), value));
        }
    }
    env
}

pub(super) async fn remove(runtime: &str, global_args: &[String], name: &str) {
    let status = tokio::process::Command::new(runtime)
        .args(global_args)
        .args(["rm", "-f", name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    tracing::debug!(container = name, ?status, "removed container");
}

/// Cancellation (the awaiting task dropped): remove the container from a
/// thread, since no async context is left to await in.
pub(super) struct RemoveOnDrop {
    pub(super) runtime: String,
    pub(super) global_args: Vec<String>,
    pub(super) name: Option<String>,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let runtime = self.runtime.clone();
            let global_args = self.global_args.clone();
            std::thread::spawn(move || {
                let _ = std::process::Command::new(runtime)
                    .args(global_args)
                    .args(["rm", "-f", &name])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            });
        }
    }
}

/// `--container-runtime` resolution: the one asked for must answer; without a
/// choice docker is tried, then podman. `answers` runs `<rt> version`.
pub fn pick_runtime(
    requested: Option<&str>,
    answers: impl Fn(&str) -> bool,
) -> Result<String, String> {
    if let Some(rt) = requested {
        return if answers(rt) {
            Ok(rt.to_string())
        } else {
            Err(format!(
                "--use-docker-on-version-mismatch: the container runtime {rt:?} does not answer \
(`{rt} version` failed); start its daemon or choose another with --container-runtime"
            ))
        };
    }
    ["docker", "podman"]
        .into_iter()
        .find(|rt| answers(rt))
        .map(str::to_string)
        .ok_or_else(|| {
            "--use-docker-on-version-mismatch: neither docker nor podman answers here (no daemon \
or not installed); install one, or drop the flag to refuse other versions with 400"
                .to_string()
        })
}

/// Blocking: does `<runtime> version` reach a working engine? (`docker
/// version` fails when the daemon is down, where `docker --version` would not.)
pub fn runtime_answers(runtime: &str, global_args: &[String]) -> bool {
    std::process::Command::new(runtime)
        .args(global_args)
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
