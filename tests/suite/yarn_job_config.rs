//! A yarn project whose own config files hold the job's registries and
//! credentials (classic `.npmrc`, Berry `.yarnrc.yml` `npmRegistryServer`,
//! `npmScopes` with a token): `fetch` takes those lines out before asking,
//! as for pnpm, so the project is cached (miss and hit restore the tree the
//! job's own install makes with its files) and the secret reaches neither
//! the server nor its store; `hash --json` lists what was taken; the job's
//! files are left as they were. A classic lockfile resolved from a registry
//! the server does not trust is still refused.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::assert_same_tree;
use crate::common::registry::registry;
use crate::common::server::{API_KEY, ServerOptions, TestServer, run_fetch};
use crate::common::yarn_project::{
    Flavor, berry_release, node_eval, yarn_project, yarn_reference_with,
};

const SECRET: &str = "job-token-5c1e";

/// The job's registry and credential lines, in the project's own file; the
/// name of that file and the settings `hash --json` must list as dropped.
fn job_config(flavor: Flavor, dir: &Path) -> (&'static str, Vec<&'static str>) {
    let url = registry().url();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    match flavor {
        Flavor::Classic => {
            let text = format!(
                "registry={url}\n@corp:registry=https://npm.corp.example/\n\
//{host}/:_authToken={SECRET}\nsave-exact=true\n"
            );
            std::fs::write(dir.join(".npmrc"), text).unwrap();
            (
                ".npmrc",
                vec!["registry", "@corp:registry", "//{host}/:_authToken"],
            )
        }
        Flavor::BerryNodeModules | Flavor::BerryPnp => {
            let mut text = std::fs::read_to_string(dir.join(".yarnrc.yml")).unwrap();
            text.push_str(&format!(
                "npmRegistryServer: \"{}\"\nnpmScopes:\n  corp:\n    \
npmRegistryServer: \"https://npm.corp.example\"\n    npmAuthToken: \"{SECRET}\"\n\
unsafeHttpWhitelist:\n  - 127.0.0.1\n",
                url.trim_end_matches('/')
            ));
            std::fs::write(dir.join(".yarnrc.yml"), text).unwrap();
            (
                ".yarnrc.yml",
                vec!["npmRegistryServer", "npmScopes", "unsafeHttpWhitelist"],
            )
        }
    }
}

fn hash_json(dir: &Path) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["hash", "yarn", "--json", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn holds_secret(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())
        })
        .map(|e| e.path().display().to_string())
        .collect()
}

async fn cached_without_the_jobs_lines(flavor: Flavor) {
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        flavor,
        project.path(),
        &[("dc-util", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        json!({}),
    );
    let (file, keys) = job_config(flavor, project.path());
    let written = std::fs::read(project.path().join(file)).unwrap();
    // The job's own install, with its own files.
    let extra: &[&str] = if flavor == Flavor::Classic {
        &[".npmrc"]
    } else {
        &[]
    };
    let reference = yarn_reference_with(flavor, project.path(), extra);

    let doc = hash_json(project.path());
    let dropped: Vec<(String, String)> = doc["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let host = registry().url();
    let host = host.trim_start_matches("http://").trim_end_matches('/');
    let expected: Vec<(String, String)> = keys
        .iter()
        .map(|k| (file.to_string(), k.replace("{host}", host)))
        .collect();
    assert_eq!(dropped, expected, "{doc}");
    // What is left of the file is sent and keyed.
    let sent = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == file)
        .map(|f| f["bytes"].as_u64().unwrap());
    let left = if flavor == Flavor::Classic {
        "save-exact=true\n"
    } else {
        "nodeLinker: node-modules\n"
    };
    assert_eq!(sent, Some(left.len() as u64), "{doc}");
    assert!(!doc.to_string().contains(SECRET));

    let server = TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await;
    let modules = project.path().join("node_modules");
    let expected = reference.path().join("node_modules");
    let first = run_fetch(&server, project.path(), "yarn", &[]).await;
    assert!(first.contains("cache miss"), "{first}");
    assert_same_tree(&modules, &expected);
    std::fs::remove_dir_all(&modules).unwrap();
    let second = run_fetch(&server, project.path(), "yarn", &[]).await;
    assert!(second.contains("cache hit"), "{second}");
    assert_same_tree(&modules, &expected);
    assert_eq!(
        node_eval(project.path(), "console.log(require('dc-util').version)"),
        "1.0.0"
    );
    assert_eq!(std::fs::read(project.path().join(file)).unwrap(), written);
    assert_eq!(holds_secret(server.store.path()), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_npmrc_registry_and_token_lines_stay_in_the_job() {
    cached_without_the_jobs_lines(Flavor::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_yarnrc_registry_and_token_blocks_stay_in_the_job() {
    cached_without_the_jobs_lines(Flavor::BerryNodeModules).await;
}

/// The lines go, the trust check stays: a classic lockfile whose `resolved`
/// URLs name a registry the server does not trust is refused, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_lockfile_from_an_untrusted_registry_is_still_refused() {
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        Flavor::Classic,
        project.path(),
        &[("dc-util", "1.0.0")],
        &[],
        json!({}),
    );
    let lock = std::fs::read_to_string(project.path().join("yarn.lock")).unwrap();
    let url = registry().url();
    assert!(lock.contains(&url), "{lock}");
    let lock = lock.replace(&url, "https://npm.corp.example/");
    std::fs::write(project.path().join("yarn.lock"), lock).unwrap();
    std::fs::write(
        project.path().join(".npmrc"),
        format!("registry=https://npm.corp.example/\n//npm.corp.example/:_authToken={SECRET}\n"),
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", "yarn", "--no-fallback", "--server", &server.url])
        .arg("--dir")
        .arg(project.path())
        .env("DEPCACHE_API_KEY", API_KEY)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("npm.corp.example"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    assert_eq!(server.index_count(), 0);
    assert_eq!(holds_secret(server.store.path()), Vec::<String>::new());
    server.stop().await;
}
