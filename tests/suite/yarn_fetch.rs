//! `depcache fetch yarn` with the real server and binary: for yarn classic
//! and Yarn Berry (`nodeLinker: node-modules`), a project with a runtime
//! dependency, a dev dependency with a bin and a nested version conflict is
//! restored, on the miss and on the hit, as the very `node_modules` the
//! manager's own install makes in a control folder (paths, bytes, modes,
//! symlink targets; nothing excluded but the client's `.depcache-state`),
//! and node can require from it; and the same for a workspace project.

use std::path::Path;

use serde_json::json;

use crate::common::assert_same_tree;
use crate::common::server::{ServerOptions, TestServer, run_fetch};
use crate::common::yarn_project::{
    Flavor, berry_release, node_eval, yarn_project, yarn_reference, yarn_reference_with,
};

async fn restores_what_yarn_installs(flavor: Flavor) {
    let project = tempfile::tempdir().unwrap();
    // dc-cli (dev, with a bin) wants dc-util ^1.0.0, which resolves to 1.1.0
    // while the root pins 1.0.0: a nested copy under dc-cli.
    yarn_project(
        flavor,
        project.path(),
        &[("dc-util", "1.0.0"), ("dc-other", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        json!({}),
    );
    let reference = yarn_reference(flavor, project.path());
    let server = TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await;
    let modules = project.path().join("node_modules");
    let expected = reference.path().join("node_modules");
    assert!(
        expected.join("dc-cli/node_modules/dc-util").is_dir(),
        "the fixture must nest a second dc-util"
    );
    let first = run_fetch(&server, project.path(), "yarn", &[]).await;
    assert!(first.contains("cache miss"), "{first}");
    assert_same_tree(&modules, &expected);
    check_usable(project.path());

    std::fs::remove_dir_all(&modules).unwrap();
    let second = run_fetch(&server, project.path(), "yarn", &[]).await;
    assert!(second.contains("cache hit"), "{second}");
    assert_same_tree(&modules, &expected);
    check_usable(project.path());
    server.stop().await;
}

fn check_usable(dir: &Path) {
    assert_eq!(
        node_eval(dir, "console.log(require('dc-util').version)"),
        "1.0.0"
    );
    assert_eq!(
        node_eval(dir, "console.log(require('dc-other'))"),
        "shared-other"
    );
    let bin = std::process::Command::new(dir.join("node_modules/.bin/dc-cli"))
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&bin.stdout).trim(), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_yarn_classic_restores_what_yarn_installs() {
    restores_what_yarn_installs(Flavor::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_yarn_berry_node_modules_restores_what_yarn_installs() {
    restores_what_yarn_installs(Flavor::BerryNodeModules).await;
}

/// A yarn workspace project: the root links both workspaces and `a` gets its
/// own `node_modules` for the version the root's conflicts with; miss and hit
/// restore every tree as the control install makes it.
async fn restores_yarn_workspaces(flavor: Flavor) {
    let project = tempfile::tempdir().unwrap();
    let members = ["packages/a/package.json", "packages/b/package.json"];
    for (manifest, body) in members.iter().zip([
        json!({"name": "a", "version": "1.0.0", "dependencies": {"dc-util": "1.1.0", "b": "1.0.0"}}),
        json!({"name": "b", "version": "1.0.0", "dependencies": {"dc-shared": "1.0.0"}}),
    ]) {
        let path = project.path().join(manifest);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec_pretty(&body).unwrap()).unwrap();
    }
    yarn_project(
        flavor,
        project.path(),
        &[("dc-util", "1.0.0")],
        &[],
        json!({"workspaces": ["packages/*"]}),
    );
    let reference = yarn_reference_with(flavor, project.path(), &members);
    let server = TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await;
    let trees = ["node_modules", "packages/a/node_modules"];
    assert!(
        reference
            .path()
            .join("packages/a/node_modules/dc-util")
            .is_dir(),
        "the fixture must give workspace a its own dc-util"
    );
    for (round, said) in [(0, "cache miss"), (1, "cache hit")] {
        if round == 1 {
            for tree in trees {
                std::fs::remove_dir_all(project.path().join(tree)).unwrap();
            }
        }
        let out = run_fetch(&server, project.path(), "yarn", &[]).await;
        assert!(out.contains(said), "{out}");
        for tree in trees {
            assert_same_tree(&project.path().join(tree), &reference.path().join(tree));
        }
        let a = project.path().join("packages/a");
        assert_eq!(
            node_eval(&a, "console.log(require('dc-util').version)"),
            "1.1.0"
        );
        assert_eq!(
            node_eval(
                project.path(),
                "console.log(require('b/package.json').name)"
            ),
            "b"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_yarn_classic_workspaces() {
    restores_yarn_workspaces(Flavor::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_yarn_berry_node_modules_workspaces() {
    restores_yarn_workspaces(Flavor::BerryNodeModules).await;
}

/// `hash yarn --explain` says what went into the key: yarn's version from
/// `packageManager` (not the classic yarn on PATH) and the config file.
#[test]
fn hash_yarn_explains_its_version_and_config_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        br#"{"name":"x","packageManager":"yarn@4.18.1+sha512.abc"}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("yarn.lock"), b"__metadata:\n  version: 8\n").unwrap();
    std::fs::write(
        dir.path().join(".yarnrc.yml"),
        b"nodeLinker: node-modules\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["hash", "yarn", "--explain", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "manager  yarn",
        "version  yarn=4.18.1",
        "file     .yarnrc.yml (25 bytes)",
        "file     yarn.lock",
        "file     package.json",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
}
