//! A yarn classic project whose registry is https under an internal CA
//! (an intercepting proxy, a mirror): with `--registry-ca` the server's
//! install trusts it as npm's and pnpm's do, though the request needs no
//! private registry and so runs with `--no-default-rc`. Found by the
//! real-world sweep (docs/compatibility.md): yarn failed with
//! "self-signed certificate in certificate chain" where npm installed.

use std::collections::BTreeMap;

use depcache::install::{PrivateRegistries, RegistryCa};
use depcache::protocol::Manager;
use serde_json::json;

use crate::common::registry;
use crate::common::server::{
    API_KEY, ServerOptions, TestServer, cache_request_with, download, host_tools, post_cache,
};
use crate::common::tls_proxy::start_tls_proxy;
use crate::common::yarn_project::{Flavor, yarn_project};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_trusts_the_registry_ca_without_private_registries() {
    let proxy = start_tls_proxy(registry().addr());
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        Flavor::Classic,
        project.path(),
        &[("dc-util", "1.0.0")],
        &[],
        json!({}),
    );
    // The lockfile as a job behind the https registry has it.
    let lock = std::fs::read_to_string(project.path().join("yarn.lock")).unwrap();
    assert!(lock.contains(&registry().url()), "{lock}");
    let lock = lock.replace(&registry().url(), &proxy.url());
    let manifest = std::fs::read(project.path().join("package.json")).unwrap();
    let files = [("package.json", manifest), ("yarn.lock", lock.into_bytes())];
    let server = TestServer::start(ServerOptions {
        npm_registry: Some(proxy.url()),
        private: PrivateRegistries::default().with_ca(RegistryCa::load(&proxy.ca).unwrap()),
        ..ServerOptions::default()
    })
    .await;
    let versions = BTreeMap::from([
        ("node".to_string(), host_tools().node.clone().unwrap()),
        ("yarn".to_string(), host_tools().yarn.clone().unwrap()),
    ]);
    let request = cache_request_with(Manager::Yarn, &files, versions, None);
    let (status, answer) = post_cache(&server, Some(API_KEY), &json!(request)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        proxy.relayed() > 0,
        "the install never used the https registry"
    );

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.zip");
    let status = download(
        answer["download_url"].as_str().unwrap(),
        Some(API_KEY),
        &bundle,
    )
    .await;
    assert_eq!(status, 200);
    let tree = dir.path().join("tree");
    crate::common::unzip_into(&bundle, &tree);
    assert!(tree.join("node_modules/dc-util/package.json").is_file());
    server.stop().await;
}
