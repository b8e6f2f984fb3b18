//! Private scope names must not leak to the server's default registry: a
//! pnpm project whose job maps `@acme` to a registry of its own is refused
//! by a server without that scope before anything is installed (the
//! server's default registry is never asked for `@acme/*`), and `fetch`
//! installs in the job saying why; `hash --explain` shows the scope sent; a
//! garbage `private_scopes` list gets 400; a server older than the field
//! makes the client install in the job. The same project against a server
//! with `@acme` is tests/suite/private_pnpm.rs (Berry: private_yarn.rs).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

use depcache::protocol::Manager;

use crate::common::private_registry::start_private_registry;
use crate::common::registry::registry;
use crate::common::server::*;

const TOKEN: &str = "scope-leak-token-7a3c";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command with the job's environment, as in private_pnpm.rs.
fn job(program: &str, home: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("PNPM_HOME")
        .env("npm_config_registry", registry().url())
        .env("npm_config_update_notifier", "false")
        .env("CI", "true");
    cmd
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A pnpm project using `@acme/secret` from the job's own registry (its
/// `.npmrc` maps the scope and holds the token), lockfile made by pnpm.
fn pnpm_project(home: &Path, dir: &Path, acme_url: &str, acme_host: &str) {
    let manifest = json!({"name": "scope-leak", "version": "1.0.0", "private": true,
        "dependencies": {"@acme/secret": "1.0.0", "dc-util": "1.0.0"}});
    std::fs::write(dir.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(
        dir.join(".npmrc"),
        format!(
            "@acme:registry={acme_url}\n//{acme_host}/:_authToken={TOKEN}\n\
@unused:registry=http://127.0.0.1:9/unused/\n"
        ),
    )
    .unwrap();
    let mut cmd = job("pnpm", home, dir);
    cmd.args(["install", "--lockfile-only"]);
    run(cmd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnpm_scope_the_server_lacks_is_installed_in_the_job_and_never_asked_of_its_registry() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    pnpm_project(home.path(), dir, &acme.url(), &acme.host());

    // The scope is sent (the unused one is not), and it is not in the key.
    let mut cmd = job(env!("CARGO_BIN_EXE_depcache"), home.path(), dir);
    cmd.args(["hash", "pnpm", "--explain"]);
    let explained = text(&run(cmd).stdout);
    assert!(explained.contains("scope    @acme "), "{explained}");
    assert!(!explained.contains("@unused "), "{explained}");
    // The job's user config maps scopes too (actions/setup-node writes one).
    let npmrc = std::fs::read(dir.join(".npmrc")).unwrap();
    std::fs::remove_file(dir.join(".npmrc")).unwrap();
    std::fs::write(home.path().join("user.npmrc"), &npmrc).unwrap();
    let mut cmd = job(env!("CARGO_BIN_EXE_depcache"), home.path(), dir);
    cmd.args(["hash", "pnpm", "--json"])
        .env("NPM_CONFIG_USERCONFIG", home.path().join("user.npmrc"));
    let doc: serde_json::Value = serde_json::from_slice(&run(cmd).stdout).unwrap();
    assert_eq!(doc["private_scopes"], json!(["@acme"]), "{doc}");
    std::fs::write(dir.join(".npmrc"), &npmrc).unwrap();

    let server = TestServer::start(ServerOptions::npm()).await;
    let before = registry().requests_for_scope("@acme");
    let out = job(env!("CARGO_BIN_EXE_depcache"), home.path(), dir)
        .args(["fetch", "pnpm", "--server", &server.url])
        .env("DEPCACHE_API_KEY", API_KEY)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "the project fetches @acme from its own registry, which this server does not have"
        ) && stderr.contains("installing locally"),
        "{stderr}"
    );
    assert_eq!(
        registry().requests_for_scope("@acme"),
        before,
        "the server's default registry was asked for @acme packages"
    );
    assert_eq!(server.index_count(), 0);
    // The job's own install, from its own registry.
    let out = Command::new("node")
        .current_dir(dir)
        .args(["-e", "console.log(require('@acme/secret'))"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout).trim(), "acme internal");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_private_scopes_get_400() {
    let server = TestServer::start(ServerOptions::npm()).await;
    let manifest = br#"{"name":"p","version":"1.0.0"}"#.to_vec();
    let lists = [
        json!(["acme"]),
        json!(["@"]),
        json!(["@Acme"]),
        json!(["@acme/secret"]),
        json!(["@a", "@a"]),
        json!((0..=64).map(|i| format!("@s{i}")).collect::<Vec<_>>()),
        json!("@acme"),
        json!([1]),
    ];
    for list in lists {
        let mut body = serde_json::to_value(cache_request(
            Manager::Npm,
            &[("package.json", manifest.clone())],
        ))
        .unwrap();
        body["private_scopes"] = list.clone();
        let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
        assert_eq!(status, 400, "{list}: {answer}");
        // Not a list of strings is a JSON shape error, which serde words.
        let names_field = answer["message"]
            .as_str()
            .unwrap()
            .contains("private_scopes");
        assert!(names_field || !list[0].is_string(), "{list}: {answer}");
    }
    let mut body = serde_json::to_value(cache_request(
        Manager::Composer,
        &[("composer.json", br#"{"name":"a/b"}"#.to_vec())],
    ))
    .unwrap();
    body["private_scopes"] = json!(["@acme"]);
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("npm, pnpm and yarn requests only"),
        "{answer}"
    );
    server.stop().await;
}

/// A server that predates the field refuses it as unknown (its requests
/// deny unknown fields), as serde words it.
async fn old_server() -> String {
    use axum::http::StatusCode;
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_json", "message":
                "the body is not a valid cache request: unknown field `private_scopes`, \
expected one of `manager`, `hash`, `files`, `versions`, `platform`, `options` at line 1 column 9"})),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_older_than_private_scopes_makes_the_job_install() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    pnpm_project(home.path(), dir, &acme.url(), &acme.host());
    let url = old_server().await;
    let out = job(env!("CARGO_BIN_EXE_depcache"), home.path(), dir)
        .args(["fetch", "pnpm", "--server", &url])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot keep the job's private scopes")
            && stderr.contains("installing locally"),
        "{stderr}"
    );
    assert!(dir.join("node_modules/@acme/secret/package.json").is_file());
}
