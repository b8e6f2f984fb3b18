//! pnpm and yarn (classic, Berry node-modules) on the container fallback,
//! end to end with podman: a server with no node on its PATH installs a pnpm
//! project and yarn projects in the node image of the request's node (tests/container/setup.sh
//! builds it), running the manager version fetched from the test registry
//! into its tool cache with the image's node; the client restores exactly
//! the folder the manager's own install makes in a control folder (pnpm:
//! with the two install-time fields the pnpm tests leave out, see
//! tests/suite/pnpm.rs), and node can require from it.

use std::process::Command;

use serde_json::json;

use crate::common::assert_same_tree;
use crate::common::real_tools::BERRY_DOWNLOADS;
use crate::common::server::{ServerOptions, TestServer, metric, run_fetch};
use crate::common::yarn_project::{
    Flavor, classic_version, node_eval, yarn_project, yarn_reference,
};
use crate::container_e2e::{podman_config, setup};
use crate::pnpm::{Job, assert_same, manifest, project, text};

async fn container_server() -> Option<TestServer> {
    let setup = setup()?;
    Some(
        TestServer::start(ServerOptions {
            node_container: Some(podman_config(&setup)),
            ..ServerOptions::npm()
        })
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnpm_installs_in_the_node_container_as_pnpm_itself_does() {
    let Some(server) = container_server().await else {
        return;
    };
    let job = Job::new();
    let project = project(&job);
    let dir = project.path();
    let modules = dir.join("node_modules");
    // The control: pnpm's own install in this very folder (its shims name
    // the folder), then removed.
    job.pnpm(dir, &["install", "--frozen-lockfile"]);
    let control = manifest(&modules);
    std::fs::remove_dir_all(&modules).unwrap();

    for round in ["miss", "hit"] {
        let out = job.fetch(&server, dir, &["--no-fallback"]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{round}: {stderr}");
        assert!(stderr.contains(&format!("cache {round}")), "{stderr}");
        assert_same(&manifest(&modules), &control, round);
        assert_eq!(
            node_eval(dir, "console.log(require('dc-util').version)"),
            "1.0.0"
        );
        let out = Command::new(modules.join(".bin/dc-cli")).output().unwrap();
        assert_eq!(text(&out.stdout).trim(), "3", "{}", text(&out.stderr));
        std::fs::remove_dir_all(&modules).unwrap();
    }
    assert_eq!(
        metric(&server, "depcache_container_installs_total").await,
        1
    );
    let pnpm = text(&job.pnpm(dir, &["--version"]).stdout)
        .trim()
        .to_string();
    let fetched = server.store.path().join(format!("tool-cache/pnpm@{pnpm}"));
    assert!(
        fetched.join("package.json").is_file(),
        "{}",
        fetched.display()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_installs_in_the_node_container_as_yarn_itself_does() {
    let Some(server) = container_server().await else {
        return;
    };
    let project = tempfile::tempdir().unwrap();
    // A nested conflict: dc-cli (dev, with a bin) wants dc-util ^1.0.0 while
    // the root pins 1.0.0.
    yarn_project(
        Flavor::Classic,
        project.path(),
        &[("dc-util", "1.0.0"), ("dc-other", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        json!({}),
    );
    let reference = yarn_reference(Flavor::Classic, project.path());
    let modules = project.path().join("node_modules");
    for round in ["miss", "hit"] {
        let out = run_fetch(&server, project.path(), "yarn", &[]).await;
        assert!(out.contains(&format!("cache {round}")), "{out}");
        assert_same_tree(&modules, &reference.path().join("node_modules"));
        assert_eq!(
            node_eval(project.path(), "console.log(require('dc-other'))"),
            "shared-other"
        );
        std::fs::remove_dir_all(&modules).unwrap();
    }
    assert_eq!(
        metric(&server, "depcache_container_installs_total").await,
        1
    );
    let fetched = server
        .store
        .path()
        .join(format!("tool-cache/yarn@{}", classic_version()));
    assert!(
        fetched.join("bin/yarn.js").is_file(),
        "{}",
        fetched.display()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_installs_in_the_node_container_as_yarn_itself_does() {
    let Some(server) = container_server().await else {
        return;
    };
    // This server fetches @yarnpkg/cli-dist too: not while another test
    // counts that package's downloads.
    let _counting = BERRY_DOWNLOADS.lock().await;
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        Flavor::BerryNodeModules,
        project.path(),
        &[("dc-util", "1.0.0"), ("dc-other", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        json!({}),
    );
    let reference = yarn_reference(Flavor::BerryNodeModules, project.path());
    let modules = project.path().join("node_modules");
    let out = run_fetch(&server, project.path(), "yarn", &[]).await;
    assert!(out.contains("cache miss"), "{out}");
    assert_same_tree(&modules, &reference.path().join("node_modules"));
    assert_eq!(
        node_eval(project.path(), "console.log(require('dc-util').version)"),
        "1.0.0"
    );
    assert_eq!(
        metric(&server, "depcache_container_installs_total").await,
        1
    );
    server.stop().await;
}
