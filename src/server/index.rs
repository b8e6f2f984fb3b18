//! `GET /v1/index/{key}`: the index a client verifies a bundle against.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{KeyScopes, check_scopes};
use super::key_param::KeyParam;
use super::{ApiError, AppState};
use crate::protocol::{Index, check_key};

pub async fn get_index(
    State(state): State<Arc<AppState>>,
    Extension(scopes): Extension<KeyScopes>,
    KeyParam(key): KeyParam,
) -> Result<Json<Index>, ApiError> {
    let index = state.load_index(&key).await?;
    check_scopes(&scopes, &index.registries)?;
    Ok(Json(index))
}

impl AppState {
    /// The index of a well-formed, known key; 400 and 404 otherwise.
    pub async fn load_index(&self, key: &str) -> Result<Index, ApiError> {
        check_key(key).map_err(|e| ApiError::bad_request("invalid_key", e.to_string()))?;
        let store = self.store.clone();
        let owned = key.to_string();
        super::metrics::Metrics::add(&self.metrics.index_reads, 1);
        let found = tokio::task::spawn_blocking(move || store.get_index(&owned))
            .await
            .map_err(|e| ApiError::internal(format!("index lookup panicked: {e}")))?
            .map_err(|e| ApiError::internal(format!("could not read index {key}: {e}")))?;
        found.ok_or_else(|| Self::unknown_key(key))
    }

    pub fn unknown_key(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_key",
            format!("no tree is cached under key {key}; POST /v1/cache first"),
        )
    }
}
