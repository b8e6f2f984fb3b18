//! Two servers on one bucket when one dies: `kill -9` server A in the middle
//! of a miss (while it packs and uploads blobs), and server B still serves the
//! key, installing it itself, with a tree identical to npm's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use depcache::protocol::Manager;
use depcache::store::{S3Store, Store};

use crate::common::npm_project::{big_npm_project, npm_project_files};
use crate::common::registry::registry;
use crate::common::s3::Bucket;
use crate::common::server::{
    API_KEY, ServerOptions, TestServer, cache_request, count_files, http, spawn_binary_server,
};
use crate::common::tree::{assert_same_tree, unzip_into};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_miss_leaves_the_key_to_the_other_server() {
    let (project, reference) = big_npm_project();
    let files = npm_project_files(project.path());
    let request = cache_request(Manager::Npm, &files);
    let key = request.hash.clone();
    let body = serde_json::to_value(request).unwrap();
    // A grace long enough that a big ingestion on a loaded machine stays
    // within the publish deadline (G/4).
    let bucket = Bucket::new(Duration::from_secs(600));

    // Server A: the real binary, so that it can be killed for real.
    let work_a = tempfile::tempdir().unwrap();
    let registry_url = registry().url();
    let url_arg = bucket.url();
    let env = bucket.env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (mut a, url_a) = spawn_binary_server(
        &[
            "--is-public",
            "--npm-registry",
            &registry_url,
            "--cache-dir",
            &url_arg,
            "--work-dir",
            work_a.path().to_str().unwrap(),
        ],
        &envs,
    )
    .expect("server A starts on the bucket");
    let pending = tokio::spawn({
        let (url, body) = (url_a.clone(), body.clone());
        async move {
            http()
                .post(format!("{url}/v1/cache"))
                .json(&body)
                .send()
                .await
        }
    });
    // Packed blobs waiting for upload: A is mid-ingestion.
    let staging = work_a.path().join("staging");
    let deadline = Instant::now() + Duration::from_secs(180);
    while count_files(&staging) == 0 {
        assert!(Instant::now() < deadline, "A never started ingesting");
        std::thread::sleep(Duration::from_millis(2));
    }
    a.kill().unwrap();
    a.wait().unwrap();
    assert!(pending.await.unwrap().is_err(), "A cannot have answered");

    let (name, prefix, env) = (bucket.name.clone(), bucket.prefix.clone(), bucket.env());
    let work_b = tempfile::tempdir().unwrap();
    let work = work_b.path().join("work");
    let w = work.clone();
    let store = tokio::task::spawn_blocking(move || {
        S3Store::open(&name, &prefix, env, Some(w), true).unwrap()
    })
    .await
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let probe = store.clone();
    let k = key.clone();
    let index =
        tokio::task::spawn_blocking(move || probe.get_index(&crate::common::key(&k)).unwrap())
            .await
            .unwrap();
    assert!(index.is_none(), "A wrote no index for a partial tree");

    let b = TestServer::start_on(ServerOptions::npm(), store, work, work_b).await;
    let answer: serde_json::Value = http()
        .post(format!("{}/v1/cache", b.url))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["cache_hit"], false, "{answer}");
    let bytes = http()
        .get(answer["download_url"].as_str().unwrap())
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("b.zip");
    std::fs::write(&zip, bytes).unwrap();
    unzip_into(&zip, out.path());
    assert_same_tree(
        &out.path().join("node_modules"),
        &reference.path().join("node_modules"),
    );
    b.stop().await;
}
