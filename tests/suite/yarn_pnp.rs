//! `depcache fetch yarn` for Yarn Berry Plug'n'Play (no `nodeLinker`,
//! `enableGlobalCache: false`) with the real server and binary: a project
//! with a runtime dependency, an unplugged one, a dev dependency with a bin
//! and a nested version conflict is restored, on the miss and on the hit,
//! as the very project folder Berry's own install makes in a control folder
//! (`.pnp.cjs`, `.yarn/cache`, `.yarn/unplugged`, `.yarn/install-state.gz`
//! and the project's own files; paths, bytes, modes, symlink targets;
//! nothing excluded), over stale outputs Berry would remove and beside a
//! checked-in `.yarn` file it keeps; node can require through `.pnp.cjs`
//! and yarn runs the bin. The same for a workspace project with the ESM
//! loader on; and a package that would build is a 422 with nothing stored.

use std::path::Path;
use std::process::Command;

use depcache::protocol::Manager;
use serde_json::json;

use crate::common::assert_same_tree;
use crate::common::server::{
    API_KEY, ServerOptions, TestServer, cache_request_with, host_tools, post_cache, run_fetch,
};
use crate::common::yarn_project::{
    Flavor, berry_release, berry_version, yarn_project, yarn_reference_with,
};

async fn server() -> TestServer {
    TestServer::start(ServerOptions {
        yarn_releases: vec![berry_release()],
        ..ServerOptions::npm()
    })
    .await
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// `node -r ./.pnp.cjs -e <code>` in `dir` (`pnp` the path to `.pnp.cjs`).
fn pnp_eval(dir: &Path, pnp: &str, code: &str) -> String {
    let out = Command::new("node")
        .args(["-r", pnp, "-e", code])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node -r {pnp} -e {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `yarn run <bin>` with the Berry release, offline (nothing to fetch).
fn yarn_run(dir: &Path, bin: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("node")
        .arg(berry_release())
        .args(["run", bin])
        .current_dir(dir)
        .env("HOME", home.path())
        .env("YARN_ENABLE_TELEMETRY", "0")
        .env("YARN_ENABLE_NETWORK", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "yarn run {bin}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What Berry's PnP install removes, and a stale output of each kind.
fn make_stale(project: &Path) {
    write(&project.join("node_modules/stale/index.js"), "stale\n");
    write(&project.join(".pnp.loader.mjs"), "stale\n");
    write(
        &project.join(".yarn/unplugged/stale-npm-1.0.0/x"),
        "stale\n",
    );
    write(
        &project.join(".yarn/cache/stale-npm-1.0.0-0-0.zip"),
        "stale\n",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_yarn_berry_pnp_restores_what_yarn_installs() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    // dc-cli (dev, with a bin) wants dc-util ^1.0.0 (1.1.0) while the root
    // pins 1.0.0: two versions in the map. dc-other is unplugged.
    yarn_project(
        Flavor::BerryPnp,
        dir,
        &[("dc-util", "1.0.0"), ("dc-other", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        json!({"dependenciesMeta": {"dc-other": {"unplugged": true}}}),
    );
    // A checked-in file of `.yarn` that no install touches.
    let kept = ".yarn/sdks/keep.txt";
    write(&dir.join(kept), "checked in\n");
    let reference = yarn_reference_with(Flavor::BerryPnp, dir, &[kept]);
    assert!(
        reference.path().join(".yarn/unplugged").is_dir(),
        "the fixture must unplug a package"
    );
    assert!(!reference.path().join(".pnp.loader.mjs").exists());
    let server = server().await;
    for said in ["cache miss", "cache hit"] {
        make_stale(dir);
        let out = run_fetch(&server, dir, "yarn", &[]).await;
        assert!(
            !out.contains("already holds"),
            "no stat manifest for PnP: {out}"
        );
        assert!(out.contains(said), "{out}");
        assert!(out.contains("restored .pnp.cjs and .yarn"), "{out}");
        assert_same_tree(dir, reference.path());
        assert_eq!(
            pnp_eval(dir, "./.pnp.cjs", "console.log(require('dc-util').version)"),
            "1.0.0"
        );
        assert_eq!(
            pnp_eval(dir, "./.pnp.cjs", "console.log(require('dc-other'))"),
            "shared-other"
        );
        assert_eq!(yarn_run(dir, "dc-cli"), "3");
        // The next round starts from what a job would have.
        std::fs::remove_file(dir.join(".pnp.cjs")).unwrap();
    }
    // `--json` names the project as the output: PnP has no one folder.
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args([
            "fetch",
            "yarn",
            "--json",
            "--no-fallback",
            "--server",
            &server.url,
        ])
        .arg("--dir")
        .arg(dir)
        .env("DEPCACHE_API_KEY", API_KEY)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output_dir"], ".", "{report}");
    assert_eq!(report["cache_hit"], true, "{report}");
    assert_same_tree(dir, reference.path());
    // A `.yarn` that is a symlink is never written through.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(dir.join(".yarn")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.join(".yarn")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", "yarn", "--no-fallback", "--server", &server.url])
        .arg("--dir")
        .arg(dir)
        .env("DEPCACHE_API_KEY", API_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(".yarn is not a folder of the project"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert_eq!(server.index_count(), 1);
    server.stop().await;
}

/// A PnP workspace project: one `.pnp.cjs` for all, workspace `a` resolving
/// its own dc-util; with `pnpEnableEsmLoader` the loader is restored too;
/// a stale workspace `node_modules` goes as Yarn removes it; the hit asked
/// with `--local-store` says it restores from the bundle instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_yarn_berry_pnp_workspaces() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let members = ["packages/a/package.json", "packages/b/package.json"];
    for (manifest, body) in members.iter().zip([
        json!({"name": "a", "version": "1.0.0", "dependencies": {"dc-util": "1.1.0", "b": "1.0.0"}}),
        json!({"name": "b", "version": "1.0.0", "dependencies": {"dc-shared": "1.0.0"}}),
    ]) {
        write(&dir.join(manifest), &body.to_string());
    }
    write(
        &dir.join(".yarnrc.yml"),
        "enableGlobalCache: false\npnpEnableEsmLoader: true\n",
    );
    yarn_project(
        Flavor::BerryPnp,
        dir,
        &[("dc-util", "1.0.0")],
        &[],
        json!({"workspaces": ["packages/*"]}),
    );
    let reference = yarn_reference_with(Flavor::BerryPnp, dir, &members);
    assert!(reference.path().join(".pnp.loader.mjs").is_file());
    let server = server().await;
    let store = tempfile::tempdir().unwrap();
    for (said, extra) in [
        ("cache miss", vec![]),
        (
            "cache hit",
            vec!["--local-store".as_ref(), store.path().as_os_str()],
        ),
    ] {
        write(&dir.join("packages/a/node_modules/x/index.js"), "stale\n");
        let out = run_fetch(&server, dir, "yarn", &extra).await;
        assert!(out.contains(said), "{out}");
        // Yarn rewrites .pnp.cjs in place: no hard links into a store.
        assert_eq!(
            out.contains("--local-store is not used for Yarn Plug'n'Play projects"),
            !extra.is_empty(),
            "{out}"
        );
        assert_same_tree(dir, reference.path());
        let a = dir.join("packages/a");
        assert_eq!(
            pnp_eval(
                &a,
                "../../.pnp.cjs",
                "console.log(require('dc-util').version)"
            ),
            "1.1.0"
        );
        // PnP is strict: only a (which declares it) may require b.
        assert_eq!(
            pnp_eval(
                &a,
                "../../.pnp.cjs",
                "console.log(require('b/package.json').name)"
            ),
            "b"
        );
        std::fs::remove_dir_all(dir.join(".yarn/cache")).unwrap();
    }
    server.stop().await;
}

/// A PnP project whose package has install scripts: the server installs
/// with scripts off, finds them in the package's cache zip and answers 422
/// naming it; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_pnp_packages_with_install_scripts_are_unsupported() {
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        Flavor::BerryPnp,
        project.path(),
        &[("dc-script", "1.0.0")],
        &[],
        json!({}),
    );
    let files: Vec<(&str, Vec<u8>)> = ["package.json", "yarn.lock", ".yarnrc.yml"]
        .into_iter()
        .map(|name| (name, std::fs::read(project.path().join(name)).unwrap()))
        .collect();
    let versions = [
        ("node".to_string(), host_tools().node.clone().unwrap()),
        ("yarn".to_string(), berry_version()),
    ]
    .into();
    let request = cache_request_with(Manager::Yarn, &files, versions, None);
    let server = server().await;
    let (status, body) = post_cache(&server, Some(API_KEY), &json!(request)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "unsupported_project", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(".yarn/cache/dc-script-npm-1.0.0-")
            && message.contains("has an install script (preinstall script)"),
        "{message}"
    );
    assert_eq!(server.index_count(), 0);
    server.stop().await;
}

/// A layout setting the job's yarn would read from its environment is not
/// in the key: the client does not ask the server (exit 5 under
/// --no-fallback) and says which variable. The cache's settings count for
/// Plug'n'Play only; `YARN_NODE_LINKER` for the node-modules linker too.
#[test]
fn a_yarn_layout_setting_in_the_environment_is_not_cached() {
    let fetch = |rc: &str, var: &str| {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path();
        write(
            &dir.join("package.json"),
            &json!({"name": "x", "packageManager": format!("yarn@{}", berry_version())})
                .to_string(),
        );
        write(&dir.join("yarn.lock"), "__metadata:\n  version: 8\n");
        write(&dir.join(".yarnrc.yml"), rc);
        let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
            .args([
                "fetch",
                "yarn",
                "--no-fallback",
                "--server",
                "http://127.0.0.1:9",
            ])
            .arg("--dir")
            .arg(dir)
            .env(var, "true")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let pnp = "enableGlobalCache: false\n";
    let node_modules = "nodeLinker: node-modules\n";
    for (rc, var) in [
        (pnp, "YARN_ENABLE_GLOBAL_CACHE"),
        (pnp, "YARN_PNP_ENABLE_ESM_LOADER"),
        (node_modules, "YARN_NODE_LINKER"),
    ] {
        let (code, stderr) = fetch(rc, var);
        assert_eq!(code, Some(5), "{var}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "the environment sets {var}, a Yarn layout setting"
            )),
            "{stderr}"
        );
    }
    // The server is asked (and is down): the setting did not matter.
    let (code, stderr) = fetch(node_modules, "YARN_ENABLE_GLOBAL_CACHE");
    assert_ne!(code, Some(5), "{stderr}");
    assert!(stderr.contains("unavailable"), "{stderr}");
}
