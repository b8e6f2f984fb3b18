//! The S3 backend, through the `object_store` crate: any S3-compatible store
//! (AWS, MinIO, Ceph RGW, R2, GCS's S3 API). Several servers share one bucket
//! with no lock between them; docs/scale-out.md has the layout, the request
//! costs and the gc argument that `publish_index` and `delete_stale_blob`
//! implement.
//!
//! ```text
//! <prefix>/depcache-store.json                  format and gc grace period
//! <prefix>/objects/aa/<sha256>                  blobs (same bytes as on disk)
//! <prefix>/indexes/aa/<key>.<manager>.index     indexes, put if absent
//! <prefix>/used/aa/<key>                        empty; its age is last use
//! ```
//!
//! The trait is blocking; this store runs its requests on a small runtime of
//! its own, so it works from the server's blocking threads and from admin's
//! rayon threads alike.

use std::io::{self, Read};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};

use super::s3_config::DEFAULT_GRACE;
use super::{BLOB_HEADER_LEN, BlobInfo, IngestClock, StagedBlob};
use crate::protocol::{Index, Key, Manager, Sha256};

/// Requests in flight at once for one batch (lookups, uploads, re-checks).
pub(super) const PARALLEL: usize = 32;
/// The gc protocol's times, all derived from the bucket's grace period G:
/// window + refresh + deadline <= G is what the argument needs.
#[derive(Debug, Clone, Copy)]
pub struct S3Times {
    pub grace: Duration,
    /// A blob older than this is stored again rather than relied on.
    pub refresh_age: Duration,
    /// From an ingestion's blob lookup to its index put, at most.
    pub publish_deadline: Duration,
    /// An ingestion re-checks its blobs no sooner than this after looking
    /// them up; gc deletes no later than this after its last look.
    pub recheck_delay: Duration,
    /// From gc's index listing to its last blob delete, at most.
    pub window: Duration,
}

impl S3Times {
    pub(super) fn from_grace(grace: Duration) -> S3Times {
        S3Times {
            grace,
            refresh_age: grace / 4,
            publish_deadline: grace / 4,
            recheck_delay: (grace / 20).min(Duration::from_secs(5)),
            window: grace / 2,
        }
    }
}

pub struct S3Store {
    pub(super) runtime: Option<tokio::runtime::Runtime>,
    pub(super) client: Arc<AmazonS3>,
    prefix: String,
    pub(super) times: S3Times,
    staging: PathBuf,
    /// A temporary staging folder this store made (and removes), if any.
    _own_staging: Option<tempfile::TempDir>,
}

pub(super) fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

pub(super) fn io_err(e: object_store::Error) -> io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

impl S3Store {
    /// Connects to `bucket` with settings from `env` (the `AWS_*` variables:
    /// credentials, region, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`) and reads
    /// the bucket's config. `create` (a server) writes a default config into
    /// an empty prefix; otherwise (admin) an empty prefix is an error.
    pub fn open(
        bucket: &str,
        prefix: &str,
        env: impl IntoIterator<Item = (String, String)>,
        staging: Option<PathBuf>,
        create: bool,
    ) -> io::Result<S3Store> {
        // reqwest is built without a default TLS provider: the project's
        // (ring) must be in place before the first client, as in the client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Client options first: setting them replaces any the environment
        // gave (AWS_ALLOW_HTTP is one).
        let mut builder = AmazonS3Builder::new().with_client_options(
            ClientOptions::new()
                .with_timeout(Duration::from_secs(60))
                .with_connect_timeout(Duration::from_secs(5)),
        );
        for (name, value) in env {
            if let Some(key) = name
                .strip_prefix("AWS_")
                .and_then(|_| name.to_ascii_lowercase().parse().ok())
            {
                builder = builder.with_config(key, value);
            }
        }
        let client = builder
            .with_bucket_name(bucket)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("depcache-s3")
            .enable_all()
            .build()?;
        let (staging, own_staging) = match staging {
            Some(dir) => {
                let dir = dir.join("staging");
                std::fs::create_dir_all(&dir)?;
                (dir, None)
            }
            None => {
                let dir = tempfile::Builder::new().prefix("depcache-s3-").tempdir()?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let mut store = S3Store {
            runtime: Some(runtime),
            client: Arc::new(client),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            times: S3Times::from_grace(DEFAULT_GRACE),
            staging,
            _own_staging: own_staging,
        };
        let config = store.read_config(create)?;
        store.times = S3Times::from_grace(Duration::from_secs(config.gc_grace_secs.max(1)));
        Ok(store)
    }

    pub fn times(&self) -> S3Times {
        self.times
    }

    pub(super) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the store")
            .block_on(future)
    }

    pub(super) fn path(&self, rest: &str) -> Path {
        Path::from(format!("{}{rest}", self.prefix))
    }

    pub(super) fn blob_path(&self, sha256: &Sha256) -> Path {
        let sha256 = sha256.to_string();
        self.path(&format!("objects/{}/{sha256}", &sha256[..2]))
    }

    pub(super) fn index_path(&self, key: &str, manager: &str) -> Path {
        self.path(&format!("indexes/{}/{key}.{manager}.index", &key[..2]))
    }

    pub(super) fn used_path(&self, key: &str) -> Path {
        self.path(&format!("used/{}/{key}", &key[..2]))
    }

    /// Every object under `rest`, listed.
    pub(super) fn list(&self, rest: &str) -> io::Result<Vec<object_store::ObjectMeta>> {
        let prefix = self.path(rest);
        let client = self.client.clone();
        self.block_on(async move { client.list(Some(&prefix)).try_collect().await })
            .map_err(io_err)
    }

    /// The blob's header and last write time; `None` when absent.
    async fn fetch_header(
        client: Arc<AmazonS3>,
        path: Path,
        sha: Sha256,
    ) -> io::Result<Option<(BlobInfo, SystemTime)>> {
        let options = GetOptions::new().with_range(Some(0..BLOB_HEADER_LEN));
        let got = match client.get_opts(&path, options).await {
            Ok(got) => got,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let modified = SystemTime::from(got.meta.last_modified);
        let header = got.bytes().await.map_err(io_err)?;
        Ok(Some((BlobInfo::decode_header(sha, &header)?, modified)))
    }

    /// Which of `paths` exist, asked in parallel.
    async fn exist(client: Arc<AmazonS3>, paths: Vec<Path>) -> io::Result<Vec<bool>> {
        stream::iter(paths)
            .map(|path| {
                let client = client.clone();
                async move {
                    match client.head(&path).await {
                        Ok(_) => Ok(true),
                        Err(e) if not_found(&e) => Ok(false),
                        Err(e) => Err(io_err(e)),
                    }
                }
            })
            .buffered(PARALLEL)
            .try_collect()
            .await
    }

    pub(super) fn exists(&self, path: Path) -> io::Result<bool> {
        Ok(self.block_on(Self::exist(self.client.clone(), vec![path]))?[0])
    }
}

pub(super) fn create_mode() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime
        // (a server shutting down): let its threads go in the background.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl super::Store for S3Store {
    fn blob_info(&self, sha256: &Sha256) -> io::Result<Option<BlobInfo>> {
        let found = self.block_on(Self::fetch_header(
            self.client.clone(),
            self.blob_path(sha256),
            *sha256,
        ))?;
        Ok(found.map(|(info, _)| info))
    }

    /// Ranged GETs of the headers, `PARALLEL` at a time. A blob older than
    /// the refresh age counts as missing, so the ingestion stores it anew
    /// (and a gc that saw it old will not delete the fresh copy).
    fn blob_infos(&self, sha256s: &[Sha256]) -> io::Result<Vec<Option<BlobInfo>>> {
        let refresh_before = SystemTime::now()
            .checked_sub(self.times.refresh_age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let jobs: Vec<_> = sha256s
            .iter()
            .map(|sha| (self.blob_path(sha), *sha))
            .collect();
        let client = self.client.clone();
        self.block_on(async move {
            stream::iter(jobs)
                .map(|(path, sha)| {
                    let client = client.clone();
                    async move {
                        // An unreadable header counts as missing: storing the
                        // blob again repairs it.
                        let found = match Self::fetch_header(client, path, sha).await {
                            Err(e) if e.kind() == io::ErrorKind::InvalidData => None,
                            other => other?,
                        };
                        Ok::<_, io::Error>(
                            found
                                .filter(|(_, modified)| *modified > refresh_before)
                                .map(|(info, _)| info),
                        )
                    }
                })
                .buffered(PARALLEL)
                .try_collect()
                .await
        })
    }

    /// Uploads in parallel; each PUT is atomic, so a blob is whole or absent.
    fn put_blobs(&self, blobs: Vec<StagedBlob>) -> io::Result<()> {
        let client = self.client.clone();
        let jobs: Vec<_> = blobs
            .into_iter()
            .map(|blob| (self.blob_path(&blob.info.sha256), blob))
            .collect();
        self.block_on(async move {
            stream::iter(jobs)
                .map(|(path, blob)| {
                    let client = client.clone();
                    async move {
                        let data = tokio::fs::read(&blob.file).await?;
                        client
                            .put(&path, PutPayload::from(data))
                            .await
                            .map_err(io_err)?;
                        Ok::<_, io::Error>(())
                    }
                })
                .buffer_unordered(PARALLEL / 2)
                .try_collect::<Vec<()>>()
                .await
        })?;
        Ok(())
    }

    fn open_packed(&self, sha256: &Sha256, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        self.open_stream(sha256, offset)
    }

    fn read_packed_ranges(&self, ranges: Vec<(Sha256, u64, u64)>) -> super::PackedReaders<'_> {
        self.prefetch(ranges)
    }

    fn get_index(&self, key: &Key) -> io::Result<Option<Index>> {
        match self.find_index(&key.to_string())? {
            Some((bytes, _)) => Self::parse_index(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Put only if absent (If-None-Match: *): two servers racing on a key
    /// never overwrite each other, and the first index stays.
    fn put_index(&self, index: &Index) -> io::Result<()> {
        let path = self.index_path(&index.key.to_string(), &index.manager);
        let body = serde_json::to_vec(index)?;
        let client = self.client.clone();
        match self.block_on(async move { client.put_opts(&path, body.into(), create_mode()).await })
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    /// The ingestion's half of the gc protocol (docs/scale-out.md): wait
    /// until any gc delete decided before our lookup has landed, check that
    /// every blob is still there, and put the index within the deadline.
    fn publish_index(&self, index: &Index, clock: IngestClock) -> io::Result<()> {
        let ready = clock.blobs_checked + self.times.recheck_delay;
        if let Some(wait) = ready.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let mut paths: Vec<Path> = index.files().map(|f| self.blob_path(&f.sha256)).collect();
        paths.sort();
        paths.dedup();
        let present = self.block_on(Self::exist(self.client.clone(), paths.clone()))?;
        if let Some(gone) = paths.iter().zip(&present).find(|(_, p)| !**p) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                format!("{} vanished before the index was written", gone.0),
            ));
        }
        if clock.blobs_checked.elapsed() > self.times.publish_deadline {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the ingestion took longer than a gc beside it allows",
            ));
        }
        self.put_index(index)
    }

    /// One GET of the small `depcache-store.json`: proves the endpoint, the
    /// credentials, the bucket and the prefix at once (a missing blob would
    /// answer "absent" from a bucket that is gone).
    fn check_read(&self) -> io::Result<()> {
        self.read_config(false).map(drop)
    }

    fn staging_dir(&self) -> &FsPath {
        &self.staging
    }

    fn list_keys(&self) -> io::Result<Vec<Key>> {
        let mut keys: Vec<Key> = self
            .list_index_objects()?
            .into_iter()
            .map(|i| i.0)
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn delete_index(&self, key: &Key) -> io::Result<bool> {
        let key = &key.to_string();
        let mut deleted = false;
        for manager in Manager::ALL {
            let path = self.index_path(key, manager.name());
            if self.exists(path.clone())? {
                self.delete(path)?;
                deleted = true;
            }
        }
        self.delete(self.used_path(key))?;
        Ok(deleted)
    }

    fn delete_blob(&self, sha256: &Sha256) -> io::Result<bool> {
        let path = self.blob_path(sha256);
        if !self.exists(path.clone())? {
            return Ok(false);
        }
        self.delete(path)?;
        Ok(true)
    }

    fn gc_safety(&self) -> super::GcSafety {
        super::GcSafety::Protocol
    }

    /// No lock spans servers on a bucket: the gc protocol stands in.
    fn ingest_lock(&self) -> io::Result<super::StoreLock> {
        Ok(super::StoreLock::none())
    }

    fn sweep_lock(&self) -> io::Result<super::StoreLock> {
        Ok(super::StoreLock::none())
    }

    fn protocol_times(&self) -> Option<super::ProtocolTimes> {
        Some(super::ProtocolTimes {
            min_grace: self.times.grace,
            window: self.times.window,
        })
    }

    fn delete_stale_blob(&self, sha256: &Sha256, grace: Duration) -> io::Result<bool> {
        self.delete_if_stale(sha256, grace)
    }

    fn touch_index(&self, key: &Key) -> io::Result<()> {
        self.touch(&key.to_string())
    }

    fn list_indexes(&self) -> io::Result<Vec<super::IndexMeta>> {
        self.index_metas()
    }

    fn read_listed_index(&self, meta: &super::IndexMeta) -> io::Result<Option<Index>> {
        self.read_listed(meta)
    }

    fn delete_listed_index(&self, meta: &super::IndexMeta) -> io::Result<bool> {
        self.delete_listed(meta)
    }

    fn list_blobs(&self, shard: u8) -> io::Result<Vec<super::BlobMeta>> {
        self.blob_metas(shard)
    }
}
