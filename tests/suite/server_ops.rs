//! What an operator's tooling reads: `/ready` against a broken store,
//! `Retry-After` on a 503, build info and the request-duration histogram on
//! `/metrics`, and a download's logged duration covering its whole body.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::server::*;

async fn get(url: &str) -> reqwest::Response {
    http().get(url).send().await.unwrap()
}

#[tokio::test]
async fn ready_is_503_with_a_reason_and_retry_after_when_the_staging_area_is_not_a_directory() {
    let server = TestServer::start(ServerOptions::default()).await;
    let ok = get(&format!("{}/ready", server.url)).await;
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    // A file where the staging directory was: fails for root too, unlike chmod.
    let staging = server.store.path().join("tmp");
    std::fs::remove_dir_all(&staging).unwrap();
    std::fs::write(&staging, b"not a directory").unwrap();
    let broken = get(&format!("{}/ready", server.url)).await;
    assert_eq!(broken.status(), 503);
    assert_eq!(broken.headers()["retry-after"], "10");
    let body: serde_json::Value = broken.json().await.unwrap();
    assert_eq!(body["error"], "store_unavailable", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("staging area"), "{message}");

    // Liveness stays cheap: a broken store does not make a restart loop.
    assert_eq!(get(&format!("{}/health", server.url)).await.status(), 200);

    std::fs::remove_file(&staging).unwrap();
    std::fs::create_dir(&staging).unwrap();
    assert_eq!(get(&format!("{}/ready", server.url)).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn ready_is_503_when_the_store_cannot_be_read() {
    let server = TestServer::start(ServerOptions::default()).await;
    let objects = server.store.path().join("objects");
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"").unwrap();
    let broken = get(&format!("{}/ready", server.url)).await;
    assert_eq!(broken.status(), 503);
    let body: serde_json::Value = broken.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("cannot be read"), "{message}");
    server.stop().await;
}

/// The sample value of the line starting with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_name_the_build_and_time_requests_by_route_method_and_status() {
    let server = TestServer::start(ServerOptions::default()).await;
    get(&format!("{}/health", server.url)).await;
    get(&format!("{}/health", server.url)).await;
    http()
        .head(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    get(&format!("{}/v1/versions", server.url)).await; // 401: no key
    let text = metrics_text(&server).await;
    let build = format!(
        "depcache_build_info{{version=\"{}\",commit=\"",
        env!("CARGO_PKG_VERSION")
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&build))
        .unwrap_or_else(|| panic!("no {build} in\n{text}"));
    assert!(line.ends_with("\"} 1"), "{line}");
    assert!(text.contains("# TYPE depcache_http_request_duration_seconds histogram"));
    let series = |route: &str, method: &str, status: u16, part: &str| {
        format!(
            "depcache_http_request_duration_seconds_{part}{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        )
    };
    assert_eq!(
        sample(&text, &series("/health", "GET", 200, "count")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("/health", "HEAD", 200, "count")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &series("/v1/versions", "GET", 401, "count")),
        Some(1.0)
    );
    // Label order is the library's: look for the labels, not a spelling.
    let inf: f64 = text
        .lines()
        .find(|l| {
            l.starts_with("depcache_http_request_duration_seconds_bucket{")
                && l.contains("route=\"/health\"")
                && l.contains("method=\"GET\"")
                && l.contains("le=\"+Inf\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .unwrap_or_else(|| panic!("no +Inf bucket for /health in\n{text}"));
    assert_eq!(inf, 2.0);
    // What existed before is still there.
    assert!(sample(&text, "depcache_cache_hits_total").is_some());
    assert!(sample(&text, "depcache_store_tree_bytes").is_some());
    server.stop().await;
}

/// `depcache serve` on port 0 with its stderr in `log`; returns the child and
/// its URL once the start-up line is written.
// The caller kills and waits for the child, and so does the start-up
// timeout; only an unreadable log file (a broken test machine) skips that.
#[allow(clippy::zombie_processes)]
fn serve_logging_to(store: &Path, log: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["serve", "0", "--bind", "127.0.0.1", "--cache-dir"])
        .arg(store)
        .env("DEPCACHE_API_KEYS", API_KEY)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap();
        if let Some(url) = text.lines().find_map(|l| l.split("serving on ").nth(1)) {
            return (child, url.trim().to_string());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The log's request lines for `route`, without colour escapes.
fn request_lines(log: &Path, route: &str) -> Vec<String> {
    let raw = std::fs::read_to_string(log).unwrap();
    let mut plain = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .lines()
        .filter(|l| l.contains(&format!("route={route} ")))
        .map(str::to_string)
        .collect()
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

/// Bytes no compression shrinks: larger than the kernel's largest send
/// buffer here (4 MiB) plus hyper's, so the server must wait for the reader.
fn incompressible(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn a_download_is_logged_when_its_last_byte_is_sent_and_index_requests_name_their_key() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = tmp.path().join("store");
    let store = depcache::store::open(&store_dir).unwrap();
    let data = incompressible(8 << 20);
    let (index, _) =
        crate::admin_support::ingest(&*store, "slow-reader", &[("big/data.bin", data)]);
    drop(store);
    let key = index.key;
    let log = tmp.path().join("serve.log");
    let (mut child, url) = serve_logging_to(&store_dir, &log);

    let answer = http()
        .get(format!("{url}/v1/index/{key}"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    // A slow reader: a tiny receive window, one read, a pause, the rest.
    let addr = url.trim_start_matches("http://").to_string();
    let pause = Duration::from_millis(1500);
    let path = format!("/download/{key}.zip");
    let read = tokio::task::spawn_blocking(move || {
        let mut stream = socket_with_small_window(&addr);
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut first = [0u8; 1024];
        let n = stream.read(&mut first).unwrap();
        let head = String::from_utf8_lossy(&first[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        std::thread::sleep(pause);
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        n + rest.len()
    });
    let received = read.await.unwrap();
    assert!(received > 8 << 20, "the bundle is only {received} bytes");
    // The line is written as the connection closes: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        if let Some(line) = request_lines(&log, "/download/{file}").pop() {
            break line;
        }
        assert!(Instant::now() < deadline, "no download line in the log");
        std::thread::sleep(Duration::from_millis(50));
    };
    let logged: f64 = field(&line, "duration_ms").unwrap().parse().unwrap();
    assert!(
        logged >= pause.as_millis() as f64,
        "the download took over {pause:?} but was logged as {logged} ms: {line}"
    );
    assert_eq!(field(&line, "status"), Some("200"));
    assert!(!line.contains("aborted"), "{line}");
    let index_line = request_lines(&log, "/v1/index/{key}").pop().unwrap();
    assert_eq!(
        field(&index_line, "key"),
        Some(format!("\"{key}\"").as_str()),
        "{index_line}"
    );
    let health = http().get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    std::thread::sleep(Duration::from_millis(200));
    let health_line = request_lines(&log, "/health").pop().unwrap();
    assert!(!health_line.contains("key="), "{health_line}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A blocking connection whose receive buffer is a few kilobytes, so the
/// server cannot hand the whole bundle to the kernel at once.
fn socket_with_small_window(addr: &str) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(addr.parse().unwrap()).await.unwrap();
        let std = stream.into_std().unwrap();
        std.set_nonblocking(false).unwrap();
        std
    })
}

/// Deletes an object from moto with boto3 (moto's own dependency, so it is
/// there wherever moto is): moto refuses unsigned deletes.
fn moto_delete(bucket: &str, key: &str) {
    let script = "import sys, boto3\n\
boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
aws_access_key_id='test', aws_secret_access_key='test')\
.delete_object(Bucket=sys.argv[2], Key=sys.argv[3])";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &crate::common::s3::moto().endpoint,
            bucket,
            key,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3 delete_object: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn ready_on_s3_reads_the_bucket_settings_and_fails_when_the_store_is_gone() {
    use crate::common::s3::Bucket;
    let bucket = Bucket::new(Duration::from_secs(60));
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let (name, prefix, env) = (bucket.name.clone(), bucket.prefix.clone(), bucket.env());
    let w = work.clone();
    let store = tokio::task::spawn_blocking(move || {
        depcache::store::S3Store::open(&name, &prefix, env, Some(w), true).unwrap()
    })
    .await
    .unwrap();
    let server = TestServer::start_on(
        ServerOptions::default(),
        std::sync::Arc::new(store),
        work,
        dir,
    )
    .await;
    assert_eq!(get(&format!("{}/ready", server.url)).await.status(), 200);

    // A missing blob reads as "absent" from anywhere; the settings object
    // exists only in a real store.
    moto_delete(
        &bucket.name,
        &format!("{}/depcache-store.json", bucket.prefix),
    );
    let broken = get(&format!("{}/ready", server.url)).await;
    assert_eq!(broken.status(), 503);
    let body: serde_json::Value = broken.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("depcache-store.json"), "{message}");
    server.stop().await;
}
