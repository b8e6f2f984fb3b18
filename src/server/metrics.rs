//! `GET /metrics`: counters in the Prometheus text format, no auth (like
//! `/health`; they reveal no keys or contents).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

#[derive(Debug, Default)]
pub struct Metrics {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub installs_started: AtomicU64,
    pub installs_failed: AtomicU64,
    pub container_installs: AtomicU64,
    pub bytes_served: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "depcache_cache_hits_total",
        "Cache requests answered from the store.",
        m.hits.load(Ordering::Relaxed),
    );
    counter(
        "depcache_cache_misses_total",
        "Cache requests that needed an install.",
        m.misses.load(Ordering::Relaxed),
    );
    counter(
        "depcache_installs_started_total",
        "Package manager runs started.",
        m.installs_started.load(Ordering::Relaxed),
    );
    counter(
        "depcache_installs_failed_total",
        "Package manager runs that failed or timed out.",
        m.installs_failed.load(Ordering::Relaxed),
    );
    counter(
        "depcache_container_installs_total",
        "Installs run in a container (versions the host lacks).",
        m.container_installs.load(Ordering::Relaxed),
    );
    counter(
        "depcache_bundle_bytes_served_total",
        "Bundle bytes sent to clients.",
        m.bytes_served.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP depcache_installs_pending Distinct keys installing or queued.\n# TYPE depcache_installs_pending gauge\ndepcache_installs_pending {}",
        state.installer.in_flight()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
