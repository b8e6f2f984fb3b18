//! ZIP bundles assembled from the index: headers computed here, file data
//! copied verbatim from the packed blobs. Deterministic (sorted entries, fixed
//! timestamps), exact length known before the first byte, any byte range
//! servable, never held whole in memory.

mod zip_layout;

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::protocol::{Index, Sha256};
use crate::store::Store;

pub use zip_layout::plan;

/// One run of bundle bytes.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Headers, symlink targets, the central directory.
    Bytes(Bytes),
    /// The packed data of a blob, whole.
    Blob { sha256: Sha256, len: u64 },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Bytes(b) => b.len() as u64,
            Segment::Blob { len, .. } => *len,
        }
    }
}

/// The layout of one bundle: segments with their start offsets.
#[derive(Debug, Clone, Default)]
pub struct BundlePlan {
    segments: Vec<(u64, Segment)>,
    len: u64,
}

impl BundlePlan {
    fn push(&mut self, segment: Segment) {
        let len = segment.len();
        if len == 0 {
            return;
        }
        self.segments.push((self.len, segment));
        self.len += len;
    }

    /// Exact size of the ZIP in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs of bytes in the layout: what it costs to keep in memory.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Where each blob's packed data lies in the bundle, in bundle order: a
    /// client that has most contents already fetches just these byte ranges.
    /// Empty blobs take no bytes and are not listed; a blob several files
    /// share appears once per file.
    pub fn blob_ranges(&self) -> impl Iterator<Item = (&Sha256, Range<u64>)> {
        self.segments
            .iter()
            .filter_map(|(start, segment)| match segment {
                Segment::Blob { sha256, len } => Some((sha256, *start..start + len)),
                Segment::Bytes(_) => None,
            })
    }

    /// Writes `range` of the bundle to `out`, reading blobs from `store`.
    pub fn write_range(
        &self,
        store: &dyn Store,
        range: Range<u64>,
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let first = self
            .segments
            .partition_point(|(start, seg)| start + seg.len() <= range.start);
        let mut buf = vec![0u8; 256 * 1024];
        let in_range = || {
            self.segments[first..]
                .iter()
                .take_while(|(start, _)| *start < range.end)
                .map(|(start, segment)| {
                    let from = range.start.saturating_sub(*start);
                    let to = (range.end - start).min(segment.len());
                    (segment, from, to)
                })
        };
        // All blob reads up front, so a remote store can fetch ahead.
        let mut blobs = store.read_packed_ranges(
            in_range()
                .filter_map(|(segment, from, to)| match segment {
                    Segment::Blob { sha256, .. } => Some((*sha256, from, to)),
                    Segment::Bytes(_) => None,
                })
                .collect(),
        );
        for (segment, from, to) in in_range() {
            match segment {
                Segment::Bytes(bytes) => out(&bytes[from as usize..to as usize])?,
                Segment::Blob { sha256, .. } => {
                    let mut reader = blobs.next().ok_or_else(|| {
                        io::Error::other("the store returned fewer blobs than asked for")
                    })??;
                    let mut left = to - from;
                    while left > 0 {
                        let n = reader.read(&mut buf)?;
                        if n == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("blob {sha256} is shorter than its index says"),
                            ));
                        }
                        out(&buf[..n])?;
                        left -= n as u64;
                    }
                }
            }
        }
        Ok(())
    }

    /// Streams `range` of the bundle from a blocking thread through a small
    /// channel, in chunks of about 256 KiB: one thread, large writes, flat
    /// memory whatever the bundle's size.
    pub fn stream(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        range: Range<u64>,
    ) -> mpsc::Receiver<io::Result<Bytes>> {
        const CHUNK: usize = 256 * 1024;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
        tokio::task::spawn_blocking(move || {
            let mut pending = BytesMut::with_capacity(CHUNK);
            let result = self.write_range(&*store, range, &mut |bytes| {
                pending.extend_from_slice(bytes);
                if pending.len() >= CHUNK {
                    let chunk = pending.split().freeze();
                    tx.blocking_send(Ok(chunk)).map_err(|_| {
                        io::Error::new(io::ErrorKind::BrokenPipe, "client went away")
                    })?;
                }
                Ok(())
            });
            match result {
                Ok(()) => {
                    if !pending.is_empty() {
                        let _ = tx.blocking_send(Ok(pending.freeze()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Err(e) => {
                    tracing::error!("bundle stream failed: {e}");
                    let _ = tx.blocking_send(Err(e));
                }
            }
        });
        rx
    }
}

/// Writes a whole bundle (tests, admin tools).
pub fn write_bundle(index: &Index, store: &dyn Store, out: &mut impl io::Write) -> io::Result<()> {
    let plan = plan(index);
    plan.write_range(store, 0..plan.len(), &mut |b| out.write_all(b))
}
