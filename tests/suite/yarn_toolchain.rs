//! Yarn on a `--node-toolchain` node, as pnpm: a request for a node the
//! server's PATH lacks but a toolchain has is installed natively with that
//! node (not refused, not sent to a container), and restores the tree
//! yarn's own install makes. The toolchain here is the host's node behind a
//! wrapper that reports another version and records each run.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::common::assert_same_tree;
use crate::common::server::{ServerOptions, TestServer, run_fetch};
use crate::common::yarn_project::{Flavor, node_eval, yarn_project, yarn_reference};
use depcache::install::toolchain::detect_node;

const TOOLCHAIN_NODE: &str = "20.99.1";

fn script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `DIR/bin/node` (the host's node, saying it is `TOOLCHAIN_NODE` and
/// appending a line to `DIR/ran` for every other run) and `DIR/bin/npm`.
fn toolchain(dir: &Path) {
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v node"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    script(
        &bin.join("node"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo v{TOOLCHAIN_NODE}; exit 0; fi\n\
echo \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            dir.join("ran").display(),
            real.trim()
        ),
    );
    script(&bin.join("npm"), "#!/bin/sh\necho 10.9.2\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_runs_on_a_toolchain_node() {
    let project = tempfile::tempdir().unwrap();
    yarn_project(
        Flavor::Classic,
        project.path(),
        &[("dc-util", "1.0.0")],
        &[("dc-cli", "1.0.0")],
        json!({}),
    );
    let reference = yarn_reference(Flavor::Classic, project.path());
    let tools = tempfile::tempdir().unwrap();
    toolchain(tools.path());
    let server = TestServer::start(ServerOptions {
        node_toolchains: vec![detect_node(TOOLCHAIN_NODE, tools.path()).unwrap()],
        ..ServerOptions::npm()
    })
    .await;
    let node = ["--node-version", TOOLCHAIN_NODE].map(std::ffi::OsStr::new);
    let said = run_fetch(&server, project.path(), "yarn", &node).await;
    assert!(said.contains("cache miss"), "{said}");
    let ran = std::fs::read_to_string(tools.path().join("ran")).unwrap_or_default();
    assert!(
        ran.contains("install"),
        "the toolchain's node ran no install: {ran:?}"
    );
    assert_same_tree(
        &project.path().join("node_modules"),
        &reference.path().join("node_modules"),
    );
    assert_eq!(
        node_eval(project.path(), "console.log(require('dc-util').version)"),
        "1.0.0"
    );
    server.stop().await;
}
