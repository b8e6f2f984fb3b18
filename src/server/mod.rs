//! `depcache serve`: the HTTP API over the store, installing on a miss. One
//! file per route; started from a listener and a shutdown future so tests can
//! bind port 0; `listen` owns the connections and their limits.

mod auth;
mod blocking;
mod body_deadline;
mod cache;
mod download;
mod error;
mod health;
mod hit;
mod host;
mod http_metrics;
mod index;
mod installs;
mod kept_bundles;
mod key_param;
mod listen;
mod metrics;
mod observe;
mod plans;
mod recent;
mod status_page;
mod supported;
mod upkeep;
mod versions;
mod versions_pnpm;
mod versions_yarn;
mod written;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::{ApiKeys, KeyScopes, check_scopes};
/// For cargo-fuzz (fuzz/): Range parsing on its own.
#[doc(hidden)]
pub use download::{RangeSpec, parse_range};
pub use error::ApiError;
pub use host::{PublicUrlError, check_public_url};
pub use installs::Installer;
pub use versions::{PolicyError, Refusal, VersionPolicy, parse_node_pairs};

use crate::install::InstallSettings;
use crate::store::{Store, TreeLimits};

/// Everything `serve` needs, resolved and validated by the caller.
pub struct ServerConfig {
    pub store: Arc<dyn Store>,
    /// Scratch space for install folders.
    pub work_dir: PathBuf,
    pub public_url: Option<String>,
    pub public: bool,
    pub api_keys: ApiKeys,
    pub policy: VersionPolicy,
    pub install: InstallSettings,
    pub max_body_size: usize,
    pub max_concurrent_installs: usize,
    pub max_queued_installs: usize,
    pub limits: ServerLimits,
}

/// What one client may hold of the server: time, connections, tree size.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A request head (or the next one on a kept-alive connection) must be
    /// complete within this long, or the connection is closed.
    pub header_timeout: Duration,
    /// A request body must be complete within this long of its head (408).
    pub body_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// After the shutdown signal, how long running requests may finish.
    pub shutdown_timeout: Duration,
    /// Caps on an installed tree (422 `tree_too_large`).
    pub tree: TreeLimits,
    /// Bytes of assembled bundles of hot keys the store may keep (0: none).
    pub bundle_cache_bytes: u64,
}

impl Default for ServerLimits {
    /// The `serve` flags' defaults.
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(30),
            tree: TreeLimits::default(),
            bundle_cache_bytes: 2 << 30,
        }
    }
}

pub struct AppState {
    store: Arc<dyn Store>,
    installer: Arc<Installer>,
    policy: VersionPolicy,
    public: bool,
    api_keys: ApiKeys,
    public_url: Option<String>,
    max_body_size: usize,
    body_timeout: Duration,
    metrics: Arc<metrics::Metrics>,
    last_use: upkeep::LastUse,
    plans: plans::PlanCache,
    kept: kept_bundles::KeptBundles,
}

/// Serves until `shutdown` resolves, then stops accepting and lets running
/// requests finish within `limits.shutdown_timeout`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local_addr = listener.local_addr()?;
    std::fs::create_dir_all(&config.work_dir)?;
    let metrics = Arc::new(metrics::Metrics::default());
    let installer = Installer::new(
        metrics.clone(),
        config.store.clone(),
        config.install,
        config.work_dir,
        config.max_concurrent_installs,
        config.max_queued_installs,
        config.limits.tree,
    );
    let state = Arc::new(AppState {
        store: config.store,
        installer,
        policy: config.policy,
        public: config.public,
        api_keys: config.api_keys,
        public_url: config.public_url,
        max_body_size: config.max_body_size,
        body_timeout: config.limits.body_timeout,
        metrics: metrics.clone(),
        last_use: upkeep::LastUse::new(),
        plans: plans::PlanCache::default(),
        kept: kept_bundles::KeptBundles::new(config.limits.bundle_cache_bytes),
    });
    upkeep::spawn_store_scan(state.store.clone(), metrics);
    let app = router(state);
    // Debug: the CLI prints the address for people and scripts already.
    tracing::debug!(%local_addr, "depcache serving");
    let limits = listen::ConnectionLimits {
        header_timeout: config.limits.header_timeout,
        max_connections: config.limits.max_connections,
        shutdown_timeout: config.limits.shutdown_timeout,
    };
    listen::serve_connections(listener, app, limits, shutdown).await;
    Ok(())
}

fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/v1/cache", post(cache::cache))
        // `get` answers HEAD too, with the same headers and no body.
        .route("/v1/cache/{key}", get(hit::cache_by_key))
        .route("/v1/index/{key}", get(index::get_index))
        .route("/v1/versions", get(supported::versions))
        .route("/download/{file}", get(download::download))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .layer(DefaultBodyLimit::max(state.max_body_size));
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/", get(status_page::status_page))
        .route("/metrics", get(metrics::metrics))
        .merge(protected)
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            body_deadline::body_deadline,
        ))
        // Outermost, so it sees every answer including 401s and 413s.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
