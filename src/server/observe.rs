//! One structured log line and the request metrics per request, written
//! when the response's last byte has been handed to the kernel (see
//! `written`; or when a client that went away dropped the connection), so
//! a download's duration covers its whole body, not the time to its first
//! byte. Route template (never the raw path, so keys do not
//! explode the label set), method, status, and the key and hit/miss that
//! handlers leave in the response's extensions.
//!
//! Why not tower-http's `TraceLayer`: its end-of-stream callback runs only
//! when the body is polled to its end, and hyper stops polling a body that
//! says it has ended (a buffered JSON answer, every HEAD and 304), so those
//! would never be logged; and even its end is not the download's end, since
//! hyper buffers what it polled. A drop guard on the body, finished at the
//! connection's next flush, sees every response once (docs/decisions.md).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};

use super::AppState;
use super::written::Pending;
use crate::protocol::Key;

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
    let path_key = key_in_path(&route, request.uri().path());
    let connection = request.extensions().get::<Pending>().cloned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.count_request(&route, status);
    let note = response
        .extensions()
        .get::<RequestNote>()
        .cloned()
        .unwrap_or_default();
    let (parts, body) = response.into_parts();
    // A streamed body knows no size; its Content-Length header does.
    let expected = body.size_hint().exact().or_else(|| {
        parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
    });
    let done = Done {
        state,
        started,
        route,
        method,
        status,
        key: note.key.or(path_key),
        hit: note.hit,
        expected,
        sent: 0,
        ended: false,
    };
    Response::from_parts(
        parts,
        Body::new(Observed {
            inner: body,
            done: Some(done),
            connection,
        }),
    )
}

/// The standard methods by name, anything else a client invents as
/// `other`: a label set must stay bounded whatever clients send.
fn method_label(method: &axum::http::Method) -> String {
    use axum::http::Method;
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    if known.contains(method) {
        method.to_string()
    } else {
        "other".to_string()
    }
}

/// The key a key route names in its path, when it is a well-formed key
/// (anything else a client sent stays out of the log).
fn key_in_path(route: &str, path: &str) -> Option<String> {
    if !route.ends_with("/{key}") && route != "/download/{file}" {
        return None;
    }
    let last = path.rsplit('/').next()?;
    let key = last.strip_suffix(".zip").unwrap_or(last);
    Key::parse(key).ok().map(|key| key.to_string())
}

/// The response body, passed through, counting what was sent.
struct Observed {
    inner: Body,
    done: Option<Done>,
    /// `None` for a router driven without `listen` (then the log is written
    /// when the body is dropped).
    connection: Option<Pending>,
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let (Poll::Ready(frame), Some(done)) = (&polled, self.done.as_mut()) {
            match frame {
                Some(Ok(frame)) => {
                    done.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                Some(Err(_)) => {}
                None => done.ended = true,
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some(mut done) = self.done.take() {
            done.ended |= self.inner.is_end_stream() || done.expected == Some(done.sent);
            match &self.connection {
                Some(connection) => connection.after_flush(Box::new(move || done.finish())),
                None => done.finish(),
            }
        }
    }
}

/// Everything the log line and the metrics need, held until the body ends.
struct Done {
    state: Arc<AppState>,
    started: Instant,
    route: String,
    method: String,
    status: u16,
    key: Option<String>,
    hit: Option<bool>,
    expected: Option<u64>,
    sent: u64,
    ended: bool,
}

impl Done {
    fn finish(self) {
        let elapsed = self.started.elapsed();
        self.state
            .metrics
            .http
            .observe(&self.route, &self.method, self.status, elapsed);
        let cache = self.hit.map(|hit| if hit { "hit" } else { "miss" });
        // Only a body cut short says so: the usual line stays short.
        let aborted = (!self.ended).then_some(true);
        tracing::info!(
            target: "depcache::request",
            method = %self.method,
            route = %self.route,
            status = self.status,
            duration_ms = millis(elapsed),
            bytes = self.sent,
            key = self.key.as_deref(),
            cache,
            aborted,
            "request"
        );
    }
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

    #[test]
    fn only_well_formed_keys_of_key_routes_are_logged() {
        let key = "a".repeat(64);
        assert_eq!(
            key_in_path("/v1/index/{key}", &format!("/v1/index/{key}")),
            Some(key.clone())
        );
        assert_eq!(
            key_in_path("/download/{file}", &format!("/download/{key}.zip")),
            Some(key)
        );
        assert_eq!(key_in_path("/v1/index/{key}", "/v1/index/..%2Fetc"), None);
        assert_eq!(key_in_path("/health", "/health"), None);
    }
}
