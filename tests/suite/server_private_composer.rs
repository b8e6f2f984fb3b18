//! Private registries, composer part (issue 17): a composer repository over
//! https (an internal CA, `--registry-ca`) that wants HTTP basic auth. The
//! install succeeds with the operator's credential, which appears in no
//! answer, index or bundle; a key without the registry's scope gets 403 on
//! the POST, the index and the download.

use base64::Engine;
use depcache::install::{PrivateRegistries, RegistryCa, parse_credentials};
use depcache::protocol::Manager;
use depcache::server::KeyScopes;
use serde_json::{Value, json};

use crate::common::private_composer::{ComposerRepo, start_composer_repo};
use crate::common::private_registry::{contains, get};
use crate::common::server::*;

const USER: &str = "ci-reader";
const PASSWORD: &str = "s3cret-composer-pw-91b2";
const TEAM_KEY: &str = "composer-team";
const PUBLIC_KEY: &str = "composer-public";

fn files(repo: &ComposerRepo) -> Vec<(&'static str, Vec<u8>)> {
    let manifest = json!({
        "name": "acme/app", "version": "1.0.0", "type": "project",
        "require": {"acme/private-lib": "1.0.0"},
        "repositories": [{"type": "composer", "url": repo.url()}, {"packagist.org": false}],
        "config": {"autoloader-suffix": "depcache"},
    });
    let lock = json!({
        "_readme": ["handwritten for the test"], "content-hash": "0",
        "packages": [repo.locked_package()], "packages-dev": [], "aliases": [],
        "minimum-stability": "stable", "stability-flags": [], "prefer-stable": false,
        "prefer-lowest": false, "platform": [], "platform-dev": [],
        "plugin-api-version": "2.3.0",
    });
    vec![
        (
            "composer.json",
            serde_json::to_vec_pretty(&manifest).unwrap(),
        ),
        ("composer.lock", serde_json::to_vec_pretty(&lock).unwrap()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_composer_repository_with_http_basic() {
    let pair = format!("{USER}:{PASSWORD}");
    let basic = base64::engine::general_purpose::STANDARD.encode(&pair);
    let repo = start_composer_repo(&format!("Basic {basic}"));
    let credentials = parse_credentials(&format!("{} basic {pair}\n", repo.host()), "t").unwrap();
    let private = PrivateRegistries::new(vec![], credentials)
        .unwrap()
        .with_ca(RegistryCa::load(&repo.ca).unwrap());
    let server = TestServer::start(ServerOptions {
        allow_registry_hosts: vec![repo.host()],
        private,
        scoped_keys: vec![
            (
                TEAM_KEY.to_string(),
                KeyScopes::Only([repo.host()].into_iter().collect()),
            ),
            (PUBLIC_KEY.to_string(), KeyScopes::Only(Default::default())),
        ],
        ..ServerOptions::default()
    })
    .await;
    let body = serde_json::to_value(cache_request(Manager::Composer, &files(&repo))).unwrap();

    let (status, answer) = post_cache(&server, Some(PUBLIC_KEY), &body).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"], "missing_scope");
    assert!(
        repo.authorizations().is_empty(),
        "installed for a refused key"
    );

    let (status, answer) = post_cache(&server, Some(TEAM_KEY), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(repo.authorizations().iter().any(|a| a.contains(&basic)));
    let text = answer.to_string();
    for secret in [PASSWORD, basic.as_str()] {
        assert!(!text.contains(secret));
    }

    let (status, index) = get(answer["index_url"].as_str().unwrap(), TEAM_KEY).await;
    assert_eq!(status, 200);
    let parsed: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(parsed["registries"], json!([repo.host()]));
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.zip");
    let status = download(
        answer["download_url"].as_str().unwrap(),
        Some(TEAM_KEY),
        &bundle,
    )
    .await;
    assert_eq!(status, 200);
    let tree = dir.path().join("tree");
    crate::common::unzip_into(&bundle, &tree);
    assert!(tree.join("vendor/acme/private-lib/src/Lib.php").is_file());
    for entry in walkdir::WalkDir::new(&tree)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            for secret in [PASSWORD, basic.as_str()] {
                assert!(!contains(&bytes, secret), "{}", entry.path().display());
            }
        }
    }
    assert!(!contains(&index, PASSWORD));

    // The tree exists now; the public-only key still gets none of it.
    let (status, _) = post_cache(&server, Some(PUBLIC_KEY), &body).await;
    assert_eq!(status, 403);
    for url in [&answer["index_url"], &answer["download_url"]] {
        let (status, bytes) = get(url.as_str().unwrap(), PUBLIC_KEY).await;
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&bytes));
        assert!(contains(&bytes, &repo.host()));
    }
    server.stop().await;
}
