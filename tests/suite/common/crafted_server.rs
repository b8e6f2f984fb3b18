//! A stand-in depcache server that answers the protocol with whatever index
//! and ZIP a test crafted, including broken and malicious ones, and counts the
//! requests it saw, and misbehaves on request: redirects, trickles, endless
//! bodies, a key that vanishes mid-download. Also the builder for such trees
//! and bundles.

use std::io::{Cursor, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use depcache::protocol::{Entry, FileEntry, INDEX_FORMAT, Index, Key};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// One entry of a crafted tree, path relative to `node_modules`.
#[derive(Debug, Clone)]
pub enum Item {
    File {
        path: String,
        content: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
    Dir {
        path: String,
    },
}

pub fn file(path: &str, content: &[u8], mode: u32) -> Item {
    Item::File {
        path: path.to_string(),
        content: content.to_vec(),
        mode,
    }
}

pub fn symlink(path: &str, target: &str) -> Item {
    Item::Symlink {
        path: path.to_string(),
        target: target.to_string(),
    }
}

pub fn dir(path: &str) -> Item {
    Item::Dir {
        path: path.to_string(),
    }
}

/// The index the server would store for `items` (key filled in per request).
pub fn index_of(items: &[Item]) -> Index {
    let mut entries: Vec<Entry> = items
        .iter()
        .map(|item| match item {
            Item::File {
                path,
                content,
                mode,
            } => Entry::File(FileEntry {
                path: path.clone(),
                sha256: depcache::protocol::Sha256::from_bytes(Sha256::digest(content).into()),
                size: content.len() as u64,
                mode: *mode,
                crc32: crc32fast::hash(content),
                method: 0,
                packed_size: content.len() as u64,
            }),
            Item::Symlink { path, target } => Entry::Symlink {
                path: path.clone(),
                target: target.clone(),
            },
            Item::Dir { path } => Entry::Dir {
                path: path.clone(),
                mode: 0o755,
            },
        })
        .collect();
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    Index {
        format: INDEX_FORMAT,
        // The served index takes the key the client asked for (`index`).
        key: Key::from_bytes([0; 32]),
        manager: "npm".to_string(),
        versions: [("node", "20.20.2"), ("npm", "11.19.1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        platform: None,
        options: None,
        root: "node_modules".to_string(),
        created: 0,
        entries,
        workspaces: Vec::new(),
        nested: Vec::new(),
        registries: Vec::new(),
    }
}

/// A ZIP of `items` under `node_modules/`, as the server lays bundles out;
/// names are used verbatim, so a test can smuggle `../` or `/abs` in.
pub fn zip_of(items: &[Item]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let dir_options = SimpleFileOptions::default().unix_permissions(0o755);
    zip.add_directory("node_modules/", dir_options).unwrap();
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::File {
                path,
                content,
                mode,
            } => {
                // Alternate methods: the client must read both.
                let method = if i % 2 == 0 {
                    CompressionMethod::Stored
                } else {
                    CompressionMethod::Deflated
                };
                let options = SimpleFileOptions::default()
                    .compression_method(method)
                    .unix_permissions(*mode)
                    .large_file(content.len() > u32::MAX as usize);
                zip.start_file(name(path), options).unwrap();
                zip.write_all(content).unwrap();
            }
            Item::Symlink { path, target } => {
                zip.add_symlink(name(path), target, SimpleFileOptions::default())
                    .unwrap();
            }
            Item::Dir { path } => {
                zip.add_directory(format!("{}/", name(path)), dir_options)
                    .unwrap();
            }
        }
    }
    zip.finish().unwrap().into_inner()
}

/// Absolute names stay absolute; everything else goes under `node_modules/`.
fn name(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("node_modules/{path}")
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Script {
    pub index: Index,
    pub bundle: Vec<u8>,
    /// Statuses the first POSTs get, in order, before the real answer.
    pub post_failures: Vec<u16>,
    /// When set, every POST gets this status.
    pub post_always: Option<u16>,
    /// When set, every request must carry `Authorization: Bearer <this>`.
    pub api_key: Option<String>,
    /// When set, the first download sends only this many bytes of the bundle
    /// (announcing all of them) and then drops the connection.
    pub cut_first_download_at: Option<usize>,
    /// After the cut download, the key is gone (404) until the next POST;
    /// with `gone_forever`, for good.
    pub gone_after_cut: bool,
    pub gone_forever: bool,
    /// GETs are answered 307 to the same path on this base URL.
    pub redirect_gets_to: Option<String>,
    /// POSTs are answered 307 to the same path on this base URL.
    pub redirect_posts_to: Option<String>,
    /// Requests outside `/hop/` are answered 307 to `/hop/<path>` (relative).
    pub self_redirect: bool,
    /// The `bundle_size` announced instead of the true one.
    pub announce_bundle_size: Option<u64>,
    /// Every POST is answered this much later, as a long install would be.
    pub post_delay: Option<std::time::Duration>,
    pub misbehave: Misbehave,
}

/// A body that never ends the way it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehave {
    None,
    /// The bundle, one byte every 200 ms.
    TrickleBundle,
    /// The bundle, then zeros without end (no `Content-Length`).
    EndlessBundle,
    /// An index body that never ends (no `Content-Length`).
    EndlessIndex,
}

impl Script {
    pub fn new(index: Index, bundle: Vec<u8>) -> Self {
        Script {
            index,
            bundle,
            post_failures: Vec::new(),
            post_always: None,
            api_key: None,
            cut_first_download_at: None,
            gone_after_cut: false,
            gone_forever: false,
            redirect_gets_to: None,
            redirect_posts_to: None,
            self_redirect: false,
            announce_bundle_size: None,
            post_delay: None,
            misbehave: Misbehave::None,
        }
    }

    /// The index and bundle of one tree.
    pub fn of(items: &[Item]) -> Self {
        Self::new(index_of(items), zip_of(items))
    }
}

struct Shared {
    script: Script,
    posts: AtomicUsize,
    requests: AtomicUsize,
    downloads: AtomicUsize,
    /// `Range` headers of the download requests, in order.
    ranges: std::sync::Mutex<Vec<Option<String>>>,
    /// The `Authorization` header of every request, in order.
    auth: std::sync::Mutex<Vec<Option<String>>>,
    /// Downloads answer 404 (gc took the key) while set.
    gone: AtomicBool,
    base: String,
}

/// A running crafted server; stops when dropped.
pub struct CraftedServer {
    pub url: String,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl CraftedServer {
    pub fn start(script: Script) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            script,
            posts: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            downloads: AtomicUsize::new(0),
            ranges: std::sync::Mutex::new(Vec::new()),
            auth: std::sync::Mutex::new(Vec::new()),
            gone: AtomicBool::new(false),
            base: url.clone(),
        });
        let app = Router::new()
            .route("/v1/cache", post(cache))
            .route("/v1/index/{key}", get(index))
            .route("/download/{file}", get(download))
            .route("/hop/v1/cache", post(cache))
            .route("/hop/v1/index/{key}", get(index))
            .route("/hop/download/{file}", get(download))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        CraftedServer {
            url,
            shared,
            _stop: stop,
        }
    }

    /// POSTs to /v1/cache seen so far.
    pub fn posts(&self) -> usize {
        self.shared.posts.load(Ordering::SeqCst)
    }

    /// All requests seen so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The `Authorization` header of every request seen.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.shared.auth.lock().unwrap().clone()
    }

    /// The `Range` header of each download request.
    pub fn download_ranges(&self) -> Vec<Option<String>> {
        self.shared.ranges.lock().unwrap().clone()
    }
}

/// Counts and records the request; the answer instead of the real one when
/// the key is wrong or missing or the script redirects it.
fn gate(s: &Shared, headers: &HeaderMap, uri: &Uri, is_post: bool) -> Option<Response> {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let sent = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    s.auth.lock().unwrap().push(sent.map(str::to_string));
    if let Some(key) = &s.script.api_key
        && sent != Some(format!("Bearer {key}").as_str())
    {
        return Some(error(401, "bad key"));
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let elsewhere = if is_post {
        &s.script.redirect_posts_to
    } else {
        &s.script.redirect_gets_to
    };
    let location = match elsewhere {
        Some(base) => format!("{base}{path}"),
        None if s.script.self_redirect && !path.starts_with("/hop/") => format!("/hop{path}"),
        None => return None,
    };
    Some(
        Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(LOCATION, location)
            .body(Body::empty())
            .unwrap(),
    )
}

fn error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let body = serde_json::json!({"error": "crafted", "message": message});
    (status, Json(body)).into_response()
}

async fn cache(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(answer) = gate(&s, &headers, &uri, true) {
        return answer;
    }
    let n = s.posts.fetch_add(1, Ordering::SeqCst);
    if let Some(delay) = s.script.post_delay {
        tokio::time::sleep(delay).await;
    }
    // Asking again re-installs what gc took.
    if !s.script.gone_forever {
        s.gone.store(false, Ordering::SeqCst);
    }
    if let Some(status) = s.script.post_always {
        return error(status, "crafted refusal");
    }
    if let Some(&status) = s.script.post_failures.get(n) {
        return error(status, "crafted failure");
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let key = request["hash"].as_str().unwrap().to_string();
    Json(serde_json::json!({
        "download_url": format!("{}/download/{key}.zip", s.base),
        "cache_hit": true,
        "key": key,
        "index_url": format!("{}/v1/index/{key}", s.base),
        "files": s.script.index.file_count(),
        "size": s.script.index.logical_size(),
        "bundle_size": s.script.announce_bundle_size.unwrap_or(s.script.bundle.len() as u64),
    }))
    .into_response()
}

async fn index(
    State(s): State<Arc<Shared>>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(answer) = gate(&s, &headers, &uri, false) {
        return answer;
    }
    if s.script.misbehave == Misbehave::EndlessIndex {
        let chunk = Bytes::from(vec![b' '; 1 << 20]);
        return Body::from_stream(futures::stream::repeat_with(move || {
            Ok::<_, std::io::Error>(chunk.clone())
        }))
        .into_response();
    }
    // Whatever the path says, well formed or not: the client must check it.
    let mut index = serde_json::to_value(&s.script.index).unwrap();
    index["key"] = key.into();
    Json(index).into_response()
}

async fn download(
    State(s): State<Arc<Shared>>,
    Path(_file): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(answer) = gate(&s, &headers, &uri, false) {
        return answer;
    }
    if s.gone.load(Ordering::SeqCst) {
        return error(404, "no such key (gc)");
    }
    let n = s.downloads.fetch_add(1, Ordering::SeqCst);
    let range = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.ranges.lock().unwrap().push(range.clone());
    let bundle = s.script.bundle.clone();
    let total = bundle.len();
    match s.script.misbehave {
        Misbehave::TrickleBundle => {
            let stream = futures::stream::unfold(0, move |i| {
                let byte = Bytes::copy_from_slice(&bundle[i % total..i % total + 1]);
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    Some((Ok::<_, std::io::Error>(byte), i + 1))
                }
            });
            return Response::builder()
                .header(CONTENT_LENGTH, total)
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Misbehave::EndlessBundle => {
            let zeros = Bytes::from(vec![0u8; 64 * 1024]);
            let stream = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bundle))])
                .chain(futures::stream::repeat_with(move || Ok(zeros.clone())));
            return Body::from_stream(stream).into_response();
        }
        Misbehave::None | Misbehave::EndlessIndex => {}
    }
    if let (0, Some(cut)) = (n, s.script.cut_first_download_at) {
        s.gone.store(s.script.gone_after_cut, Ordering::SeqCst);
        // Announce everything, send `cut` bytes, then fail the body stream.
        let head = Bytes::copy_from_slice(&bundle[..cut]);
        // The pause lets the head reach the client before the connection dies.
        let stream = futures::stream::iter([Ok(head)]).chain(futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            Err(std::io::Error::other("crafted cut"))
        }));
        return Response::builder()
            .header(CONTENT_LENGTH, total)
            .body(Body::from_stream(stream))
            .unwrap();
    }
    // Only `bytes=N-`, the form the client sends.
    if let Some(start) = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
    {
        return Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                CONTENT_RANGE,
                format!("bytes {start}-{}/{total}", total - 1),
            )
            .body(Body::from(bundle[start..].to_vec()))
            .unwrap();
    }
    bundle.into_response()
}
