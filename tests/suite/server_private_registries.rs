//! Private registries (issue 17): an `@acme` scope on a registry that wants a
//! token, beside public packages. The install succeeds with the operator's
//! credential; the credential appears in no answer, index, bundle, 422 tail
//! or log line; a request cannot redirect the scope; and an API key without
//! the registry's scope gets 403 on the POST, the index and the download.

use std::path::Path;

use depcache::install::{PrivateRegistries, parse_credentials};
use depcache::protocol::Manager;
use depcache::server::KeyScopes;
use serde_json::{Value, json};

use crate::common::npm_project::npm_command;
use crate::common::private_registry::{PrivateRegistry, contains, get, start_private_registry};
use crate::common::registry;
use crate::common::server::*;

const TOKEN: &str = "acme-npm-token-7d1c0ffee";
const TEAM_KEY: &str = "team-with-acme";
const PUBLIC_KEY: &str = "team-public-only";

fn private_settings(acme: &PrivateRegistry) -> PrivateRegistries {
    let credentials =
        parse_credentials(&format!("{} token {TOKEN}\n", acme.host()), "test").unwrap();
    let scope = format!("@acme={}", acme.url()).parse().unwrap();
    PrivateRegistries::new(vec![scope], credentials).unwrap()
}

async fn private_server(acme: &PrivateRegistry) -> TestServer {
    TestServer::start(ServerOptions {
        private: private_settings(acme),
        scoped_keys: vec![
            (
                TEAM_KEY.to_string(),
                KeyScopes::Only([acme.host()].into_iter().collect()),
            ),
            (PUBLIC_KEY.to_string(), KeyScopes::Only(Default::default())),
        ],
        ..ServerOptions::npm()
    })
    .await
}

/// package.json + the lockfile the real npm makes with the credential.
fn acme_project(dir: &Path, acme: &PrivateRegistry) -> Vec<(&'static str, Vec<u8>)> {
    let package = json!({"name": "app", "version": "1.0.0", "private": true,
        "dependencies": {"@acme/secret": "^1.0.0", "dc-util": "^1.0.0"}});
    std::fs::write(dir.join("package.json"), package.to_string()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let host = acme.host();
    std::fs::write(
        scratch.path().join("npmrc"),
        format!(
            "@acme:registry={}\n//{host}/:_authToken={TOKEN}\n",
            acme.url()
        ),
    )
    .unwrap();
    let out = npm_command(dir, scratch.path())
        .args(["install", "--package-lock-only", "--ignore-scripts"])
        .args(["--registry", &registry().url()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::common::npm_project::npm_project_files(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_private_package_installs_and_its_token_leaks_nowhere() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let server = private_server(&acme).await;
    let dir = tempfile::tempdir().unwrap();
    let files = acme_project(dir.path(), &acme);
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();

    let (status, answer) = post_cache(&server, Some(TEAM_KEY), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(!contains(answer.to_string().as_bytes(), TOKEN));
    // The install really used the credential.
    assert!(acme.authorizations().iter().any(|a| a.contains(TOKEN)));

    let (status, index) = get(answer["index_url"].as_str().unwrap(), TEAM_KEY).await;
    assert_eq!(status, 200);
    assert!(!contains(&index, TOKEN));
    let index: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(index["registries"], json!([acme.host()]), "{index}");

    let bundle = dir.path().join("bundle.zip");
    let status = download(
        answer["download_url"].as_str().unwrap(),
        Some(TEAM_KEY),
        &bundle,
    )
    .await;
    assert_eq!(status, 200);
    let tree = dir.path().join("tree");
    crate::common::unzip_into(&bundle, &tree);
    let installed =
        std::fs::read_to_string(tree.join("node_modules/@acme/secret/index.js")).unwrap();
    assert!(installed.contains("acme internal"));
    assert!(tree.join("node_modules/dc-util/index.js").is_file());
    for entry in walkdir::WalkDir::new(&tree)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !contains(&bytes, TOKEN),
                "{} holds the token",
                entry.path().display()
            );
        }
    }
    // Nor anything the server stored (indexes are plain JSON).
    for entry in walkdir::WalkDir::new(server.store.path().join("indexes"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        assert!(!contains(&std::fs::read(entry.path()).unwrap(), TOKEN));
    }
    // The real client restores it (the index's `registries` is no obstacle).
    run_fetch(&server, dir.path(), "npm", &[]).await;
    let restored = dir.path().join("node_modules/@acme/secret/index.js");
    assert_eq!(std::fs::read_to_string(restored).unwrap(), installed);
    // Staging is empty again: the install's .npmrc went with its folder.
    let leftovers = count_files(&server.store.path().join("staging"));
    assert_eq!(leftovers, 0, "files left in staging");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_registry_scope_gets_403_on_post_index_and_download() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let server = private_server(&acme).await;
    let dir = tempfile::tempdir().unwrap();
    let files = acme_project(dir.path(), &acme);
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();

    // A miss: refused before anything is installed.
    let (status, answer) = post_cache(&server, Some(PUBLIC_KEY), &body).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"], "missing_scope");
    assert!(
        answer["message"].as_str().unwrap().contains(&acme.host()),
        "{answer}"
    );
    assert_eq!(metric(&server, "depcache_installs_started_total").await, 0);

    // Keys allowed every registry (the default) and this one get the tree.
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = post_cache(&server, Some(TEAM_KEY), &body).await;
    assert_eq!(status, 200);

    // A hit: still refused, and so are the index, the bundle and the GET
    // by key (answered from the key's summary, which keeps the registries).
    let (status, refused) = post_cache(&server, Some(PUBLIC_KEY), &body).await;
    assert_eq!(status, 403, "{refused}");
    let by_key = json!(format!(
        "{}/v1/cache/{}",
        server.url,
        answer["key"].as_str().unwrap()
    ));
    for url in [&answer["index_url"], &answer["download_url"], &by_key] {
        let (status, bytes) = get(url.as_str().unwrap(), PUBLIC_KEY).await;
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&bytes));
        let error: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(error["error"], "missing_scope");
        assert!(error["message"].as_str().unwrap().contains(&acme.host()));
        let (status, _) = get(url.as_str().unwrap(), TEAM_KEY).await;
        assert_eq!(status, 200);
    }

    // Public trees stay open to the public-only key.
    let public = cache_request(
        Manager::Npm,
        &[(
            "package.json",
            json!({"name": "p", "version": "1.0.0", "dependencies": {"dc-util": "1.0.0"}})
                .to_string()
                .into_bytes(),
        )],
    );
    let (status, answer) = post_cache(
        &server,
        Some(PUBLIC_KEY),
        &serde_json::to_value(public).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_output_quoting_the_token_is_scrubbed_from_the_422() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let server = private_server(&acme).await;
    // No lockfile: npm install asks the registry for @acme/leaky, whose 404
    // quotes the Authorization header, and npm prints it.
    let package = json!({"name": "app", "version": "1.0.0",
        "dependencies": {"@acme/leaky": "^1.0.0"}});
    let request = cache_request(
        Manager::Npm,
        &[("package.json", package.to_string().into_bytes())],
    );
    let (status, answer) = post_cache(
        &server,
        Some(API_KEY),
        &serde_json::to_value(request).unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "install_failed");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("404"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
    assert!(message.contains("<credential>"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cannot_redirect_the_scope() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let evil = start_private_registry("Bearer nobody");
    let server = private_server(&acme).await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = acme_project(dir.path(), &acme);

    // Its own .npmrc is not a file a request may carry.
    let npmrc = format!("@acme:registry={}\n", evil.url());
    files.push((".npmrc", npmrc.into_bytes()));
    let (status, answer) = post_cache(
        &server,
        Some(API_KEY),
        &serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    files.pop();

    // Nor can its lockfile move the scoped package to another host.
    let lock = String::from_utf8(files[1].1.clone()).unwrap();
    let moved = lock.replace(&acme.host(), &evil.host());
    assert_ne!(moved, lock);
    files[1].1 = moved.into_bytes();
    let (status, answer) = post_cache(
        &server,
        Some(API_KEY),
        &serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "untrusted_source");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("node_modules/@acme/secret"),
        "{answer}"
    );
    assert!(
        evil.authorizations().is_empty(),
        "the other host was contacted"
    );
    server.stop().await;
}
