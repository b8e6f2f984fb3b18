//! `GET /` rendered by a real browser (headless Chromium, Debian's package,
//! installed by .ci/run) shows the numbers `/metrics` shows.

use std::process::Command;

use depcache::protocol::Manager;

use crate::common::server::*;

/// A project without dependencies: installs offline in about a second.
fn project() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("package.json", br#"{"name":"s","version":"1.0.0"}"#.to_vec()),
        (
            "package-lock.json",
            br#"{"name":"s","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"s","version":"1.0.0"}}}"#
                .to_vec(),
        ),
    ]
}

/// The page as Chromium's DOM after rendering. `--no-sandbox`: the tests
/// run as root in CI, where Chromium refuses its sandbox; the page is ours.
fn rendered_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run chromium ({e}); install it (apt-get install chromium, as .ci/run does)")
        });
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `data-value` of the element with `id`.
fn shown(dom: &str, id: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let rest = &dom[at..dom[at..].find('>').map_or(dom.len(), |e| at + e)];
    rest.split("data-value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("#{id} has no data-value: {rest}"))
        .to_string()
}

#[tokio::test]
async fn the_status_page_shows_in_a_browser_the_numbers_metrics_shows() {
    let server = TestServer::start(ServerOptions::default()).await;
    let body = serde_json::to_value(cache_request(Manager::Npm, &project())).unwrap();
    let (status, first) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{first}");
    for _ in 0..2 {
        let (_, again) = post_cache(&server, Some(API_KEY), &body).await;
        assert_eq!(again["cache_hit"], true);
    }
    // The status page needs no key, like /metrics.
    let url = format!("{}/", server.url);
    let plain = http().get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(
        plain.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let dom = tokio::task::spawn_blocking(move || rendered_dom(&url))
        .await
        .unwrap();
    let m = metrics_text(&server).await;
    let hits = sample(&m, "depcache_cache_hits_total");
    let misses = sample(&m, "depcache_cache_misses_total");
    assert_eq!((hits, misses), (2.0, 1.0));
    assert_eq!(shown(&dom, "hits"), hits.to_string());
    assert_eq!(shown(&dom, "misses"), misses.to_string());
    let rate: f64 = shown(&dom, "hit-rate").parse().unwrap();
    assert!(
        (rate - 100.0 * hits / (hits + misses)).abs() < 0.1,
        "{rate}"
    );
    // A fresh server: the last hour is all of its life.
    assert_eq!(shown(&dom, "misses-hour"), misses.to_string());
    assert_eq!(
        shown(&dom, "installs-hour"),
        sample(&m, "depcache_installs_started_total").to_string()
    );
    let blob_bytes = sample(&m, "depcache_store_blob_bytes");
    let tree_bytes = sample(&m, "depcache_store_tree_bytes");
    assert_eq!(shown(&dom, "store-bytes"), blob_bytes.to_string());
    assert_eq!(shown(&dom, "tree-bytes"), tree_bytes.to_string());
    if blob_bytes > 0.0 {
        let ratio: f64 = shown(&dom, "dedup-ratio").parse().unwrap();
        assert!((ratio - tree_bytes / blob_bytes).abs() < 0.01, "{ratio}");
    }
    assert_eq!(
        shown(&dom, "bytes-served"),
        sample(&m, "depcache_bundle_bytes_served_total").to_string()
    );
    // The one install is listed with its key, and the host's npm is served.
    let key = first["key"].as_str().unwrap();
    assert!(dom.contains(&format!("title=\"{key}\"")), "{dom}");
    let npm = host_versions(Manager::Npm);
    assert!(dom.contains(&format!("npm {}", npm["npm"])), "{dom}");
    // Every manager the server installs has its row, as /v1/versions says.
    for manager in ["npm", "composer", "pnpm", "yarn"] {
        assert!(
            dom.contains(&format!("id=\"versions-{manager}\"")),
            "{manager}: {dom}"
        );
    }
    assert!(!dom.contains("<script"), "the page has no JavaScript");
    server.stop().await;
}
