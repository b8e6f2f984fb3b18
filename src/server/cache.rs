//! `POST /v1/cache`: validate, recompute the key, answer a hit from the store
//! or install on a miss, and hand back where to download the bundle.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::metrics::Metrics;
use super::observe::RequestNote;
use super::{ApiError, AppState};
use crate::bundle;
use crate::protocol::{CacheRequest, CacheResponse, Index, check_project_shape, compute_key};

pub async fn cache(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
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
    })?;
    let request: CacheRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not a valid cache request: {e}"),
        )
    })?;
    let request = request
        .validate()
        .map_err(|message| ApiError::bad_request("invalid_request", message))?;
    let computed = compute_key(request.key_input());
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

    let (index, hit) = match state.installer_lookup(&computed).await? {
        Some(index) => (Arc::new(index), true),
        None => (state.installer.install(request, runner).await?, false),
    };
    let counter = if hit {
        &state.metrics.hits
    } else {
        &state.metrics.misses
    };
    Metrics::add(counter, 1);
    if hit {
        state.last_use.used(&state.store, &computed);
    }
    let base = state.base_url(&headers);
    let mut answer = Json(response(&base, &index, hit)).into_response();
    RequestNote::attach(&mut answer, &computed, Some(hit));
    Ok(answer)
}

fn response(base: &str, index: &Index, hit: bool) -> CacheResponse {
    CacheResponse {
        download_url: format!("{base}/download/{}.zip", index.key),
        cache_hit: hit,
        key: index.key.clone(),
        index_url: format!("{base}/v1/index/{}", index.key),
        files: index.file_count(),
        size: index.logical_size(),
        bundle_size: bundle::plan(index).len(),
    }
}

impl AppState {
    async fn installer_lookup(&self, key: &str) -> Result<Option<Index>, ApiError> {
        match self.load_index(key).await {
            Ok(index) => Ok(Some(index)),
            Err(e) if e.status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `--public-url` when given; otherwise how the client reached us.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .map(str::to_string)
            .unwrap_or_else(|| self.local_addr.to_string());
        format!("http://{host}")
    }
}
