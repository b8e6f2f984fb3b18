//! npm end to end through a real server: misses, hits, bundles identical to a
//! direct `npm ci`, dedup, single-flight, failures and timeouts.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use depcache::protocol::{InstallOptions, Manager};
use serde_json::Value;

use crate::common::npm_project::{
    npm_ci_reference, npm_project, npm_project_files, standard_npm_project,
};
use crate::common::registry::registry;
use crate::common::server::*;
use crate::common::tree::{assert_same_tree, unzip_into};

/// POSTs, downloads the bundle, unzips it with the system `unzip`, and returns
/// the answer and the folder holding the restored `node_modules`.
async fn fetch_and_unzip(server: &TestServer, body: &Value) -> (Value, tempfile::TempDir) {
    let (status, answer) = post_cache(server, Some(API_KEY), body).await;
    assert_eq!(status, 200, "{answer}");
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("bundle.zip");
    let url = answer["download_url"].as_str().unwrap();
    assert_eq!(download(url, Some(API_KEY), &zip).await, 200);
    let restored = out.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    unzip_into(&zip, &restored);
    (answer, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_then_hit_and_the_bundle_equals_a_direct_npm_ci() {
    let (project, reference) = standard_npm_project();
    let server = TestServer::start(ServerOptions::npm()).await;
    let body = serde_json::to_value(cache_request(
        Manager::Npm,
        &npm_project_files(project.path()),
    ))
    .unwrap();

    let (first, out) = fetch_and_unzip(&server, &body).await;
    assert_eq!(first["cache_hit"], false);
    let restored = out.path().join("restored/node_modules");
    assert_same_tree(&restored, &reference.path().join("node_modules"));
    let bin = restored.join(".bin/dc-cli");
    assert_eq!(
        std::fs::read_link(&bin).unwrap(),
        Path::new("../dc-cli/bin/cli.js")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(restored.join("dc-exec/scripts/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "exec bit lost: {mode:o}");
    assert!(
        restored.join("dc-dev").is_dir(),
        "devDependencies are installed by default"
    );

    let (status, second) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200);
    assert_eq!(second["cache_hit"], true);
    assert_eq!(second["download_url"], first["download_url"]);
    assert_eq!(metric(&server, "depcache_installs_started_total").await, 1);

    // The bundle is deterministic and its headers honest.
    let url = first["download_url"].as_str().unwrap();
    let whole = http().get(url).bearer_auth(API_KEY).send().await.unwrap();
    assert_eq!(
        whole.headers()["etag"],
        format!("\"{}\"", first["key"].as_str().unwrap())
    );
    let length: u64 = whole.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = whole.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, length);
    assert_eq!(length, first["bundle_size"].as_u64().unwrap());
    assert_eq!(std::fs::read(out.path().join("bundle.zip")).unwrap(), bytes);
    let part = http()
        .get(url)
        .bearer_auth(API_KEY)
        .header("range", "bytes=100-4099")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-4099/{length}")
    );
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(100..4100));

    // The index lists what the tree holds.
    let index: Value = http()
        .get(first["index_url"].as_str().unwrap())
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(index["root"], "node_modules");
    let files = index["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file")
        .count();
    assert_eq!(files as u64, first["files"].as_u64().unwrap());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omitting_dev_dependencies_is_its_own_key_and_tree() {
    let project = tempfile::tempdir().unwrap();
    npm_project(
        project.path(),
        &[("dc-util", "1.1.0")],
        &[("dc-dev", "1.0.0")],
    );
    let reference = npm_ci_reference(project.path(), true);
    let server = TestServer::start(ServerOptions::npm()).await;
    let files = npm_project_files(project.path());
    let full = cache_request(Manager::Npm, &files);
    let lean = cache_request_with(
        Manager::Npm,
        &files,
        host_versions(Manager::Npm),
        Some(InstallOptions {
            omit_dev: Some(true),
            build_scripts: None,
        }),
    );
    assert_ne!(full.hash, lean.hash);
    let (_, out) = fetch_and_unzip(&server, &serde_json::to_value(lean).unwrap()).await;
    let restored = out.path().join("restored/node_modules");
    assert!(!restored.join("dc-dev").exists());
    assert_same_tree(&restored, &reference.path().join("node_modules"));
    server.stop().await;
}

fn distinct_contents(tree: &Path) -> BTreeSet<String> {
    use sha2::{Digest, Sha256};
    walkdir::WalkDir::new(tree)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| hex::encode(Sha256::digest(std::fs::read(e.path()).unwrap())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_shared_by_two_lockfiles_are_stored_once() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    npm_project(
        a.path(),
        &[("dc-shared", "1.0.0"), ("dc-util", "1.0.0")],
        &[],
    );
    npm_project(
        b.path(),
        &[("dc-other", "1.0.0"), ("dc-util", "1.0.0")],
        &[],
    );
    let ref_a = npm_ci_reference(a.path(), false);
    let ref_b = npm_ci_reference(b.path(), false);
    let server = TestServer::start(ServerOptions::npm()).await;
    for project in [&a, &b] {
        let body = serde_json::to_value(cache_request(
            Manager::Npm,
            &npm_project_files(project.path()),
        ))
        .unwrap();
        let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let in_a = distinct_contents(&ref_a.path().join("node_modules"));
    let in_b = distinct_contents(&ref_b.path().join("node_modules"));
    let shared = in_a.intersection(&in_b).count();
    assert!(
        shared >= 3,
        "the fixtures should share files, found {shared}"
    );
    let union = in_a.union(&in_b).count();
    assert_eq!(server.blob_count(), union, "every distinct content once");
    assert_eq!(server.index_count(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_identical_concurrent_misses_share_one_install() {
    let project = tempfile::tempdir().unwrap();
    npm_project(
        project.path(),
        &[("dc-cli", "1.0.0"), ("dc-big", "1.0.0")],
        &[],
    );
    let server = TestServer::start(ServerOptions::npm()).await;
    let body = serde_json::to_value(cache_request(
        Manager::Npm,
        &npm_project_files(project.path()),
    ))
    .unwrap();
    let answers =
        futures::future::join_all((0..8).map(|_| post_cache(&server, Some(API_KEY), &body))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["download_url"], answers[0].1["download_url"]);
        assert_eq!(answer["files"], answers[0].1["files"]);
    }
    assert_eq!(metric(&server, "depcache_installs_started_total").await, 1);
    assert_eq!(server.index_count(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_install_is_422_with_npms_output_and_stores_nothing() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("package.json"),
        r#"{"name":"broken","version":"1.0.0","dependencies":{"dc-fail":"1.0.0"}}"#,
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    let files = vec![(
        "package.json",
        std::fs::read(project.path().join("package.json")).unwrap(),
    )];
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "install_failed");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("npm") && message.contains("dc-fail"),
        "{message}"
    );
    assert_eq!(server.index_count(), 0);
    assert_eq!(server.blob_count(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_past_the_timeout_is_killed_with_its_process_group() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("package.json"),
        r#"{"name":"slow","version":"1.0.0","dependencies":{"dc-stall":"1.0.0"}}"#,
    )
    .unwrap();
    let server = TestServer::start(ServerOptions {
        install_timeout: Duration::from_secs(4),
        ..ServerOptions::npm()
    })
    .await;
    let files = vec![(
        "package.json",
        std::fs::read(project.path().join("package.json")).unwrap(),
    )];
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();
    let started = std::time::Instant::now();
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["error"], "install_timeout");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        registry().stall_hits() >= 1,
        "npm never reached the stalling tarball"
    );
    // npm was killed, so its connection to the stalling tarball closes.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while registry().stall_open() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(registry().stall_open(), 0, "npm still holds its connection");
    assert_eq!(server.index_count(), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leftovers: Vec<_> = std::fs::read_dir(server.store.path().join("tmp"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "install folder left behind: {leftovers:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_with_a_symlink_leaving_it_is_422_and_not_stored() {
    // `file:` directory dependencies become symlinks to the folder itself:
    // restored anywhere else they would dangle or point into the host. They
    // are now refused before npm runs (untrusted_source); ingestion still
    // refuses escaping symlinks as uncacheable_tree behind that.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("package.json"),
        r#"{"name":"local-lib","version":"1.0.0"}"#,
    )
    .unwrap();
    let package = format!(
        r#"{{"name":"linked","version":"1.0.0","dependencies":{{"local-lib":"file:{}"}}}}"#,
        outside.path().display()
    );
    let server = TestServer::start(ServerOptions::npm()).await;
    let body = serde_json::to_value(cache_request(
        Manager::Npm,
        &[("package.json", package.into_bytes())],
    ))
    .unwrap();
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "untrusted_source");
    assert!(
        answer["message"].as_str().unwrap().contains("local-lib"),
        "{answer}"
    );
    assert_eq!(server.index_count(), 0);
    server.stop().await;
}
