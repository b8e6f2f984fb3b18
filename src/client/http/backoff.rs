//! When to try a request again: exponential backoff with jitter, so that a
//! CI fleet whose server restarted does not come back in lockstep, and a
//! 503's `Retry-After` honoured as the least wait (a server whose install
//! queue is full says when a slot is likely).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::{Attempt, Http, ServerError};

/// The first retry waits about this long; each further one about twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// A `Retry-After` longer than this ends the retries: a local install (or
/// the failure under --no-fallback) is better than a job that sits idle.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Http {
    /// Runs `attempt` until it succeeds, stops, or the retries are used up.
    pub(super) async fn with_retries<T>(
        &self,
        what: &str,
        mut attempt: impl AsyncFnMut() -> Result<T, Attempt>,
    ) -> Result<T, ServerError> {
        let mut tries: u32 = 0;
        loop {
            tries += 1;
            let (reason, after) = match attempt().await {
                Ok(value) => return Ok(value),
                Err(Attempt::Stop(e)) => return Err(e),
                Err(Attempt::Retry(reason)) => (reason, None),
                Err(Attempt::RetryAfter(reason, after)) => (reason, Some(after)),
            };
            if tries > self.settings.retries {
                let after = if tries == 1 {
                    String::new()
                } else {
                    format!(", {tries} tries")
                };
                return Err(ServerError::Down(format!("{reason}{after}")));
            }
            if let Some(after) = after.filter(|a| *a > MAX_RETRY_AFTER) {
                return Err(ServerError::Down(format!(
                    "{reason}; it asks to retry after {} s, longer than the {} s a fetch waits",
                    after.as_secs(),
                    MAX_RETRY_AFTER.as_secs()
                )));
            }
            let delay = delay(tries - 1, after);
            tracing::info!("{what} failed ({reason}); retrying in {delay:?}");
            tokio::time::sleep(delay).await;
        }
    }
}

/// The wait before retry number `n` (from 0): half the exponential step
/// plus a random part of the other half ("equal jitter"), or the server's
/// `Retry-After` plus up to a fifth more, never less than it asked.
pub fn delay(n: u32, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(after) if !after.is_zero() => after + jitter(after / 5),
        _ => {
            let step = FIRST_BACKOFF.saturating_mul(1 << n.min(16));
            step / 2 + jitter(step / 2)
        }
    }
}

fn jitter(up_to: Duration) -> Duration {
    let millis = u64::try_from(up_to.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=millis))
}

/// `Retry-After` as seconds or as an HTTP date; `None` when absent or
/// unreadable (then the backoff decides alone).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_retry_after_is_a_floor() {
        for n in 0..4 {
            let step = FIRST_BACKOFF * (1 << n);
            let waits: Vec<Duration> = (0..50).map(|_| delay(n, None)).collect();
            assert!(
                waits.iter().all(|w| *w >= step / 2 && *w <= step),
                "{waits:?}"
            );
            assert!(waits.iter().any(|w| *w != waits[0]), "no jitter: {waits:?}");
        }
        let after = Duration::from_secs(3);
        for _ in 0..50 {
            let wait = delay(0, Some(after));
            assert!(wait >= after && wait <= after + after / 5, "{wait:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(30);
        headers.insert(RETRY_AFTER, httpdate::fmt_http_date(later).parse().unwrap());
        let got = retry_after(&headers).unwrap();
        assert!(
            got > Duration::from_secs(25) && got <= Duration::from_secs(30),
            "{got:?}"
        );
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
