//! Talking to the server: the three requests of a fetch, retries (see
//! `backoff`), redirects (followed by hand, see `redirect`), the caps
//! on what a server may send, and the mapping of every failure to either "the
//! server is down, a local install may stand in", "the key is gone, ask
//! again" or a definite refusal.

mod backoff;
mod body;
mod probe;
mod redirect;

use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::time::Duration;

use futures::StreamExt;
use indicatif::ProgressBar;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, RANGE};
use reqwest::{StatusCode, Url};

use crate::client::ClientError;
use crate::protocol::{CacheRequest, CacheResponse, ErrorBody, Index};

/// How a request ended when it did not succeed.
#[derive(Debug)]
pub enum ServerError {
    /// Unreachable, or kept answering 5xx, or the install timed out there
    /// (504), or it could not reach its registry (502 `registry_unreachable`):
    /// the local install may stand in.
    Down(String),
    /// A definite answer (401, 4xx, a broken reply) that a fallback would not
    /// fix, or our own disk failing under the download (`WriteBundle`,
    /// `DownloadFile`: the variant says whose fault it is).
    Fatal(ClientError),
    /// The index or bundle answered 404/410 after the cache request succeeded:
    /// gc removed the key meanwhile, and asking again re-installs it.
    Gone(String),
    /// The server will not cache this project (422 `untrusted_source`,
    /// `unsupported_project`, `tree_too_large`, `uncacheable_tree`): the job's
    /// own install can still do what the server must not.
    Uncacheable(String),
}

/// 422 codes that say "not here" rather than "the install itself failed".
const UNCACHEABLE_CODES: &[&str] = &[
    "untrusted_source",
    "unsupported_project",
    "tree_too_large",
    "uncacheable_tree",
];

/// One attempt's verdict: try again, or stop with this error.
enum Attempt {
    Retry(String),
    /// A 503 with `Retry-After`: try again, but not sooner than this.
    RetryAfter(String, Duration),
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
    /// Limit for the index and bundle downloads that follow one cache answer,
    /// retries and resumes included: a trickling server fails instead of
    /// holding the job forever.
    pub download_timeout: Duration,
    /// `-q`: no word while the server installs a miss.
    pub quiet: bool,
}

pub struct Http {
    /// For the POST, which may be silent for a whole install.
    slow: reqwest::Client,
    /// For the GETs: a stalled transfer is a failure to retry.
    client: reqwest::Client,
    settings: HttpSettings,
}

/// A GET that receives nothing for this long fails (and is retried).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Http {
    pub fn new(settings: HttpSettings) -> Result<Self, ClientError> {
        // reqwest is built without a default crypto provider; an error only means
        // another part of the process installed one first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |read_timeout: Duration| {
            reqwest::Client::builder()
                // Followed by hand (see `redirect`): reqwest's policy resends
                // the key to hops it should not reach.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(read_timeout)
                .user_agent(concat!("depcache/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|source| ClientError::HttpClient { source })
        };
        Ok(Http {
            slow: build(settings.post_timeout)?,
            client: build(IDLE_TIMEOUT)?,
            settings,
        })
    }

    pub fn server(&self) -> &str {
        &self.settings.server
    }

    pub fn download_timeout(&self) -> Duration {
        self.settings.download_timeout
    }

    /// Adds the API key, but only for URLs on the server the user named: a
    /// download URL or redirect hop on another origin never receives the key
    /// (as browsers and curl drop credentials on cross-origin redirects).
    fn authorized(
        &self,
        url: &str,
        redirected: bool,
        request: reqwest::RequestBuilder,
    ) -> reqwest::RequestBuilder {
        match &self.settings.api_key {
            Some(key) if redirect::same_origin(&self.settings.server, url) => {
                request.header(AUTHORIZATION, format!("Bearer {key}"))
            }
            // A redirect to a CDN or bucket is normal: no --public-url advice.
            Some(_) if redirected => {
                tracing::info!("the API key is not sent to {url}, another origin");
                request
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
            // The server installs a miss before it answers, which may take
            // minutes: the user hears about it instead of a silent wait.
            // Per attempt, so a refused connection is never called an install.
            let response = super::progress::while_installing(
                self.settings.quiet,
                &request.manager,
                self.post(&url, request),
            )
            .await?;
            // No key was handed out yet: a 404 here is a wrong URL.
            if response.status() == StatusCode::NOT_FOUND {
                let sentence = redirect::wrong_server_url(&self.settings.server, &url);
                return Err(Attempt::Stop(ServerError::Fatal(ClientError::Refused(
                    sentence,
                ))));
            }
            let response = self.check_status(response).await.map_err(|a| match a {
                Attempt::Stop(ServerError::Gone(m)) => {
                    Attempt::Stop(ServerError::Fatal(ClientError::Refused(m)))
                }
                a => a,
            })?;
            response.json::<CacheResponse>().await.map_err(|e| {
                Attempt::Stop(ServerError::Fatal(ClientError::NotDepcache {
                    server: self.settings.server.clone(),
                    asked: "cache request",
                    reason: e.to_string(),
                }))
            })
        })
        .await
    }

    /// One POST, following only redirects that keep the body on the server's
    /// origin (307/308 there); any other redirect ends the run.
    async fn post(&self, url: &str, request: &CacheRequest) -> Result<reqwest::Response, Attempt> {
        let mut current = parse_url(url)?;
        for hop in 0..=redirect::MAX_HOPS {
            let response = self
                .authorized(current.as_str(), hop > 0, self.slow.post(current.clone()))
                .timeout(self.settings.post_timeout)
                .json(request)
                .send()
                .await
                .map_err(|e| self.transport(e))?;
            let next = match redirect::target(&response) {
                None => return Ok(response),
                Some(Err(sentence)) => return Err(stop_failure(sentence)),
                Some(Ok(next)) => next,
            };
            let home = redirect::same_origin(&self.settings.server, next.as_str());
            if !redirect::post_may_follow(response.status(), home) {
                return Err(stop_failure(format!(
                    "{} answered the cache request with a {} redirect to {next}; the manifests \
are sent only to the server's own origin with a 307 or 308 (pass the right URL as --server)",
                    self.settings.server,
                    response.status().as_u16()
                )));
            }
            tracing::info!("POST redirected to {next}");
            current = next;
        }
        Err(too_many_hops(url))
    }

    /// One GET, following redirects; each hop carries the key only when its
    /// origin is the server's, and keeps the `Range` asked for.
    async fn get(&self, url: &str, range: Option<&str>) -> Result<reqwest::Response, Attempt> {
        let mut current = parse_url(url)?;
        for hop in 0..=redirect::MAX_HOPS {
            let mut request =
                self.authorized(current.as_str(), hop > 0, self.client.get(current.clone()));
            if let Some(range) = range {
                request = request.header(RANGE, range);
            }
            let response = request.send().await.map_err(|e| self.transport(e))?;
            current = match redirect::target(&response) {
                None => return Ok(response),
                Some(Err(sentence)) => return Err(stop_failure(sentence)),
                Some(Ok(next)) => next,
            };
            tracing::info!("GET redirected to {current}");
        }
        Err(too_many_hops(url))
    }

    /// `GET /v1/index/<key>`: what every extracted file is checked against.
    /// Read into a buffer of at most `body::MAX_INDEX_BYTES`.
    pub async fn get_index(&self, url: &str) -> Result<Index, ServerError> {
        self.with_retries("GET index", async || {
            let response = self.get(url, None).await?;
            let response = self.check_status(response).await?;
            let bytes = body::read_capped(response, body::MAX_INDEX_BYTES, url)
                .await
                .map_err(|e| match e {
                    body::Capped::Transport(e) => self.transport(e),
                    body::Capped::TooLong(sentence) => {
                        Attempt::Stop(ServerError::Fatal(ClientError::Verification(sentence)))
                    }
                })?;
            serde_json::from_slice::<Index>(&bytes).map_err(|e| {
                // A server that answers garbage for the index cannot be trusted
                // with the bundle either.
                Attempt::Stop(ServerError::Fatal(ClientError::BadIndex {
                    url: url.to_string(),
                    reason: e.to_string(),
                }))
            })
        })
        .await
    }

    /// Streams the bundle into `out`, resuming with `Range` after a broken
    /// connection. Returns the number of bytes written. `announced` (the
    /// cache answer's `bundle_size`, 0 when unknown) caps what is written:
    /// a longer body is refused before a byte past it reaches the disk.
    pub async fn download(
        &self,
        url: &str,
        announced: u64,
        out: &mut std::fs::File,
        bar: &ProgressBar,
    ) -> Result<u64, ServerError> {
        let mut written: u64 = 0;
        self.with_retries("GET bundle", async || {
            let range = (written > 0).then(|| format!("bytes={written}-"));
            let response = self.get(url, range.as_deref()).await?;
            let response = self.check_status(response).await?;
            if written > 0 && response.status() != StatusCode::PARTIAL_CONTENT {
                // The server ignored the range: start over.
                written = 0;
                bar.set_position(0);
            }
            if written > 0 {
                body::check_resume(&response, written, announced, url).map_err(stop_verify)?;
            }
            let length = response.content_length();
            let limit = body::bundle_limit(announced, written, length, url).map_err(stop_verify)?;
            if let Some(len) = length {
                bar.set_length(written + len);
            }
            // Drop whatever a broken attempt wrote past the resume point.
            out.set_len(written).map_err(local_io)?;
            out.seek(SeekFrom::Start(written)).map_err(local_io)?;
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.transport(e))?;
                if written + chunk.len() as u64 > limit {
                    return Err(stop_verify(format!(
                        "{url} sent more than the {limit} bytes announced"
                    )));
                }
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
            let asked = format!("bytes={from}-{to}");
            let response = self.get(url, Some(&asked)).await?;
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
                    return Err(Attempt::Stop(ServerError::Fatal(
                        ClientError::Verification(format!(
                            "{url} sent more than the {len} bytes asked for"
                        )),
                    )));
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
        let retry_after = backoff::retry_after(response.headers());
        let server = self.settings.server.clone();
        let text = response.text().await.unwrap_or_default();
        let (error_code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error, body.message),
            Err(_) => (String::new(), text.trim().chars().take(500).collect()),
        };
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
                Attempt::Stop(ServerError::Fatal(ClientError::AuthRefused(sentence)))
            }
            // Only GETs of a key keep this: the key was removed since the answer.
            StatusCode::NOT_FOUND | StatusCode::GONE => Attempt::Stop(ServerError::Gone(format!(
                "{server} no longer has what it answered with ({code}): {message}"
            ))),
            StatusCode::UNPROCESSABLE_ENTITY
                if UNCACHEABLE_CODES.contains(&error_code.as_str()) =>
            {
                Attempt::Stop(ServerError::Uncacheable(format!("{error_code}: {message}")))
            }
            // The package manager itself failed there: it would fail here too.
            StatusCode::UNPROCESSABLE_ENTITY => Attempt::Stop(ServerError::Fatal(
                ClientError::Install(format!("the install on {server} failed: {message}")),
            )),
            // A server older than the field refuses it as unknown; it could
            // not keep the job's private scopes from its default registry.
            StatusCode::BAD_REQUEST if message.contains("unknown field `private_scopes`") => {
                Attempt::Stop(ServerError::Uncacheable(format!(
                    "{server} is older than this client and cannot keep the job's private \
scopes from its default registry"
                )))
            }
            s if s.is_client_error() => Attempt::Stop(ServerError::Fatal(ClientError::Refused(
                format!("{server} refused the request ({code}): {message}"),
            ))),
            // The install ran out of time there; asking again would only wait again.
            StatusCode::GATEWAY_TIMEOUT => {
                Attempt::Stop(ServerError::Down(format!("it answered 504: {message}")))
            }
            // The server could not reach its registry: asking again fails
            // the same way, and the job's own install may get there.
            StatusCode::BAD_GATEWAY if error_code == "registry_unreachable" => Attempt::Stop(
                ServerError::Down(format!("it answered 502 {error_code}: {message}")),
            ),
            s if s.is_server_error() => {
                let reason = format!("it answered {code}: {message}");
                match retry_after {
                    Some(after) => Attempt::RetryAfter(reason, after),
                    None => Attempt::Retry(reason),
                }
            }
            _ => Attempt::Stop(ServerError::Fatal(ClientError::UnexpectedStatus {
                server,
                code,
            })),
        })
    }
}

/// A failure writing the local temp file is ours, not the server's.
fn local_io(e: std::io::Error) -> Attempt {
    Attempt::Stop(ServerError::Fatal(local_error(e)))
}

fn local_error(source: std::io::Error) -> ClientError {
    ClientError::WriteBundle { source }
}

/// reqwest's display stops at "error sending request"; the cause says why.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}

fn stop_failure(sentence: String) -> Attempt {
    Attempt::Stop(ServerError::Fatal(ClientError::Failure(sentence)))
}

fn stop_verify(sentence: String) -> Attempt {
    Attempt::Stop(ServerError::Fatal(ClientError::Verification(sentence)))
}

fn too_many_hops(url: &str) -> Attempt {
    stop_failure(format!(
        "{url} redirected more than {} times",
        redirect::MAX_HOPS
    ))
}

/// URLs come from the user or from the server's answer: checked, not trusted.
fn parse_url(url: &str) -> Result<Url, Attempt> {
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(stop_failure(format!(
            "{url:?} is not an http:// or https:// URL"
        ))),
    }
}
