//! Answering a hit without parsing the index: the key's summary (see
//! `store::summary`), derived from the index once when the store has none.
//! Also `GET`/`HEAD /v1/cache/{key}`: the hit answer for a key alone, so a
//! client that knows its key asks with a few hundred bytes and uploads its
//! manifests only on a miss.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::auth::{KeyScopes, check_scopes};
use super::blocking::blocking;
use super::key_param::{KeyParam, parse_key};
use super::metrics::Metrics;
use super::observe::RequestNote;
use super::{ApiError, AppState};
use crate::protocol::{CacheResponse, Key};
use crate::store::KeySummary;

/// `GET /v1/cache/{key}`: the same answer as a `POST /v1/cache` hit; 404
/// `unknown_key` on a miss (nothing is installed: only a POST carries what
/// an install needs).
pub async fn cache_by_key(
    State(state): State<Arc<AppState>>,
    Extension(scopes): Extension<KeyScopes>,
    KeyParam(key): KeyParam,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let base = state.base_url(&headers)?;
    let id = parse_key(&key)?;
    let Some(summary) = state.hit_summary(&id).await? else {
        return Err(AppState::unknown_key(&key));
    };
    // As for the POST and the download: a key without the scope of the
    // tree's private registries is not told about it.
    check_scopes(&scopes, &summary.registries)?;
    Metrics::add(&state.metrics.hits, 1);
    state.last_use.used(&state.store, &id);
    let mut answer = Json(hit_response(&base, &summary)).into_response();
    RequestNote::attach(&mut answer, &key, Some(true));
    Ok(answer)
}

pub fn hit_response(base: &str, summary: &KeySummary) -> CacheResponse {
    CacheResponse {
        download_url: format!("{base}/download/{}.zip", summary.key),
        cache_hit: true,
        key: summary.key.to_string(),
        index_url: format!("{base}/v1/index/{}", summary.key),
        files: summary.files,
        size: summary.size,
        bundle_size: summary.bundle_size,
    }
}

impl AppState {
    /// The summary of a stored key; `None` on a miss, 400 on a malformed key.
    /// Reads the whole index only when the store keeps no summary for the
    /// key, and then stores one so the next hit does not.
    pub async fn hit_summary(&self, key: &Key) -> Result<Option<KeySummary>, ApiError> {
        let store = self.store.clone();
        let owned = *key;
        let kept = blocking("summary lookup", move || store.get_summary(&owned)).await?;
        match kept {
            Ok(Some(summary)) => return Ok(Some(summary)),
            Ok(None) => {}
            // The summary is a cache; the index still answers.
            Err(e) => tracing::warn!(%key, "could not read the key's summary: {e}"),
        }
        let Some(index) = self.find_index(key).await? else {
            return Ok(None);
        };
        let store = self.store.clone();
        let summary = blocking("summary derivation", move || {
            let summary = KeySummary::of(&index);
            if let Err(e) = store.put_summary(&summary) {
                tracing::warn!(key = %summary.key, "could not write the key's summary: {e}");
            }
            summary
        })
        .await?;
        Ok(Some(summary))
    }
}
