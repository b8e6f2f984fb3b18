//! Helpers of the admin tests: synthetic trees ingested straight into a store
//! through the library, index mtimes set to control last use, and the real
//! binary for the CLI.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use depcache::protocol::{Index, KeyInput, Manager, ValidRequest, key_of};
use depcache::store::{Store, ingest_tree};

/// A request for `manager` whose key depends on `seed`.
pub fn request(manager: Manager, seed: &str) -> ValidRequest {
    let manifest = manager.manifest().to_string();
    let files: BTreeMap<String, Vec<u8>> =
        [(manifest, format!("{{\"name\":\"{seed}\"}}").into_bytes())].into();
    let versions: BTreeMap<String, String> = match manager {
        Manager::Npm => [("node", "20.20.2"), ("npm", "11.19.1")],
        Manager::Composer => [("php", "8.3.6"), ("composer", "2.8.1")],
        Manager::Pnpm => [("node", "20.20.2"), ("pnpm", "10.4.1")],
        Manager::Yarn => [("node", "20.20.2"), ("yarn", "1.22.22")],
    }
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let platform = Some("linux-x64-glibc".to_string());
    let hash = key_of(KeyInput {
        manager,
        versions: &versions,
        platform: platform.as_deref(),
        options: None,
        files: &files,
    });
    ValidRequest {
        manager,
        hash,
        files,
        versions,
        platform,
        options: None,
        private_scopes: Vec::new(),
    }
}

/// Deterministic incompressible-ish bytes (so blob sizes are predictable).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes a tree under `root/<output dir>`: the given files, plus an
/// executable, a relative symlink and an empty folder.
pub fn make_tree(root: &Path, manager: Manager, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let tree = root.join(manager.output_dir());
    for (path, bytes) in files {
        let p = tree.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
    }
    let bin = tree.join("pkg/bin/run.js");
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    fs::write(&bin, b"#!/usr/bin/env node\nconsole.log(1)\n").unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir_all(tree.join(".bin")).unwrap();
    std::os::unix::fs::symlink("../pkg/bin/run.js", tree.join(".bin/run")).unwrap();
    fs::create_dir_all(tree.join("pkg/empty")).unwrap();
    tree
}

/// Ingests `files` (plus the fixed extras) under a key made from `seed`.
pub fn ingest(store: &dyn Store, seed: &str, files: &[(&str, Vec<u8>)]) -> (Index, PathBuf) {
    ingest_as(store, Manager::Npm, seed, files)
}

pub fn ingest_as(
    store: &dyn Store,
    manager: Manager,
    seed: &str,
    files: &[(&str, Vec<u8>)],
) -> (Index, PathBuf) {
    let work = tempfile::tempdir().unwrap().keep();
    let tree = make_tree(&work, manager, files);
    let index = ingest_tree(store, &tree, &request(manager, seed)).unwrap();
    (index, tree)
}

pub fn index_file(store: &Path, key: &(impl Display + ?Sized)) -> PathBuf {
    let key = &key.to_string();
    let dir = store.join("indexes").join(&key[..2]);
    fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(key))
        .unwrap_or_else(|| panic!("no index for {key}"))
}

/// Makes `key` look last used `ago` ago.
pub fn set_last_used(store: &Path, key: &(impl Display + ?Sized), ago: Duration) {
    let file = fs::File::options()
        .write(true)
        .open(index_file(store, key))
        .unwrap();
    file.set_modified(SystemTime::now() - ago).unwrap();
}

pub fn has_index(store: &Path, key: &(impl Display + ?Sized)) -> bool {
    let key = &key.to_string();
    let dir = store.join("indexes").join(&key[..2]);
    fs::read_dir(&dir)
        .is_ok_and(|mut d| d.any(|e| e.unwrap().file_name().to_string_lossy().starts_with(key)))
}

pub fn blob_path(store: &Path, sha: &(impl Display + ?Sized)) -> PathBuf {
    let sha = &sha.to_string();
    store
        .join("objects")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(sha)
}

/// Every file under `dir` with size and mtime, sorted.
pub fn full_listing(dir: &Path) -> Vec<(String, u64, SystemTime)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                m.len(),
                m.modified().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Count and total size of the regular files under `dir`.
pub fn files_and_bytes(dir: &Path) -> (u64, u64) {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .fold((0, 0), |(n, b), e| (n + 1, b + e.metadata().unwrap().len()))
}

/// Runs `depcache admin <args>`.
pub fn admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_depcache"))
        .arg("admin")
        .args(args)
        .output()
        .unwrap()
}

/// Runs `depcache admin <args> --json` and parses stdout, asserting success.
pub fn admin_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = admin(&all);
    assert!(
        out.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A tree as (path, kind, mode, content or target), for comparisons.
pub fn describe_tree(root: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(Result::unwrap)
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let m = e.path().symlink_metadata().unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link {}", fs::read_link(e.path()).unwrap().display())
            } else if m.is_dir() {
                "dir".to_string()
            } else {
                let exec = m.permissions().mode() & 0o111 != 0;
                format!("file exec={exec} {}", hex_of(&fs::read(e.path()).unwrap()))
            };
            (rel, what)
        })
        .collect();
    out.sort();
    out
}

fn hex_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
