//! Talking to the server: the three requests of a fetch, retries with
//! exponential backoff, and the mapping of every failure to either "the server
//! is down, a local install may stand in" or a definite refusal.

use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::time::Duration;

use futures::StreamExt;
use indicatif::ProgressBar;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, RANGE};

use crate::error::CliError;
use crate::protocol::{CacheRequest, CacheResponse, ErrorBody, Index};

/// How a request ended when it did not succeed.
#[derive(Debug)]
pub enum ServerError {
    /// Unreachable, or kept answering 5xx, or the install timed out there (504):
    /// the local install may stand in.
    Down(String),
    /// A definite answer (401, 4xx, a broken reply) that a fallback would not fix.
    Fatal(CliError),
    /// The server cannot cache this project's shape (422 `unsupported_project`):
    /// a local install can still do it right.
    Unsupported(String),
}

/// One attempt's verdict: try again, or stop with this error.
enum Attempt {
    Retry(String),
    Stop(ServerError),
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Base URL, e.g. `http://cache:8080` (no trailing slash).
    pub server: String,
    pub api_key: Option<String>,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Whole-request limit of the POST: a miss installs before it answers.
    pub post_timeout: Duration,
}

pub struct Http {
    /// For the POST, which may be silent for a whole install.
    slow: reqwest::Client,
    /// For the GETs: a stalled transfer is a failure to retry.
    client: reqwest::Client,
    settings: HttpSettings,
}

/// The first retry waits this long; each further one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

impl Http {
    pub fn new(settings: HttpSettings) -> Result<Self, CliError> {
        // reqwest is built without a default crypto provider; an error only means
        // another part of the process installed one first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |read_timeout: Duration| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(read_timeout)
                .user_agent(concat!("depcache/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| CliError::Failure(format!("could not build the HTTP client: {e}")))
        };
        Ok(Http {
            slow: build(settings.post_timeout)?,
            client: build(Duration::from_secs(60))?,
            settings,
        })
    }

    pub fn server(&self) -> &str {
        &self.settings.server
    }

    /// Adds the API key, but only for URLs on the server the user named: a
    /// download URL pointing at another origin never receives the key (as
    /// browsers and curl drop credentials on cross-origin redirects).
    fn authorized(&self, url: &str, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.settings.api_key {
            Some(key) if same_origin(&self.settings.server, url) => {
                request.header(AUTHORIZATION, format!("Bearer {key}"))
            }
            Some(_) => {
                tracing::warn!(
                    "{url} is not on {}; the API key is not sent there (set the server's \
--public-url to the URL clients use)",
                    self.settings.server
                );
                request
            }
            None => request,
        }
    }

    /// `POST /v1/cache`: on a miss the server installs before answering.
    pub async fn post_cache(&self, request: &CacheRequest) -> Result<CacheResponse, ServerError> {
        let url = format!("{}/v1/cache", self.settings.server);
        self.with_retries("POST /v1/cache", async || {
            let response = self
                .authorized(&url, self.slow.post(&url))
                .timeout(self.settings.post_timeout)
                .json(request)
                .send()
                .await
                .map_err(|e| self.transport(e))?;
            let response = self.check_status(response).await?;
            response.json::<CacheResponse>().await.map_err(|e| {
                Attempt::Stop(ServerError::Fatal(CliError::Failure(format!(
                    "{} answered the cache request with something that is not a depcache reply: {e}",
                    self.settings.server
                ))))
            })
        })
        .await
    }

    /// `GET /v1/index/<key>`: what every extracted file is checked against.
    pub async fn get_index(&self, url: &str) -> Result<Index, ServerError> {
        self.with_retries("GET index", async || {
            let response = self
                .authorized(url, self.client.get(url))
                .send()
                .await
                .map_err(|e| self.transport(e))?;
            let response = self.check_status(response).await?;
            let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
            serde_json::from_slice::<Index>(&bytes).map_err(|e| {
                // A server that answers garbage for the index cannot be trusted
                // with the bundle either.
                Attempt::Stop(ServerError::Fatal(CliError::Verify(format!(
                    "the index at {url} is not valid: {e}"
                ))))
            })
        })
        .await
    }

    /// Streams the bundle into `out`, resuming with `Range` after a broken
    /// connection. Returns the number of bytes written.
    pub async fn download(
        &self,
        url: &str,
        out: &mut std::fs::File,
        bar: &ProgressBar,
    ) -> Result<u64, ServerError> {
        let mut written: u64 = 0;
        self.with_retries("GET bundle", async || {
            let mut request = self.authorized(url, self.client.get(url));
            if written > 0 {
                request = request.header(RANGE, format!("bytes={written}-"));
            }
            let response = request.send().await.map_err(|e| self.transport(e))?;
            let response = self.check_status(response).await?;
            if written > 0 && response.status() != StatusCode::PARTIAL_CONTENT {
                // The server ignored the range: start over.
                written = 0;
                bar.set_position(0);
            }
            if let Some(len) = response.content_length() {
                bar.set_length(written + len);
            }
            // Drop whatever a broken attempt wrote past the resume point.
            out.set_len(written).map_err(local_io)?;
            out.seek(SeekFrom::Start(written)).map_err(local_io)?;
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| self.transport(e))?;
                out.write_all(&chunk).map_err(local_io)?;
                written += chunk.len() as u64;
                bar.set_position(written);
            }
            Ok(())
        })
        .await?;
        Ok(written)
    }

    /// Appends bytes `range` of the bundle at `url` to `out`, resuming inside
    /// the range after a broken connection. `Ok(false)` when the server does
    /// not answer with exactly that range (it may ignore `Range`): the caller
    /// then fetches the whole bundle instead.
    pub async fn download_range(
        &self,
        url: &str,
        range: Range<u64>,
        out: &mut std::fs::File,
        bar: &ProgressBar,
    ) -> Result<bool, ServerError> {
        let base = out
            .stream_position()
            .map_err(|e| ServerError::Fatal(local_error(e)))?;
        let mut written: u64 = 0;
        let len = range.end - range.start;
        self.with_retries("GET bundle range", async || {
            let (from, to) = (range.start + written, range.end - 1);
            let request = self
                .authorized(url, self.client.get(url))
                .header(RANGE, format!("bytes={from}-{to}"));
            let response = request.send().await.map_err(|e| self.transport(e))?;
            let response = self.check_status(response).await?;
            let answered = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if response.status() != StatusCode::PARTIAL_CONTENT
                || !answered.starts_with(&format!("bytes {from}-{to}/"))
            {
                return Ok(false);
            }
            out.set_len(base + written).map_err(local_io)?;
            out.seek(SeekFrom::Start(base + written))
                .map_err(local_io)?;
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| self.transport(e))?;
                if written + chunk.len() as u64 > len {
                    return Err(Attempt::Stop(ServerError::Fatal(CliError::Verify(
                        format!("{url} sent more than the {len} bytes asked for"),
                    ))));
                }
                out.write_all(&chunk).map_err(local_io)?;
                written += chunk.len() as u64;
                bar.inc(chunk.len() as u64);
            }
            if written < len {
                return Err(Attempt::Retry(format!(
                    "the range {}-{to} ended after {written} bytes",
                    range.start
                )));
            }
            Ok(true)
        })
        .await
    }

    /// Runs `attempt` until it succeeds, stops, or the retries are used up.
    async fn with_retries<T>(
        &self,
        what: &str,
        mut attempt: impl AsyncFnMut() -> Result<T, Attempt>,
    ) -> Result<T, ServerError> {
        let mut delay = FIRST_BACKOFF;
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Attempt::Stop(e)) => return Err(e),
                Err(Attempt::Retry(reason)) if tries > self.settings.retries => {
                    let after = if tries == 1 {
                        String::new()
                    } else {
                        format!(", {tries} tries")
                    };
                    return Err(ServerError::Down(format!("{reason}{after}")));
                }
                Err(Attempt::Retry(reason)) => {
                    tracing::info!("{what} failed ({reason}); retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }

    /// Connection refused, DNS, timeouts, a body cut short: all worth a retry.
    fn transport(&self, e: reqwest::Error) -> Attempt {
        let what = if e.is_connect() {
            "could not connect"
        } else if e.is_timeout() {
            "timed out"
        } else {
            "connection failed"
        };
        Attempt::Retry(format!("{what}: {}", root_cause(&e)))
    }

    /// Passes 2xx through; sorts everything else into retry or stop.
    async fn check_status(
        &self,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, Attempt> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let server = self.settings.server.clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str::<ErrorBody>(&text).ok();
        let unsupported = body
            .as_ref()
            .is_some_and(|b| b.error == "unsupported_project");
        let message = body
            .map(|b| b.message)
            .unwrap_or_else(|| text.trim().chars().take(500).collect());
        let code = status.as_u16();
        Err(match status {
            StatusCode::UNAUTHORIZED => {
                let sentence = if self.settings.api_key.is_some() {
                    format!("the server {server} refused the API key (401)")
                } else {
                    format!(
                        "the server {server} requires an API key (401); set DEPCACHE_API_KEY or pass --api-key"
                    )
                };
                Attempt::Stop(ServerError::Fatal(CliError::Auth(sentence)))
            }
            StatusCode::UNPROCESSABLE_ENTITY if unsupported => {
                Attempt::Stop(ServerError::Unsupported(message))
            }
            // The package manager itself failed there: it would fail here too.
            StatusCode::UNPROCESSABLE_ENTITY => Attempt::Stop(ServerError::Fatal(
                CliError::Install(format!("the install on {server} failed: {message}")),
            )),
            s if s.is_client_error() => Attempt::Stop(ServerError::Fatal(CliError::Rejected(
                format!("{server} refused the request ({code}): {message}"),
            ))),
            // The install ran out of time there; asking again would only wait again.
            StatusCode::GATEWAY_TIMEOUT => {
                Attempt::Stop(ServerError::Down(format!("it answered 504: {message}")))
            }
            s if s.is_server_error() => Attempt::Retry(format!("it answered {code}: {message}")),
            _ => Attempt::Stop(ServerError::Fatal(CliError::Failure(format!(
                "{server} answered an unexpected {code}"
            )))),
        })
    }
}

/// A failure writing the local temp file is ours, not the server's.
fn local_io(e: std::io::Error) -> Attempt {
    Attempt::Stop(ServerError::Fatal(local_error(e)))
}

fn local_error(e: std::io::Error) -> CliError {
    CliError::Failure(format!("could not write the downloaded bundle: {e}"))
}

/// reqwest's display stops at "error sending request"; the cause says why.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}

/// Scheme, host and port agree (default ports filled in).
fn same_origin(a: &str, b: &str) -> bool {
    let origin = |u: &str| {
        reqwest::Url::parse(u).ok().map(|u| {
            (
                u.scheme().to_string(),
                u.host_str().map(str::to_ascii_lowercase),
                u.port_or_known_default(),
            )
        })
    };
    matches!((origin(a), origin(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins() {
        use super::same_origin;
        assert!(same_origin(
            "http://cache:8080",
            "http://cache:8080/download/k.zip"
        ));
        assert!(same_origin(
            "https://Cache.example",
            "https://cache.example:443/v1/index/k"
        ));
        assert!(!same_origin(
            "http://cache:8080",
            "http://evil:8080/download/k.zip"
        ));
        assert!(!same_origin(
            "http://cache:8080",
            "https://cache:8080/download/k.zip"
        ));
        assert!(!same_origin("http://cache:8080", "not a url"));
    }
}
