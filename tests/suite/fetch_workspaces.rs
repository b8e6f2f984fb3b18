//! npm workspaces (monorepos): never a silent wrong tree. The server refuses a
//! workspace project with 422 `unsupported_project` instead of installing it
//! without the workspace manifests; the client sees the shape itself and
//! installs locally, saying so, or exits 5 under `--no-fallback`.

use std::path::Path;
use std::process::Output;

use depcache::protocol::Manager;
use serde_json::json;

use crate::client_support::{assert_one_line_failure, stderr};
use crate::common::npm_project::npm_command;
use crate::common::registry;
use crate::common::server::{API_KEY, ServerOptions, TestServer, cache_request, post_cache};
use crate::common::tree::assert_same_tree;

/// A root with a dependency of its own, `packages/a` with a dependency only it
/// declares and a version conflicting with the root's (npm nests it in
/// `packages/a/node_modules`), and `packages/b` depending on `a`.
fn workspace_project(dir: &Path, workspaces: serde_json::Value) {
    let write = |rel: &str, doc: serde_json::Value| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    };
    write(
        "package.json",
        json!({"name": "dc-mono", "version": "1.0.0", "private": true,
               "workspaces": workspaces,
               "dependencies": {"dc-util": "1.1.0", "dc-cli": "1.0.0"}}),
    );
    write(
        "packages/a/package.json",
        json!({"name": "a", "version": "1.0.0",
               "dependencies": {"dc-util": "1.0.0", "dc-other": "1.0.0"}}),
    );
    write(
        "packages/b/package.json",
        json!({"name": "b", "version": "1.0.0",
               "dependencies": {"a": "1.0.0", "dc-exec": "1.0.0"}}),
    );
    npm(dir, &["install", "--package-lock-only"]);
}

fn npm(dir: &Path, args: &[&str]) {
    let scratch = tempfile::tempdir().unwrap();
    let out = npm_command(dir, scratch.path())
        .args(args)
        .args(["--ignore-scripts", "--registry", &registry().url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "npm {args:?}: {}", stderr(&out));
}

/// The project's files copied elsewhere and installed with `npm ci
/// --ignore-scripts`: the folder a fetch must produce.
fn reference(project: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for rel in [
        "package.json",
        "package-lock.json",
        "packages/a/package.json",
        "packages/b/package.json",
    ] {
        let dest = out.path().join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(project.join(rel), dest).unwrap();
    }
    npm(out.path(), &["ci"]);
    out
}

/// `depcache fetch npm` with npm's cache and config kept out of $HOME, since
/// the fallback runs the real npm.
fn fetch(server: &str, project: &Path, extra: &[&str]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args([
            "fetch",
            "npm",
            "--server",
            server,
            "--retries",
            "0",
            "--dir",
        ])
        .arg(project)
        .args(extra)
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("npm_config_cache", scratch.path().join("npm-cache"))
        .env("npm_config_userconfig", scratch.path().join("npmrc"))
        .env("npm_config_update_notifier", "false")
        .env_remove("DEPCACHE_SERVER")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[tokio::test]
async fn server_refuses_workspace_projects_with_422_and_stores_nothing() {
    let server = TestServer::start(ServerOptions::npm()).await;
    for workspaces in [
        json!(["packages/*"]),
        json!({"packages": ["packages/*"], "nohoist": ["**"]}),
    ] {
        let manifest = json!({"name": "m", "version": "1.0.0", "workspaces": workspaces});
        let request = cache_request(
            Manager::Npm,
            &[("package.json", serde_json::to_vec(&manifest).unwrap())],
        );
        let (status, answer) = post_cache(
            &server,
            Some(API_KEY),
            &serde_json::to_value(request).unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"], "unsupported_project", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("workspaces") && message.contains("\"packages/*\""),
            "{message}"
        );
    }
    assert_eq!(server.index_count(), 0);
    assert_eq!(server.blob_count(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_installs_a_workspace_project_locally_and_says_why() {
    let project = tempfile::tempdir().unwrap();
    workspace_project(project.path(), json!(["packages/*"]));
    let expected = reference(project.path());
    let server = TestServer::start(ServerOptions::npm()).await;
    let url = server.url.clone();
    let out = tokio::task::spawn_blocking({
        let dir = project.path().to_path_buf();
        move || fetch(&url, &dir, &[])
    })
    .await
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("declares npm workspaces")
            && err.contains("installing locally with `npm ci --ignore-scripts"),
        "{err}"
    );
    assert!(!err.contains("restored node_modules"), "{err}");
    // The local install made the real tree: links, nested and workspace-only deps.
    assert_same_tree(project.path(), expected.path());
    assert_eq!(
        std::fs::read_link(project.path().join("node_modules/a")).unwrap(),
        Path::new("../packages/a")
    );
    assert_eq!(server.index_count(), 0, "nothing was asked of the server");
    server.stop().await;
}

#[test]
fn no_fallback_refuses_a_workspace_project_with_exit_5() {
    let project = tempfile::tempdir().unwrap();
    workspace_project(
        project.path(),
        json!({"packages": ["packages/*"], "nohoist": []}),
    );
    // Refused before any request: a closed port shows nothing was asked.
    let out = fetch(
        &crate::client_support::closed_port_url(),
        project.path(),
        &["--no-fallback"],
    );
    let err = assert_one_line_failure(&out, 5);
    assert!(
        err.contains("declares npm workspaces") && err.contains("--no-fallback"),
        "{err}"
    );
    assert!(!project.path().join("node_modules").exists());
}

/// A server that answers every cache request with 422 `unsupported_project`,
/// as a newer or stricter server does for a shape this client did not catch.
fn refusing_server() -> (String, tokio::sync::oneshot::Sender<()>) {
    use axum::Json;
    use axum::http::StatusCode;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/cache",
        axum::routing::post(|| async {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "unsupported_project",
                            "message": "this shape is not cacheable here"})),
            )
        }),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
    });
    (url, stop)
}

#[test]
fn server_422_unsupported_project_makes_the_client_fall_back() {
    let project = tempfile::tempdir().unwrap();
    crate::common::npm_project(project.path(), &[("dc-util", "1.0.0")], &[]);
    let (url, _stop) = refusing_server();
    let out = fetch(&url, project.path(), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("cannot cache this project: this shape is not cacheable here")
            && err.contains("installing locally"),
        "{err}"
    );
    assert!(
        project
            .path()
            .join("node_modules/dc-util/index.js")
            .is_file()
    );

    std::fs::remove_dir_all(project.path().join("node_modules")).unwrap();
    let out = fetch(&url, project.path(), &["--no-fallback"]);
    let err = assert_one_line_failure(&out, 5);
    assert!(err.contains("this shape is not cacheable here"), "{err}");
    assert!(!project.path().join("node_modules").exists());
}
