//! `depcache serve`: the HTTP API over the store, installing on a miss. One
//! file per route; started from a listener and a shutdown future so tests can
//! bind port 0.

mod auth;
mod cache;
mod download;
mod error;
mod health;
mod index;
mod installs;
mod metrics;
mod observe;
mod supported;
mod upkeep;
mod versions;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::ApiKeys;
/// For cargo-fuzz (fuzz/): Range parsing on its own.
#[doc(hidden)]
pub use download::{RangeSpec, parse_range};
pub use error::ApiError;
pub use installs::Installer;
pub use versions::{PolicyError, VersionPolicy, parse_node_pairs};

use crate::install::InstallSettings;
use crate::store::Store;

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
}

pub struct AppState {
    store: Arc<dyn Store>,
    installer: Arc<Installer>,
    policy: VersionPolicy,
    public: bool,
    api_keys: ApiKeys,
    public_url: Option<String>,
    local_addr: SocketAddr,
    max_body_size: usize,
    metrics: Arc<metrics::Metrics>,
    last_use: upkeep::LastUse,
}

/// Serves until `shutdown` resolves, then stops accepting and lets running
/// requests finish.
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
    );
    let state = Arc::new(AppState {
        store: config.store,
        installer,
        policy: config.policy,
        public: config.public,
        api_keys: config.api_keys,
        public_url: config.public_url,
        local_addr,
        max_body_size: config.max_body_size,
        metrics: metrics.clone(),
        last_use: upkeep::LastUse::new(),
    });
    upkeep::spawn_store_scan(state.store.clone(), metrics);
    let app = router(state);
    tracing::info!(%local_addr, "depcache serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/v1/cache", post(cache::cache))
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
        .route("/metrics", get(metrics::metrics))
        .merge(protected)
        // Outermost, so it sees every answer including 401s and 413s.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
