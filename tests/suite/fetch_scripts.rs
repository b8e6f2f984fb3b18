//! `depcache fetch` runs the lifecycle work the real install would have run,
//! in the client's job, after restoring: dependency install scripts, bin
//! links and the root's events for npm (`fetch` == `npm ci`,
//! `fetch --ignore-scripts` == `npm ci --ignore-scripts`), the autoloader and
//! root scripts for composer; store objects stay what they were.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::npm_project::{npm_ci_scripts_reference, npm_project_with_scripts};
use crate::common::server::{API_KEY, ServerOptions, TestServer};
use crate::common::{assert_same_tree, npm_ci_reference, npm_project};

/// Root scripts: postinstall writes a file and patches another package's
/// file in place (patch-package style); prepare appends, proving the order.
fn root_scripts() -> serde_json::Value {
    json!({
        "postinstall": "node -e \"const fs = require('fs'); fs.writeFileSync('node_modules/root-post.txt', process.env.npm_lifecycle_event + ' ' + process.env.npm_command); fs.appendFileSync('node_modules/dc-util/README.md', 'patched by the root\\n')\"",
        "prepare": "node -e \"require('fs').appendFileSync('node_modules/root-post.txt', ' then ' + process.env.npm_lifecycle_event)\"",
        "test": "exit 1",
    })
}

/// The real `depcache fetch <manager> --no-fallback` in `project`, with an
/// `npm` on PATH that logs its arguments to `npm_log` before running npm.
async fn fetch(
    server: &TestServer,
    project: &Path,
    manager: &str,
    extra: &[&OsStr],
    npm_log: &Path,
) -> Output {
    let shim = tempfile::tempdir().unwrap();
    let real_npm = which("npm");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
        npm_log.display(),
        real_npm.display()
    );
    let npm = shim.path().join("npm");
    std::fs::write(&npm, script).unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        shim.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    tokio::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", manager, "--no-fallback", "--server", &server.url])
        .arg("--dir")
        .arg(project)
        .args(extra)
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("PATH", path)
        .env("npm_config_update_notifier", "false")
        .env_remove("DEPCACHE_IGNORE_SCRIPTS")
        .output()
        .await
        .unwrap()
}

fn which(program: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "fetch failed: {stderr}");
    stderr
}

/// npm commands the fetch ran for scripts (not `--version` probes).
fn script_runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("rebuild") || l.starts_with("exec"))
        .map(str::to_string)
        .collect()
}

/// Every object of a local store still holds the content its name promises
/// (`<sha256>.<mode>`), with that mode.
fn assert_store_intact(store: &Path) -> usize {
    let mut objects = 0;
    for entry in walkdir::WalkDir::new(store.join("objects")) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let (sha, mode) = name.split_once('.').unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            sha,
            "store object {name} was changed: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        let have = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(format!("{have:o}"), mode, "mode of store object {name}");
        objects += 1;
    }
    objects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_runs_install_scripts_like_npm_ci() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    npm_project_with_scripts(
        &project,
        &[("dc-script", "1.0.0"), ("dc-cli", "1.0.0")],
        &[],
        root_scripts(),
    );
    let lock = std::fs::read_to_string(project.join("package-lock.json")).unwrap();
    assert!(lock.contains("\"hasInstallScript\": true"), "{lock}");
    let reference = npm_ci_scripts_reference(&project, false);
    let plain = npm_ci_reference(&project, false);
    let built = reference.path().join("node_modules/dc-script/postinstall.txt");
    assert!(built.is_file(), "the reference npm ci ran no postinstall");

    let server = TestServer::start(ServerOptions::npm()).await;
    let log = work.path().join("npm.log");
    let out = fetch(&server, &project, "npm", &[], &log).await;
    let stderr = ok(&out);
    assert!(stderr.contains("cache miss"), "{stderr}");
    assert!(stderr.contains("ran install scripts of 1 package"), "{stderr}");
    assert_same_tree(
        &project.join("node_modules"),
        &reference.path().join("node_modules"),
    );
    assert_eq!(
        std::fs::read_to_string(project.join("node_modules/root-post.txt")).unwrap(),
        "postinstall ci then prepare"
    );

    // --ignore-scripts: exactly the `npm ci --ignore-scripts` tree, no npm run.
    std::fs::remove_file(&log).unwrap();
    let out = fetch(&server, &project, "npm", &["--ignore-scripts".as_ref()], &log).await;
    assert!(ok(&out).contains("cache hit"));
    assert_same_tree(
        &project.join("node_modules"),
        &plain.path().join("node_modules"),
    );
    assert_eq!(script_runs(&log), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_without_scripts_starts_no_npm() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    npm_project(&project, &[("dc-cli", "1.0.0")], &[]);
    let reference = npm_ci_reference(&project, false);
    let server = TestServer::start(ServerOptions::npm()).await;
    let log = work.path().join("npm.log");
    let stderr = ok(&fetch(&server, &project, "npm", &[], &log).await);
    assert!(!stderr.contains("ran "), "{stderr}");
    assert_eq!(script_runs(&log), Vec::<String>::new());
    assert_same_tree(
        &project.join("node_modules"),
        &reference.path().join("node_modules"),
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_never_write_into_the_local_store() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let project = work.path().join("app");
    npm_project_with_scripts(
        &project,
        &[("dc-script", "1.0.0"), ("dc-exec", "1.0.0")],
        &[],
        root_scripts(),
    );
    let reference = npm_ci_scripts_reference(&project, false);
    let server = TestServer::start(ServerOptions::npm()).await;
    let log = work.path().join("npm.log");
    let with_store = ["--local-store".as_ref(), store.as_os_str()];
    // First: the bundle is extracted, its files linked into the store, then
    // the scripts run on that tree.
    ok(&fetch(&server, &project, "npm", &with_store, &log).await);
    assert!(assert_store_intact(&store) > 0);
    assert_same_tree(
        &project.join("node_modules"),
        &reference.path().join("node_modules"),
    );
    // Second: the tree is built of hard links to the store, then scripts run.
    let stderr = ok(&fetch(&server, &project, "npm", &with_store, &log).await);
    assert!(stderr.contains("from the local store"), "{stderr}");
    assert_store_intact(&store);
    assert_same_tree(
        &project.join("node_modules"),
        &reference.path().join("node_modules"),
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_install_script_fails_the_fetch_with_its_output() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    npm_project(
        &project,
        &[("dc-script-fail", "1.0.0"), ("dc-util", "1.0.0")],
        &[],
    );
    let server = TestServer::start(ServerOptions::npm()).await;
    let log = work.path().join("npm.log");
    let out = fetch(&server, &project, "npm", &["-q".as_ref()], &log).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("boom from the postinstall"), "{stderr}");
    assert!(stderr.contains("npm rebuild"), "{stderr}");
    // As npm ci leaves it: the tree stays, for the job to inspect.
    assert!(project.join("node_modules/dc-util/index.js").is_file());
    server.stop().await;
}
