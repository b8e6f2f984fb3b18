//! npm settings the request does not carry: a project whose `.npmrc` says
//! `omit=dev` gets from `npm ci` a tree without devDependencies, so `fetch
//! npm` installs it in the job, naming the line (before, it restored the
//! full cached tree: a silent difference found by the real-world sweep,
//! docs/compatibility.md); with `--omit-dev` it asks for that very tree.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::server::{API_KEY, ServerOptions, TestServer};
use crate::common::{assert_same_tree, npm_ci_reference, npm_project};

fn fetch(dir: &Path, home: &Path, server: &TestServer, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", "npm", "--server", &server.url])
        .args(extra)
        .current_dir(dir)
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("HOME", home)
        .env_remove("NODE_ENV")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_npmrc_that_omits_dev_is_installed_in_the_job_or_served_with_omit_dev() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = project.path();
    npm_project(dir, &[("dc-util", "1.0.0")], &[("dc-cli", "1.0.0")]);
    std::fs::write(dir.join(".npmrc"), "fund=false\nomit=dev\n").unwrap();
    let reference = npm_ci_reference(dir, true);
    let expected = reference.path().join("node_modules");
    assert!(
        !expected.join("dc-cli").exists(),
        "npm ci kept the dev dependency"
    );
    let server = TestServer::start(ServerOptions::npm()).await;

    let out = fetch(dir, home.path(), &server, &[]);
    let shown = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains(".npmrc line 2 sets omit=dev, so npm ci leaves devDependencies out"),
        "{shown}"
    );
    assert!(shown.contains("installing locally"), "{shown}");
    assert_eq!(server.index_count(), 0, "nothing may be cached");
    assert_same_tree(&dir.join("node_modules"), &expected);

    std::fs::remove_dir_all(dir.join("node_modules")).unwrap();
    let out = fetch(dir, home.path(), &server, &["--omit-dev"]);
    let shown = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("cache miss"), "{shown}");
    assert_same_tree(&dir.join("node_modules"), &expected);
    server.stop().await;
}
