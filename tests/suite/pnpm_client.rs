//! The client's side of pnpm projects: what `hash --explain` shows (and
//! which `.npmrc` lines it left out of the key, also for npm), a `.npmrc`
//! credential never leaving the job, and the shapes the server does not
//! cache (a path override, a pnpmfile, a layout setting from outside the
//! project) installed in the job with a sentence saying why.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

use crate::common::registry::registry;
use crate::common::server::{API_KEY, ServerOptions, TestServer};

fn depcache(dir: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("HOME", home)
        .env("npm_config_registry", registry().url())
        .env("npm_config_update_notifier", "false")
        .env("DEPCACHE_API_KEY", API_KEY)
        .env("CI", "true")
        .output()
        .unwrap()
}

fn pnpm(dir: &Path, home: &Path, args: &[&str]) {
    let out = Command::new("pnpm")
        .current_dir(dir)
        .args(args)
        .env("HOME", home)
        .env("npm_config_registry", registry().url())
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_json(path: &Path, value: serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

#[test]
fn hash_explain_shows_the_pnpm_version_and_only_the_layout_lines_of_npmrc() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_json(
        &dir.path().join("package.json"),
        json!({"name": "x", "packageManager": "pnpm@10.4.1+sha512.abc"}),
    );
    std::fs::write(
        dir.path().join("pnpm-lock.yaml"),
        "lockfileVersion: '9.0'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".npmrc"),
        "node-linker=hoisted\n//registry.example/:_authToken=s3cret\nfund=false\n",
    )
    .unwrap();
    let out = depcache(dir.path(), home.path(), &["hash", "pnpm", "--explain"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("version  pnpm=10.4.1\n"), "{shown}");
    // Only `node-linker=hoisted\n` (20 bytes) is sent and keyed.
    assert!(shown.contains("file     .npmrc (20 bytes)"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    // Each line left out, with its reason; the kept one is not listed.
    for line in [
        "dropped  .npmrc line 2 (//registry.example/:_authToken): not sent: a credential stays \
in the job\n",
        "dropped  .npmrc line 3 (fund): not sent: not a node_modules layout setting\n",
    ] {
        assert!(shown.contains(line), "{shown}");
    }
    assert!(!shown.contains("line 1 (node-linker)"), "{shown}");
    // npm sends no .npmrc: every line is listed.
    write_json(&dir.path().join("package.json"), json!({"name": "x"}));
    let npm = depcache(dir.path(), home.path(), &["hash", "npm", "--explain"]);
    let shown = text(&npm);
    assert!(npm.status.success(), "{shown}");
    for n in 1..=3 {
        assert!(
            shown.contains(&format!("dropped  .npmrc line {n} (")),
            "{shown}"
        );
    }
    assert!(
        shown.contains("not sent: npm requests carry no .npmrc"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    write_json(
        &dir.path().join("package.json"),
        json!({"name": "x", "packageManager": "pnpm@10.4.1+sha512.abc"}),
    );
    // The stripped lines are not in the key: removing them changes nothing.
    std::fs::write(dir.path().join(".npmrc"), "node-linker=hoisted\n").unwrap();
    let again = depcache(dir.path(), home.path(), &["hash", "pnpm"]);
    let key = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(key(&again), key(&out));
}

/// `hash --json` lists what `--explain` prints as dropped, field by field,
/// and never a value.
#[test]
fn hash_json_lists_the_npmrc_lines_left_out_of_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_json(
        &dir.path().join("package.json"),
        json!({"name": "x", "packageManager": "pnpm@10.4.1"}),
    );
    std::fs::write(
        dir.path().join("pnpm-lock.yaml"),
        "lockfileVersion: '9.0'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".npmrc"),
        "node-linker=hoisted\n//registry.example/:_authToken=s3cret\n@corp:registry=https://r.example/\n",
    )
    .unwrap();
    let out = depcache(dir.path(), home.path(), &["hash", "pnpm", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["dropped"],
        json!([
            {"file": ".npmrc", "line": 2, "key": "//registry.example/:_authToken",
             "reason": "not sent: a credential stays in the job"},
            {"file": ".npmrc", "line": 3, "key": "@corp:registry",
             "reason": "not sent: the lockfile pins every package whichever registry serves it"},
        ]),
        "{doc}"
    );
    assert!(!text(&out).contains("s3cret"));
    // A project without one lists nothing, still as a list.
    std::fs::remove_file(dir.path().join(".npmrc")).unwrap();
    let out = depcache(dir.path(), home.path(), &["hash", "pnpm", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dropped"], json!([]), "{doc}");
}

/// Not cached, so installed in the job: says why, and the job gets pnpm's own
/// tree.
fn assert_installed_locally(dir: &Path, home: &Path, server: &TestServer, why: &str) {
    let out = depcache(dir, home, &["fetch", "pnpm", "--server", &server.url]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains(why), "{shown}");
    assert!(
        shown.contains("installing locally with `pnpm install --frozen-lockfile`"),
        "{shown}"
    );
    assert!(dir.join("node_modules/dc-util").exists(), "{shown}");
    assert_eq!(server.index_count(), 0, "nothing may be cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_override_in_npmrc_is_installed_in_the_job_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_json(
        &dir.path().join("package.json"),
        json!({"name": "root", "private": true, "dependencies": {"dc-util": "1.0.0"}}),
    );
    pnpm(dir.path(), home.path(), &["install", "--lockfile-only"]);
    // A registry line is the job's own business (not sent, see
    // private_pnpm.rs); a store elsewhere is not the server's to know.
    std::fs::write(
        dir.path().join(".npmrc"),
        format!("registry={}\nstore-dir=/tmp/elsewhere\n", registry().url()),
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    assert_installed_locally(
        dir.path(),
        home.path(),
        &server,
        ".npmrc line 2 (store-dir) names a path",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pnpmfile_is_installed_in_the_job_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_json(
        &dir.path().join("package.json"),
        json!({"name": "root", "private": true, "dependencies": {"dc-util": "1.0.0"}}),
    );
    std::fs::write(
        dir.path().join(".pnpmfile.cjs"),
        "module.exports = {hooks: {}};\n",
    )
    .unwrap();
    pnpm(dir.path(), home.path(), &["install", "--lockfile-only"]);
    let server = TestServer::start(ServerOptions::npm()).await;
    assert_installed_locally(dir.path(), home.path(), &server, "has a .pnpmfile.cjs");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_setting_in_the_users_npmrc_is_installed_in_the_job_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_json(
        &dir.path().join("package.json"),
        json!({"name": "root", "private": true, "dependencies": {"dc-util": "1.0.0"}}),
    );
    pnpm(dir.path(), home.path(), &["install", "--lockfile-only"]);
    std::fs::write(home.path().join(".npmrc"), "node-linker=hoisted\n").unwrap();
    let server = TestServer::start(ServerOptions::npm()).await;
    assert_installed_locally(dir.path(), home.path(), &server, ".npmrc sets node-linker");
    server.stop().await;
}
