//! A total deadline on reading a request body (`--body-timeout`): every
//! request's body is wrapped so that, once the deadline has passed, the next
//! read fails with `BodyTimedOut` instead of waiting for a client sending a
//! byte every few seconds. The handler reading the body turns that into 408.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use tokio::time::Sleep;

use super::{ApiError, AppState};

/// The body was not complete within the deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not complete within {0:?}")]
pub struct BodyTimedOut(Duration);

/// The deadline starts when the request head has arrived, not when a handler
/// starts reading, so time spent before reading counts too.
pub async fn body_deadline(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.body_timeout;
    let request = request.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            // `sleep` saturates a deadline beyond what `Instant` holds.
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
        })
    });
    next.run(request).await
}

/// The 408 for a body read that failed on the deadline, or `None` when
/// `error` (a body rejection) has another cause. The connection is closed:
/// the rest of the body may still be on its way.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> Option<Response> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(timed_out) = e.downcast_ref::<BodyTimedOut>() {
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "{timed_out}; this server's --body-timeout is {}s",
                    timed_out.0.as_secs()
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Some(response);
        }
        cause = e.source();
    }
    None
}

struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        // Data already here is taken even past the deadline; only waiting
        // for more is cut short.
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut(self.limit).into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
