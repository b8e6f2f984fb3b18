//! pnpm with private registries (issue 10): the server's pnpm installs an
//! `@acme` scope from a registry that wants a token, through the install's
//! own `.npmrc`; the job's `.npmrc` (the same scope with its own token, and a
//! scope the server does not have) makes no local install, its token goes
//! nowhere, and the restored project is pnpm's own install, `.modules.yaml`
//! `registries` included: the job's, so that its next
//! `pnpm install --frozen-lockfile --offline` changes nothing. Time fields
//! are left out as in tests/suite/pnpm.rs (`prunedAt`,
//! `lastValidatedTimestamp`), and the state files are compared as data.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use sha2::{Digest, Sha256};

use depcache::install::{PrivateRegistries, parse_credentials};

use crate::common::private_registry::{contains, start_private_registry};
use crate::common::registry::registry;
use crate::common::server::{API_KEY, ServerOptions, TestServer};
use crate::common::tree::{Node, diff_manifests, tree_manifest};

const TOKEN: &str = "acme-pnpm-token-5e1f";
/// A scope only the job has: its registry is never asked (nothing uses it).
const JOB_ONLY_SCOPE: &str = "@elsewhere:registry=http://127.0.0.1:9/elsewhere/";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command with the job's environment: its own HOME (pnpm's store), the
/// test registry as the default registry.
fn job(program: &str, home: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("PNPM_HOME")
        .env("npm_config_registry", registry().url())
        .env("npm_config_update_notifier", "false")
        .env("CI", "true");
    cmd
}

fn pnpm(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let out = job("pnpm", home, dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "pnpm {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The tree with pnpm's time fields blanked, state files as data.
fn manifest(root: &Path) -> BTreeMap<String, Node> {
    let mut tree = tree_manifest(root);
    for (file, field) in [
        (".modules.yaml", "prunedAt"),
        (".pnpm-workspace-state-v1.json", "lastValidatedTimestamp"),
    ] {
        let Some(Node::File { mode, .. }) = tree.get(file).cloned() else {
            panic!("{file} missing from {}", root.display());
        };
        let mut data: serde_json::Value =
            serde_yaml_ng::from_slice(&std::fs::read(root.join(file)).unwrap()).unwrap();
        data.as_object_mut().unwrap().remove(field);
        let sha256 = hex::encode(Sha256::digest(data.to_string().as_bytes()));
        tree.insert(file.to_string(), Node::File { sha256, mode });
    }
    tree
}

fn assert_same(actual: &BTreeMap<String, Node>, expected: &BTreeMap<String, Node>, what: &str) {
    let (lines, total) = diff_manifests(actual, expected, 20);
    assert_eq!(
        total,
        0,
        "{what}: {total} paths differ:\n{}",
        lines.join("\n")
    );
}

fn assert_no_token(root: &Path) {
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(
            !contains(&bytes, TOKEN),
            "{} holds the token",
            entry.path().display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnpm_installs_a_private_scope_on_the_server_and_the_job_keeps_its_registries() {
    let acme = start_private_registry(&format!("Bearer {TOKEN}"));
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let manifest_json = json!({"name": "private-pnpm", "version": "1.0.0", "private": true,
        "dependencies": {"@acme/secret": "1.0.0", "dc-util": "1.0.0"}});
    std::fs::write(dir.join("package.json"), manifest_json.to_string()).unwrap();
    // The job's own config, as a CI job writes it: the scope, its token,
    // and a scope of its own.
    std::fs::write(
        dir.join(".npmrc"),
        format!(
            "@acme:registry={}\n//{}/:_authToken={TOKEN}\n{JOB_ONLY_SCOPE}\n",
            acme.url(),
            acme.host()
        ),
    )
    .unwrap();
    pnpm(home.path(), dir, &["install", "--lockfile-only"]);
    let modules = dir.join("node_modules");
    pnpm(home.path(), dir, &["install", "--frozen-lockfile"]);
    let control = manifest(&modules);
    std::fs::remove_dir_all(&modules).unwrap();
    let asked_by_job = acme.authorizations().len();

    let credentials =
        parse_credentials(&format!("{} token {TOKEN}\n", acme.host()), "test").unwrap();
    let scope = format!("@acme={}", acme.url()).parse().unwrap();
    let server = TestServer::start(ServerOptions {
        private: PrivateRegistries::new(vec![scope], credentials).unwrap(),
        ..ServerOptions::npm()
    })
    .await;
    for round in ["miss", "hit"] {
        let out = job(env!("CARGO_BIN_EXE_depcache"), home.path(), dir)
            .args(["fetch", "pnpm", "--no-fallback", "--server", &server.url])
            .env("DEPCACHE_API_KEY", API_KEY)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{round}: {stderr}");
        assert!(!stderr.contains("installing locally"), "{round}: {stderr}");
        assert_same(&manifest(&modules), &control, round);
        assert_no_token(&modules);
        if round == "miss" {
            // The server's pnpm fetched the scope with the operator's token.
            let asked = &acme.authorizations()[asked_by_job..];
            assert!(!asked.is_empty() && asked.iter().all(|a| a.contains(TOKEN)));
        }
        let out = Command::new("node")
            .current_dir(dir)
            .args(["-e", "console.log(require('@acme/secret'))"])
            .output()
            .unwrap();
        assert_eq!(
            text(&out.stdout).trim(),
            "acme internal",
            "{}",
            text(&out.stderr)
        );
        if round == "miss" {
            std::fs::remove_dir_all(&modules).unwrap();
        }
    }
    let state = std::fs::read_to_string(modules.join(".modules.yaml")).unwrap();
    assert!(state.contains("http://127.0.0.1:9/elsewhere/"), "{state}");
    assert_no_token(server.store.path());

    // The job's next install finds nothing to change.
    pnpm(
        home.path(),
        dir,
        &["install", "--frozen-lockfile", "--offline"],
    );
    assert_same(
        &manifest(&modules),
        &control,
        "after pnpm install --offline",
    );
    server.stop().await;
}
