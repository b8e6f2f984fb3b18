//! `GET /health`: liveness, no auth.

use axum::Json;

use crate::protocol::HealthResponse;

pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "healthy".to_string(),
    })
}
