//! `GET /health` (liveness) and `GET /ready` (readiness), no auth.
//!
//! Liveness answers from memory: an orchestrator restarts a process whose
//! liveness fails, and restarting does not fix a full disk or an S3 outage,
//! so the store check is readiness's alone (docs/decisions.md).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{ApiError, AppState};
use crate::protocol::HealthResponse;
use crate::store::check_ready;

/// A store slower than this to answer a stat and a small write is not ready
/// (probes time out after a few seconds themselves).
const READY_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "healthy".to_string(),
    })
}

pub async fn ready(State(state): State<Arc<AppState>>) -> Result<Json<HealthResponse>, ApiError> {
    let store = state.store.clone();
    let check = tokio::task::spawn_blocking(move || check_ready(store.as_ref()));
    let message = match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => {
            return Ok(Json(HealthResponse {
                status: "ready".to_string(),
            }));
        }
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Err(e)) => format!("the store check panicked: {e}"),
        Err(_) => format!("the store did not answer within {READY_TIMEOUT:?}"),
    };
    tracing::warn!("not ready: {message}");
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        message,
    ))
}
