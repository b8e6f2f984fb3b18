//! `depcache serve` as operators start it: refusals at start-up, key sources,
//! seed flag spellings and `--public-url`.

use depcache::protocol::Manager;
use serde_json::Value;

use crate::common::server::{cache_request, http, spawn_binary_server};

fn refusal(args: &[&str]) -> String {
    let store = tempfile::tempdir().unwrap();
    let mut all = vec!["--cache-dir", store.path().to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, stderr) =
        spawn_binary_server(&all, &[]).expect_err("the server should refuse to start");
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("depcache: "))
            .count(),
        1,
        "{stderr}"
    );
    stderr
}

#[test]
fn without_keys_and_without_is_public_it_refuses_to_start() {
    let stderr = refusal(&[]);
    assert!(
        stderr.contains("--api-keys-file") && stderr.contains("--is-public"),
        "{stderr}"
    );
}

#[test]
fn a_listed_version_the_host_cannot_run_is_a_start_up_error() {
    let stderr = refusal(&[
        "--is-public",
        "--supported-versions-node",
        "14.20.0:6.14.13",
    ]);
    assert!(
        stderr.contains("14.20.0") && stderr.contains("this host has"),
        "{stderr}"
    );
    let stderr = refusal(&["--is-public", "--supported-versions-node", "14;rm"]);
    assert!(stderr.contains("NODE:NPM"), "{stderr}");
}

async fn status_of(url: &str, key: Option<&str>) -> u16 {
    let body = serde_json::to_value(cache_request(
        Manager::Npm,
        &[(
            "package.json",
            b"{\"name\":\"x\",\"version\":\"1.0.0\"}".to_vec(),
        )],
    ))
    .unwrap();
    let mut request = http().post(format!("{url}/v1/cache")).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_come_from_the_file_and_the_environment_together() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "# CI runners\nfile-key\n\n").unwrap();
    let store = dir.path().join("store");
    let (mut server, url) = spawn_binary_server(
        &[
            "--cache-dir",
            store.to_str().unwrap(),
            "--api-keys-file",
            keys.to_str().unwrap(),
        ],
        &[("DEPCACHE_API_KEYS", "env-key-1,env-key-2")],
    )
    .unwrap();
    assert_eq!(status_of(&url, None).await, 401);
    assert_eq!(status_of(&url, Some("# CI runners")).await, 401);
    for key in ["file-key", "env-key-1", "env-key-2"] {
        assert_eq!(status_of(&url, Some(key)).await, 200, "{key}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_spellings_and_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("seed-store");
    let (mut server, url) = spawn_binary_server(
        &[
            "--cache_dir",
            store.to_str().unwrap(),
            "--is_public",
            "--public-url",
            "https://cache.example.com/",
        ],
        &[],
    )
    .unwrap();
    assert!(store.join("objects").is_dir(), "--cache_dir was not used");
    let body = serde_json::to_value(cache_request(
        Manager::Npm,
        &[(
            "package.json",
            b"{\"name\":\"x\",\"version\":\"1.0.0\"}".to_vec(),
        )],
    ))
    .unwrap();
    let answer: Value = http()
        .post(format!("{url}/v1/cache"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = answer["key"].as_str().unwrap();
    assert_eq!(
        answer["download_url"],
        format!("https://cache.example.com/download/{key}.zip")
    );
    assert_eq!(
        answer["index_url"],
        format!("https://cache.example.com/v1/index/{key}")
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// This machine's addresses other than loopback, from `hostname -I`.
fn non_loopback_addresses() -> Vec<std::net::IpAddr> {
    let out = std::process::Command::new("hostname").arg("-I").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.split_whitespace()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .filter(|a| !a.is_loopback() && !a.is_unspecified())
        .collect()
}

#[test]
fn an_open_server_without_bind_listens_on_loopback_only() {
    let store = tempfile::tempdir().unwrap();
    let (mut server, url) = crate::common::server::spawn_serve(
        &[
            "0",
            "--cache-dir",
            store.path().to_str().unwrap(),
            "--is-public",
        ],
        &[],
    )
    .expect("the open server should start");
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    assert!(addr.ip().is_loopback(), "bound to {addr}");
    std::net::TcpStream::connect(addr).expect("reachable on loopback");
    for ip in non_loopback_addresses() {
        let there = std::net::SocketAddr::new(ip, addr.port());
        assert!(
            std::net::TcpStream::connect_timeout(&there, std::time::Duration::from_secs(2))
                .is_err(),
            "the open server answers on {there}"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn an_open_server_says_how_to_expose_it() {
    let store = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["serve", "0", "--is-public", "--cache-dir"])
        .arg(store.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let line = lines
        .find(|l| l.as_ref().is_ok_and(|l| l.contains("serving on")))
        .unwrap()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.contains("--bind 0.0.0.0") && line.contains("--api-keys-file"),
        "{line}"
    );
}

/// One start-up line: the server's own "depcache serving" log line repeated
/// what the CLI had just printed.
#[test]
fn the_server_says_it_is_serving_once() {
    use std::io::{BufRead, Read};
    let store = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args([
            "serve",
            "0",
            "--bind",
            "127.0.0.1",
            "--is-public",
            "--cache-dir",
        ])
        .arg(store.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    while !first.contains("serving on ") {
        first.clear();
        assert!(
            stderr.read_line(&mut first).unwrap() > 0,
            "no start-up line"
        );
    }
    let url = first.split("serving on ").nth(1).unwrap().trim();
    // Answering requests: past every start-up line.
    let health = std::process::Command::new("curl")
        .args(["-sf", &format!("{url}/health")])
        .output()
        .unwrap();
    assert!(health.status.success());
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("serving"), "said twice:\n{first}{rest}");
}
