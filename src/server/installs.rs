//! Misses: one install per key however many requests wait for it
//! (single-flight), a bound on installs running at once, and a bound on the
//! queue behind them so overload answers 503 instead of piling up.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;

use super::ApiError;
use super::blocking::blocking;
use super::index::read_index;
use super::metrics::Metrics;
use crate::install::node_tools::{NodeTools, ToolCli};
use crate::install::npm::own_lifecycle_script;
use crate::install::pnpm::{self, PnpmTreeError};
use crate::install::unreachable::registry_unreachable;
use crate::install::{InstallSettings, RunError, Runner, Untrusted, install_with};
use crate::protocol::{Index, InstallOptions, Key, Manager, ValidRequest, workspace_folders};
use crate::store::{IngestError, Store, TreeLimits, ingest_tree_needing};

type InstallFuture = Shared<BoxFuture<'static, Result<Arc<Index>, ApiError>>>;

pub struct Installer {
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    settings: InstallSettings,
    /// Where install folders are made; emptied at start-up with the store's
    /// staging area.
    work_root: PathBuf,
    permits: Arc<Semaphore>,
    /// Distinct keys allowed to wait or run at once.
    max_pending: usize,
    pending: Mutex<HashMap<Key, InstallFuture>>,
    tree_limits: TreeLimits,
}

impl Installer {
    pub fn new(
        metrics: Arc<Metrics>,
        store: Arc<dyn Store>,
        settings: InstallSettings,
        work_root: PathBuf,
        max_concurrent: usize,
        max_queued: usize,
        tree_limits: TreeLimits,
    ) -> Arc<Self> {
        Arc::new(Installer {
            metrics,
            store,
            settings,
            work_root,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_pending: max_concurrent.max(1) + max_queued,
            pending: Mutex::new(HashMap::new()),
            tree_limits,
        })
    }

    pub fn in_flight(&self) -> usize {
        self.pending.lock().unwrap().len()
    }

    /// The credentialed private registries `request`'s files fetch from: the
    /// scopes an API key needs to receive its tree (checked before any
    /// install, on a hit too).
    pub fn registries_needed(&self, request: &ValidRequest) -> Vec<String> {
        self.settings
            .sources
            .registries_needed(request.manager, &request.files)
    }

    /// Whether the operator gave a registry for npm scope `scope` (`@acme`).
    pub fn has_scope(&self, scope: &str) -> bool {
        let private = self.settings.sources.private();
        private.scopes().iter().any(|s| s.scope() == scope)
    }

    /// Installs and stores the tree of `request`, or joins the install already
    /// running for its key. The install runs in its own task: a client that
    /// hangs up does not cancel it for the others. `runner` is how the
    /// request's versions are provided (`VersionPolicy::decide`).
    pub async fn install(
        self: &Arc<Self>,
        request: ValidRequest,
        runner: Runner,
    ) -> Result<Arc<Index>, ApiError> {
        // Before anything is queued or spawned: a refused request must not
        // reach npm or composer at all.
        self.settings
            .sources
            .check(request.manager, &request.files)
            .map_err(untrusted_error)?;
        if InstallOptions::builds_scripts(request.options.as_ref())
            && let Some((manifest, event)) = own_lifecycle_script(&request.files)
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_project",
                format!(
                    "{manifest} has a {event} script, which needs the project's sources: the \
server builds only dependency scripts; fetch without --server-scripts"
                ),
            ));
        }
        // The server runs yarn with scripts off and the client runs none
        // after a yarn restore: a project whose own install scripts yarn
        // would run is installed in the job instead.
        if request.manager == Manager::Yarn
            && let Some((manifest, event)) = own_lifecycle_script(&request.files)
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_project",
                format!(
                    "{manifest} has a {event} script, which yarn runs on install; depcache \
does not run it after restoring a yarn tree, so it caches no such project"
                ),
            ));
        }
        let tool = self.manager_tool(&request, &runner).await?;
        let key = request.hash;
        let future = {
            let mut pending = self.pending.lock().unwrap();
            if let Some(existing) = pending.get(&key) {
                existing.clone()
            } else {
                if pending.len() >= self.max_pending {
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "install_queue_full",
                        format!(
                            "{} installs are already running or queued; retry shortly",
                            pending.len()
                        ),
                    ));
                }
                let this = self.clone();
                let task_key = key;
                let task = tokio::spawn(async move {
                    let result = this.run(request, runner, tool).await;
                    this.pending.lock().unwrap().remove(&task_key);
                    result
                });
                let future = async move {
                    task.await.unwrap_or_else(|e| {
                        Err(ApiError::internal(format!("install task failed: {e}")))
                    })
                }
                .boxed()
                .shared();
                pending.insert(key, future.clone());
                future
            }
        };
        future.await
    }

    /// The package manager that is itself an npm package (pnpm, yarn), in
    /// exactly the requested version: a 400 when the registry does not have
    /// it. Container installs always get the registry's package.
    async fn manager_tool(
        &self,
        request: &ValidRequest,
        runner: &Runner,
    ) -> Result<Option<ToolCli>, ApiError> {
        let (package, name) = match request.manager {
            Manager::Pnpm => ("pnpm", "pnpm"),
            // The operator's own release of that version comes first.
            Manager::Yarn if matches!(runner, Runner::YarnRelease(_)) => return Ok(None),
            Manager::Yarn if crate::install::yarn::is_berry(&request.files) => {
                ("@yarnpkg/cli-dist", "yarn")
            }
            Manager::Yarn => ("yarn", "yarn"),
            Manager::Npm | Manager::Composer => return Ok(None),
        };
        let version = request.versions.get(name).cloned().unwrap_or_default();
        let major: u64 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if request.manager == Manager::Pnpm && major < 10 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_project",
                format!(
                    "pnpm {version} runs dependency build scripts by default and the server \
runs none; depcache caches pnpm 10 and later"
                ),
            ));
        }
        let tools = NodeTools::new(
            &self.settings.tool_cache,
            self.settings.npm_registry.as_deref(),
            self.settings.sources.clone(),
            self.settings.timeout,
        )
        .map_err(ApiError::internal)?;
        // A container mounts the package itself: a PATH bin of the same
        // version may be a wrapper that reaches outside it.
        let got = if matches!(runner, Runner::Container(..)) {
            tools.get_package(package, &version).await
        } else {
            tools.get(package, &version).await
        };
        match got {
            Ok(tool) => Ok(Some(tool)),
            Err(e) if e.is_request_error() => {
                Err(ApiError::bad_request("unsupported_version", e.to_string()))
            }
            Err(e) => Err(self.scrub(
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "tool_unavailable",
                    e.to_string(),
                ),
                &self.work_root,
            )),
        }
    }

    async fn run(
        &self,
        request: ValidRequest,
        runner: Runner,
        tool: Option<ToolCli>,
    ) -> Result<Arc<Index>, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            )
        })?;
        // A twin request may have finished while this one queued.
        let key = request.hash;
        if let Some(index) = read_index(&self.store, &key).await? {
            return Ok(Arc::new(index));
        }
        // Creating the folder and writing the manifests are file-system
        // calls: on the blocking pool, not the runtime's threads.
        let work_root = self.work_root.clone();
        let files = request.files.clone();
        let work = blocking("install folder", move || {
            prepare_project(&work_root, &files)
        })
        .await??;
        let project = work.path().join("project");
        let log = work.path().join("install.log");

        Metrics::add(&self.metrics.installs_started, 1);
        Metrics::add(&self.metrics.installs_running, 1);
        let _running = RunningGuard(&self.metrics);
        if matches!(runner, Runner::Container(..)) {
            Metrics::add(&self.metrics.container_installs, 1);
        }
        let (key, manager) = (request.hash, request.manager.to_string());
        let started = std::time::Instant::now();
        tracing::info!(key = %request.hash, manager = %request.manager, "installing");
        let result = install_with(
            &runner,
            &request,
            &project,
            &self.settings,
            &log,
            tool.as_ref(),
        )
        .await;
        let result = match result {
            Ok(()) if request.manager == Manager::Pnpm => {
                let dir = project.clone();
                let workspaces = workspace_folders(&request.files);
                tokio::task::spawn_blocking(move || pnpm::prepare_for_store(&dir, &workspaces))
                    .await
                    .map_err(|e| ApiError::internal(format!("preparing the tree panicked: {e}")))
                    .and_then(|r| r.map_err(pnpm_tree_error))
            }
            Ok(()) => Ok(()),
            Err(e) => Err(install_error(request.manager, e)),
        };
        let result = match result {
            Ok(()) if request.manager == Manager::Yarn => {
                let dir = project.clone();
                let files = request.files.clone();
                tokio::task::spawn_blocking(move || crate::install::yarn::finish(&dir, &files))
                    .await
                    .map_err(|e| ApiError::internal(format!("checking the tree panicked: {e}")))
                    .and_then(|r| {
                        r.map_err(|e| {
                            ApiError::new(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                "unsupported_project",
                                e.to_string(),
                            )
                        })
                    })
            }
            other => other,
        };
        let outcome = match result {
            Ok(()) => {
                let store = self.store.clone();
                let tree = project.join(request.manager.output_dir());
                let metrics = self.metrics.clone();
                let limits = self.tree_limits;
                let registries = self.registries_installed(&request, &project);
                blocking("ingestion", move || {
                    let (index, stats) =
                        ingest_tree_needing(&*store, &tree, &request, limits, registries)?;
                    Metrics::add(&metrics.store_blobs, stats.new_blobs);
                    Metrics::add(&metrics.store_blob_bytes, stats.new_blob_bytes);
                    Metrics::add(&metrics.store_tree_bytes, index.logical_size());
                    Ok(Arc::new(index))
                })
                .await?
                .map_err(ingest_error)
            }
            Err(e) => Err(e),
        };
        self.metrics.observe_install(started.elapsed());
        self.metrics.recent.install(super::recent::InstallRecord {
            at: std::time::Instant::now(),
            key: key.to_string(),
            manager: manager.clone(),
            elapsed: started.elapsed(),
            ok: outcome.is_ok(),
        });
        if outcome.is_err() {
            Metrics::add(&self.metrics.installs_failed, 1);
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = outcome.is_ok(),
            "install finished"
        );
        let outcome = outcome.map_err(|e| self.scrub(e, work.path()));
        // Removing a tree of thousands of files blocks; keep it off the runtime.
        tokio::task::spawn_blocking(move || drop(work));
        outcome
    }

    /// Replaces the server's own paths in an error (npm and composer print
    /// the project folder and their cache) with placeholders: clients learn
    /// nothing about the server's layout.
    fn scrub(&self, mut error: ApiError, work: &std::path::Path) -> ApiError {
        // Secrets first: a path replacement could split one.
        error.message = self.settings.sources.private().scrub(&error.message);
        let mut paths = vec![
            (work.join("project"), "<project>"),
            (work.to_path_buf(), "<install-dir>"),
            (self.settings.tool_cache.clone(), "<tool-cache>"),
            (self.work_root.clone(), "<work-dir>"),
        ];
        let also: Vec<_> = paths
            .iter()
            .flat_map(|(p, name)| {
                let absolute = std::path::absolute(p).ok();
                let real = std::fs::canonicalize(p).ok();
                [absolute, real].into_iter().flatten().map(|p| (p, *name))
            })
            .collect();
        paths.extend(also);
        // Longest first, so a folder inside another gets its own name.
        paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
        for (path, placeholder) in paths {
            let text = path.to_string_lossy();
            if text.len() > 1 {
                error.message = error.message.replace(&*text, placeholder);
            }
        }
        error
    }

    /// The registries the request named plus those the install's own
    /// records name (the lockfile `npm install` wrote, composer's
    /// installed.json): a public package may depend on a private one.
    fn registries_installed(
        &self,
        request: &ValidRequest,
        project: &std::path::Path,
    ) -> Vec<String> {
        if self.settings.sources.private().credentials().is_empty() {
            return Vec::new();
        }
        let mut files = request.files.clone();
        for record in [
            "package-lock.json",
            "node_modules/.package-lock.json",
            "composer.lock",
            "vendor/composer/installed.json",
        ] {
            if let Ok(bytes) = std::fs::read(project.join(record)) {
                files.insert(format!("installed:{record}"), bytes);
            }
        }
        self.settings
            .sources
            .registries_needed(request.manager, &files)
    }
}

/// Keeps the running-installs gauge right however `run` returns.
struct RunningGuard<'a>(&'a Metrics);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        Metrics::sub(&self.0.installs_running, 1);
    }
}

/// A tree the package manager produced but that cannot be restored elsewhere
/// (absolute or escaping symlinks, special files) is the request's problem,
/// not the server's.
fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Unsupported { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "uncacheable_tree",
            e.to_string(),
        ),
        IngestError::TooManyEntries { .. } | IngestError::TooLarge { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "tree_too_large",
            e.to_string(),
        ),
        IngestError::Walk { .. } | IngestError::Store { .. } => ApiError::internal(e.to_string()),
    }
}

/// A dependency from outside the trusted registries: the request's problem,
/// and nothing was installed.
fn untrusted_error(e: Untrusted) -> ApiError {
    let code = match e {
        Untrusted::Unreadable { .. } => "unreadable_manifest",
        _ => "untrusted_source",
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
}

fn install_error(manager: Manager, e: RunError) -> ApiError {
    match e {
        // The server's own reach, not the project: the job may well get
        // there, so the client installs locally instead (docs/decisions.md).
        RunError::Failed { ref tail, .. } => match registry_unreachable(manager, tail) {
            Some(reach) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "registry_unreachable",
                format!(
                    "the server could not reach the registry{} to install this project: {}",
                    reach.host.map(|h| format!(" {h}")).unwrap_or_default(),
                    reach.line
                ),
            ),
            None => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "install_failed",
                e.to_string(),
            ),
        },
        RunError::TimedOut { .. } => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "install_timeout",
            e.to_string(),
        ),
        RunError::Spawn { .. } | RunError::Log { .. } => ApiError::internal(e.to_string()),
    }
}

/// A pnpm tree left with pending builds cannot be cached exactly: the
/// client installs itself.
fn pnpm_tree_error(e: PnpmTreeError) -> ApiError {
    match e {
        PnpmTreeError::PendingBuilds { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_project",
            e.to_string(),
        ),
        PnpmTreeError::Io { .. } => ApiError::internal(e.to_string()),
    }
}

/// A fresh install folder under `work_root` with the request's files in its
/// `project/`. Workspace manifests go to their folders (names already
/// checked: plain relative folders, no `..`); only the manifests are
/// written, so a workspace's sources never reach the server.
fn prepare_project(
    work_root: &std::path::Path,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<tempfile::TempDir, ApiError> {
    let work = tempfile::Builder::new()
        .prefix("install-")
        .tempdir_in(work_root)
        .map_err(|e| ApiError::internal(format!("could not create an install folder: {e}")))?;
    let project = work.path().join("project");
    std::fs::create_dir(&project)
        .and_then(|()| {
            files.iter().try_for_each(|(name, bytes)| {
                let path = project.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, bytes)
            })
        })
        .map_err(|e| ApiError::internal(format!("could not write the project files: {e}")))?;
    Ok(work)
}
