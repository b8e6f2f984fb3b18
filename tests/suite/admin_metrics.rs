//! /metrics moves as requests hit and miss, the server records last use on a
//! hit, and a key removed by `admin verify --repair` is rebuilt by the next
//! request. An npm project without dependencies installs offline.

use std::time::{Duration, SystemTime};

use depcache::protocol::Manager;

use crate::admin_support::{admin, index_file, set_last_used};
use crate::common::server::*;

fn project() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "package.json",
            br#"{"name":"x","version":"1.0.0"}"#.to_vec(),
        ),
        (
            "package-lock.json",
            br#"{"name":"x","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"x","version":"1.0.0"}}}"#
                .to_vec(),
        ),
    ]
}

#[tokio::test]
async fn metrics_follow_hits_misses_and_downloads_and_hits_record_last_use() {
    let server = TestServer::start(ServerOptions::default()).await;
    let body = serde_json::to_value(cache_request(Manager::Npm, &project())).unwrap();
    let before = metrics_text(&server).await;
    assert_eq!(sample(&before, "depcache_cache_misses_total"), 0.0);
    assert_eq!(sample(&before, "depcache_installs_in_flight"), 0.0);

    let (status, first) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["cache_hit"], false);
    let key = first["key"].as_str().unwrap().to_string();
    let m = metrics_text(&server).await;
    assert_eq!(sample(&m, "depcache_cache_misses_total"), 1.0);
    assert_eq!(sample(&m, "depcache_cache_hits_total"), 0.0);
    assert_eq!(sample(&m, "depcache_installs_started_total"), 1.0);
    assert_eq!(sample(&m, "depcache_install_duration_seconds_count"), 1.0);
    assert_eq!(
        sample(
            &m,
            r#"depcache_http_requests_total{route="/v1/cache",status="200"}"#
        ),
        1.0
    );

    // Make the key look unused for a day; a hit must bring last use to now.
    set_last_used(server.store.path(), &key, Duration::from_secs(86400));
    let (_, second) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(second["cache_hit"], true);
    let zip = server.store.path().join("x.zip");
    let got = download(
        second["download_url"].as_str().unwrap(),
        Some(API_KEY),
        &zip,
    )
    .await;
    assert_eq!(got, 200);
    let (denied, _) = post_cache(&server, None, &body).await;
    assert_eq!(denied, 401);

    let m = metrics_text(&server).await;
    assert_eq!(sample(&m, "depcache_cache_hits_total"), 1.0);
    assert_eq!(sample(&m, "depcache_cache_misses_total"), 1.0);
    assert_eq!(sample(&m, "depcache_installs_started_total"), 1.0);
    assert_eq!(
        sample(
            &m,
            r#"depcache_http_requests_total{route="/v1/cache",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            r#"depcache_http_requests_total{route="/v1/cache",status="401"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            r#"depcache_http_requests_total{route="/download/{file}",status="200"}"#
        ),
        1.0
    );
    let served = sample(&m, "depcache_bundle_bytes_served_total");
    assert_eq!(served, std::fs::metadata(&zip).unwrap().len() as f64);
    assert_eq!(sample(&m, "depcache_installs_pending"), 0.0);
    assert_eq!(sample(&m, "depcache_installs_queued"), 0.0);

    // The touch runs on a blocking thread; give it a moment.
    let mut recent = false;
    for _ in 0..50 {
        let mtime = std::fs::metadata(index_file(server.store.path(), &key))
            .unwrap()
            .modified()
            .unwrap();
        if SystemTime::now().duration_since(mtime).unwrap() < Duration::from_secs(600) {
            recent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recent, "a hit records last use");

    // The store gauges come from the start-up scan plus ingestions.
    let (blobs, _) = crate::admin_support::files_and_bytes(&server.store.path().join("objects"));
    assert_eq!(sample(&m, "depcache_store_blobs"), blobs as f64);
    server.stop().await;
}

#[tokio::test]
async fn a_key_removed_by_repair_is_rebuilt_by_the_next_request() {
    let server = TestServer::start(ServerOptions::default()).await;
    let body = serde_json::to_value(cache_request(Manager::Npm, &project())).unwrap();
    let (_, first) = post_cache(&server, Some(API_KEY), &body).await;
    let key = first["key"].as_str().unwrap().to_string();
    // Break the key: point one of its files at a blob that is not there, or,
    // for an empty tree, corrupt the index itself.
    let path = index_file(server.store.path(), &key);
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let entries = index["entries"].as_array_mut().unwrap();
    match entries.iter_mut().find(|e| e["type"] == "file") {
        Some(file) => file["sha256"] = serde_json::json!("ab".repeat(32)),
        None => entries.push(serde_json::json!("not an entry")),
    }
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    let dir = server.store.path().to_str().unwrap();
    assert_eq!(
        admin(&["verify", "--cache-dir", dir]).status.code(),
        Some(6)
    );
    assert!(
        admin(&["verify", "--cache-dir", dir, "--repair"])
            .status
            .success()
    );
    let (status, again) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["cache_hit"], false, "rebuilt after repair");
    assert!(admin(&["verify", "--cache-dir", dir]).status.success());
    let m = metrics_text(&server).await;
    assert_eq!(sample(&m, "depcache_installs_started_total"), 2.0);
    server.stop().await;
}
