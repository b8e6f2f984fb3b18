//! `depcache fetch` as issue 14 asks: a 503's `Retry-After` is waited out,
//! a wrong server URL and a missing lockfile each say what to do next.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;

use crate::client_support::{Sandbox, assert_one_line_failure, stderr};
use crate::common::crafted_server::{CraftedServer, Script, file};

/// A server whose every cache request is a full queue, asking for `after`.
fn queue_full_server(after: &'static str) -> (String, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let app = Router::new().route(
        "/v1/cache",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, after), (header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"install_queue_full","message":"32 installs are already running or queued; retry shortly"}"#,
                )
                    .into_response()
            }
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, posts)
}

#[test]
fn a_503_with_retry_after_is_waited_out_before_the_retry() {
    let (url, posts) = queue_full_server("2");
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let out = sandbox.fetch(&url, &["--no-fallback", "--retries", "1"]);
    let elapsed = started.elapsed();
    let err = assert_one_line_failure(&out, 3);
    assert!(
        err.contains("install_queue_full") || err.contains("503"),
        "{err}"
    );
    assert_eq!(posts.load(Ordering::SeqCst), 2, "one retry");
    // Without Retry-After the first retry comes after at most 0.5 s.
    assert!(
        elapsed >= Duration::from_secs(2),
        "retried after {elapsed:?}"
    );
}

#[test]
fn a_retry_after_beyond_a_minute_ends_the_retries_at_once() {
    let (url, posts) = queue_full_server("3600");
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let out = sandbox.fetch(&url, &["--no-fallback", "--retries", "3"]);
    let err = assert_one_line_failure(&out, 3);
    assert!(err.contains("retry after 3600 s"), "{err}");
    assert_eq!(posts.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_server_url_with_a_path_is_told_to_be_the_origin() {
    let server = CraftedServer::start(Script::of(&[file("a/index.js", b"1\n", 0o644)]));
    let sandbox = Sandbox::new();
    let with_path = format!("{}/depcache", server.url);
    let out = sandbox.fetch(&with_path, &["--no-fallback"]);
    let err = assert_one_line_failure(&out, 5);
    assert!(
        err.contains(&format!("POST {with_path}/v1/cache answered 404")),
        "names the URL tried: {err}"
    );
    assert!(
        err.contains(&format!("pass --server {}", server.url)),
        "says what to pass: {err}"
    );
}

#[test]
fn a_project_without_a_lockfile_is_warned_about_with_the_fix() {
    let sandbox = Sandbox::new();
    std::fs::remove_file(sandbox.project().join("package-lock.json")).unwrap();
    // No server: the local `npm install` of a project without dependencies.
    let out = sandbox.fetch("", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("npm install"), "{err}");
    assert!(
        err.contains("not reproducible") && err.contains("commit package-lock.json"),
        "{err}"
    );

    // Through a server too: the tree is as unpinned when it was cached.
    let server = CraftedServer::start(Script::of(&[file("a/index.js", b"1\n", 0o644)]));
    let sandbox = Sandbox::new();
    std::fs::remove_file(sandbox.project().join("package-lock.json")).unwrap();
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("not reproducible"), "{err}");
}
