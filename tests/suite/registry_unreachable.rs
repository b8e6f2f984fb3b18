//! A server that cannot reach its registry does not fail the job: its npm
//! install failing on the registry's certificate (an intercepting proxy's
//! CA the server lacks, the job has) answers 502 `registry_unreachable`, and
//! the client installs locally, saying why (exit 3 under `--no-fallback`).
//! A broken project still fails the job (exit 7). Found by the real-world
//! sweep (docs/compatibility.md).

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::npm_project::{npm_project, npm_project_files};
use crate::common::registry;
use crate::common::server::{API_KEY, ServerOptions, TestServer, cache_request, http};
use crate::common::tls_proxy::{TlsProxy, start_tls_proxy};

/// A project of `dc-util` 1.0.0 whose lockfile resolved through `proxy`.
fn project_behind(proxy: &TlsProxy, dir: &Path) {
    npm_project(dir, &[("dc-util", "1.0.0")], &[]);
    let lock = std::fs::read_to_string(dir.join("package-lock.json")).unwrap();
    assert!(lock.contains(&registry().url()), "{lock}");
    let lock = lock.replace(&registry().url(), &proxy.url());
    std::fs::write(dir.join("package-lock.json"), lock).unwrap();
}

/// The real `depcache fetch npm` as a job that trusts `ca` (when given)
/// through its npm config (`cafile`), with its npm cache in `scratch`.
async fn fetch(server: &str, project: &Path, ca: Option<&Path>, extra: &[&str]) -> Output {
    let scratch = project.with_file_name("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_depcache"));
    command
        .args(["fetch", "npm", "--server", server, "--dir"])
        .arg(project)
        .args(extra)
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("npm_config_cache", scratch.join("npm-cache"))
        .env("npm_config_userconfig", scratch.join("npmrc"))
        .env("npm_config_update_notifier", "false")
        .env_remove("npm_config_cafile")
        .env_remove("DEPCACHE_SERVER")
        .env_remove("RUST_LOG");
    if let Some(ca) = ca {
        command.env("npm_config_cafile", ca);
    }
    command.output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_the_server_cannot_trust_is_502_and_the_job_installs_itself() {
    let proxy = start_tls_proxy(registry().addr());
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    project_behind(&proxy, &project);
    // The server installs from the https registry but has no --registry-ca.
    let server = TestServer::start(ServerOptions {
        npm_registry: Some(proxy.url()),
        ..ServerOptions::default()
    })
    .await;

    // The answer itself: 502 with the host and npm's own reason.
    let files = npm_project_files(&project);
    let body = cache_request(depcache::protocol::Manager::Npm, &files);
    let response = http()
        .post(format!("{}/v1/cache", server.url))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["retry-after"], "60");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "registry_unreachable", "{answer}");
    let message = answer["message"].as_str().unwrap();
    let host = format!("127.0.0.1:{}", proxy.port);
    assert!(
        message.contains(&host) && message.contains("certificate"),
        "{message}"
    );
    assert_eq!(server.index_count(), 0);

    // Under --no-fallback: unavailable, exit 3, after one request.
    let out = fetch(&server.url, &project, Some(&proxy.ca), &["--no-fallback"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("registry_unreachable"), "{stderr}");
    assert!(!stderr.contains("tries"), "retried: {stderr}");

    // The job trusts the proxy's CA: its own npm ci installs, saying why.
    let out = fetch(&server.url, &project, Some(&proxy.ca), &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("could not reach the registry") && stderr.contains(&host),
        "{stderr}"
    );
    assert!(project.join("node_modules/dc-util/package.json").is_file());
    assert_eq!(server.index_count(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockfile_naming_a_missing_version_still_fails_the_job() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("app");
    npm_project(&project, &[("dc-util", "1.0.0")], &[]);
    // A version the registry never had, in both files so npm ci accepts them.
    for name in ["package.json", "package-lock.json"] {
        let path = project.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text
            .replace("\"dc-util\": \"1.0.0\"", "\"dc-util\": \"1.0.99\"")
            .replace("dc-util-1.0.0.tgz", "dc-util-1.0.99.tgz")
            .replace(
                "\"version\": \"1.0.0\",\n      \"resolved\"",
                "\"version\": \"1.0.99\",\n      \"resolved\"",
            );
        std::fs::write(&path, text).unwrap();
    }
    let server = TestServer::start(ServerOptions::npm()).await;
    let out = fetch(&server.url, &project, None, &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(!stderr.contains("registry_unreachable"), "{stderr}");
    server.stop().await;
}
