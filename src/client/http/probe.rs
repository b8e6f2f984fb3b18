//! Asking for a key before uploading anything: `GET /v1/cache/<key>` answers
//! a hit with a few hundred bytes each way, so the manifests are POSTed only
//! on a miss. Servers older than that route answer 404 or 405, which is a
//! miss here too: the POST that follows works with every server.

use reqwest::StatusCode;

use super::{Attempt, Http, ServerError, body, stop_verify};
use crate::client::ClientError;
use crate::protocol::{CacheResponse, ValidRequest};

/// A cache answer is a few hundred bytes; a longer body is not one.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

impl Http {
    /// The cache answer for `request`: by key alone when `probe` and the
    /// server has it, else by POSTing the manifests (which installs on a miss).
    pub async fn ask_cache(
        &self,
        request: &ValidRequest,
        probe: bool,
    ) -> Result<CacheResponse, ServerError> {
        if probe && let Some(answer) = self.get_cache(&request.hash.to_string()).await? {
            return Ok(answer);
        }
        self.post_cache(&request.to_wire()).await
    }

    /// `GET /v1/cache/<key>`: `None` on a miss or from a server without the
    /// route.
    pub async fn get_cache(&self, key: &str) -> Result<Option<CacheResponse>, ServerError> {
        let url = format!("{}/v1/cache/{key}", self.settings.server);
        self.with_retries("GET /v1/cache", async || {
            let response = self.get(&url, None).await?;
            if matches!(
                response.status(),
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ) {
                return Ok(None);
            }
            let response = self.check_status(response).await?;
            let bytes = body::read_capped(response, MAX_ANSWER_BYTES, &url)
                .await
                .map_err(|e| match e {
                    body::Capped::Transport(e) => self.transport(e),
                    body::Capped::TooLong(sentence) => stop_verify(sentence),
                })?;
            let answer: CacheResponse = serde_json::from_slice(&bytes).map_err(|e| {
                Attempt::Stop(ServerError::Fatal(ClientError::NotDepcache {
                    server: self.settings.server.clone(),
                    asked: "cache lookup",
                    reason: e.to_string(),
                }))
            })?;
            // Checked here, not only by the caller: this answer was asked for
            // by key, so anything else is a server that cannot be trusted.
            if answer.key != key || !answer.cache_hit {
                return Err(stop_verify(format!(
                    "{url} answered for key {:?} (hit: {}) instead of a hit for {key}",
                    answer.key, answer.cache_hit
                )));
            }
            Ok(Some(answer))
        })
        .await
    }
}
