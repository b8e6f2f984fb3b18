//! `POST /v1/cache`: validate, recompute the key, answer a hit from the store
//! or install on a miss, and hand back where to download the bundle.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::auth::{KeyScopes, check_scopes};
use super::metrics::Metrics;
use super::observe::RequestNote;
use super::{ApiError, AppState};
use crate::protocol::{CacheRequest, CacheResponse, check_project_shape, key_of};
use crate::store::KeySummary;

pub async fn cache(
    State(state): State<Arc<AppState>>,
    Extension(scopes): Extension<KeyScopes>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Before any work: an install must not run for an answer that cannot be
    // given.
    let base = state.base_url(&headers)?;
    let body = match body {
        Ok(body) => body,
        Err(rejection) => match super::body_deadline::timed_out(&rejection) {
            Some(timed_out) => return Ok(timed_out),
            None => return Err(body_rejection(&state, rejection)),
        },
    };
    let request: CacheRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not a valid cache request: {e}"),
        )
    })?;
    let request = request
        .validate()
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let computed = key_of(request.key_input());
    if computed != request.hash {
        return Err(ApiError::bad_request(
            "key_mismatch",
            format!(
                "the request's hash {} does not match the key {computed} computed from its \
contents; client and server disagree on the key recipe (see docs/protocol.md)",
                request.hash
            ),
        ));
    }
    // Before the store is asked: a tree stored for this key by an older
    // server would be the very wrong tree this refusal prevents.
    check_project_shape(request.manager, &request.files).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_project",
            e.to_string(),
        )
    })?;
    let runner = state.policy.decide(&request)?;
    // Before the store or an install: a key without the scope learns nothing.
    check_scopes(&scopes, &state.installer.registries_needed(&request))?;

    let id = computed;
    let (summary, hit) = match state.hit_summary(&id).await? {
        Some(summary) => (summary, true),
        None => {
            refuse_unknown_scopes(&state, &request.private_scopes)?;
            let manager = request.manager;
            let index = state
                .installer
                .install(request, runner)
                .await
                .map_err(|e| state.policy.with_alternatives(manager, e))?;
            (KeySummary::of(&index), false)
        }
    };
    // What the install found it needed (a private package behind a public one).
    check_scopes(&scopes, &summary.registries)?;
    let counter = if hit {
        &state.metrics.hits
    } else {
        &state.metrics.misses
    };
    Metrics::add(counter, 1);
    if !hit {
        state.metrics.recent.miss();
    }
    if hit {
        state.last_use.used(&state.store, &id);
    }
    let answer = CacheResponse {
        cache_hit: hit,
        ..super::hit::hit_response(&base, &summary)
    };
    let mut answer = Json(answer).into_response();
    RequestNote::attach(&mut answer, &computed.to_string(), Some(hit));
    Ok(answer)
}

/// On a miss, before anything is installed: a scope the job fetches from its
/// own registry and this server has none for would be asked of the default
/// registry, naming the private packages to it (and letting a public
/// package of the same name be tried). A hit fetches nothing, so it needs
/// no check.
fn refuse_unknown_scopes(state: &AppState, scopes: &[String]) -> Result<(), ApiError> {
    match scopes.iter().find(|s| !state.installer.has_scope(s)) {
        None => Ok(()),
        Some(scope) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_project",
            format!(
                "the project fetches {scope} from its own registry, which this server does not \
have; installing in the job"
            ),
        )),
    }
}

fn body_rejection(state: &AppState, rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "body_too_large",
            format!(
                "the request body exceeds this server's limit of {} bytes",
                state.max_body_size
            ),
        )
    } else {
        ApiError::new(status, "unreadable_body", rejection.body_text())
    }
}

impl AppState {
    /// `--public-url` when given; otherwise how the client reached us, which
    /// must be a plain `host[:port]`: the URLs built from it are followed with
    /// the client's API key, so a malformed `Host` is refused, never patched.
    pub fn base_url(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        if let Some(url) = &self.public_url {
            return Ok(url.trim_end_matches('/').to_string());
        }
        let Some(raw) = headers.get(header::HOST) else {
            return Err(ApiError::bad_request(
                "invalid_host",
                "the request has no Host header to build download URLs from; \
send one, or start the server with --public-url",
            ));
        };
        match raw.to_str() {
            Ok(host) if super::host::is_valid_host(host) => Ok(format!("http://{host}")),
            _ => {
                let shown: String = String::from_utf8_lossy(raw.as_bytes())
                    .chars()
                    .take(100)
                    .collect();
                Err(ApiError::bad_request(
                    "invalid_host",
                    format!(
                        "the Host header {shown:?} is not a plain host[:port]; download URLs \
are built from it unless the server runs with --public-url"
                    ),
                ))
            }
        }
    }
}
