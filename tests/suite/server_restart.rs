//! Crash safety with the real binary: a server killed during ingestion leaves
//! no index, only whole blobs, and after a restart the same request succeeds.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use depcache::protocol::Manager;

use crate::common::npm_project::{big_npm_project, npm_project_files};
use crate::common::registry::registry;
use crate::common::server::{cache_request, count_files, http, spawn_binary_server};
use crate::common::tree::{assert_same_tree, unzip_into};

/// The real binary on a free port over `store`, public, installing from the
/// test registry.
fn spawn_server(store: &Path) -> (Child, String) {
    let registry = registry().url();
    let mut args = vec!["--is-public", "--npm-registry", &registry, "--cache-dir"];
    let store = store.to_str().unwrap();
    args.push(store);
    spawn_binary_server(&args, &[]).expect("the server starts")
}

async fn post(url: &str, body: &serde_json::Value) -> reqwest::Result<reqwest::Response> {
    http()
        .post(format!("{url}/v1/cache"))
        .json(body)
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_ingestion_leaves_no_index_and_recovers() {
    let (project, reference) = big_npm_project();
    let files = npm_project_files(project.path());
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();
    let store = tempfile::tempdir().unwrap();
    let objects = store.path().join("objects");
    let indexes = store.path().join("indexes");

    let (mut server, url) = spawn_server(store.path());
    let request = tokio::spawn({
        let (url, body) = (url.clone(), body.clone());
        async move { post(&url, &body).await }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_files(&objects) == 0 {
        assert!(Instant::now() < deadline, "ingestion never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        request.await.unwrap().is_err(),
        "the request cannot have succeeded"
    );
    assert_eq!(
        count_files(&indexes),
        0,
        "an index was written for a partial tree"
    );
    let stored = count_files(&objects);
    let total = reference_file_count(&reference.path().join("node_modules"));
    assert!(
        stored < total,
        "killed too late to test anything ({stored} of {total} blobs)"
    );
    assert_whole_blobs(&objects);

    let (mut server, url) = spawn_server(store.path());
    assert_eq!(
        count_files(&store.path().join("tmp")),
        0,
        "staging not cleaned at start-up"
    );
    let response = post(&url, &body).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["cache_hit"], false);
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("b.zip");
    let bytes = http()
        .get(answer["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&zip, bytes).unwrap();
    unzip_into(&zip, out.path());
    assert_same_tree(
        &out.path().join("node_modules"),
        &reference.path().join("node_modules"),
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

fn reference_file_count(tree: &Path) -> usize {
    count_files(tree)
}

/// Every blob that made it under `objects/` is complete: header plus exactly
/// the packed size it announces.
fn assert_whole_blobs(objects: &Path) {
    for entry in walkdir::WalkDir::new(objects)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        assert_eq!(&bytes[0..4], b"DCB1", "{}", entry.path().display());
        let packed = u64::from_le_bytes(bytes[20..28].try_into().unwrap());
        assert_eq!(
            bytes.len() as u64,
            32 + packed,
            "partial blob {}",
            entry.path().display()
        );
    }
}
