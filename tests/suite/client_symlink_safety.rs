//! An untrusted checkout may hold symlinks under every name `fetch` deletes
//! or swaps: `node_modules` itself, and the leftover names of a killed run
//! (`.node_modules.depcache-tmp-*`, `-old-*`, `-dl-*`). Each one points at a
//! victim folder outside the project; after the real binary ran, the victim
//! holds every file it held before, and the project has a real tree.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::client_support::{Sandbox, closed_port_url, manifest, stderr};
use crate::common::crafted_server::{CraftedServer, Script, dir, file};

/// `sandbox/victim`, beside the project: files two levels down, as `$HOME`
/// would have.
fn victim(sandbox: &Sandbox) -> (PathBuf, Vec<String>) {
    let victim = sandbox.dir.path().join("victim");
    std::fs::create_dir_all(victim.join(".ssh/keys")).unwrap();
    std::fs::write(victim.join("notes.txt"), "precious\n").unwrap();
    std::fs::write(victim.join(".ssh/config"), "Host *\n").unwrap();
    std::fs::write(victim.join(".ssh/keys/id"), "secret\n").unwrap();
    let before = manifest(&victim);
    (victim, before)
}

fn server() -> CraftedServer {
    CraftedServer::start(Script::of(&[
        dir("pkg"),
        file("pkg/index.js", b"module.exports = 'new';\n", 0o644),
    ]))
}

/// Fetches into the sandbox; asserts success, the victim whole and a real
/// restored `node_modules`.
fn fetch_and_check(sandbox: &Sandbox, victim: &Path, before: &[String]) -> String {
    let server = server();
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(manifest(victim), before, "the victim lost files: {err}");
    let nm = sandbox.node_modules();
    assert!(
        std::fs::symlink_metadata(&nm).unwrap().is_dir(),
        "node_modules is not a real folder"
    );
    assert_eq!(
        std::fs::read(nm.join("pkg/index.js")).unwrap(),
        b"module.exports = 'new';\n"
    );
    err
}

#[test]
fn a_leftover_staging_name_linked_outside_is_unlinked_not_emptied() {
    let sandbox = Sandbox::new().with_old_tree();
    let (victim, before) = victim(&sandbox);
    let project = sandbox.project();
    symlink(&victim, project.join(".node_modules.depcache-tmp-evil")).unwrap();
    symlink(
        victim.join("notes.txt"),
        project.join(".node_modules.depcache-dl-evil.zip"),
    )
    .unwrap();
    fetch_and_check(&sandbox, &victim, &before);
    assert_eq!(
        sandbox.project_listing(),
        ["node_modules", "package-lock.json", "package.json"],
        "the links themselves are gone"
    );
}

#[test]
fn a_leftover_aside_name_linked_outside_is_unlinked_not_emptied() {
    // With an old tree (the leftover is deleted) and without one (a real
    // leftover would be put back as node_modules).
    for old_tree in [true, false] {
        let sandbox = match old_tree {
            true => Sandbox::new().with_old_tree(),
            false => Sandbox::new(),
        };
        let (victim, before) = victim(&sandbox);
        let project = sandbox.project();
        symlink(&victim, project.join(".node_modules.depcache-old-evil")).unwrap();
        fetch_and_check(&sandbox, &victim, &before);
        assert_eq!(
            sandbox.project_listing(),
            ["node_modules", "package-lock.json", "package.json"],
            "old tree: {old_tree}"
        );
    }
}

#[test]
fn a_symlinked_node_modules_is_replaced_and_its_target_kept() {
    let sandbox = Sandbox::new();
    let (victim, before) = victim(&sandbox);
    symlink(&victim, sandbox.node_modules()).unwrap();
    let err = fetch_and_check(&sandbox, &victim, &before);
    assert!(
        err.contains("is a symlink") && err.contains("untouched"),
        "the replacement is said: {err}"
    );
}

#[test]
fn the_local_fallback_never_empties_a_symlinked_node_modules() {
    let sandbox = Sandbox::npm_can_install();
    let (victim, before) = victim(&sandbox);
    symlink(&victim, sandbox.node_modules()).unwrap();
    // npm ci empties node_modules before installing, through a link too.
    let out = sandbox.fetch(&closed_port_url(), &["--retries", "0"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("installing locally"), "{err}");
    assert_eq!(manifest(&victim), before, "the victim lost files: {err}");
    assert!(
        std::fs::symlink_metadata(sandbox.node_modules())
            .map_or(true, |m| !m.file_type().is_symlink()),
        "the link is gone"
    );
}
