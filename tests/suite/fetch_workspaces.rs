//! npm workspaces (monorepos): the right tree or a loud refusal, never a
//! silent wrong tree. A workspace project restores, miss and hit, to the
//! folder `npm ci --ignore-scripts` makes (root and nested `node_modules`,
//! workspace links); a shape depcache cannot reproduce is refused with 422
//! `unsupported_project` and the client installs locally, saying so, or
//! exits 5 under `--no-fallback`.

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

/// Copies the project's sources (no `node_modules`) to a fresh folder, as
/// another CI job's checkout.
fn checkout(project: &Path) -> tempfile::TempDir {
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
    std::fs::write(
        out.path().join("packages/a/index.js"),
        "module.exports = 'a';\n",
    )
    .unwrap();
    out
}

async fn fetch_async(server: &str, project: &Path, extra: &[&str]) -> Output {
    let server = server.to_string();
    let project = project.to_path_buf();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        fetch(&server, &project, &extra)
    })
    .await
    .unwrap()
}

fn assert_restored(out: &Output, hit: bool) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let wanted = if hit { "cache hit" } else { "cache miss" };
    assert!(
        err.contains("restored node_modules") && err.contains(wanted),
        "{err}"
    );
    assert!(!err.contains("installing locally"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_project_restores_what_npm_ci_installs_miss_and_hit() {
    let project = tempfile::tempdir().unwrap();
    workspace_project(project.path(), json!(["packages/*"]));
    let expected = reference(project.path());
    std::fs::write(
        expected.path().join("packages/a/index.js"),
        "module.exports = 'a';\n",
    )
    .unwrap();
    let first_checkout = checkout(project.path());
    let server = TestServer::start(ServerOptions::npm()).await;

    let out = fetch_async(&server.url, first_checkout.path(), &["--no-fallback"]).await;
    assert_restored(&out, false);
    assert_same_tree(first_checkout.path(), expected.path());
    // What the fixture is for: links, a nested conflict, workspace-only deps.
    let root = first_checkout.path();
    assert_eq!(
        std::fs::read_link(root.join("node_modules/a")).unwrap(),
        Path::new("../packages/a")
    );
    assert!(root.join("node_modules/dc-other/index.js").is_file());
    assert!(
        root.join("packages/a/node_modules/dc-util/index.js")
            .is_file()
    );

    // A hit replaces stale trees, root and nested, and keeps the sources.
    std::fs::write(root.join("node_modules/stale.txt"), b"old").unwrap();
    std::fs::write(root.join("packages/a/node_modules/stale.txt"), b"old").unwrap();
    std::fs::create_dir_all(root.join("packages/b/node_modules/old")).unwrap();
    let out = fetch_async(&server.url, root, &["--no-fallback"]).await;
    assert_restored(&out, true);
    assert_same_tree(root, expected.path());

    // Another checkout, through a local store: bundle, then the store alone.
    let store = tempfile::tempdir().unwrap();
    let store_arg = store.path().to_str().unwrap().to_string();
    for round in 0..2 {
        let other = checkout(project.path());
        let out = fetch_async(
            &server.url,
            other.path(),
            &["--no-fallback", "--local-store", &store_arg],
        )
        .await;
        assert_restored(&out, true);
        // The second round's contents, nested trees' included, all come
        // from the store: nothing is downloaded.
        let err = stderr(&out);
        assert_eq!(round == 1, err.contains(", 0 B downloaded"), "{err}");
        assert_same_tree(other.path(), expected.path());
    }
    server.stop().await;
}

#[tokio::test]
async fn server_refuses_workspace_shapes_it_cannot_reproduce() {
    let server = TestServer::start(ServerOptions::npm()).await;
    let lock = br#"{"lockfileVersion":3,"packages":{"node_modules/a":{"resolved":"packages/a","link":true}}}"#;
    let root = |workspaces: serde_json::Value| {
        serde_json::to_vec(&json!({"name": "m", "version": "1.0.0", "workspaces": workspaces}))
            .unwrap()
    };
    type Files = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(Files, &str)> = vec![
        (
            vec![
                ("package.json", root(json!(["../outside/*"]))),
                ("package-lock.json", lock.to_vec()),
            ],
            "outside the project",
        ),
        (
            vec![
                ("package.json", root(json!({"packages": ["packages/**"]}))),
                ("package-lock.json", lock.to_vec()),
            ],
            "'**'",
        ),
        (
            vec![("package.json", root(json!(["packages/*"])))],
            "no lockfile",
        ),
        (
            vec![
                ("package.json", root(json!(["packages/*"]))),
                ("package-lock.json", lock.to_vec()),
            ],
            "packages/a/package.json was not sent",
        ),
        (
            vec![
                ("package.json", root(json!(["packages/*"]))),
                ("package-lock.json", lock.to_vec()),
                ("packages/a/package.json", br#"{"bin":"cli.js"}"#.to_vec()),
            ],
            "declares bin files",
        ),
        (
            vec![
                ("package.json", root(json!(["packages/*"]))),
                ("package-lock.json", lock.to_vec()),
                ("packages/a/package.json", b"{}".to_vec()),
                ("tools/x/package.json", b"{}".to_vec()),
            ],
            "no glob",
        ),
    ];
    for (files, reason) in cases {
        let request = cache_request(Manager::Npm, &files);
        let (status, answer) = post_cache(
            &server,
            Some(API_KEY),
            &serde_json::to_value(request).unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"], "unsupported_project", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(reason), "{reason}: {message}");
    }
    // A manifest name that is no plain relative folder is bad input.
    for name in [
        "../x/package.json",
        ".git/package.json",
        "a/../package.json",
    ] {
        let request = cache_request(
            Manager::Npm,
            &[("package.json", root(json!(["*"]))), (name, b"{}".to_vec())],
        );
        let (status, answer) = post_cache(
            &server,
            Some(API_KEY),
            &serde_json::to_value(request).unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{name}: {answer}");
    }
    assert_eq!(server.index_count(), 0);
    assert_eq!(server.blob_count(), 0);
    server.stop().await;
}

/// A root whose workspace glob leaves the project: `../outside/*`.
fn project_with_outside_glob(sandbox: &Path) -> std::path::PathBuf {
    let project = sandbox.join("project");
    let outside = sandbox.join("outside/x");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("package.json"),
        r#"{"name":"x","version":"1.0.0","dependencies":{"dc-util":"1.0.0"}}"#,
    )
    .unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"m","version":"1.0.0","private":true,"workspaces":["../outside/*"]}"#,
    )
    .unwrap();
    npm(&project, &["install", "--package-lock-only"]);
    project
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glob_outside_the_project_falls_back_and_says_why() {
    let sandbox = tempfile::tempdir().unwrap();
    let project = project_with_outside_glob(sandbox.path());
    let server = TestServer::start(ServerOptions::npm()).await;
    let out = fetch_async(&server.url, &project, &[]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("\"../outside/*\"")
            && err.contains("outside the project")
            && err.contains("installing locally with `npm ci --ignore-scripts"),
        "{err}"
    );
    assert!(!err.contains("restored node_modules"), "{err}");
    assert!(project.join("node_modules/x").is_symlink());
    assert_eq!(server.index_count(), 0, "nothing was cached");
    server.stop().await;
}

#[test]
fn no_fallback_refuses_an_unsupported_workspace_project_with_exit_5() {
    let sandbox = tempfile::tempdir().unwrap();
    let project = project_with_outside_glob(sandbox.path());
    // Refused before any request: a closed port shows nothing was asked.
    let out = fetch(
        &crate::client_support::closed_port_url(),
        &project,
        &["--no-fallback"],
    );
    let err = assert_one_line_failure(&out, 5);
    assert!(
        err.contains("outside the project") && err.contains("--no-fallback"),
        "{err}"
    );
    assert!(!project.join("node_modules").exists());
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
        err.contains(
            "cannot cache this project (unsupported_project: this shape is not cacheable here)"
        ) && err.contains("installing locally"),
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

/// A hostile server cannot widen where links may point: an index naming a
/// workspace folder the request did not send is refused before anything is
/// written (exit 6), even with the link that folder would allow.
#[test]
fn an_index_naming_workspaces_the_request_did_not_send_is_refused() {
    use crate::client_support::Sandbox;
    use crate::common::crafted_server::{CraftedServer, Script, file, index_of, symlink, zip_of};
    let items = [file("a/index.js", b"1\n", 0o644), symlink("home", "../src")];
    let mut index = index_of(&items);
    index.workspaces = vec!["src".to_string()];
    let server = CraftedServer::start(Script::new(index, zip_of(&items)));
    let sandbox = Sandbox::new().with_old_tree();
    std::fs::create_dir(sandbox.project().join("src")).unwrap();
    let before = sandbox.manifest();
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_one_line_failure(&out, 6);
    assert_eq!(sandbox.manifest(), before);
}
