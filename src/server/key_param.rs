//! The one path parameter of the key routes (`/v1/index/{key}`,
//! `/v1/cache/{key}`, `/download/{file}`), extracted so that a parameter that
//! is not UTF-8 gets the JSON error shape (400 `invalid_key`) like every
//! other malformed key, not axum's plain-text rejection.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::ApiError;
use crate::protocol::Key;

pub struct KeyParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for KeyParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| KeyParam(value))
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_key",
                    format!("the key in the path cannot be read: {}", e.body_text()),
                )
            })
    }
}

/// The edge where a key named by a request becomes a `Key`: a malformed one
/// is 400 `invalid_key`, and nothing past this point checks it again.
pub fn parse_key(key: &str) -> Result<Key, ApiError> {
    Key::parse(key).map_err(|e| ApiError::bad_request("invalid_key", e.to_string()))
}
