//! The client's side of cheap hits: it asks by key first and uploads its
//! manifests only on a miss; servers without the GET route still work.

use std::path::Path;

use crate::client_support::{Sandbox, stderr};
use crate::common::crafted_server::{CraftedServer, Script, file};
use crate::common::npm_project;
use crate::common::server::{ServerOptions, TestServer, metrics_text, run_fetch};

/// `depcache_http_requests_total` for one route and status.
async fn requests(server: &TestServer, route: &str, status: u16) -> u64 {
    let prefix = format!("depcache_http_requests_total{{route=\"{route}\",status=\"{status}\"}} ");
    metrics_text(server)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|n| n.parse().unwrap()))
        .unwrap_or(0)
}

fn copy_project(from: &Path, to: &Path) {
    for name in ["package.json", "package-lock.json"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_sends_no_manifests() {
    let first = tempfile::tempdir().unwrap();
    npm_project(first.path(), &[("dc-cli", "1.0.0")], &[]);
    let server = TestServer::start(ServerOptions::npm()).await;
    let out = run_fetch(&server, first.path(), "npm", &[]).await;
    assert!(out.contains("cache miss"), "{out}");
    assert_eq!(requests(&server, "/v1/cache/{key}", 404).await, 1);
    assert_eq!(requests(&server, "/v1/cache", 200).await, 1);

    let second = tempfile::tempdir().unwrap();
    copy_project(first.path(), second.path());
    let out = run_fetch(&server, second.path(), "npm", &[]).await;
    assert!(out.contains("cache hit"), "{out}");
    assert!(second.path().join("node_modules/dc-cli").is_dir());
    assert_eq!(requests(&server, "/v1/cache/{key}", 200).await, 1);
    assert_eq!(
        requests(&server, "/v1/cache", 200).await,
        1,
        "the hit POSTed the manifests"
    );
    server.stop().await;
}

#[test]
fn a_server_without_the_get_route_is_asked_by_post() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script::of(&[file("a/index.js", b"x\n", 0o644)]));
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.posts(), 1);
    assert!(sandbox.node_modules().join("a/index.js").is_file());
}
