//! Yarn with private registries (issue 10): yarn classic and Yarn Berry
//! (node-modules linker) install a project with `@acme/secret` from a
//! registry that wants a token, through the server: the job keeps its own
//! config in its home (`~/.npmrc` for classic, `~/.yarnrc.yml` for Berry;
//! the project files carry none), the server uses the operator's
//! credential, the bundle's `node_modules` equals the job's own install made
//! with the token, and the token is in no answer, bundle file or stored file.

use std::path::Path;

use serde_json::{Value, json};

use depcache::install::{PrivateRegistries, parse_credentials};
use depcache::protocol::Manager;

use crate::common::private_registry::{PrivateRegistry, contains, get, start_private_registry};
use crate::common::registry::registry;
use crate::common::server::*;
use crate::common::yarn_project::{
    Flavor, berry_release, berry_version, classic_version, node_eval, yarn_command,
};
use crate::common::{assert_same_tree, unzip_into};

const TOKEN: &str = "acme-yarn-token-9b2d";

/// The job's home config for `flavor`: the scope and its token.
fn job_home(flavor: Flavor, scratch: &Path, acme: &PrivateRegistry) {
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    match flavor {
        Flavor::Classic => std::fs::write(
            home.join(".npmrc"),
            format!(
                "@acme:registry={}\n//{}/:_authToken={TOKEN}\n",
                acme.url(),
                acme.host()
            ),
        ),
        // The private registry sends no publish times, which Yarn 4
        // quarantines while resolving unless the scope's gate is off.
        Flavor::BerryNodeModules | Flavor::BerryPnp => std::fs::write(
            home.join(".yarnrc.yml"),
            format!(
                concat!(
                    "npmScopes:\n  acme:\n    npmRegistryServer: \"{}\"\n",
                    "    npmAuthToken: \"{}\"\n    npmMinimalAgeGate: 0\n"
                ),
                acme.url().trim_end_matches('/'),
                TOKEN
            ),
        ),
    }
    .unwrap();
}

fn yarn(flavor: Flavor, dir: &Path, scratch: &Path, args: &[&str]) {
    let mut cmd = yarn_command(flavor, dir, scratch);
    if flavor == Flavor::Classic {
        cmd.args(["--registry", &registry().url(), "--non-interactive"]);
    }
    let out = cmd
        .args(args)
        .env("YARN_ENABLE_SCRIPTS", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "yarn {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The project files (made with the real yarn and the job's token) and the
/// control install in another folder.
fn project(
    flavor: Flavor,
    acme: &PrivateRegistry,
) -> (Vec<(&'static str, Vec<u8>)>, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    job_home(flavor, scratch.path(), acme);
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = json!({"name": "private-yarn", "version": "1.0.0", "private": true,
        "dependencies": {"@acme/secret": "1.0.0", "dc-util": "1.0.0"}});
    let mut names = vec!["package.json", "yarn.lock"];
    if flavor == Flavor::BerryNodeModules {
        manifest["packageManager"] = json!(format!("yarn@{}", berry_version()));
        std::fs::write(dir.path().join(".yarnrc.yml"), "nodeLinker: node-modules\n").unwrap();
        names.push(".yarnrc.yml");
    }
    std::fs::write(dir.path().join("package.json"), manifest.to_string()).unwrap();
    match flavor {
        Flavor::Classic => yarn(flavor, dir.path(), scratch.path(), &["install"]),
        Flavor::BerryNodeModules | Flavor::BerryPnp => yarn(
            flavor,
            dir.path(),
            scratch.path(),
            &["install", "--mode=update-lockfile"],
        ),
    }
    let files: Vec<(&str, Vec<u8>)> = names
        .iter()
        .map(|n| (*n, std::fs::read(dir.path().join(n)).unwrap()))
        .collect();
    let control = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        std::fs::write(control.path().join(name), bytes).unwrap();
    }
    let install: &[&str] = match flavor {
        Flavor::Classic => &["install", "--frozen-lockfile"],
        Flavor::BerryNodeModules | Flavor::BerryPnp => &["install", "--immutable"],
    };
    yarn(flavor, control.path(), scratch.path(), install);
    (files, control)
}

async fn installs_through_the_server(flavor: Flavor) {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let (files, control) = project(flavor, &acme);
    let lock = String::from_utf8_lossy(&files[1].1).into_owned();
    assert!(lock.contains("@acme/secret"), "{lock}");
    let asked_by_job = acme.authorizations().len();

    let credentials =
        parse_credentials(&format!("{} token {TOKEN}\n", acme.host()), "test").unwrap();
    let scope = format!("@acme={}", acme.url()).parse().unwrap();
    let server = TestServer::start(ServerOptions {
        private: PrivateRegistries::new(vec![scope], credentials).unwrap(),
        scoped_keys: vec![(
            "public-only".to_string(),
            depcache::server::KeyScopes::Only(Default::default()),
        )],
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await;
    let yarn_version = match flavor {
        Flavor::Classic => classic_version(),
        Flavor::BerryNodeModules | Flavor::BerryPnp => berry_version(),
    };
    let mut versions = host_versions(Manager::Yarn);
    versions.insert("yarn".to_string(), yarn_version);
    // As `fetch` sends it when the job maps the scope: this server has it.
    let mut request = cache_request_with(Manager::Yarn, &files, versions, None);
    request.private_scopes = vec!["@acme".to_string()];
    let body = serde_json::to_value(request).unwrap();

    // The lockfile names the private scope: a key without it learns nothing.
    let (status, answer) = post_cache(&server, Some("public-only"), &body).await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(!contains(answer.to_string().as_bytes(), TOKEN));
    let asked = &acme.authorizations()[asked_by_job..];
    assert!(
        !asked.is_empty() && asked.iter().all(|a| a.contains(TOKEN)),
        "{asked:?}"
    );
    let (status, index) = get(answer["index_url"].as_str().unwrap(), API_KEY).await;
    assert_eq!(status, 200);
    let index: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(index["registries"], json!([acme.host()]), "{index}");

    let out = tempfile::tempdir().unwrap();
    let bundle = out.path().join("bundle.zip");
    let status = download(
        answer["download_url"].as_str().unwrap(),
        Some(API_KEY),
        &bundle,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!contains(&std::fs::read(&bundle).unwrap(), TOKEN));
    let tree = out.path().join("tree");
    unzip_into(&bundle, &tree);
    assert_same_tree(
        &tree.join("node_modules"),
        &control.path().join("node_modules"),
    );
    for entry in walkdir::WalkDir::new(out.path())
        .into_iter()
        .chain(walkdir::WalkDir::new(server.store.path()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!contains(&bytes, TOKEN), "{}", entry.path().display());
    }
    assert_eq!(
        node_eval(&tree, "console.log(require('@acme/secret'))"),
        "acme internal"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_installs_a_private_scope_through_the_server() {
    installs_through_the_server(Flavor::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_installs_a_private_scope_through_the_server() {
    installs_through_the_server(Flavor::BerryNodeModules).await;
}

/// A Berry project whose job maps `@acme` to a registry of its own, asked of
/// a server that has no registry for it: refused before the install, so the
/// server's default registry never hears of `@acme/*`; `hash --json` lists
/// the scope the client sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_scope_the_server_lacks_never_reaches_its_default_registry() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let (files, _control) = project(Flavor::BerryNodeModules, &acme);
    let server = TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await;
    let mut versions = host_versions(Manager::Yarn);
    versions.insert("yarn".to_string(), berry_version());
    let mut request = cache_request_with(Manager::Yarn, &files, versions, None);
    request.private_scopes = vec!["@acme".to_string()];
    let before = registry().requests_for_scope("@acme");
    let (status, answer) = post_cache(
        &server,
        Some(API_KEY),
        &serde_json::to_value(request).unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "unsupported_project", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("fetches @acme from its own registry"),
        "{answer}"
    );
    assert_eq!(registry().requests_for_scope("@acme"), before);
    server.stop().await;

    // The client finds the scope in the project's own `.yarnrc.yml`.
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    std::fs::write(
        dir.path().join(".yarnrc.yml"),
        format!(
            "nodeLinker: node-modules\nnpmScopes:\n  acme:\n    npmRegistryServer: \"{}\"\n  \
unused:\n    npmRegistryServer: \"{}\"\n",
            acme.url(),
            acme.url()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["hash", "yarn", "--json", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["private_scopes"], json!(["@acme"]), "{doc}");
}
