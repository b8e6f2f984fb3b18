//! Yarn Berry fetched from the registry: a server with no `--yarn-release`
//! installs a Berry project (`nodeLinker: node-modules`) with the
//! `@yarnpkg/cli-dist` its `packageManager` names, fetched from the test
//! registry (which packs it from the Berry `.ci/run` installs, with a real
//! sha512) into the tool cache, and a second install reuses that copy.

use serde_json::json;

use crate::common::assert_same_tree;
use crate::common::real_tools::BERRY_DOWNLOADS;
use crate::common::registry::registry;
use crate::common::server::{ServerOptions, TestServer, run_fetch};
use crate::common::yarn_project::{Flavor, berry_version, node_eval, yarn_project, yarn_reference};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berry_is_fetched_from_the_registry_into_the_tool_cache_once() {
    // Other tests pass Berry as --yarn-release; the one that fetches it too
    // (a container install) waits for this lock, so the count is our own.
    let _counting = BERRY_DOWNLOADS.lock().await;
    let tarballs = || registry().tarball_requests_for("@yarnpkg/cli-dist");
    let server = TestServer::start(ServerOptions::npm()).await;
    let tool = server
        .store
        .path()
        .join("tool-cache")
        .join(format!("@yarnpkg/cli-dist@{}", berry_version()));
    let before = tarballs();
    for (round, deps) in [[("dc-util", "1.0.0")], [("dc-shared", "1.0.0")]]
        .iter()
        .enumerate()
    {
        let project = tempfile::tempdir().unwrap();
        yarn_project(
            Flavor::BerryNodeModules,
            project.path(),
            deps,
            &[("dc-cli", "1.0.0")],
            json!({}),
        );
        let reference = yarn_reference(Flavor::BerryNodeModules, project.path());
        let out = run_fetch(&server, project.path(), "yarn", &[]).await;
        assert!(out.contains("cache miss"), "{out}");
        let modules = project.path().join("node_modules");
        assert_same_tree(&modules, &reference.path().join("node_modules"));
        let (name, _) = deps[0];
        assert_eq!(
            node_eval(
                project.path(),
                &format!("console.log(require('{name}/package.json').name)")
            ),
            name
        );
        assert!(
            tool.join("bin/yarn.js").is_file(),
            "round {round}: no Berry in the tool cache at {}",
            tool.display()
        );
        assert_eq!(
            tarballs(),
            before + 1,
            "round {round}: the Berry tarball is fetched once, then the cached copy is reused"
        );
    }
    server.stop().await;
}
