//! Yarn Berry's built-in compat patches (fsevents, resolve, typescript):
//! Berry records every copy of those packages as
//! `patch:NAME@npm%3AV#optional!builtin<compat/NAME>`, so nearly every real
//! Berry project (any with typescript or jest) has one. The server installs
//! such a lockfile (the patch is the yarn version's own, the package the
//! registry's) and `fetch yarn` restores what Berry's own install makes,
//! for the node-modules linker and for Plug'n'Play. Found by the
//! real-world sweep (docs/compatibility.md), where such projects were
//! refused as "a patch source".

use serde_json::json;

use crate::common::assert_same_tree;
use crate::common::server::{ServerOptions, TestServer, run_fetch};
use crate::common::yarn_project::{Flavor, berry_release, yarn_project, yarn_reference};

async fn restores_a_builtin_patch(flavor: Flavor) {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    yarn_project(
        flavor,
        dir,
        &[("resolve", "1.22.8"), ("dc-util", "1.0.0")],
        &[],
        json!({}),
    );
    let lock = std::fs::read_to_string(dir.join("yarn.lock")).unwrap();
    assert!(
        lock.contains("resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>"),
        "Berry no longer records its compat patch: {lock}"
    );
    let reference = yarn_reference(flavor, dir);
    let server = TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await;
    let out = run_fetch(&server, dir, "yarn", &[]).await;
    assert!(out.contains("cache miss"), "{out}");
    match flavor {
        Flavor::BerryPnp => assert_same_tree(dir, reference.path()),
        _ => assert_same_tree(
            &dir.join("node_modules"),
            &reference.path().join("node_modules"),
        ),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berry_node_modules_with_a_builtin_compat_patch() {
    restores_a_builtin_patch(Flavor::BerryNodeModules).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berry_pnp_with_a_builtin_compat_patch() {
    restores_a_builtin_patch(Flavor::BerryPnp).await;
}
