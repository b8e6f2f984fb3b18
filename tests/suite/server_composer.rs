//! composer end to end: a path-repository project installed by the server is
//! the same `vendor/` a direct `composer install` gives.

use depcache::protocol::{InstallOptions, Manager};

use crate::common::server::*;
use crate::common::{assert_same_tree, composer_project, composer_server_reference, unzip_into};

fn files(project: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    ["composer.json", "composer.lock"]
        .into_iter()
        .map(|n| (n, std::fs::read(project.join(n)).unwrap()))
        .collect()
}

async fn restore(
    server: &TestServer,
    body: &serde_json::Value,
    expect_hit: bool,
) -> tempfile::TempDir {
    let (status, answer) = post_cache(server, Some(API_KEY), body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cache_hit"], expect_hit, "{answer}");
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("bundle.zip");
    assert_eq!(
        download(
            answer["download_url"].as_str().unwrap(),
            Some(API_KEY),
            &zip
        )
        .await,
        200
    );
    unzip_into(&zip, out.path());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_miss_then_hit_equals_a_direct_install() {
    let root = tempfile::tempdir().unwrap();
    let fixture = composer_project(root.path());
    let reference = composer_server_reference(&fixture.project, false);
    let server = TestServer::start(ServerOptions {
        composer_paths: vec![fixture.packages.clone()],
        ..ServerOptions::default()
    })
    .await;
    let body =
        serde_json::to_value(cache_request(Manager::Composer, &files(&fixture.project))).unwrap();

    let first = restore(&server, &body, false).await;
    let vendor = first.path().join("vendor");
    assert_same_tree(&vendor, &reference.path().join("vendor"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(vendor.join("bin/greet"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o100,
        0o100,
        "vendor/bin/greet lost its exec bit: {mode:o}"
    );

    let second = restore(&server, &body, true).await;
    assert_same_tree(
        &second.path().join("vendor"),
        &reference.path().join("vendor"),
    );

    // --no-dev is its own key and leaves the dev package out.
    let lean = cache_request_with(
        Manager::Composer,
        &files(&fixture.project),
        host_versions(Manager::Composer),
        Some(InstallOptions {
            omit_dev: Some(true),
            build_scripts: None,
        }),
    );
    let lean_reference = composer_server_reference(&fixture.project, true);
    let out = restore(&server, &serde_json::to_value(lean).unwrap(), false).await;
    assert!(!out.path().join("vendor/acme/devtool").exists());
    assert_same_tree(
        &out.path().join("vendor"),
        &lean_reference.path().join("vendor"),
    );
    server.stop().await;
}

#[test]
fn a_missing_composer_is_named_in_a_sentence() {
    let scratch = tempfile::tempdir().unwrap();
    let e = crate::common::composer_project::composer_command(scratch.path(), scratch.path())
        .env("PATH", scratch.path())
        .output()
        .expect_err("no composer in an empty PATH");
    let sentence = crate::common::composer_project::missing_composer(&e);
    assert!(
        sentence.contains("apt-get install php-cli composer unzip"),
        "{sentence}"
    );
}
