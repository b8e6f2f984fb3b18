//! The families of `/metrics` kept by prometheus-client: build info and the
//! request-duration histogram by route template, method and status. The
//! older families are plain atomics rendered by `metrics` (their names and
//! labels are a published interface, see docs/admin.md).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds): a hit answers in about a millisecond, a bundle
/// downloads in seconds, a miss waits for an install for minutes.
const REQUEST_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
    600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    commit: String,
}

type Durations = Family<RequestLabels, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct HttpMetrics {
    registry: Registry,
    durations: Durations,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
                commit: env!("DEPCACHE_GIT_COMMIT").to_string(),
            })
            .set(1);
        registry.register(
            "depcache_build_info",
            "The running depcache's version and git commit (always 1).",
            build,
        );
        let durations: Durations = Family::new_with_constructor(|| Histogram::new(REQUEST_BUCKETS));
        registry.register(
            "depcache_http_request_duration_seconds",
            "Time from request to the last byte of the answer, by route template, method and status.",
            durations.clone(),
        );
        HttpMetrics {
            registry,
            durations,
        }
    }
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.durations
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Appends the families in the text format (without OpenMetrics' `# EOF`,
    /// since more families may follow).
    pub fn render(&self, out: &mut String) {
        prometheus_client::encoding::text::encode_registry(out, &self.registry)
            .expect("writing to a String cannot fail");
    }
}
