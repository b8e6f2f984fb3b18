//! One structured log line and one metrics count per request, from an axum
//! middleware: route template (never the raw path, so keys do not explode
//! the label set), status, duration, and the key and hit/miss that handlers
//! leave in the response's extensions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

/// What a handler knows that the middleware should log.
#[derive(Debug, Clone, Default)]
pub struct RequestNote {
    pub key: Option<String>,
    pub hit: Option<bool>,
}

impl RequestNote {
    pub fn attach(response: &mut Response, key: &str, hit: Option<bool>) {
        response.extensions_mut().insert(RequestNote {
            key: Some(key.to_string()),
            hit,
        });
    }
}

pub async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.count_request(&route, status);
    let note = response
        .extensions()
        .get::<RequestNote>()
        .cloned()
        .unwrap_or_default();
    let outcome = match note.hit {
        Some(true) => "hit",
        Some(false) => "miss",
        None => "-",
    };
    tracing::info!(
        target: "depcache::request",
        %method,
        route = %route,
        status,
        duration_ms = millis(started.elapsed()),
        key = note.key.as_deref().unwrap_or("-"),
        cache = outcome,
        "request"
    );
    response
}

/// Milliseconds to a tenth: `59.957`-style floats with 15 digits are noise
/// in a log line.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_log_to_a_tenth_of_a_millisecond() {
        assert_eq!(millis(Duration::from_nanos(59_956_731)).to_string(), "60");
        assert_eq!(millis(Duration::from_micros(1_234)).to_string(), "1.2");
    }
}
