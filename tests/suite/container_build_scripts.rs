//! `serve --build-scripts container` end to end with podman and the local
//! node image of tests/container/setup.sh: the real server builds the tree
//! with its install scripts inside the container sandbox, the real client
//! (`fetch --server-scripts`) restores it and runs nothing, and the result
//! equals `npm ci` run in that image. A script that looks for the server's
//! store and environment finds neither.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};

use depcache::protocol::{InstallOptions, Manager};
use serde_json::Value;

use crate::common::server::{cache_request_with, http, spawn_binary_server};
use crate::container_e2e::{Setup, podman_config, project, setup, tree};
use crate::container_registry::Registry;

const SECRET: &str = "depcache-test-secret-6f1d0c";

/// The real `depcache serve --build-scripts container`, with a secret and
/// its store's path in its own environment.
fn serve(setup: &Setup, registry: &str, store: &Path) -> (Child, String) {
    let runtime = podman_config(setup).runtime.clone();
    spawn_binary_server(
        &[
            "--is-public",
            "--cache-dir",
            store.to_str().unwrap(),
            "--build-scripts",
            "container",
            "--use-docker-on-version-mismatch",
            "--container-runtime",
            &runtime,
            "--node-image",
            &setup.image,
            "--container-network",
            "host",
            "--container-memory",
            "1g",
            "--container-cpus",
            "1",
            "--npm-registry",
            registry,
        ],
        &[
            ("DEPCACHE_TEST_SECRET", SECRET),
            ("STORE_DIR", store.to_str().unwrap()),
        ],
    )
    .unwrap()
}

fn write(dir: &Path, files: &[(&str, Vec<u8>)]) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The real client: `fetch npm --server-scripts` with the image's versions.
fn fetch(setup: &Setup, url: &str, dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", "npm", "--no-fallback", "--server-scripts"])
        .args(["--server", url, "--node-version", &setup.node])
        .args(["--npm-version", &setup.npm, "--dir"])
        .arg(dir)
        .env_remove("DEPCACHE_IGNORE_SCRIPTS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "fetch failed: {stderr}");
    stderr
}

/// `npm ci` (scripts on) in the image, as a job using that image would run it.
fn npm_ci_in_image(setup: &Setup, registry: &str, dir: &Path) {
    let user = podman_config(setup).user.clone();
    let status = Command::new("podman")
        .args(["run", "--rm", "--network=host", &format!("--user={user}")])
        .arg(format!(
            "--mount=type=bind,source={},target=/work",
            dir.display()
        ))
        .args(["--workdir=/work", "--env=HOME=/work/.home"])
        .arg("--env=npm_config_cache=/work/.npm")
        .arg(setup.image.replace("{version}", &setup.node))
        .args(["npm", "ci", "--no-audit", "--no-fund"])
        .arg(format!("--registry={registry}"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_built_tree_equals_npm_ci_in_the_image_and_the_client_runs_nothing() {
    let Some(setup) = setup() else { return };
    let registry = Registry::start().await;
    let files = project(&registry, &["built", "greet"]);
    let store = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(&setup, &registry.url, store.path());

    let table: Value = http()
        .get(format!("{url}/v1/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(table["build_scripts"], "container", "{table}");

    let fetched = tempfile::tempdir().unwrap();
    write(fetched.path(), &files);
    let stderr = fetch(&setup, &url, fetched.path());
    assert!(!stderr.contains("ran "), "the client ran scripts: {stderr}");
    // Removed from the project: with scripts, `npm rebuild` would rewrite it.
    let reference = tempfile::tempdir().unwrap();
    write(reference.path(), &files);
    npm_ci_in_image(&setup, &registry.url, reference.path());
    let (ours, theirs) = (
        tree(&fetched.path().join("node_modules")),
        tree(&reference.path().join("node_modules")),
    );
    assert_eq!(ours, theirs);
    let find = |p: &str| {
        ours.iter()
            .find(|(rel, _)| rel == p)
            .map(|(_, w)| w.clone())
    };
    assert_eq!(
        find("built/built.txt").as_deref(),
        Some("file exec=false built by postinstall\n")
    );
    assert_eq!(
        find("built/lib.js").as_deref(),
        Some("file exec=false module.exports = \"native\";\n")
    );

    // The built tree has its own key: the unbuilt one is another tree.
    let versions = BTreeMap::from([
        ("node".to_string(), setup.node.clone()),
        ("npm".to_string(), setup.npm.clone()),
    ]);
    let built = InstallOptions {
        omit_dev: None,
        build_scripts: Some(true),
    };
    let plain = cache_request_with(Manager::Npm, &files, versions.clone(), None);
    let asked = cache_request_with(Manager::Npm, &files, versions, Some(built));
    assert_ne!(plain.hash, asked.hash);
    let answer: Value = http()
        .post(format!("{url}/v1/cache"))
        .json(&asked)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["cache_hit"], true, "{answer}");
    let index: Value = http()
        .get(answer["index_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(index["options"]["build_scripts"], true, "{index}");
    // The scripts had a cache of their own: nothing reached the shared one
    // that later installs read.
    let shared = store.path().join("tool-cache/npm");
    let left: Vec<_> = std::fs::read_dir(&shared)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{}: {left:?}", shared.display());
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_finds_neither_the_servers_store_nor_its_environment() {
    let Some(setup) = setup() else { return };
    let registry = Registry::start().await;
    let files = project(&registry, &["spy"]);
    let store = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(&setup, &registry.url, store.path());
    let fetched = tempfile::tempdir().unwrap();
    write(fetched.path(), &files);
    fetch(&setup, &url, fetched.path());
    server.kill().unwrap();
    server.wait().unwrap();

    let spy = fetched.path().join("node_modules/spy");
    let env = std::fs::read_to_string(spy.join("env.txt")).unwrap();
    // The script did run, in the sandbox's own environment.
    assert!(env.contains("npm_lifecycle_event=postinstall"), "{env}");
    let store_path = store.path().to_str().unwrap();
    for leaked in [SECRET, store_path, "DEPCACHE_", "\nSTORE_DIR="] {
        assert!(
            !env.contains(leaked),
            "{leaked} leaked into the script:\n{env}"
        );
    }
    let listing = std::fs::read_to_string(spy.join("store.txt")).unwrap();
    assert_eq!(listing, "ENOENT\n");
    assert!(!listing.contains("objects"), "{listing}");
    let root = std::fs::read_to_string(spy.join("root.txt")).unwrap();
    assert!(!root.contains(store_path), "{root}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_own_lifecycle_scripts_are_refused_before_any_install() {
    let Some(setup) = setup() else { return };
    let registry = Registry::start().await;
    let mut files = project(&registry, &["greet"]);
    let mut manifest: Value = serde_json::from_slice(&files[0].1).unwrap();
    manifest["scripts"] = serde_json::json!({"prepare": "husky"});
    files[0].1 = serde_json::to_vec(&manifest).unwrap();
    let store = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(&setup, &registry.url, store.path());
    let versions = BTreeMap::from([
        ("node".to_string(), setup.node.clone()),
        ("npm".to_string(), setup.npm.clone()),
    ]);
    let built = InstallOptions {
        omit_dev: None,
        build_scripts: Some(true),
    };
    let body = cache_request_with(Manager::Npm, &files, versions, Some(built));
    let response = http()
        .post(format!("{url}/v1/cache"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("unsupported_project")),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("package.json has a prepare script"),
        "{message}"
    );
}

#[test]
fn build_scripts_without_a_runtime_is_a_start_up_error_naming_the_flag() {
    let store = tempfile::tempdir().unwrap();
    let (code, stderr) = spawn_binary_server(
        &[
            "--is-public",
            "--cache-dir",
            store.path().to_str().unwrap(),
            "--build-scripts",
            "container",
            "--container-runtime",
            "/nonexistent/podman",
        ],
        &[],
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--build-scripts container"), "{stderr}");
    assert!(!stderr.contains("mismatch"), "{stderr}");
}
