//! `GET /metrics`: counters, gauges and histograms in the Prometheus text
//! format, no auth (like `/health`; they reveal no keys or contents).
//! Everything is kept in atomics or small maps updated as requests run, so a
//! scrape costs nothing like a walk of the store. The handler renders one
//! group of families after another; `http_metrics` renders its own.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use super::http_metrics::HttpMetrics;

/// Upper bounds (seconds) of the install duration buckets: installs take
/// from about a second (no dependencies) to many minutes.
const INSTALL_BUCKETS: [f64; 11] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub installs_started: AtomicU64,
    pub installs_failed: AtomicU64,
    pub container_installs: AtomicU64,
    pub bytes_served: AtomicU64,
    /// Whole indexes read from the store (index and bundle requests, and a
    /// hit whose key has no summary yet): a hit answered from its summary
    /// adds nothing.
    pub index_reads: AtomicU64,
    /// Installs holding a slot (the rest of the pending ones are queued).
    pub installs_running: AtomicU64,
    /// `(route template, status)` to count; a handful of routes only.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    install_seconds: Histogram,
    /// Blob count and bytes: scanned in the background at start-up and
    /// periodically, bumped by every ingestion in between.
    pub store_blobs: AtomicU64,
    pub store_blob_bytes: AtomicU64,
    /// 1 once the first scan has finished (until then the gauges are partial).
    pub store_scanned: AtomicU64,
    /// Bytes of the stored trees as installed (every key's files, before
    /// dedup and compression): with `store_blob_bytes`, the dedup ratio.
    pub store_tree_bytes: AtomicU64,
    /// Build info and the request-duration histogram.
    pub http: HttpMetrics,
    /// The last hour's misses and installs, for the status page.
    pub recent: super::recent::Recent,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative counts are derived at scrape time; these are per bucket,
    /// with the last slot for +Inf.
    buckets: [AtomicU64; INSTALL_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(gauge: &AtomicU64, n: u64) {
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(n))
        });
    }

    pub fn count_request(&self, route: &str, status: u16) {
        let mut map = self.requests.lock().unwrap();
        *map.entry((route.to_string(), status)).or_insert(0) += 1;
    }

    pub fn observe_install(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = INSTALL_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(INSTALL_BUCKETS.len());
        let h = &self.install_seconds;
        h.buckets[slot].fetch_add(1, Ordering::Relaxed);
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::new();
    render_counters(&mut out, m);
    render_install_gauges(&mut out, m, state.installer.in_flight() as u64);
    render_requests(&mut out, m);
    render_install_histogram(&mut out, m);
    render_store(&mut out, m);
    m.http.render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn render_counters(out: &mut String, m: &Metrics) {
    let counters = [
        (
            "depcache_cache_hits_total",
            "Cache requests answered from the store.",
            &m.hits,
        ),
        (
            "depcache_cache_misses_total",
            "Cache requests that needed an install.",
            &m.misses,
        ),
        (
            "depcache_installs_started_total",
            "Package manager runs started.",
            &m.installs_started,
        ),
        (
            "depcache_installs_failed_total",
            "Package manager runs that failed or timed out.",
            &m.installs_failed,
        ),
        (
            "depcache_container_installs_total",
            "Installs run in a container (versions the host lacks).",
            &m.container_installs,
        ),
        (
            "depcache_bundle_bytes_served_total",
            "Bundle bytes sent to clients.",
            &m.bytes_served,
        ),
        (
            "depcache_index_reads_total",
            "Whole indexes read from the store (hits read only a summary).",
            &m.index_reads,
        ),
    ];
    for (name, help, counter) in counters {
        single(out, name, "counter", help, get(counter));
    }
}

/// `pending` is the installer's count of distinct keys installing or queued.
fn render_install_gauges(out: &mut String, m: &Metrics, pending: u64) {
    let running = get(&m.installs_running).min(pending);
    single(
        out,
        "depcache_installs_pending",
        "gauge",
        "Distinct keys installing or queued.",
        pending,
    );
    single(
        out,
        "depcache_installs_in_flight",
        "gauge",
        "Installs running now.",
        running,
    );
    single(
        out,
        "depcache_installs_queued",
        "gauge",
        "Distinct keys waiting for an install slot.",
        pending - running,
    );
}

fn render_requests(out: &mut String, m: &Metrics) {
    family(
        out,
        "depcache_http_requests_total",
        "counter",
        "HTTP requests by route template and status.",
    );
    for ((route, status), n) in m.requests.lock().unwrap().iter() {
        let _ = writeln!(
            out,
            "depcache_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
}

fn render_install_histogram(out: &mut String, m: &Metrics) {
    let h = &m.install_seconds;
    let name = "depcache_install_duration_seconds";
    family(
        out,
        name,
        "histogram",
        "Time from install start to stored index (or failure).",
    );
    let mut cumulative = 0;
    for (i, bound) in INSTALL_BUCKETS.iter().enumerate() {
        cumulative += get(&h.buckets[i]);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += get(&h.buckets[INSTALL_BUCKETS.len()]);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum {}", get(&h.sum_micros) as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {}", get(&h.count));
}

fn render_store(out: &mut String, m: &Metrics) {
    single(
        out,
        "depcache_store_blobs",
        "gauge",
        "Blobs in the store (scanned at start-up and hourly, plus ingestions).",
        get(&m.store_blobs),
    );
    single(
        out,
        "depcache_store_blob_bytes",
        "gauge",
        "Bytes of blob files in the store.",
        get(&m.store_blob_bytes),
    );
    single(
        out,
        "depcache_store_tree_bytes",
        "gauge",
        "Bytes of the stored trees as installed, before dedup and compression.",
        get(&m.store_tree_bytes),
    );
    single(
        out,
        "depcache_store_scan_complete",
        "gauge",
        "1 once the store gauges come from a full scan.",
        get(&m.store_scanned),
    );
}
