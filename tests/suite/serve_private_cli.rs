//! `depcache serve` with private registries from its flags: the credentials
//! file and the scoped API keys file are read, the credential never shows in
//! argv or in a log line (at trace level, through a success and a failure),
//! and bad settings are one sentence that does not echo the secret (exit 2).

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};

use depcache::protocol::Manager;
use serde_json::json;

use crate::common::private_registry::start_private_registry;
use crate::common::registry;
use crate::common::server::{cache_request, http};

const TOKEN: &str = "acme-cli-token-55aa9e";

/// `depcache serve` with `args`; returns the child, its URL and everything it
/// writes to stderr (still growing).
fn serve(args: &[String]) -> (std::process::Child, String, Arc<Mutex<String>>) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["serve", "0", "--bind", "127.0.0.1"])
        .args(args)
        .env("RUST_LOG", "trace")
        .env_remove("DEPCACHE_API_KEYS")
        .env_remove("DEPCACHE_REGISTRY_CREDENTIALS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(url) = line.split("serving on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("serve did not start:\n{}", log.lock().unwrap()));
    (child, url, log)
}

/// Runs `serve` expecting a start-up refusal; returns (exit code, stderr).
fn refused(args: &[String]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["serve", "0", "--bind", "127.0.0.1"])
        .args(args)
        .env_remove("DEPCACHE_API_KEYS")
        .env_remove("DEPCACHE_REGISTRY_CREDENTIALS")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credential_comes_from_a_file_and_reaches_no_argv_or_log_line() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!("# acme\n{} token {TOKEN}\n", acme.host()),
    )
    .unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "all-key\npublic-key registries=\n").unwrap();
    // Only the file's path is in argv.
    let args: Vec<String> = vec![
        "--npm-registry".into(),
        registry().url(),
        "--npm-scope-registry".into(),
        format!("@acme={}", acme.url()),
        "--api-keys-file".into(),
        keys.display().to_string(),
        "--cache-dir".into(),
        dir.path().join("store").display().to_string(),
    ];
    let mut with_file = args.clone();
    with_file.extend([
        "--registry-credentials".into(),
        credentials.display().to_string(),
    ]);
    let mut child = serve(&with_file);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.0.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(TOKEN));

    let post = |package: serde_json::Value, key: &'static str| {
        let url = child.1.clone();
        async move {
            let body = cache_request(
                Manager::Npm,
                &[("package.json", package.to_string().into_bytes())],
            );
            let response = http()
                .post(format!("{url}/v1/cache"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let ok = json!({"name": "a", "version": "1.0.0",
        "dependencies": {"@acme/secret": "^1.0.0", "dc-util": "^1.0.0"}});
    let (status, text) = post(ok.clone(), "all-key").await;
    assert_eq!(status, 200, "{text}");
    assert!(acme.authorizations().iter().any(|a| a.contains(TOKEN)));
    let (status, text) = post(ok, "public-key").await;
    assert_eq!(status, 403, "{text}");
    let leaky = json!({"name": "b", "version": "1.0.0", "dependencies": {"@acme/leaky": "1"}});
    let (status, text) = post(leaky, "all-key").await;
    assert_eq!(status, 422, "{text}");
    assert!(!text.contains(TOKEN), "{text}");

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = child.2.lock().unwrap().clone();
    assert!(log.contains("install finished"), "no trace log?\n{log}");
    assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
}

#[test]
fn bad_private_settings_are_refused_without_echoing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let keys = file("keys", "k1\n");
    let base = |extra: &[String]| {
        let mut args = vec!["--api-keys-file".to_string(), keys.clone()];
        args.extend(extra.iter().cloned());
        args
    };
    let typo = file("typo", "npm.acme.example bearer hunter2-secret\n");
    let (code, err) = refused(&base(&[
        "--npm-scope-registry".into(),
        "@acme=https://npm.acme.example/".into(),
        "--registry-credentials".into(),
        typo,
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // The same file named by the environment instead of the flag.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args([
            "serve",
            "0",
            "--bind",
            "127.0.0.1",
            "--api-keys-file",
            &keys,
        ])
        .env("DEPCACHE_REGISTRY_CREDENTIALS", dir.path().join("typo"))
        .env_remove("DEPCACHE_API_KEYS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("typo line 1") && !err.contains("hunter2"),
        "{err}"
    );

    let elsewhere = file("elsewhere", "other.example token hunter2-secret\n");
    let (code, err) = refused(&base(&["--registry-credentials".into(), elsewhere]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("other.example") && !err.contains("hunter2"),
        "{err}"
    );

    let scoped = file("scoped", "k2 registries=npm.nowhere.example\n");
    let (code, err) = refused(&["--api-keys-file".to_string(), scoped]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("npm.nowhere.example"), "{err}");

    let (code, err) = refused(&base(&[
        "--npm-scope-registry".into(),
        "@acme=https://user:pw@npm.acme.example/".into(),
    ]));
    assert_eq!(code, Some(2), "{err}");
}
