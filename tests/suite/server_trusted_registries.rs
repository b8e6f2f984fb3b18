//! Installs fetch only from trusted registries: lockfiles and manifests
//! naming server folders, git, or other hosts are refused with 422
//! `untrusted_source` before npm or composer start, and nothing they name is
//! read or contacted. Also: failure messages carry no server paths.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use depcache::protocol::Manager;
use serde_json::{Value, json};

use crate::common::server::*;
use crate::common::{composer_project, npm_project, registry};

/// A listener that counts connections and answers each with a 404: stands
/// for an internal service the server must never be made to reach.
async fn canary() -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = socket
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (addr.to_string(), hits)
}

fn npm_files(package: &Value, lock: &Value) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("package.json", serde_json::to_vec_pretty(package).unwrap()),
        (
            "package-lock.json",
            serde_json::to_vec_pretty(lock).unwrap(),
        ),
    ]
}

/// package.json + lockfile v3 with one dependency `name` locked at `entry`.
fn one_dep(name: &str, spec: &str, entry: Value) -> Vec<(&'static str, Vec<u8>)> {
    let package = json!({"name": "app", "version": "1.0.0", "dependencies": {name: spec}});
    let lock = json!({
        "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
        "packages": {
            "": {"name": "app", "version": "1.0.0", "dependencies": {name: spec}},
            format!("node_modules/{name}"): entry,
        }
    });
    npm_files(&package, &lock)
}

/// Posts `files` and expects a 422 `untrusted_source`; returns the message.
async fn refused(server: &TestServer, manager: Manager, files: &[(&str, Vec<u8>)]) -> String {
    let body = serde_json::to_value(cache_request(manager, files)).unwrap();
    let (status, answer) = post_cache(server, Some(API_KEY), &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "untrusted_source", "{answer}");
    assert_eq!(
        metric(server, "depcache_installs_started_total").await,
        0,
        "an install started"
    );
    answer["message"].as_str().unwrap().to_string()
}

/// Whether any file under `dir` contains `needle`.
fn anything_contains(dir: &Path, needle: &[u8]) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .any(|e| {
            std::fs::read(e.path())
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockfile_pointing_at_a_server_folder_is_refused_and_nothing_is_read() {
    let secret_dir = tempfile::tempdir().unwrap();
    let folder = secret_dir.path().join("secret");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("package.json"),
        r#"{"name":"secret","version":"1.0.0"}"#,
    )
    .unwrap();
    let secret = b"AWS_SECRET_ACCESS_KEY=depcache-canary-5f1e";
    std::fs::write(folder.join(".env"), secret).unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;

    let spec = format!("file:{}", folder.display());
    let files = one_dep(
        "secret",
        "1.0.0",
        json!({"version": "1.0.0", "resolved": spec}),
    );
    let message = refused(&server, Manager::Npm, &files).await;
    assert!(
        message.contains("package-lock.json") && message.contains("node_modules/secret"),
        "{message}"
    );
    assert!(message.contains(&spec), "{message}");
    // The same through package.json alone (`npm install` when no lockfile).
    let manifest = json!({"name": "app", "version": "1.0.0", "dependencies": {"secret": spec}});
    let message = refused(
        &server,
        Manager::Npm,
        &[("package.json", serde_json::to_vec(&manifest).unwrap())],
    )
    .await;
    assert!(message.contains("dependencies > secret"), "{message}");

    assert_eq!(server.index_count(), 0);
    assert!(!anything_contains(server.store.path(), secret));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_url_on_another_port_is_refused_without_a_request() {
    let (canary_addr, hits) = canary().await;
    let server = TestServer::start(ServerOptions::npm()).await;
    for resolved in [
        format!("http://{canary_addr}/dc-util/-/dc-util-1.0.0.tgz"),
        format!("git+http://{canary_addr}/repo.git"),
    ] {
        let files = one_dep(
            "dc-util",
            "1.0.0",
            json!({"version": "1.0.0", "resolved": resolved}),
        );
        let message = refused(&server, Manager::Npm, &files).await;
        assert!(message.contains("node_modules/dc-util"), "{message}");
    }
    let files = one_dep(
        "dc-util",
        "1.0.0",
        json!({"version": "1.0.0", "resolved": format!("http://{canary_addr}/x.tgz")}),
    );
    let message = refused(&server, Manager::Npm, &files).await;
    assert!(
        message.contains(&format!("--allow-registry-host {canary_addr}")),
        "{message}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the server reached the canary"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_dependencies_are_refused() {
    let repo = tempfile::tempdir().unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    let git_file = format!("git+file://{}", repo.path().display());
    let files = one_dep(
        "dc-util",
        &git_file,
        json!({"version": "1.0.0", "resolved": format!("{git_file}#0123456789abcdef0123456789abcdef01234567")}),
    );
    let message = refused(&server, Manager::Npm, &files).await;
    assert!(message.contains("git"), "{message}");
    let github = one_dep(
        "dc-util",
        "github:acme/dc-util",
        json!({"version": "1.0.0", "resolved": "git+ssh://git@github.com/acme/dc-util.git#0123456789abcdef0123456789abcdef01234567"}),
    );
    refused(&server, Manager::Npm, &github).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_allowed_registry_host_installs() {
    let project = tempfile::tempdir().unwrap();
    npm_project(project.path(), &[("dc-util", "1.0.0")], &[]);
    let files = npm_project::npm_project_files(project.path());
    let host = registry().addr().to_string();

    // No --npm-registry: the lockfile's registry is just another host.
    let strict = TestServer::start(ServerOptions::default()).await;
    let message = refused(&strict, Manager::Npm, &files).await;
    assert!(
        message.contains(&format!("--allow-registry-host {host}")),
        "{message}"
    );
    strict.stop().await;

    let allowing = TestServer::start(ServerOptions {
        allow_registry_hosts: vec![host],
        ..ServerOptions::default()
    })
    .await;
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();
    let (status, answer) = post_cache(&allowing, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(allowing.index_count(), 1);
    allowing.stop().await;
}

fn composer_files(project: &Path) -> Vec<(&'static str, Vec<u8>)> {
    ["composer.json", "composer.lock"]
        .into_iter()
        .map(|n| (n, std::fs::read(project.join(n)).unwrap()))
        .collect()
}

fn rewrite_json(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    change(&mut doc);
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_repositories_from_the_request_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let fixture = composer_project(root.path());
    // The operator allowed nothing: the request's own path repository is
    // a server folder like any other.
    let server = TestServer::start(ServerOptions::default()).await;
    let message = refused(
        &server,
        Manager::Composer,
        &composer_files(&fixture.project),
    )
    .await;
    assert!(
        message.contains("composer.json") && message.contains("--allow-composer-path"),
        "{message}"
    );

    rewrite_json(&fixture.project.join("composer.json"), |doc| {
        doc["repositories"] = json!([
            {"packagist.org": false},
            {"type": "vcs", "url": format!("file://{}", fixture.packages.display())},
        ]);
    });
    let message = refused(
        &server,
        Manager::Composer,
        &composer_files(&fixture.project),
    )
    .await;
    assert!(message.contains("\"vcs\""), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composer_lock_dist_on_another_host_is_refused_without_a_request() {
    let root = tempfile::tempdir().unwrap();
    let fixture = composer_project(root.path());
    let (canary_addr, hits) = canary().await;
    rewrite_json(&fixture.project.join("composer.lock"), |lock| {
        let package = &mut lock["packages"][0];
        package["dist"] = json!({
            "type": "zip",
            "url": format!("http://{canary_addr}/acme-greeter.zip"),
            "reference": "abc",
        });
        package.as_object_mut().unwrap().remove("transport-options");
    });
    // The path repository is allowed here, so the dist URL is what is refused.
    let server = TestServer::start(ServerOptions {
        composer_paths: vec![fixture.packages.clone()],
        ..ServerOptions::default()
    })
    .await;
    let message = refused(
        &server,
        Manager::Composer,
        &composer_files(&fixture.project),
    )
    .await;
    assert!(
        message.contains("composer.lock")
            && message.contains("packages > acme/")
            && message.contains(&format!("--allow-registry-host {canary_addr}")),
        "{message}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the server reached the canary"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_failures_carry_no_server_paths() {
    let server = TestServer::start(ServerOptions::npm()).await;
    let manifest = br#"{"name":"broken","version":"1.0.0","dependencies":{"dc-fail":"1.0.0"}}"#;
    let body = serde_json::to_value(cache_request(
        Manager::Npm,
        &[("package.json", manifest.to_vec())],
    ))
    .unwrap();
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "install_failed");
    let message = answer["message"].as_str().unwrap();
    let store = server.store.path().to_str().unwrap();
    let real = std::fs::canonicalize(server.store.path()).unwrap();
    assert!(
        !message.contains(store) && !message.contains(real.to_str().unwrap()),
        "{message}"
    );
    // npm names its log file under the tool cache.
    assert!(message.contains("<tool-cache>"), "{message}");
    server.stop().await;
}

#[test]
fn a_malformed_allowed_host_is_a_start_up_error() {
    let store = tempfile::tempdir().unwrap();
    let (code, stderr) = spawn_binary_server(
        &[
            "--is-public",
            "--cache-dir",
            store.path().to_str().unwrap(),
            "--allow-registry-host",
            "*.example.com",
        ],
        &[],
    )
    .expect_err("the server should refuse to start");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--allow-registry-host"), "{stderr}");
}

/// Behind the check, ingestion still refuses a tree whose symlink leaves it
/// (what a `file:` folder dependency produced before the check existed).
#[test]
fn ingestion_still_refuses_a_symlink_leaving_the_tree() {
    let store_dir = tempfile::tempdir().unwrap();
    let store = depcache::store::DirStore::open(store_dir.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let tree = crate::admin_support::make_tree(work.path(), Manager::Npm, &[]);
    std::os::unix::fs::symlink(work.path(), tree.join("local-lib")).unwrap();
    let request = crate::admin_support::request(Manager::Npm, "linked");
    let err = depcache::store::ingest_tree(&store, &tree, &request).unwrap_err();
    assert!(
        matches!(err, depcache::store::IngestError::Unsupported { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("local-lib"), "{err}");
}
