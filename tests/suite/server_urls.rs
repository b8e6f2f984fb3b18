//! What requests name that ends up in answers: `Range` positions up to and
//! beyond `u64::MAX` clamp instead of overflowing, the `Host` header download
//! URLs are built from must be a plain `host[:port]`, and `--public-url` must
//! be an absolute http(s) URL without query or fragment.

use depcache::protocol::Manager;
use depcache::store::DirStore;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::admin_support::{ingest, noise};
use crate::common::server::*;
use crate::server_limits::{addr, parse_answer, read_until_closed};

async fn get_range(url: &str, range: &str) -> reqwest::Response {
    http()
        .get(url)
        .bearer_auth(API_KEY)
        .header("range", range)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_ending_at_u64_max_is_the_whole_bundle_as_206() {
    let server = TestServer::start(ServerOptions::default()).await;
    let store = DirStore::open_existing(server.store.path()).unwrap();
    let (index, _tree) = ingest(&store, "ranges", &[("pkg/a.bin", noise(7, 5000))]);
    let url = format!("{}/download/{}.zip", server.url, index.key);
    let whole = http()
        .get(&url)
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let total = whole.len();

    for spec in [
        "bytes=0-18446744073709551615",
        "bytes=0-99999999999999999999999",
        "bytes=-18446744073709551615",
    ] {
        let response = get_range(&url, spec).await;
        assert_eq!(response.status(), 206, "{spec}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes 0-{}/{total}", total - 1).as_str(),
            "{spec}"
        );
        assert_eq!(response.bytes().await.unwrap(), whole, "{spec}");
    }
    let response = get_range(&url, "bytes=10-18446744073709551615").await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), whole[10..]);

    let response = get_range(&url, "bytes=18446744073709551615-").await;
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{total}").as_str()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "range_not_satisfiable");
    // Several ranges: the whole bundle, as RFC 9110 allows.
    let response = get_range(&url, "bytes=0-1,5-6").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), whole);
    server.stop().await;
}

/// A POST of a valid cache request with `host_line` as written (or none).
async fn post_with_host(server: &TestServer, host_line: Option<&str>) -> (u16, serde_json::Value) {
    let body = serde_json::to_vec(&cache_request(
        Manager::Npm,
        &[(
            "package.json",
            b"{\"name\":\"hosts\",\"version\":\"1.0.0\"}".to_vec(),
        )],
    ))
    .unwrap();
    let mut head = String::from("POST /v1/cache HTTP/1.1\r\n");
    if let Some(line) = host_line {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str(&format!(
        "Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = TcpStream::connect(addr(server)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let raw = read_until_closed(&mut stream, std::time::Duration::from_secs(300))
        .await
        .expect("no answer");
    parse_answer(&raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_host_is_400_before_any_install() {
    let server = TestServer::start(ServerOptions::npm()).await;
    for host in [
        "Host: evil.example/steal?x=",
        "Host: user@evil.example",
        "Host: evil.example:80:90",
        "Host: evil.example:99999",
        "Host: [::1",
        "Host: a..b",
    ] {
        let (status, body) = post_with_host(&server, Some(host)).await;
        assert_eq!(status, 400, "{host}: {body}");
        assert_eq!(body["error"], "invalid_host", "{host}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("--public-url"),
            "{body}"
        );
    }
    let (status, body) = post_with_host(&server, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_host", "{body}");
    assert_eq!(server.index_count(), 0, "an install ran for a refused Host");

    // Compose-style names with underscores and IPv6 literals are fine.
    for host in ["depcache_server:8080", "[::1]:9"] {
        let (status, body) = post_with_host(&server, Some(&format!("Host: {host}"))).await;
        assert_eq!(status, 200, "{host}: {body}");
        let key = body["key"].as_str().unwrap();
        assert_eq!(
            body["download_url"],
            format!("http://{host}/download/{key}.zip")
        );
    }
    server.stop().await;
}

#[test]
fn a_public_url_that_is_not_an_absolute_http_url_is_refused_at_start_up() {
    for url in [
        "cache.example.com",
        "ftp://cache.example.com",
        "https://user:secret@cache.example.com",
        "https://cache.example.com/?token=1",
        "https://cache.example.com/#x",
    ] {
        let store = tempfile::tempdir().unwrap();
        let (code, stderr) = spawn_binary_server(
            &[
                "--cache-dir",
                store.path().to_str().unwrap(),
                "--is-public",
                "--public-url",
                url,
            ],
            &[],
        )
        .expect_err("the server should refuse to start");
        assert_eq!(code, Some(2), "{url}: {stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("depcache: "))
            .collect();
        assert_eq!(lines.len(), 1, "{url}: {stderr}");
        assert!(lines[0].contains("--public-url"), "{url}: {stderr}");
    }
}
