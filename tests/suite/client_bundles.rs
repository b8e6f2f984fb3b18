//! `depcache fetch` against crafted bundles: a good one restores exactly;
//! malicious or broken ones are refused (exit 6) leaving no trace; a kill
//! mid-extraction never leaves a half tree in place.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::client_support::{Sandbox, assert_one_line_failure, manifest, stderr};
use crate::common::crafted_server::{
    CraftedServer, Item, Script, dir, file, index_of, symlink, zip_of,
};

fn good_tree() -> Vec<Item> {
    vec![
        dir(".bin"),
        dir("tool"),
        dir("tool/bin"),
        dir("empty"),
        file("tool/package.json", b"{\"name\":\"tool\"}\n", 0o644),
        file(
            "tool/index.js",
            b"module.exports = 42;\n".repeat(50).as_slice(),
            0o644,
        ),
        file(
            "tool/bin/cli.js",
            b"#!/usr/bin/env node\nconsole.log(1)\n",
            0o755,
        ),
        symlink(".bin/tool", "../tool/bin/cli.js"),
    ]
}

#[test]
fn good_bundle_restores_contents_modes_and_symlinks() {
    let sandbox = Sandbox::new().with_old_tree();
    let server = CraftedServer::start(Script::of(&good_tree()));
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("restored node_modules: 3 files,") && err.contains("cache hit"),
        "{err}"
    );
    let nm = sandbox.node_modules();
    assert_eq!(
        fs::read(nm.join("tool/index.js")).unwrap(),
        b"module.exports = 42;\n".repeat(50)
    );
    let cli = nm.join("tool/bin/cli.js");
    assert_eq!(
        fs::metadata(&cli).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let pkg = nm.join("tool/package.json");
    assert_eq!(
        fs::metadata(&pkg).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        fs::read_link(nm.join(".bin/tool")).unwrap().to_str(),
        Some("../tool/bin/cli.js")
    );
    assert_eq!(
        fs::read(nm.join(".bin/tool")).unwrap(),
        fs::read(&cli).unwrap()
    );
    assert!(nm.join("empty").is_dir());
    assert!(
        !nm.join("old-pkg").exists(),
        "the old tree must be replaced"
    );
    assert_eq!(
        sandbox.project_listing(),
        ["node_modules", "package-lock.json", "package.json"]
    );
}

#[test]
fn seed_form_takes_the_server_as_first_argument() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script::of(&good_tree()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", &server.url, "npm", "-q", "--no-fallback", "--dir"])
        .arg(sandbox.project())
        .args(["--node-version", "20.20.2", "--npm-version", "11.19.1"])
        .env_remove("DEPCACHE_SERVER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "-q prints nothing: {}", stderr(&out));
    assert!(sandbox.node_modules().join("tool/bin/cli.js").is_file());
}

/// Runs `script` against a project with an old tree and checks that the
/// refusal is exit 6 in one line, and that nothing at all changed.
fn assert_refused(script: Script, expect_in_message: &str) {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let server = CraftedServer::start(script);
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = assert_one_line_failure(&out, 6);
    assert!(
        err.contains(expect_in_message),
        "expected {expect_in_message:?} in: {err}"
    );
    assert_eq!(sandbox.manifest(), before, "the sandbox changed; {err}");
}

#[test]
fn entry_climbing_out_with_dotdot_is_refused() {
    let mut items = good_tree();
    let index = index_of(&items);
    items.push(file("../escaped.txt", b"pwned", 0o644));
    items.push(file("tool/../../escaped2.txt", b"pwned", 0o644));
    assert_refused(Script::new(index, zip_of(&items)), "unsafe");
}

#[test]
fn absolute_entry_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let target = scratch.path().join("absolute.txt");
    let mut items = good_tree();
    let index = index_of(&items);
    items.push(file(target.to_str().unwrap(), b"pwned", 0o644));
    assert_refused(Script::new(index, zip_of(&items)), "outside node_modules/");
    assert!(!target.exists());
}

#[test]
fn symlink_pointing_outside_is_refused() {
    let mut items = good_tree();
    items.push(symlink(".bin/evil", "../../../../etc/passwd"));
    assert_refused(Script::of(&items), "outside the root folder");
}

#[test]
fn symlink_escaping_through_another_symlink_is_refused() {
    // Each target stays inside lexically; resolved on disk, the second one
    // climbs through the first (which points at the root) and out of it.
    let mut items = good_tree();
    items.extend([
        dir("a"),
        dir("a/b"),
        symlink("a/b/up", "../.."),
        symlink("a/b/out", "up/../../.."),
    ]);
    assert_refused(Script::of(&items), "outside the root folder");
}

#[test]
fn file_not_matching_its_hash_is_refused() {
    let items = good_tree();
    let index = index_of(&items);
    let mut tampered = items.clone();
    // Same length, other bytes: only the hash can tell.
    tampered[6] = file(
        "tool/bin/cli.js",
        b"#!/usr/bin/env node\nconsole.log(2)\n",
        0o755,
    );
    assert_refused(
        Script::new(index, zip_of(&tampered)),
        "does not match its index hash",
    );
}

#[test]
fn truncated_bundle_is_refused() {
    let items = good_tree();
    let mut bundle = zip_of(&items);
    bundle.truncate(bundle.len() / 2);
    assert_refused(Script::new(index_of(&items), bundle), "not a readable ZIP");
}

#[test]
fn entry_missing_from_the_index_is_refused() {
    let mut items = good_tree();
    let index = index_of(&items);
    items.push(file("tool/extra.js", b"surprise\n", 0o644));
    assert_refused(Script::new(index, zip_of(&items)), "not in the index");
}

#[test]
fn entry_missing_from_the_bundle_is_refused() {
    let items = good_tree();
    let mut fewer = items.clone();
    fewer.remove(5);
    assert_refused(Script::new(index_of(&items), zip_of(&fewer)), "lacks");
}

/// A tree large enough that extraction takes a while in a debug build.
fn big_tree() -> Vec<Item> {
    let mut items = vec![dir("big")];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..1200 {
        let content: Vec<u8> = (0..16 * 1024)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        items.push(file(&format!("big/f{i:04}.bin"), &content, 0o644));
    }
    items
}

#[test]
fn kill_during_extraction_leaves_old_or_new_tree_whole() {
    let items = big_tree();
    let server = CraftedServer::start(Script::of(&items));
    let expected_new = {
        let sandbox = Sandbox::new();
        let out = sandbox.fetch(&server.url, &["--no-fallback", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        manifest(&sandbox.node_modules())
    };
    for delay_ms in [0, 10, 50, 150, 400] {
        let sandbox = Sandbox::new().with_old_tree();
        let old = manifest(&sandbox.node_modules());
        let mut child = sandbox
            .command(&server.url, &["--no-fallback", "-q"])
            .spawn()
            .unwrap();
        let started = Instant::now();
        // Wait for the staging folder: extraction has begun.
        let staging_seen = loop {
            let staging = sandbox
                .project_listing()
                .iter()
                .any(|n| n.starts_with(".node_modules.depcache-tmp-"));
            if staging || child.try_wait().unwrap().is_some() {
                break staging;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no staging dir"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = manifest(&sandbox.node_modules());
        eprintln!(
            "kill at +{delay_ms} ms: staging seen {staging_seen}, {}",
            if now == old { "old tree" } else { "new tree" }
        );
        assert!(
            now == old || now == expected_new,
            "after a kill at +{delay_ms} ms (staging seen: {staging_seen}) node_modules is \
neither the old tree nor the new one ({} entries)",
            now.len()
        );
        // The next run tidies up and restores.
        let out = sandbox.fetch(&server.url, &["--no-fallback", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(manifest(&sandbox.node_modules()), expected_new);
        assert_eq!(
            sandbox.project_listing(),
            ["node_modules", "package-lock.json", "package.json"]
        );
    }
}
