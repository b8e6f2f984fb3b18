//! pnpm end to end: the real server and binary, the real pnpm against the
//! test registry. A restored project must be the folder pnpm itself makes
//! in the same place: same paths, bytes, modes and symlink targets. Two
//! fields differ between any two real installs and are left out of the
//! comparison: `prunedAt` in node_modules/.modules.yaml and
//! `lastValidatedTimestamp` in node_modules/.pnpm-workspace-state-v1.json
//! (both the time of the install); and the two state files are compared as
//! data, not bytes, because pnpm writes some maps (`hoistedLocations`) in
//! the order its install happened to finish them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::registry::registry;
use crate::common::server::{API_KEY, ServerOptions, TestServer, post_cache};
use crate::common::tree::{Node, diff_manifests, tree_manifest};

/// Where the job keeps pnpm's home (its store) and how it reaches the
/// registry: the environment, as a CI job would (a project `.npmrc` naming
/// a registry is refused).
pub(crate) struct Job {
    home: tempfile::TempDir,
}

impl Job {
    pub(crate) fn new() -> Self {
        Job {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", self.home.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("PNPM_HOME")
            .env("npm_config_registry", registry().url())
            .env("npm_config_update_notifier", "false")
            .env("CI", "true");
    }

    pub(crate) fn pnpm(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new("pnpm");
        self.env(&mut cmd);
        let out = cmd
            .current_dir(dir)
            .args(args)
            .output()
            .expect("spawn pnpm");
        assert!(
            out.status.success(),
            "pnpm {args:?} failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    pub(crate) fn fetch(&self, server: &TestServer, dir: &Path, extra: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_depcache"));
        self.env(&mut cmd);
        cmd.args(["fetch", "pnpm", "--server", &server.url, "--dir"])
            .arg(dir)
            .args(extra)
            .env("DEPCACHE_API_KEY", API_KEY)
            .output()
            .unwrap()
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A runtime dep (dc-util 1.0.0, and dc-other with its own dependency), a
/// dev dep with a bin (dc-cli), and a nested conflict: dc-pin needs dc-util
/// 1.1.0 while the root pins 1.0.0.
pub(crate) fn project(job: &Job) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifest = json!({
        "name": "pnpm-fixture",
        "version": "1.0.0",
        "private": true,
        "dependencies": {"dc-util": "1.0.0", "dc-other": "^1.0.0", "dc-pin": "1.0.0"},
        "devDependencies": {"dc-cli": "^1.0.0"}
    });
    std::fs::write(
        dir.path().join("package.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    job.pnpm(dir.path(), &["install", "--lockfile-only"]);
    dir
}

/// The tree with the two install-time fields blanked (see the module doc).
pub(crate) fn manifest(root: &Path) -> BTreeMap<String, Node> {
    let mut tree = tree_manifest(root);
    for (file, field) in [
        (".modules.yaml", "prunedAt"),
        (".pnpm-workspace-state-v1.json", "lastValidatedTimestamp"),
    ] {
        let Some(Node::File { mode, .. }) = tree.get(file).cloned() else {
            panic!("{file} missing from {}", root.display());
        };
        let body = std::fs::read(root.join(file)).unwrap();
        let mut data: serde_json::Value = serde_yaml_ng::from_slice(&body).unwrap();
        data.as_object_mut().unwrap().remove(field);
        // serde_json's maps are sorted: the order pnpm wrote is gone.
        let sha256 = hex::encode(Sha256::digest(data.to_string().as_bytes()));
        tree.insert(file.to_string(), Node::File { sha256, mode });
    }
    tree
}

pub(crate) fn assert_same(
    actual: &BTreeMap<String, Node>,
    expected: &BTreeMap<String, Node>,
    what: &str,
) {
    let (lines, total) = diff_manifests(actual, expected, 20);
    assert_eq!(
        total,
        0,
        "{what}: {total} paths differ:\n{}",
        lines.join("\n")
    );
}

// Multi-threaded: the fetch below blocks its thread while the in-process
// server answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_and_hit_restore_the_folder_pnpm_makes() {
    restores_like_pnpm(None).await;
}

/// A layout setting reaches the server's pnpm (the hoisted linker makes no
/// `.pnpm` folder), and the credential and non-layout lines beside it are
/// stripped without changing the tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_npmrc_layout_setting_shapes_the_cached_tree() {
    let modules = restores_like_pnpm(Some(
        "node-linker=hoisted\n//registry.example/:_authToken=not-sent\nfund=false\n",
    ))
    .await;
    // Hoisted: real folders, the conflicting version nested under its user.
    assert!(
        modules.contains(&"dc-pin/node_modules/dc-util/index.js".to_string()),
        "{modules:?}"
    );
    assert!(
        !modules.iter().any(|p| p.starts_with(".pnpm/dc-util")),
        "{modules:?}"
    );
}

/// The control install, then miss and hit restores compared with it; the
/// restored tree's paths.
async fn restores_like_pnpm(npmrc: Option<&str>) -> Vec<String> {
    let job = Job::new();
    let project = project(&job);
    let dir = project.path();
    if let Some(npmrc) = npmrc {
        std::fs::write(dir.join(".npmrc"), npmrc).unwrap();
    }
    let modules = dir.join("node_modules");
    // The control: pnpm's own install in this very folder (its shims name
    // the folder), then removed.
    job.pnpm(dir, &["install", "--frozen-lockfile"]);
    let control = manifest(&modules);
    if npmrc.is_none() {
        assert!(
            matches!(control.get("dc-util"), Some(Node::Symlink { target }) if target == ".pnpm/dc-util@1.0.0/node_modules/dc-util"),
            "{:?}",
            control.get("dc-util")
        );
        assert!(
            control.contains_key(".pnpm/dc-util@1.1.0/node_modules/dc-util/index.js"),
            "no nested conflict"
        );
    }
    std::fs::remove_dir_all(&modules).unwrap();

    let server = TestServer::start(ServerOptions::npm()).await;
    // With a local store: the first fills it, the second links from it; its
    // objects must keep the index's contents while the job's files get paths.
    let store = tempfile::tempdir().unwrap();
    let store_arg = format!("--local-store={}", store.path().display());
    let rounds: [(&str, &[&str]); 4] = [
        ("miss", &[]),
        ("hit", &[]),
        ("local store, filled", &[&store_arg]),
        ("local store, linked", &[&store_arg]),
    ];
    for (round, extra) in rounds {
        let mut args = vec!["--no-fallback"];
        args.extend_from_slice(extra);
        let out = job.fetch(&server, dir, &args);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{round}: {stderr}");
        assert!(!stderr.contains("installing locally"), "{round}: {stderr}");
        assert_same(&manifest(&modules), &control, round);
        let out = Command::new("node")
            .current_dir(dir)
            .args([
                "-e",
                "console.log(require('dc-util').version, require('dc-other'))",
            ])
            .output()
            .unwrap();
        assert_eq!(
            text(&out.stdout).trim(),
            "1.0.0 shared-other",
            "{}",
            text(&out.stderr)
        );
        let out = Command::new(modules.join(".bin/dc-cli")).output().unwrap();
        assert_eq!(text(&out.stdout).trim(), "3", "{}", text(&out.stderr));
        std::fs::remove_dir_all(&modules).unwrap();
    }

    // Every object of the local store still holds the content its name says.
    let verify = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["store", "verify", "--json", "--local-store"])
        .arg(store.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["removed"], json!([]), "{report}");
    assert!(report["checked"].as_u64().unwrap() > 0, "{report}");

    // pnpm's own commands keep working in the restored project, and a second
    // install finds nothing to change.
    assert!(job.fetch(&server, dir, &["--no-fallback"]).status.success());
    let before = manifest(&modules);
    let ls = job.pnpm(dir, &["ls", "--depth", "0"]);
    assert!(
        text(&ls.stdout).contains("dc-cli@1.0.0"),
        "{}",
        text(&ls.stdout)
    );
    job.pnpm(dir, &["install", "--frozen-lockfile", "--offline"]);
    assert_same(&manifest(&modules), &before, "after pnpm install --offline");
    server.stop().await;
    before.into_keys().collect()
}

fn pnpm_request(files: &[(&str, &str)], pnpm: &str) -> serde_json::Value {
    use crate::common::server::{cache_request_with, host_versions};
    use depcache::protocol::Manager;
    let files: Vec<(&str, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| (*n, b.as_bytes().to_vec()))
        .collect();
    let mut versions = host_versions(Manager::Pnpm);
    versions.insert("pnpm".to_string(), pnpm.to_string());
    serde_json::to_value(cache_request_with(Manager::Pnpm, &files, versions, None)).unwrap()
}

const LOCK: &str = "lockfileVersion: '9.0'\n";

#[tokio::test]
async fn a_pnpm_version_the_server_cannot_get_is_a_400_listing_what_it_can() {
    let server = TestServer::start(ServerOptions::npm()).await;
    let body = pnpm_request(
        &[("package.json", "{}"), ("pnpm-lock.yaml", LOCK)],
        "10.0.7-dc",
    );
    let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "unsupported_version", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("pnpm 10.0.7-dc is not published"),
        "{message}"
    );
    assert!(
        message.contains("(PATH)") && message.contains("0.0.1-dc"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn npmrc_credentials_and_registry_overrides_are_400s_naming_the_line() {
    let server = TestServer::start(ServerOptions::npm()).await;
    for (npmrc, line) in [
        (
            "node-linker=isolated\n//registry.example/:_authToken=secret\n",
            ".npmrc line 2 (//registry.example/:_authToken)",
        ),
        (
            "registry=https://evil.example/\n",
            ".npmrc line 1 (registry)",
        ),
    ] {
        let body = pnpm_request(
            &[
                ("package.json", "{}"),
                ("pnpm-lock.yaml", LOCK),
                (".npmrc", npmrc),
            ],
            "10.0.0",
        );
        let (status, answer) = post_cache(&server, Some(API_KEY), &body).await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.starts_with(line), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
    server.stop().await;
}

/// A pnpm workspace: the root's `node_modules` and each package's, with
/// links from the packages' trees into the root's `.pnpm` and to each other,
/// restored as pnpm makes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_project_restores_every_node_modules_as_pnpm_makes_them() {
    let job = Job::new();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let write = |path: &str, value: serde_json::Value| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    };
    write(
        "package.json",
        json!({"name": "root", "private": true, "devDependencies": {"dc-cli": "^1.0.0"}}),
    );
    write(
        "packages/a/package.json",
        json!({"name": "a", "version": "1.0.0",
               "dependencies": {"dc-pin": "1.0.0", "b": "workspace:*"}}),
    );
    write(
        "packages/b/package.json",
        json!({"name": "b", "version": "1.0.0", "dependencies": {"dc-util": "1.0.0"},
               "devDependencies": {"dc-cli": "^1.0.0"}}),
    );
    std::fs::write(
        dir.join("pnpm-workspace.yaml"),
        "packages:\n  - packages/*\n",
    )
    .unwrap();
    job.pnpm(dir, &["install", "--lockfile-only"]);
    let trees = [
        "node_modules",
        "packages/a/node_modules",
        "packages/b/node_modules",
    ];
    job.pnpm(dir, &["install", "--frozen-lockfile"]);
    let control: Vec<_> = trees.iter().map(|t| manifest_of(&dir.join(t))).collect();
    assert!(
        matches!(control[1].get("b"), Some(Node::Symlink { target }) if target == "../../b"),
        "{:?}",
        control[1].get("b")
    );
    // A shim naming the project folder inside a workspace's tree.
    assert!(
        control[2].contains_key(".bin/dc-cli"),
        "{:?}",
        control[2].keys()
    );
    let remove = || {
        for t in trees {
            std::fs::remove_dir_all(dir.join(t)).unwrap();
        }
    };
    remove();
    let server = TestServer::start(ServerOptions::npm()).await;
    for round in ["miss", "hit"] {
        let out = job.fetch(&server, dir, &["--no-fallback"]);
        assert!(out.status.success(), "{round}: {}", text(&out.stderr));
        for (tree, want) in trees.iter().zip(&control) {
            assert_same(
                &manifest_of(&dir.join(tree)),
                want,
                &format!("{round} {tree}"),
            );
        }
        let out = Command::new("node")
            .current_dir(dir.join("packages/a"))
            .args([
                "-e",
                "console.log(require('dc-pin'), require('b/package.json').name)",
            ])
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout).trim(), "1.1.0 b", "{}", text(&out.stderr));
        remove();
    }
    server.stop().await;
}

/// `manifest` for the root tree; a workspace's tree has no state files.
fn manifest_of(root: &Path) -> BTreeMap<String, Node> {
    if root.join(".modules.yaml").exists() {
        manifest(root)
    } else {
        tree_manifest(root)
    }
}

/// `--omit-dev` is pnpm's `--prod`: the dev dependency and its bin are left
/// out exactly as pnpm leaves them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omit_dev_restores_what_pnpm_install_prod_makes() {
    let job = Job::new();
    let project = project(&job);
    let dir = project.path();
    let modules = dir.join("node_modules");
    job.pnpm(dir, &["install", "--frozen-lockfile", "--prod"]);
    let control = manifest(&modules);
    assert!(!control.contains_key("dc-cli"), "{:?}", control.keys());
    std::fs::remove_dir_all(&modules).unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    let out = job.fetch(&server, dir, &["--no-fallback", "--omit-dev"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same(&manifest(&modules), &control, "--omit-dev");
    server.stop().await;
}
