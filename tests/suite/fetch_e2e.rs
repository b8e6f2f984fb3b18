//! The real client against a real server: `depcache fetch` into an empty
//! project gives the tree a direct install gives, and the second fetch is a hit.

use std::path::Path;

use crate::common::server::{ServerOptions, TestServer, host_versions, run_fetch};
use crate::common::{
    assert_same_tree, composer_install_reference, composer_project, npm_ci_reference, npm_project,
};

async fn fetch(server: &TestServer, project: &Path, manager: &str) -> String {
    run_fetch(server, project, manager, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_npm_restores_what_npm_ci_installs() {
    let project = tempfile::tempdir().unwrap();
    npm_project(
        project.path(),
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[("dc-dev", "1.0.0")],
    );
    let reference = npm_ci_reference(project.path(), false);
    let server = TestServer::start(ServerOptions::npm()).await;
    let first = fetch(&server, project.path(), "npm").await;
    assert!(first.contains("cache miss"), "{first}");
    assert_same_tree(
        &project.path().join("node_modules"),
        &reference.path().join("node_modules"),
    );

    // A stale tree is replaced whole by the hit.
    std::fs::write(project.path().join("node_modules/stale.txt"), b"old").unwrap();
    let second = fetch(&server, project.path(), "npm").await;
    assert!(second.contains("cache hit"), "{second}");
    assert_same_tree(
        &project.path().join("node_modules"),
        &reference.path().join("node_modules"),
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_composer_restores_what_composer_installs() {
    if host_versions(depcache::protocol::Manager::Composer).len() < 2 {
        panic!("php and composer must be installed (.ci/run installs them)");
    }
    let root = tempfile::tempdir().unwrap();
    let fixture = composer_project(root.path());
    let reference = composer_install_reference(&fixture.project, false);
    let server = TestServer::start(ServerOptions::default()).await;
    let first = fetch(&server, &fixture.project, "composer").await;
    assert!(first.contains("cache miss"), "{first}");
    assert_same_tree(
        &fixture.project.join("vendor"),
        &reference.path().join("vendor"),
    );
    std::fs::remove_dir_all(fixture.project.join("vendor")).unwrap();
    let second = fetch(&server, &fixture.project, "composer").await;
    assert!(second.contains("cache hit"), "{second}");
    assert_same_tree(
        &fixture.project.join("vendor"),
        &reference.path().join("vendor"),
    );
    server.stop().await;
}
