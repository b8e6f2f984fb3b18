//! What one client may hold of the server: connections that never finish
//! their head are closed after the header timeout while `/health` keeps
//! answering at the connection cap, a trickled body gets 408, shutdown drops
//! what is still open after its deadline, and trees over the size or entry
//! caps are refused with 422 `tree_too_large`, storing nothing.

use std::time::{Duration, Instant};

use depcache::protocol::Manager;
use depcache::server::ServerLimits;
use depcache::store::TreeLimits;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::npm_project;
use crate::common::server::*;

/// `host:port` of a test server.
pub fn addr(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (EOF or reset); `None` when
/// it is still open after `within`.
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| seen)
}

/// Status and JSON body of a raw HTTP/1.1 answer (`Content-Length` framed).
pub fn parse_answer(raw: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    (status, value)
}

/// A connection that sent half a request head and nothing more.
async fn half_head(server: &TestServer) -> TcpStream {
    let mut stream = TcpStream::connect(addr(server)).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: depcache\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

async fn health_within(server: &TestServer, within: Duration) -> bool {
    let probe = http().get(format!("{}/health", server.url)).send();
    matches!(tokio::time::timeout(within, probe).await, Ok(Ok(r)) if r.status() == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_header_timeout_and_health_still_answers() {
    let server = TestServer::start(ServerOptions {
        limits: ServerLimits {
            header_timeout: Duration::from_secs(1),
            max_connections: 4,
            ..ServerLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    // Twice the cap: the last four wait in the backlog behind the first.
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(half_head(&server).await);
    }
    let probe = Instant::now();
    assert!(
        health_within(&server, Duration::from_secs(10)).await,
        "/health did not answer with the connection slots full of idle clients"
    );
    // The cap held: no slot was free before the first idle ones timed out.
    assert!(
        probe.elapsed() >= Duration::from_millis(500),
        "/health answered at once: {:?}",
        probe.elapsed()
    );
    for (i, stream) in idle.iter_mut().enumerate() {
        assert!(
            read_until_closed(stream, Duration::from_secs(10))
                .await
                .is_some(),
            "idle connection {i} still open after {:?}",
            started.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Slots come back: the server serves as before.
    assert!(health_within(&server, Duration::from_secs(5)).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_within_the_body_timeout() {
    let server = TestServer::start(ServerOptions {
        limits: ServerLimits {
            body_timeout: Duration::from_secs(1),
            ..ServerLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let stream = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(
            format!(
                "POST /v1/cache HTTP/1.1\r\nHost: depcache\r\nAuthorization: Bearer {API_KEY}\r\n\
Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    // One byte every 300 ms, until the server hangs up or 20 s pass.
    let trickle = tokio::spawn(async move {
        for _ in 0..66 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(
        read.is_ok(),
        "the slow body was still being read after 20 s"
    );
    assert!(elapsed < Duration::from_secs(8), "closed after {elapsed:?}");
    let (status, body) = parse_answer(&answer);
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"], "body_timeout", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("--body-timeout"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drops_connections_still_open_after_its_deadline() {
    let server = TestServer::start(ServerOptions {
        limits: ServerLimits {
            // Neither timeout would end these connections before the deadline.
            header_timeout: Duration::from_secs(300),
            body_timeout: Duration::from_secs(300),
            shutdown_timeout: Duration::from_secs(1),
            ..ServerLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let mut idle = half_head(&server).await;
    // A request in progress: head complete, body half sent.
    let mut busy = TcpStream::connect(addr(&server)).await.unwrap();
    busy.write_all(
        format!(
            "POST /v1/cache HTTP/1.1\r\nHost: depcache\r\nAuthorization: Bearer {API_KEY}\r\n\
Content-Length: 100\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Let the server take both in before it is told to stop.
    assert!(health_within(&server, Duration::from_secs(5)).await);
    let started = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(15), server.stop()).await;
    assert!(stopped.is_ok(), "shutdown still waiting after 15 s");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    for stream in [&mut idle, &mut busy] {
        assert!(
            read_until_closed(stream, Duration::from_secs(5))
                .await
                .is_some()
        );
    }
}

/// An npm project of two packages (about ten entries in `node_modules`).
fn two_packages() -> (tempfile::TempDir, Value) {
    let project = tempfile::tempdir().unwrap();
    npm_project(
        project.path(),
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[],
    );
    let files = npm_project::npm_project_files(project.path());
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();
    (project, body)
}

async fn refused_tree(tree: TreeLimits, flag: &str, limit: &str) {
    let server = TestServer::start(ServerOptions {
        limits: ServerLimits {
            tree,
            ..ServerLimits::default()
        },
        ..ServerOptions::npm()
    })
    .await;
    let (_project, body) = two_packages();
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "tree_too_large", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains(flag) && message.contains(limit),
        "{message}"
    );
    assert_eq!(server.index_count(), 0);
    assert_eq!(server.blob_count(), 0);
    // The install folder goes away off the request path; give it a moment.
    let staging = server.store.path().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_files(&staging) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count_files(&staging), 0, "staging left behind");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_with_more_entries_than_max_tree_files_is_422() {
    let tree = TreeLimits {
        max_entries: 3,
        ..TreeLimits::default()
    };
    refused_tree(tree, "--max-tree-files", "more than 3 entries").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_larger_than_max_tree_size_is_422() {
    let tree = TreeLimits {
        max_bytes: 100,
        ..TreeLimits::default()
    };
    refused_tree(tree, "--max-tree-size", "(100 bytes)").await;
}
