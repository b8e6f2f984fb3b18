//! `GET /v1/versions`: the supported-versions table (PATH tools, toolchains,
//! container fallback), behind the same key as the rest of `/v1`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::AppState;
use crate::protocol::SupportedVersions;

pub async fn versions(State(state): State<Arc<AppState>>) -> Json<SupportedVersions> {
    Json(state.policy.supported())
}
