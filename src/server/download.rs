//! `GET /download/{key}.zip`: the bundle, assembled on the fly from packed
//! blobs (or read from the store's kept copy for hot keys, see
//! `kept_bundles`) and streamed with an exact `Content-Length`, `ETag` and
//! `Range`.

use std::ops::Range;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_stream_shim::ReceiverStream;

use super::auth::{KeyScopes, check_scopes};
use super::blocking::blocking;
use super::key_param::{KeyParam, parse_key};
use super::{ApiError, AppState};
use crate::bundle;
use crate::protocol::Key;

pub async fn download(
    State(state): State<Arc<AppState>>,
    Extension(scopes): Extension<KeyScopes>,
    KeyParam(file): KeyParam,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = file.strip_suffix(".zip").ok_or_else(|| {
        ApiError::bad_request("invalid_key", format!("{file:?} is not <key>.zip"))
    })?;
    let id = parse_key(key)?;
    let summary = state
        .hit_summary(&id)
        .await?
        .ok_or_else(|| AppState::unknown_key(key))?;
    check_scopes(&scopes, &summary.registries)?;
    state.last_use.used(&state.store, &id);
    let source = state.source(&id, &summary).await?;
    let total = match &source {
        Source::Kept(_) => summary.bundle_size,
        Source::Blobs(plan) => plan.len(),
    };
    let etag = format!("\"{key}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let range = match requested_range(&headers, total) {
        Ok(range) => range,
        Err(spec) => return Ok(unsatisfiable(&spec, total)),
    };
    let byte_range = range.clone().unwrap_or(0..total);
    super::metrics::Metrics::add(
        &state.metrics.bytes_served,
        byte_range.end - byte_range.start,
    );
    let body = state
        .body(&id, summary.generation, source, byte_range.clone())
        .await?;
    let mut response = Response::new(body);
    *response.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(byte_range.end - byte_range.start),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{key}.zip\"")).unwrap(),
    );
    super::observe::RequestNote::attach(&mut response, key, None);
    let h = response.headers_mut();
    if range.is_some() {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!(
                "bytes {}-{}/{total}",
                byte_range.start,
                byte_range.end - 1
            ))
            .unwrap(),
        );
    }
    Ok(response)
}

/// The `Range` header's one range; `None` for the whole bundle (no header,
/// or one RFC 9110 lets us ignore); the header itself when nothing in it is
/// satisfiable.
fn requested_range(headers: &HeaderMap, total: u64) -> Result<Option<Range<u64>>, String> {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    match parse_range(spec, total) {
        RangeSpec::Satisfiable(r) => Ok(Some(r)),
        RangeSpec::Ignored => Ok(None),
        RangeSpec::Unsatisfiable => Err(spec.to_string()),
    }
}

/// 416, with the `Content-Range: bytes */total` RFC 9110 asks for.
fn unsatisfiable(spec: &str, total: u64) -> Response {
    let mut response = ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        format!("the bundle has {total} bytes; {spec:?} asks for none of them"),
    )
    .into_response();
    response.headers_mut().insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&format!("bytes */{total}")).unwrap(),
    );
    response
}

/// Where a download's bytes come from.
enum Source {
    /// The bundle kept whole on disk (see `kept_bundles`).
    Kept(std::fs::File),
    /// Assembled from the blobs as it streams.
    Blobs(Arc<bundle::BundlePlan>),
}

impl AppState {
    /// The kept bundle when the store has one for this generation, else the
    /// plan to assemble it from blobs.
    async fn source(
        &self,
        key: &Key,
        summary: &crate::store::KeySummary,
    ) -> Result<Source, ApiError> {
        let store = self.store.clone();
        let (owned, generation, len) = (*key, summary.generation, summary.bundle_size);
        let kept = blocking("bundle lookup", move || {
            store.open_bundle(&owned, generation, len)
        })
        .await?
        .unwrap_or_else(|e| {
            tracing::warn!(%key, "kept bundle unreadable, assembling from blobs: {e}");
            None
        });
        Ok(match kept {
            Some(file) => Source::Kept(file),
            None => Source::Blobs(self.bundle_plan(key, summary).await?),
        })
    }

    /// The body for `range`: the kept file mapped (or read when mapping
    /// fails), or the blobs streamed; a streamed download may be kept.
    async fn body(
        &self,
        key: &Key,
        generation: u64,
        source: Source,
        range: Range<u64>,
    ) -> Result<Body, ApiError> {
        Ok(match source {
            Source::Kept(file) => {
                let mapped = blocking("bundle mapping", move || {
                    super::kept_bundles::map_file(&file, range.clone())
                        .map_err(|e| {
                            tracing::warn!("could not map the kept bundle, reading it: {e}")
                        })
                        .map_err(|()| (file, range))
                })
                .await?;
                match mapped {
                    Ok(bytes) => Body::from(bytes),
                    Err((file, range)) => Body::from_stream(ReceiverStream::new(
                        super::kept_bundles::stream_file(file, range),
                    )),
                }
            }
            Source::Blobs(plan) => {
                self.kept.downloaded(&self.store, key, generation, &plan);
                Body::from_stream(ReceiverStream::new(plan.stream(self.store.clone(), range)))
            }
        })
    }

    /// The bundle layout of a stored key: from the plan cache when the index
    /// is still the one it was laid out from, else from the whole index.
    async fn bundle_plan(
        &self,
        key: &Key,
        summary: &crate::store::KeySummary,
    ) -> Result<Arc<bundle::BundlePlan>, ApiError> {
        if let Some(plan) = self.plans.get(key, summary.generation)
            && plan.len() == summary.bundle_size
        {
            return Ok(plan);
        }
        let index = self.load_index(key).await?;
        let plan = Arc::new(blocking("bundle layout", move || bundle::plan(&index)).await?);
        // Kept only when the index read is the one the summary names (not
        // rewritten in between); otherwise used for this answer alone.
        let store = self.store.clone();
        let owned = *key;
        let still = tokio::task::spawn_blocking(move || store.get_summary(&owned))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        if plan.len() == summary.bundle_size
            && still.is_some_and(|s| s.generation == summary.generation)
        {
            self.plans.put(key, summary.generation, plan.clone());
        }
        Ok(plan)
    }
}

#[doc(hidden)]
#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    Satisfiable(Range<u64>),
    /// Malformed or multi-range: answered with the whole bundle, as RFC 9110
    /// allows.
    Ignored,
    Unsatisfiable,
}

/// One `bytes=` range: `a-b`, `a-` or `-n` (RFC 9110 section 14.1.2). A last
/// position at or beyond the end is clamped to the last byte and a suffix
/// longer than the bundle means all of it; positions too large for a `u64`
/// count as "beyond the end" rather than as malformed, so they clamp the same
/// way instead of overflowing.
#[doc(hidden)]
pub fn parse_range(spec: &str, total: u64) -> RangeSpec {
    let spec = spec.trim();
    let Some(set) = spec
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| &spec[6..])
    else {
        return RangeSpec::Ignored;
    };
    if set.contains(',') {
        return RangeSpec::Ignored;
    }
    let Some((start, end)) = set.trim().split_once('-') else {
        return RangeSpec::Ignored;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.is_empty(), end.is_empty()) {
        (true, false) => match position(end) {
            Some(0) => return RangeSpec::Unsatisfiable,
            Some(n) => total.saturating_sub(n)..total,
            None => return RangeSpec::Ignored,
        },
        (false, true) => match position(start) {
            Some(s) => s..total,
            None => return RangeSpec::Ignored,
        },
        (false, false) => match (position(start), position(end)) {
            (Some(s), Some(e)) if s <= e => s..e.saturating_add(1).min(total),
            _ => return RangeSpec::Ignored,
        },
        (true, true) => return RangeSpec::Ignored,
    };
    if range.start >= total || range.is_empty() {
        RangeSpec::Unsatisfiable
    } else {
        RangeSpec::Satisfiable(range)
    }
}

/// `1*DIGIT`, saturating at `u64::MAX`; `None` for anything else (a sign, a
/// space inside, hex). `str::parse` alone would take `+5` and refuse
/// `99999999999999999999`.
fn position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// Adapts the bundle channel to the `Stream` axum's body wants.
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::sync::mpsc::Receiver;

    pub struct ReceiverStream<T>(Receiver<T>);

    impl<T> ReceiverStream<T> {
        pub fn new(rx: Receiver<T>) -> Self {
            ReceiverStream(rx)
        }
    }

    impl<T> futures::Stream for ReceiverStream<T> {
        type Item = T;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeSpec, parse_range};

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeSpec::Satisfiable(0..10));
        assert_eq!(
            parse_range("bytes=90-", 100),
            RangeSpec::Satisfiable(90..100)
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            RangeSpec::Satisfiable(90..100)
        );
        assert_eq!(
            parse_range("bytes=50-500", 100),
            RangeSpec::Satisfiable(50..100)
        );
        assert_eq!(parse_range("bytes=100-", 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeSpec::Ignored);
        assert_eq!(parse_range("items=0-1", 100), RangeSpec::Ignored);
    }

    #[test]
    fn edge_ranges() {
        use RangeSpec::*;
        let max = u64::MAX;
        let cases: &[(&str, RangeSpec)] = &[
            ("bytes=0-0", Satisfiable(0..1)),
            ("bytes=99-99", Satisfiable(99..100)),
            ("bytes=99-", Satisfiable(99..100)),
            ("bytes=-1", Satisfiable(99..100)),
            ("bytes=-100", Satisfiable(0..100)),
            ("bytes=-101", Satisfiable(0..100)),
            ("bytes=-0", Unsatisfiable),
            ("bytes=100-100", Unsatisfiable),
            ("bytes=100-200", Unsatisfiable),
            ("BYTES=0-9", Satisfiable(0..10)),
            // The overflow of the red-team report: the last position is
            // u64::MAX, so "last + 1" must not be computed unchecked.
            ("bytes=0-18446744073709551615", Satisfiable(0..100)),
            ("bytes=5-18446744073709551616", Satisfiable(5..100)),
            ("bytes=0-99999999999999999999999999", Satisfiable(0..100)),
            ("bytes=-99999999999999999999999999", Satisfiable(0..100)),
            ("bytes=18446744073709551615-", Unsatisfiable),
            ("bytes=99999999999999999999999999-", Unsatisfiable),
            (
                "bytes=18446744073709551615-18446744073709551615",
                Unsatisfiable,
            ),
            ("bytes=9-0", Ignored),
            ("bytes=+5-9", Ignored),
            ("bytes=-+5", Ignored),
            ("bytes=0x1-9", Ignored),
            ("bytes=1 0-20", Ignored),
            ("bytes=-", Ignored),
            ("bytes=", Ignored),
            ("bytes=5", Ignored),
            ("bytes=0-1,", Ignored),
            ("bytes=0-1,2-3", Ignored),
            ("bytes=200-300,0-1", Ignored),
            ("bytes", Ignored),
            ("", Ignored),
        ];
        for (spec, expected) in cases {
            assert_eq!(&parse_range(spec, 100), expected, "{spec}");
        }
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(
            parse_range(&format!("bytes=0-{max}"), max),
            Satisfiable(0..max)
        );
        assert_eq!(
            parse_range(&format!("bytes={}-{max}", max - 1), max),
            Satisfiable(max - 1..max)
        );
    }
}
