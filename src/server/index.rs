//! `GET /v1/index/{key}`: the index a client verifies a bundle against.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::{KeyScopes, check_scopes};
use super::blocking::blocking;
use super::key_param::{KeyParam, parse_key};
use super::{ApiError, AppState};
use crate::protocol::{Index, Key};
use crate::store::Store;

pub async fn get_index(
    State(state): State<Arc<AppState>>,
    Extension(scopes): Extension<KeyScopes>,
    KeyParam(key): KeyParam,
) -> Result<Json<Index>, ApiError> {
    let index = state.load_index(&parse_key(&key)?).await?;
    check_scopes(&scopes, &index.registries)?;
    Ok(Json(index))
}

/// The one way the server reads an index: on the blocking pool, `None` for a
/// key the store does not hold. `key` is already checked.
pub async fn read_index(store: &Arc<dyn Store>, key: &Key) -> Result<Option<Index>, ApiError> {
    let (store, owned) = (store.clone(), *key);
    blocking("index lookup", move || store.get_index(&owned))
        .await?
        .map_err(|e| ApiError::internal(format!("could not read index {key}: {e}")))
}

impl AppState {
    /// The index of a well-formed, known key; 400 and 404 otherwise.
    pub async fn load_index(&self, key: &Key) -> Result<Index, ApiError> {
        self.find_index(key)
            .await?
            .ok_or_else(|| Self::unknown_key(&key.to_string()))
    }

    /// A checked key's index, `None` on a miss; counted as an index read
    /// (hits are meant to read none, and the counter shows it).
    pub async fn find_index(&self, key: &Key) -> Result<Option<Index>, ApiError> {
        super::metrics::Metrics::add(&self.metrics.index_reads, 1);
        read_index(&self.store, key).await
    }

    pub fn unknown_key(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_key",
            format!("no tree is cached under key {key}; POST /v1/cache first"),
        )
    }
}
