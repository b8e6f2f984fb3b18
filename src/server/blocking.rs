//! Work that blocks (store reads, layouts, ingestion) runs on tokio's
//! blocking pool; a panic there becomes one 500 naming the work, the same
//! way for every handler.

use super::ApiError;

/// Runs `work` on the blocking pool; `what` names it in the 500 a panic
/// becomes ("index lookup panicked: ...").
pub async fn blocking<T, F>(what: &'static str, work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("{what} panicked: {e}")))
}

#[cfg(test)]
mod tests {
    use super::blocking;

    #[tokio::test]
    async fn a_panic_is_a_500_naming_the_work() {
        let err = blocking("index lookup", || -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            err.message.starts_with("index lookup panicked: "),
            "{}",
            err.message
        );
        assert_eq!(blocking("sum", || 1 + 1).await.unwrap(), 2);
    }
}
