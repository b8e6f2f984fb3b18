//! Hits that cost what parsing the request costs: answered from the key's
//! summary, never from the whole index; `GET`/`HEAD /v1/cache/{key}` give the
//! same answer for the key alone.

use depcache::protocol::Manager;
use serde_json::Value;

use crate::common::npm_project::{npm_project, npm_project_files};
use crate::common::server::*;

/// A server that has installed one small npm project; its request body and key.
async fn server_with_one_key() -> (TestServer, Value, String, tempfile::TempDir) {
    let project = tempfile::tempdir().unwrap();
    npm_project(project.path(), &[("dc-cli", "1.0.0")], &[]);
    let server = TestServer::start(ServerOptions::npm()).await;
    let request = cache_request(Manager::Npm, &npm_project_files(project.path()));
    let key = request.hash.clone();
    let body = serde_json::to_value(request).unwrap();
    let (status, first) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["cache_hit"], false);
    (server, body, key, project)
}

async fn get_cache(server: &TestServer, key: &str, api_key: Option<&str>) -> (u16, Value) {
    let mut request = http().get(format!("{}/v1/cache/{key}", server.url));
    if let Some(api_key) = api_key {
        request = request.bearer_auth(api_key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn without_hit_flag(mut answer: Value) -> Value {
    answer.as_object_mut().unwrap().remove("cache_hit");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_never_reads_the_whole_index() {
    let (server, body, key, _project) = server_with_one_key().await;
    let reads = metric(&server, "depcache_index_reads_total").await;
    let (_, miss) = post_cache(&server, Some(API_KEY), &body).await;
    for _ in 0..3 {
        let (status, hit) = post_cache(&server, Some(API_KEY), &body).await;
        assert_eq!(status, 200, "{hit}");
        assert_eq!(hit["cache_hit"], true);
        let (status, by_key) = get_cache(&server, &key, Some(API_KEY)).await;
        assert_eq!(status, 200, "{by_key}");
        assert_eq!(by_key, hit, "GET and POST answer a hit alike");
    }
    assert_eq!(
        metric(&server, "depcache_index_reads_total").await,
        reads,
        "a hit parsed the whole index"
    );
    assert_eq!(without_hit_flag(miss.clone()), {
        let (_, hit) = post_cache(&server, Some(API_KEY), &body).await;
        without_hit_flag(hit)
    });
    // The numbers are the index's own.
    let index: depcache::protocol::Index = http()
        .get(miss["index_url"].as_str().unwrap())
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(miss["files"], index.file_count());
    assert_eq!(miss["size"], index.logical_size());
    assert_eq!(miss["bundle_size"], depcache::bundle::plan(&index).len());

    // A key stored before summaries existed: the first hit derives its summary
    // from the index, once.
    std::fs::remove_dir_all(server.store.path().join("summaries")).unwrap();
    let reads = metric(&server, "depcache_index_reads_total").await;
    let (_, derived) = get_cache(&server, &key, Some(API_KEY)).await;
    assert_eq!(without_hit_flag(derived), without_hit_flag(miss));
    let (_, _) = post_cache(&server, Some(API_KEY), &body).await;
    let (_, _) = get_cache(&server, &key, Some(API_KEY)).await;
    assert_eq!(
        metric(&server, "depcache_index_reads_total").await,
        reads + 1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_never_outlives_its_index() {
    let (server, body, key, _project) = server_with_one_key().await;
    let shard = server.store.path().join("indexes").join(&key[0..2]);
    for entry in std::fs::read_dir(&shard).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let (status, answer) = get_cache(&server, &key, Some(API_KEY)).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"], "unknown_key");
    let (status, again) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["cache_hit"], false,
        "a deleted key must install again"
    );
    assert_eq!(metric(&server, "depcache_installs_started_total").await, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_cache_by_key_miss_auth_bad_key_and_head() {
    let (server, _body, key, _project) = server_with_one_key().await;
    let unknown = "0".repeat(key.len());
    let (status, answer) = get_cache(&server, &unknown, Some(API_KEY)).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"], "unknown_key");
    assert_eq!(
        metric(&server, "depcache_installs_started_total").await,
        1,
        "a GET never installs"
    );

    let (status, answer) = get_cache(&server, &key, None).await;
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = get_cache(&server, &key, Some("wrong-key")).await;
    assert_eq!(status, 401, "{answer}");

    for bad in ["not-a-key", "ABCDEF", &format!("{key}0"), "..%2f..%2fetc"] {
        let (status, answer) = get_cache(&server, bad, Some(API_KEY)).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(answer["error"], "invalid_key", "{bad}");
    }

    let head = http()
        .head(format!("{}/v1/cache/{key}", server.url))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    let head = http()
        .head(format!("{}/v1/cache/{unknown}", server.url))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_of_a_hot_key_lay_the_bundle_out_once() {
    let (server, body, _key, _project) = server_with_one_key().await;
    let (_, hit) = post_cache(&server, Some(API_KEY), &body).await;
    let url = hit["download_url"].as_str().unwrap().to_string();
    let reads = metric(&server, "depcache_index_reads_total").await;
    let dir = tempfile::tempdir().unwrap();
    let mut bundles = Vec::new();
    for i in 0..3 {
        let path = dir.path().join(format!("{i}.zip"));
        assert_eq!(download(&url, Some(API_KEY), &path).await, 200);
        bundles.push(std::fs::read(&path).unwrap());
    }
    assert!(bundles.iter().all(|b| *b == bundles[0]));
    assert_eq!(
        bundles[0].len() as u64,
        hit["bundle_size"].as_u64().unwrap()
    );
    let tail = http()
        .get(&url)
        .bearer_auth(API_KEY)
        .header("range", "bytes=-100")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.unwrap(),
        bundles[0][bundles[0].len() - 100..]
    );
    assert_eq!(
        metric(&server, "depcache_index_reads_total").await,
        reads + 1,
        "each download parsed the whole index"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_key_is_served_from_its_kept_bundle() {
    let (server, body, _key, _project) = server_with_one_key().await;
    let (_, hit) = post_cache(&server, Some(API_KEY), &body).await;
    let url = hit["download_url"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.zip");
    assert_eq!(download(&url, Some(API_KEY), &first).await, 200);
    let first = std::fs::read(&first).unwrap();
    let bundles = server.store.path().join("bundles");
    let kept = || crate::common::server::count_files(&bundles);
    assert!(!bundles.exists() || kept() == 0, "kept after one download");

    // The second download has it kept, in the background.
    assert_eq!(
        download(&url, Some(API_KEY), &dir.path().join("2.zip")).await,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(bundles.exists() && kept() == 1) {
        assert!(std::time::Instant::now() < deadline, "never kept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Served from that file: the blobs are no longer needed.
    std::fs::remove_dir_all(server.store.path().join("objects")).unwrap();
    let third = dir.path().join("third.zip");
    assert_eq!(download(&url, Some(API_KEY), &third).await, 200);
    assert_eq!(std::fs::read(&third).unwrap(), first);
    let middle = http()
        .get(&url)
        .bearer_auth(API_KEY)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(middle.status(), 206);
    assert_eq!(middle.bytes().await.unwrap(), first[100..200]);

    // gc's delete of the key takes the kept bundle with it.
    std::fs::create_dir(server.store.path().join("objects")).unwrap();
    let store = depcache::store::DirStore::open_existing(server.store.path()).unwrap();
    let hex = hit["key"].as_str().unwrap();
    use depcache::store::Store;
    assert_eq!(
        store.delete_bundle(&crate::common::key(hex)).unwrap(),
        first.len() as u64
    );
    assert_eq!(kept(), 0);
    server.stop().await;
}
