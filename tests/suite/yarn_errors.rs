//! Yarn requests the server refuses before installing anything: a config
//! file with a credential or a registry override (400 naming the line), a
//! yarn version it cannot get (400 listing what it can), and project shapes
//! it cannot reproduce (422 `unsupported_project`, which the real client
//! answers with a local install, saying why, as it does for trees whose
//! packages have install scripts).

use std::collections::BTreeMap;

use depcache::protocol::Manager;
use serde_json::{Value, json};

use crate::common::server::{
    API_KEY, ServerOptions, TestServer, cache_request_with, host_tools, post_cache,
};
use crate::common::yarn_project::{Flavor, berry_release, berry_version, yarn_project};

fn versions(yarn: &str) -> BTreeMap<String, String> {
    let node = host_tools().node.clone().expect("node on PATH");
    BTreeMap::from([
        ("node".to_string(), node),
        ("yarn".to_string(), yarn.to_string()),
    ])
}

/// A Berry request for `yarn` with `rc` as its `.yarnrc.yml`.
fn berry_request_for(rc: &str, yarn: &str) -> Value {
    let files = [
        ("package.json", b"{\"name\":\"x\"}".to_vec()),
        ("yarn.lock", b"__metadata:\n  version: 8\n".to_vec()),
        (".yarnrc.yml", rc.as_bytes().to_vec()),
    ];
    serde_json::to_value(cache_request_with(
        Manager::Yarn,
        &files,
        versions(yarn),
        None,
    ))
    .unwrap()
}

fn berry_request(rc: &str) -> Value {
    berry_request_for(rc, &berry_version())
}

async fn server() -> TestServer {
    TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarnrc_with_a_credential_or_a_registry_is_refused_naming_the_line() {
    let server = server().await;
    let cases = [
        (
            "nodeLinker: node-modules\nnpmAuthToken: \"s3cret\"\n",
            "line 2 sets npmAuthToken, a credential",
        ),
        (
            "npmScopes:\n  acme:\n    npmAuthToken: abc\n",
            "line 3 sets npmAuthToken, a credential",
        ),
        (
            "# mirror\nnpmRegistryServer: \"https://mirror.example\"\n",
            "line 2 sets npmRegistryServer, a registry override",
        ),
        (
            "cacheFolder: /var/cache/yarn\n",
            "line 1 sets cacheFolder, a path",
        ),
    ];
    for (rc, said) in cases {
        let (status, body) = post_cache(&server, Some(API_KEY), &berry_request(rc)).await;
        assert_eq!(status, 400, "{rc}: {body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(".yarnrc.yml"), "{message}");
        assert!(message.contains(said), "{rc}: {message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
    // A classic .npmrc registry line too.
    let files = [
        ("package.json", b"{\"name\":\"x\"}".to_vec()),
        ("yarn.lock", b"# yarn lockfile v1\n".to_vec()),
        (
            ".npmrc",
            b"save-exact=true\nregistry=https://mirror.example/\n".to_vec(),
        ),
    ];
    let classic = host_tools().yarn.clone().expect("yarn classic on PATH");
    let request = cache_request_with(Manager::Yarn, &files, versions(&classic), None);
    let (status, body) = post_cache(&server, Some(API_KEY), &json!(request)).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(".npmrc line 2 sets registry, a registry override"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yarn_version_the_server_cannot_get_is_refused_listing_what_it_can() {
    let server = server().await;
    let request = berry_request_for("nodeLinker: node-modules\n", "3.0.1");
    let (status, body) = post_cache(&server, Some(API_KEY), &request).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unsupported_version", "{body}");
    let message = body["message"].as_str().unwrap();
    // The registry's answer, then what the server has besides.
    assert!(
        message.contains("@yarnpkg/cli-dist 3.0.1 is not published on"),
        "{message}"
    );
    let classic = host_tools().yarn.clone().unwrap();
    // The PATH yarn is classic: named as the bin it is, not as the
    // @yarnpkg/cli-dist package that was asked for.
    assert!(
        message.contains(&format!("this server can use: yarn {classic} (PATH)")),
        "{message}"
    );
    assert!(!message.contains("@yarnpkg/cli-dist 1."), "{message}");
    assert!(
        message.contains(&format!("/ yarn {classic} (PATH)")),
        "{message}"
    );
    assert!(
        message.contains(&format!("/ yarn {} (toolchain)", berry_version())),
        "{message}"
    );
    assert!(
        message.contains("any yarn version the npm registry publishes"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plug_n_play_with_the_global_cache_and_yarn_path_are_unsupported_projects() {
    let server = server().await;
    for (rc, said) in [
        (
            "",
            "Plug'n'Play with the global cache (enableGlobalCache true)",
        ),
        (
            "nodeLinker: pnp\nenableGlobalCache: true\n",
            "set enableGlobalCache: false in .yarnrc.yml",
        ),
        ("nodeLinker: pnpm\n", "nodeLinker pnpm"),
        (
            "nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.1.0.cjs\n",
            ".yarnrc.yml line 2 sets yarnPath",
        ),
    ] {
        let (status, body) = post_cache(&server, Some(API_KEY), &berry_request(rc)).await;
        assert_eq!(status, 422, "{rc}: {body}");
        assert_eq!(body["error"], "unsupported_project", "{body}");
        assert!(body["message"].as_str().unwrap().contains(said), "{body}");
    }
    assert_eq!(server.index_count(), 0);
    server.stop().await;
}

/// A yarn tree that builds differs from the server's scripts-off one: the
/// server refuses it after installing (422) and stores nothing, the client
/// installs locally, where yarn runs the scripts; a root install script is
/// refused before any install.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_with_install_scripts_are_installed_locally_with_them() {
    let server = server().await;
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        Flavor::Classic,
        project.path(),
        &[("dc-script", "1.0.0")],
        &[],
        json!({}),
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", "yarn", "--server", &server.url, "--dir"])
        .arg(project.path())
        .env("DEPCACHE_API_KEY", API_KEY)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("dc-script has an install script (preinstall script)"),
        "{stderr}"
    );
    let built = project
        .path()
        .join("node_modules/dc-script/postinstall.txt");
    assert!(built.is_file(), "the local yarn ran the scripts: {stderr}");
    assert_eq!(server.index_count(), 0);

    let files = [
        (
            "package.json",
            br#"{"name":"x","scripts":{"postinstall":"node setup.js"}}"#.to_vec(),
        ),
        ("yarn.lock", b"# yarn lockfile v1\n".to_vec()),
    ];
    let classic = host_tools().yarn.clone().unwrap();
    let request = cache_request_with(Manager::Yarn, &files, versions(&classic), None);
    let (status, body) = post_cache(&server, Some(API_KEY), &json!(request)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "unsupported_project", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("package.json has a postinstall script, which yarn runs on install"),
        "{body}"
    );
    server.stop().await;
}

/// Berry has no production install: `--omit-dev` with a Berry lockfile is
/// refused on validation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berry_omit_dev_is_refused() {
    let server = server().await;
    let mut berry = berry_request("nodeLinker: node-modules\n");
    berry["options"] = json!({"omit_dev": true});
    // Refused on validation, before the key is even compared.
    let (status, body) = post_cache(&server, Some(API_KEY), &berry).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("yarn classic only"),
        "{body}"
    );
    server.stop().await;
}

/// `serve --yarn-release` asks the file its version at start-up: one that
/// is no yarn stops the server with a sentence and the usage exit code.
#[test]
fn a_yarn_release_that_is_no_yarn_stops_the_server() {
    let store = tempfile::tempdir().unwrap();
    let not_yarn = store.path().join("yarn.js");
    std::fs::write(&not_yarn, "console.log('hello')\n").unwrap();
    let args = [
        "--is-public",
        "--cache-dir",
        store.path().to_str().unwrap(),
        "--yarn-release",
        not_yarn.to_str().unwrap(),
    ];
    let (code, stderr) = crate::common::server::spawn_binary_server(&args, &[])
        .map(|(mut child, _)| {
            child.kill().unwrap();
            panic!("the server started")
        })
        .unwrap_err();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--yarn-release") && stderr.contains("printed \"hello\", not a version"),
        "{stderr}"
    );
}
