//! The real client against a real server: `depcache fetch` into an empty
//! project gives the tree a direct install gives, and the second fetch is a hit.

use std::path::Path;

use crate::common::server::{ServerOptions, TestServer, host_versions, run_fetch};
use crate::common::{
    assert_same_tree, composer_install_reference, composer_project,
    npm_project::{big_npm_project, standard_npm_project},
};

async fn fetch(server: &TestServer, project: &Path, manager: &str) -> String {
    run_fetch(server, project, manager, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_npm_restores_what_npm_ci_installs() {
    let (project, reference) = standard_npm_project();
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
    let server = TestServer::start(ServerOptions {
        composer_paths: vec![fixture.packages.clone()],
        ..ServerOptions::default()
    })
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_in_one_project_take_turns() {
    let (project, reference) = big_npm_project();
    let server = TestServer::start(ServerOptions::npm()).await;
    fetch(&server, project.path(), "npm").await;
    std::fs::remove_dir_all(project.path().join("node_modules")).unwrap();
    // The second run starts while the first one's temp download or staging
    // folder exists: without the project lock its start-up sweep deletes it.
    // Versions are given so that sweep comes without detection delays.
    let versions = host_versions(depcache::protocol::Manager::Npm);
    let args = [
        "--node-version",
        &versions["node"],
        "--npm-version",
        &versions["npm"],
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let first = run_fetch(&server, project.path(), "npm", &args);
    let second = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::fs::read_dir(project.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().contains("depcache"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the first fetch never started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        run_fetch(&server, project.path(), "npm", &args).await
    };
    let (first, second) = tokio::join!(first, second);
    assert!(first.contains("cache hit"), "{first}");
    assert!(second.contains("cache hit"), "{second}");
    assert_same_tree(
        &project.path().join("node_modules"),
        &reference.path().join("node_modules"),
    );
    let leftovers: Vec<_> = std::fs::read_dir(project.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("depcache"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    server.stop().await;
}

/// A project the server must not install (a `file:` dependency) is still
/// installed: by the job's own npm, with a sentence saying why. With
/// `--no-fallback` it is a refusal (exit 5), not an install failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_source_falls_back_to_the_local_install() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::create_dir(dir.join("local-dep")).unwrap();
    std::fs::write(
        dir.join("local-dep/package.json"),
        r#"{"name":"local-dep","version":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"app","version":"1.0.0","dependencies":{"local-dep":"file:./local-dep"}}"#,
    )
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let made = crate::common::npm_project::npm_command(dir, scratch.path())
        .args(["install", "--ignore-scripts", "--offline"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    std::fs::remove_dir_all(dir.join("node_modules")).unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    let fetch = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
            .args(["fetch", "npm", "--server", &server.url, "--dir"])
            .arg(dir)
            .args(extra)
            .env("DEPCACHE_API_KEY", crate::common::server::API_KEY)
            .env("npm_config_cache", scratch.path().join("npm-cache"))
            .env("npm_config_userconfig", scratch.path().join("npmrc"))
            .output()
            .unwrap()
    };

    let strict = fetch(&["--no-fallback"]);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("untrusted_source"), "{stderr}");
    assert!(!dir.join("node_modules").exists());

    let out = fetch(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot cache this project"), "{stderr}");
    assert!(
        dir.join("node_modules/local-dep/package.json").exists(),
        "{stderr}"
    );
    server.stop().await;
}
