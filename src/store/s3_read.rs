//! Reading blobs from S3 for downloads: one streaming ranged GET per blob,
//! and a bundle's blobs fetched ahead, a bounded number at a time, so a
//! download runs at the object store's throughput rather than paying one
//! round trip per file. Indexes are found by trying each manager's name.

use std::io::{self, Read};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::BLOB_HEADER_LEN;
use super::PackedReaders;
use super::s3::{PARALLEL, S3Store, io_err, not_found};
use crate::protocol::{Index, Key, Manager, Sha256};

/// Blobs up to this size are fetched ahead of a download's reader.
const PREFETCH_MAX: u64 = 1 << 20;
enum Prefetched {
    Ready(Bytes),
    /// Too large to hold: opened when the reader reaches it.
    Later(Sha256, u64, u64),
}

/// A blob's packed data as a blocking reader over one streaming GET.
struct StreamReader {
    handle: tokio::runtime::Handle,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(chunk) => self.chunk = chunk.map_err(io_err)?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

impl S3Store {
    pub(super) fn open_stream(
        &self,
        sha256: &Sha256,
        offset: u64,
    ) -> io::Result<Box<dyn Read + Send>> {
        let path = self.blob_path(sha256);
        let options =
            GetOptions::new().with_range(Some(GetRange::Offset(BLOB_HEADER_LEN + offset)));
        let client = self.client.clone();
        let head_path = path.clone();
        let got = match self.block_on(async move { client.get_opts(&path, options).await }) {
            Ok(got) => got,
            Err(e) if not_found(&e) => return Err(io_err(e)),
            // Asking from the very end is a 416 in S3, an empty read here.
            Err(e) => {
                let client = self.client.clone();
                let size = self.block_on(async move { client.head(&head_path).await });
                if size.is_ok_and(|m| m.size <= BLOB_HEADER_LEN + offset) {
                    return Ok(Box::new(io::empty()));
                }
                return Err(io_err(e));
            }
        };
        Ok(Box::new(StreamReader {
            handle: self.runtime.as_ref().expect("runtime").handle().clone(),
            stream: got.into_stream(),
            chunk: Bytes::new(),
        }))
    }

    /// Up to `PARALLEL` ranged GETs ahead of the reader, each small blob's
    /// range held in memory until its turn; a blob over `PREFETCH_MAX` is
    /// streamed when reached instead, so memory stays bounded.
    pub(super) fn prefetch(&self, ranges: Vec<(Sha256, u64, u64)>) -> PackedReaders<'_> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(PARALLEL);
        let client = self.client.clone();
        let jobs: Vec<_> = ranges
            .into_iter()
            .map(|(sha256, from, to)| {
                let path = self.blob_path(&sha256);
                (sha256, path, from, to)
            })
            .collect();
        let runtime = self.runtime.as_ref().expect("runtime");
        runtime.spawn(async move {
            let mut fetched = stream::iter(jobs)
                .map(|(sha256, path, from, to)| {
                    let client = client.clone();
                    async move {
                        if to - from > PREFETCH_MAX {
                            return Ok(Prefetched::Later(sha256, from, to));
                        }
                        let range = BLOB_HEADER_LEN + from..BLOB_HEADER_LEN + to;
                        let bytes = client.get_range(&path, range).await.map_err(io_err)?;
                        Ok(Prefetched::Ready(bytes))
                    }
                })
                .buffered(PARALLEL);
            while let Some(item) = fetched.next().await {
                // The reader went away (a client hung up): stop fetching.
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        Box::new(std::iter::from_fn(move || {
            let item = rx.blocking_recv()?;
            Some(item.and_then(|prefetched| match prefetched {
                Prefetched::Ready(bytes) => {
                    Ok(Box::new(io::Cursor::new(bytes)) as Box<dyn Read + Send>)
                }
                Prefetched::Later(sha256, from, to) => {
                    let reader: Box<dyn Read + Send> =
                        Box::new(self.open_stream(&sha256, from)?.take(to - from));
                    Ok(reader)
                }
            }))
        }))
    }
    /// The index of `key` (hex of a `Key`, so already checked) and the
    /// manager in its name.
    pub(super) fn find_index(&self, key: &str) -> io::Result<Option<(Bytes, &'static str)>> {
        for manager in Manager::ALL {
            let path = self.index_path(key, manager.name());
            let client = self.client.clone();
            let got = self.block_on(async move {
                match client.get(&path).await {
                    Ok(got) => got.bytes().await.map(Some),
                    Err(e) if not_found(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            });
            if let Some(bytes) = got.map_err(io_err)? {
                return Ok(Some((bytes, manager.name())));
            }
        }
        Ok(None)
    }

    pub(super) fn parse_index(key: &Key, bytes: &[u8]) -> io::Result<Index> {
        let index: Index = serde_json::from_slice(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index {key} is corrupt: {e}"),
            )
        })?;
        if index.key != *key {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index {key} names another key, {}", index.key),
            ));
        }
        Ok(index)
    }
}
