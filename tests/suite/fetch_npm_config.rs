//! npm settings the request does not carry: a project whose `.npmrc` says
//! `omit=dev` gets from `npm ci` a tree without devDependencies, so `fetch
//! npm` installs it in the job, naming the line (before, it restored the
//! full cached tree: a silent difference found by the real-world sweep,
//! docs/compatibility.md); with `--omit-dev` it asks for that very tree.
//! The same for yarn classic under `NODE_ENV=production`.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::server::{API_KEY, ServerOptions, TestServer};
use crate::common::yarn_project::{Flavor, yarn_command, yarn_project};
use crate::common::{assert_same_tree, npm_ci_reference, npm_project};

fn fetch(dir: &Path, home: &Path, server: &TestServer, extra: &[&str]) -> Output {
    fetch_with(dir, home, server, "npm", extra, None)
}

fn fetch_with(
    dir: &Path,
    home: &Path,
    server: &TestServer,
    manager: &str,
    extra: &[&str],
    node_env: Option<&str>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_depcache"));
    if let Some(value) = node_env {
        cmd.env("NODE_ENV", value);
    } else {
        cmd.env_remove("NODE_ENV");
    }
    cmd.args(["fetch", manager, "--server", &server.url])
        .args(extra)
        .current_dir(dir)
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("HOME", home)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_under_node_env_production_is_installed_in_the_job() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = project.path();
    yarn_project(
        Flavor::Classic,
        dir,
        &[("dc-util", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        serde_json::json!({}),
    );
    let reference = tempfile::tempdir().unwrap();
    for name in ["package.json", "yarn.lock"] {
        std::fs::copy(dir.join(name), reference.path().join(name)).unwrap();
    }
    let scratch = tempfile::tempdir().unwrap();
    let out = yarn_command(Flavor::Classic, reference.path(), scratch.path())
        .args(["install", "--frozen-lockfile"])
        .env("NODE_ENV", "production")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = reference.path().join("node_modules");
    assert!(
        !expected.join("dc-cli").exists(),
        "yarn kept the dev dependency"
    );
    let server = TestServer::start(ServerOptions::npm()).await;

    let out = fetch_with(dir, home.path(), &server, "yarn", &[], Some("production"));
    let shown = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains(
            "the environment sets NODE_ENV=production, so yarn install leaves \
devDependencies out"
        ),
        "{shown}"
    );
    assert_eq!(server.index_count(), 0, "nothing may be cached");
    assert_same_tree(&dir.join("node_modules"), &expected);
    server.stop().await;
}
