//! The one error type of every handler, rendered as `{"error","message"}`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::protocol::ErrorBody;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

/// Unknown paths get the one error shape too, with a pointer to where the
/// routes are, so a `--server` URL with a stray path explains itself.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route {path:?}; the API is /v1/cache, /v1/index/KEY, /v1/versions, /download/FILE, /health, /ready, /metrics and / (give fetch the server's base URL, without a path)"
        ),
    )
}

pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {path:?}"),
    )
}

/// Seconds a client should wait before retrying a 503 of this code: a full
/// queue drains within seconds; a missing container runtime or an unready
/// store needs an operator, so clients are told to wait longer rather than
/// hammer. Every 503 carries one (docs/protocol.md lists them), and so does
/// the 502 `registry_unreachable`.
pub fn retry_after(code: &str) -> u32 {
    match code {
        "install_queue_full" | "shutting_down" => 5,
        "store_unavailable" => 10,
        // The registry outage or missing CA rarely clears within a job.
        "registry_unreachable" => 60,
        _ => 30,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = Json(ErrorBody {
            error: self.code.to_string(),
            message: self.message,
        });
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE || self.code == "registry_unreachable" {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(self.code).into());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().unwrap());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_503_says_when_to_retry() {
        for (code, seconds) in [
            ("install_queue_full", "5"),
            ("shutting_down", "5"),
            ("store_unavailable", "10"),
            ("container_runtime_unavailable", "30"),
        ] {
            let response =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, "busy").into_response();
            assert_eq!(response.headers()[header::RETRY_AFTER], seconds, "{code}");
        }
        let response =
            ApiError::new(StatusCode::BAD_GATEWAY, "registry_unreachable", "no").into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "60");
        let response = ApiError::internal("boom").into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
