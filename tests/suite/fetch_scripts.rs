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

/// The real `depcache fetch <manager>` in `project` (`--no-fallback` unless
/// `extra` sets `--retries`), with an `npm` on PATH that logs its arguments
/// to `npm_log` before running npm.
async fn fetch(
    server: &str,
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
    let fallback = extra.iter().any(|a| *a == "--retries");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_depcache"));
    command.args(["fetch", manager, "--server", server]);
    if !fallback {
        command.arg("--no-fallback");
    }
    command
        .arg("--dir")
        .arg(project)
        .args(extra)
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("PATH", path)
        .env("npm_config_update_notifier", "false")
        .env("npm_config_cache", shim.path().join("npm-cache"))
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
    let built = reference
        .path()
        .join("node_modules/dc-script/postinstall.txt");
    assert!(built.is_file(), "the reference npm ci ran no postinstall");

    let server = TestServer::start(ServerOptions::npm()).await;
    let log = work.path().join("npm.log");
    let out = fetch(&server.url, &project, "npm", &[], &log).await;
    let stderr = ok(&out);
    assert!(stderr.contains("cache miss"), "{stderr}");
    assert!(
        stderr.contains("ran install scripts of 1 package"),
        "{stderr}"
    );
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
    let out = fetch(
        &server.url,
        &project,
        "npm",
        &["--ignore-scripts".as_ref()],
        &log,
    )
    .await;
    assert!(ok(&out).contains("cache hit"));
    assert_same_tree(
        &project.join("node_modules"),
        &plain.path().join("node_modules"),
    );
    assert_eq!(script_runs(&log), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_fallback_runs_the_scripts_too() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    npm_project_with_scripts(&project, &[("dc-script", "1.0.0")], &[], root_scripts());
    let reference = npm_ci_scripts_reference(&project, false);
    // A server that is gone: fetch installs with `npm ci --ignore-scripts`
    // locally, then runs what that left out.
    let gone = crate::client_support::closed_port_url();
    let log = work.path().join("npm.log");
    let out = fetch(
        &gone,
        &project,
        "npm",
        &["--retries".as_ref(), "0".as_ref()],
        &log,
    )
    .await;
    let stderr = ok(&out);
    assert!(stderr.contains("installing locally"), "{stderr}");
    // The fallback's own `npm ci` (not this feature) writes its hidden
    // lockfile without `resolved` URLs, with or without scripts: compare
    // everything else.
    for tree in [project.as_path(), reference.path()] {
        std::fs::remove_file(tree.join("node_modules/.package-lock.json")).unwrap();
    }
    assert_same_tree(
        &project.join("node_modules"),
        &reference.path().join("node_modules"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_without_scripts_starts_no_npm() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    npm_project(&project, &[("dc-cli", "1.0.0")], &[]);
    let reference = npm_ci_reference(&project, false);
    let server = TestServer::start(ServerOptions::npm()).await;
    let log = work.path().join("npm.log");
    let stderr = ok(&fetch(&server.url, &project, "npm", &[], &log).await);
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
    ok(&fetch(&server.url, &project, "npm", &with_store, &log).await);
    assert!(assert_store_intact(&store) > 0);
    assert_same_tree(
        &project.join("node_modules"),
        &reference.path().join("node_modules"),
    );
    // Second (--force: the folder already holds the key): the tree is built
    // of hard links to the store, then scripts run.
    let forced = [&with_store[..], &["--force".as_ref()]].concat();
    let stderr = ok(&fetch(&server.url, &project, "npm", &forced, &log).await);
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
    let out = fetch(&server.url, &project, "npm", &["-q".as_ref()], &log).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("boom from the postinstall"), "{stderr}");
    assert!(stderr.contains("npm rebuild"), "{stderr}");
    // As npm ci leaves it: the tree stays, for the job to inspect.
    assert!(project.join("node_modules/dc-util/index.js").is_file());
    server.stop().await;
}

/// `composer install` (scripts on unless `no_scripts`) in a copy of the
/// project that includes its own sources: the reference vendor/.
fn composer_reference(project: &Path, no_scripts: bool) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for name in ["composer.json", "composer.lock"] {
        std::fs::copy(project.join(name), out.path().join(name)).unwrap();
    }
    copy_dir(&project.join("src"), &out.path().join("src"));
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = crate::common::composer_project::composer_command(out.path(), scratch.path());
    cmd.args([
        "install",
        "--prefer-dist",
        "--no-interaction",
        "--no-progress",
    ]);
    if no_scripts {
        cmd.args(["--no-scripts", "--no-plugins"]);
    }
    let result = cmd.output().unwrap();
    assert!(
        result.status.success(),
        "composer install: {}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A project with autoload rules over its own `src/` and root scripts.
fn composer_app(dir: &Path, autoload: serde_json::Value) -> std::path::PathBuf {
    if host_php_missing() {
        panic!("php and composer must be installed (.ci/run installs them)");
    }
    let fixture = crate::common::composer_project::composer_project_extra(
        dir,
        &[("acme/greeter", "1.0.0")],
        &[("acme/devtool", "1.0.0")],
        json!({
            "autoload": autoload,
            "scripts": {
                "post-autoload-dump": "@php -r \"file_put_contents('vendor/dumped.txt', 'dumped');\"",
                "post-install-cmd": "@php -r \"file_put_contents('post-install.txt', getenv('COMPOSER_DEV_MODE'));\"",
            },
        }),
    );
    let src = fixture.project.join("src");
    std::fs::create_dir_all(src.join("Model")).unwrap();
    std::fs::write(
        src.join("Model/Invoice.php"),
        "<?php\nnamespace App\\Model;\n\nclass Invoice\n{\n}\n",
    )
    .unwrap();
    std::fs::write(src.join("helpers.php"), "<?php\nfunction app_helper() {}\n").unwrap();
    fixture.project
}

fn host_php_missing() -> bool {
    crate::common::server::host_versions(depcache::protocol::Manager::Composer).len() < 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_fetch_builds_the_autoloader_over_the_projects_sources() {
    let work = tempfile::tempdir().unwrap();
    // psr-4 optimized into the classmap, plus `files`: the server can install
    // these without the sources, and composer install lists them here.
    let project = composer_app(
        work.path(),
        json!({"psr-4": {"App\\": "src/"}, "files": ["src/helpers.php"]}),
    );
    let path = project.join("composer.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["config"]["optimize-autoloader"] = json!(true);
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    crate::common::composer_project::composer_command(&project, work.path())
        .args([
            "update",
            "--lock",
            "--no-install",
            "--no-scripts",
            "--no-plugins",
            "-n",
        ])
        .output()
        .unwrap();
    let reference = composer_reference(&project, false);
    let classmap = "vendor/composer/autoload_classmap.php";
    let want = std::fs::read_to_string(reference.path().join(classmap)).unwrap();
    assert!(want.contains("App\\\\Model\\\\Invoice"), "{want}");

    let server = TestServer::start(ServerOptions {
        composer_paths: vec![work.path().join("packages")],
        ..ServerOptions::default()
    })
    .await;
    let log = work.path().join("npm.log");
    let stderr = ok(&fetch(&server.url, &project, "composer", &[], &log).await);
    assert!(stderr.contains("ran composer dump-autoload"), "{stderr}");
    assert_same_tree(&project.join("vendor"), &reference.path().join("vendor"));
    assert_eq!(
        std::fs::read_to_string(project.join("post-install.txt")).unwrap(),
        "1"
    );

    // --no-scripts: still the project's autoloader, no script ran.
    std::fs::remove_file(project.join("post-install.txt")).unwrap();
    let plain = composer_reference(&project, true);
    ok(&fetch(
        &server.url,
        &project,
        "composer",
        &["--no-scripts".as_ref()],
        &log,
    )
    .await);
    assert_same_tree(&project.join("vendor"), &plain.path().join("vendor"));
    assert!(!project.join("post-install.txt").exists());

    // With a local store, dump-autoload and the scripts rewrite files that
    // were hard links into it: the store must not notice.
    let store = work.path().join("store");
    let with_store = ["--local-store".as_ref(), store.as_os_str()];
    for _ in 0..2 {
        ok(&fetch(&server.url, &project, "composer", &with_store, &log).await);
        assert!(assert_store_intact(&store) > 0);
        assert_same_tree(&project.join("vendor"), &reference.path().join("vendor"));
    }
    server.stop().await;
}

/// A root `classmap` over sources the server never gets: the server installs
/// with `--no-autoloader` (else its `composer install` fails on the missing
/// folder), and the client, finding no vendor/autoload.php, writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_fetch_lists_a_root_classmap() {
    let work = tempfile::tempdir().unwrap();
    let project = composer_app(work.path(), json!({"classmap": ["src/"]}));
    let reference = composer_reference(&project, false);
    let classmap = "vendor/composer/autoload_classmap.php";
    let want = std::fs::read_to_string(reference.path().join(classmap)).unwrap();
    assert!(want.contains("App\\\\Model\\\\Invoice"), "{want}");
    let server = TestServer::start(ServerOptions {
        composer_paths: vec![work.path().join("packages")],
        ..ServerOptions::default()
    })
    .await;
    let log = work.path().join("npm.log");
    ok(&fetch(&server.url, &project, "composer", &[], &log).await);
    let got = std::fs::read_to_string(project.join(classmap)).unwrap();
    assert!(got.contains("App\\\\Model\\\\Invoice"), "{got}");
    assert_same_tree(&project.join("vendor"), &reference.path().join("vendor"));
    server.stop().await;
}
