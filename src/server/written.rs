//! When a response has really been sent: hyper pulls a body into its own
//! write buffer (hundreds of kilobytes, or a kept bundle's whole mapping in
//! one frame) and drops it long before the bytes reach the socket, so the
//! end of the body is not the end of the download. The connection's stream
//! is wrapped here; hyper flushes it only once its buffer is empty, so a
//! request finished when that flush comes (or when the connection closes)
//! has had every byte handed to the kernel.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Work to run once the bytes hyper holds now are written.
pub type Finish = Box<dyn FnOnce() + Send>;

/// One connection's requests whose bodies ended but whose bytes may still
/// be in hyper's buffer. Reaches handlers as a request extension.
#[derive(Clone, Default)]
pub struct Pending(Arc<Mutex<Queue>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Finish>,
    /// The stream is gone (a connection dropped at shutdown may drop it
    /// before the body): nothing will flush again, so finish at once.
    closed: bool,
}

impl Pending {
    pub fn after_flush(&self, finish: Finish) {
        let mut queue = self.0.lock().unwrap();
        if queue.closed {
            drop(queue);
            finish();
        } else {
            queue.waiting.push(finish);
        }
    }

    fn run(&self, closed: bool) {
        let ready = {
            let mut queue = self.0.lock().unwrap();
            queue.closed |= closed;
            std::mem::take(&mut queue.waiting)
        };
        for finish in ready {
            finish();
        }
    }
}

/// The connection's stream, running `Pending` work at each completed flush
/// and when the connection is dropped.
pub struct Written<S> {
    inner: S,
    pending: Pending,
}

impl<S> Written<S> {
    pub fn new(inner: S, pending: Pending) -> Self {
        Written { inner, pending }
    }
}

impl<S> Drop for Written<S> {
    fn drop(&mut self) {
        self.pending.run(true);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Written<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Written<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            self.pending.run(false);
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn work_waits_for_a_flush_and_runs_at_once_after_the_stream_is_gone() {
        let pending = Pending::default();
        let count = Arc::new(AtomicUsize::new(0));
        let bump = || {
            let count = count.clone();
            Box::new(move || {
                count.fetch_add(1, Ordering::SeqCst);
            }) as Finish
        };
        pending.after_flush(bump());
        assert_eq!(count.load(Ordering::SeqCst), 0);
        pending.run(false);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        drop(Written::new((), pending.clone()));
        pending.after_flush(bump());
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }
}
