//! `depcache store status|prune|verify` and `fetch --local-store-max-size`
//! with the real binary against crafted servers: prune keeps what live trees
//! link to, honours LRU order under a budget, changes nothing on a dry run,
//! never breaks a fetch racing it; verify removes corrupt contents; a
//! content stored under another mode is not downloaded again.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::client_support::{Sandbox, assert_one_line_failure, stderr};
use crate::common::crafted_server::{CraftedServer, Item, Script, dir, file, symlink};

/// A package of `n` files of `size` bytes each, unique to `tag`.
fn package(tag: &str, n: usize, size: usize) -> Vec<Item> {
    let mut items = vec![dir(tag)];
    for i in 0..n {
        let mut content = format!("// {tag} {i}\n").into_bytes();
        content.resize(size, b'x');
        let mode = if i % 5 == 0 { 0o755 } else { 0o644 };
        items.push(file(&format!("{tag}/f{i}.js"), &content, mode));
    }
    items
}

/// `objects/<sha[..2]>/<sha>.<mode>` of every file of `items`, with its size.
fn objects_of(items: &[Item]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = items
        .iter()
        .filter_map(|item| match item {
            Item::File { content, mode, .. } => {
                let sha = hex::encode(Sha256::digest(content));
                Some((
                    format!("objects/{}/{sha}.{:o}", &sha[..2], mode),
                    content.len() as u64,
                ))
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn present(store: &Path, items: &[Item]) -> Vec<bool> {
    objects_of(items)
        .iter()
        .map(|(path, _)| store.join(path).exists())
        .collect()
}

/// `tree` holds exactly the files, modes and links of `items`.
fn assert_tree(tree: &Path, items: &[Item]) {
    for item in items {
        match item {
            Item::File {
                path,
                content,
                mode,
            } => {
                let p = tree.join(path);
                let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(got == *content, "{} has other bytes", p.display());
                let m = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(m, *mode, "{}", p.display());
            }
            Item::Symlink { path, target } => {
                assert_eq!(
                    std::fs::read_link(tree.join(path)).unwrap().to_str(),
                    Some(target.as_str())
                );
            }
            Item::Dir { path } => assert!(tree.join(path).is_dir()),
        }
    }
}

/// A sandbox project restored from `server` with `store`; asserts success.
fn fetched(server: &CraftedServer, store: &Path, extra: &[&str]) -> Sandbox {
    let sandbox = Sandbox::new();
    fetch_into(&sandbox, server, store, extra);
    sandbox
}

fn fetch_into(sandbox: &Sandbox, server: &CraftedServer, store: &Path, extra: &[&str]) -> String {
    let store_arg = store.to_string_lossy().into_owned();
    let mut args = vec!["--no-fallback", "--local-store", &store_arg];
    args.extend_from_slice(extra);
    let out = sandbox.fetch(&server.url, &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    err
}

/// `depcache store <args> --local-store <store>`.
fn store_cmd(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_depcache"))
        .arg("store")
        .args(args)
        .arg("--local-store")
        .arg(store)
        .env_remove("DEPCACHE_LOCAL_STORE")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// `store <args> --json`, which must succeed; its parsed output.
fn store_json(store: &Path, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = store_cmd(store, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every name under the store with its inode, link count and ctime.
fn snapshot(store: &Path) -> Vec<String> {
    let mut lines: Vec<String> = walkdir::WalkDir::new(store)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            format!(
                "{} {} {} {}.{}",
                e.path().display(),
                m.ino(),
                m.nlink(),
                m.ctime(),
                m.ctime_nsec()
            )
        })
        .collect();
    lines.sort();
    lines
}

fn sum(objects: &[(String, u64)]) -> u64 {
    objects.iter().map(|o| o.1).sum()
}

#[test]
fn prune_keeps_what_live_trees_link_and_status_counts_right() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let shared = file("shared/index.js", b"module.exports = 'shared';\n", 0o644);
    let mut a = package("a", 6, 300);
    a.extend([
        dir("shared"),
        shared.clone(),
        dir(".bin"),
        symlink(".bin/a", "../a/f0.js"),
    ]);
    let mut b = package("b", 4, 700);
    b.extend([dir("shared"), shared]);
    let server_a = CraftedServer::start(Script::of(&a));
    let server_b = CraftedServer::start(Script::of(&b));
    let tree_a = fetched(&server_a, &store, &[]);
    let tree_b = fetched(&server_b, &store, &[]);

    // B's tree is deleted: what only B used is linked by nothing now.
    std::fs::remove_dir_all(tree_b.node_modules()).unwrap();
    let in_use = objects_of(&a);
    let unused: Vec<(String, u64)> = objects_of(&b)
        .into_iter()
        .filter(|o| !in_use.contains(o))
        .collect();
    assert_eq!(unused.len(), 4);
    let status = store_json(&store, &["status"]);
    assert_eq!(status["contents"], (in_use.len() + unused.len()) as u64);
    assert_eq!(status["bytes"], sum(&in_use) + sum(&unused));
    assert_eq!(status["in_use"], in_use.len() as u64);
    assert_eq!(status["in_use_bytes"], sum(&in_use));
    assert_eq!(status["unused"], unused.len() as u64);
    assert_eq!(status["unused_bytes"], sum(&unused));
    let (oldest, newest) = (
        status["oldest_use"].as_u64().unwrap(),
        status["newest_use"].as_u64().unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        oldest <= newest && newest <= now && now - oldest < 600,
        "{status}"
    );
    assert_eq!(status["problems"], serde_json::json!([]));

    // A bucket that is a link to a folder outside, holding what looks like
    // an unused object: reported, never followed.
    let outside = work.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let lure = outside.join(format!("{}.644", "ff".repeat(32)));
    std::fs::write(&lure, "not the store's").unwrap();
    std::os::unix::fs::symlink(&outside, store.join("objects/ff")).unwrap();
    let status = store_json(&store, &["status"]);
    assert_eq!(status["problems"][0]["path"], "objects/ff", "{status}");
    assert_eq!(status["contents"], (in_use.len() + unused.len()) as u64);

    // A dry run reports the same removal and changes nothing at all.
    let before = snapshot(&store);
    let dry = store_json(&store, &["prune", "--dry-run"]);
    assert_eq!(snapshot(&store), before, "a dry run touched the store");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["removed"], unused.len() as u64);
    assert_eq!(dry["removed_bytes"], sum(&unused));

    let report = store_json(&store, &["prune"]);
    assert_eq!(report["removed"], dry["removed"]);
    assert_eq!(report["removed_bytes"], dry["removed_bytes"]);
    assert_eq!(report["removed_in_use"], 0);
    assert_eq!(report["kept"], in_use.len() as u64);
    for (path, _) in &in_use {
        assert!(store.join(path).exists(), "{path} is linked by A's tree");
    }
    for (path, _) in &unused {
        assert!(!store.join(path).exists(), "{path} is linked by nothing");
    }
    assert_tree(&tree_a.node_modules(), &a);
    assert_eq!(std::fs::read_to_string(&lure).unwrap(), "not the store's");
    // The store still serves A whole: nothing downloaded.
    let again = Sandbox::new();
    fetch_into(&again, &server_a, &store, &[]);
    assert_tree(&again.node_modules(), &a);
    assert_eq!(server_a.download_ranges().len(), 1, "A downloaded once");
}

#[test]
fn a_budget_takes_unlinked_contents_first_then_the_least_recently_used() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let trees: Vec<Vec<Item>> = ["a", "b", "c", "d"]
        .iter()
        .map(|t| package(t, 3, 1000))
        .collect();
    let servers: Vec<CraftedServer> = trees
        .iter()
        .map(|t| CraftedServer::start(Script::of(t)))
        .collect();
    // Used in the order a, b, c, d, then a again (linked from the store, which
    // refreshes its contents' last use); d's tree is deleted afterwards.
    let mut keep = Vec::new();
    for i in [0, 1, 2, 3, 0] {
        keep.push(fetched(&servers[i], &store, &[]));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_dir_all(keep[3].node_modules()).unwrap();

    // Unused but recent: --older-than keeps it.
    let aged = store_json(&store, &["prune", "--older-than", "1d"]);
    assert_eq!(aged["removed"], 0, "{aged}");
    assert!(present(&store, &trees[3]).iter().all(|p| *p));

    // Room for two trees: d goes (unlinked, though used last), then b (the
    // least recently used of the linked); a and c stay.
    let budget = (2 * 3 * 1000).to_string();
    let before = snapshot(&store);
    let dry = store_json(&store, &["prune", "--max-size", &budget, "--dry-run"]);
    assert_eq!(snapshot(&store), before, "a dry run touched the store");
    let report = store_json(&store, &["prune", "--max-size", &budget]);
    assert_eq!(report["removed"], 6, "{report}");
    assert_eq!(report["removed_in_use"], 3, "{report}");
    assert_eq!(report["kept_bytes"], 6000, "{report}");
    for key in [
        "removed",
        "removed_bytes",
        "removed_in_use",
        "kept",
        "kept_bytes",
    ] {
        assert_eq!(dry[key], report[key], "{key}: dry run {dry} vs {report}");
    }
    let gone = |i: usize| present(&store, &trees[i]).iter().all(|p| !*p);
    let there = |i: usize| present(&store, &trees[i]).iter().all(|p| *p);
    assert!(gone(3) && gone(1), "d and b removed");
    assert!(there(0) && there(2), "a and c kept");
    // b's tree still holds its files (the store only dropped its names).
    assert_tree(&keep[1].node_modules(), &trees[1]);
}

/// A fetch from a full store raced by a prune that removes everything
/// (`--max-size 0`, in-use contents too), round after round for a few
/// seconds. The prune starts when the fetch logs its index, i.e. just before
/// it looks into the store, after a pause varied per round, so it lands
/// while the fetch hashes or links its contents, or after. Every fetch
/// succeeds and its tree matches its index.
#[test]
fn a_prune_racing_fetches_never_breaks_a_tree() {
    use std::io::BufRead;
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let items = package("pkg", 300, 100);
    let server = CraftedServer::start(Script::of(&items));
    let sandbox = fetched(&server, &store, &[]);
    let store_arg = store.to_string_lossy().into_owned();
    let args = ["--no-fallback", "-v", "--local-store", store_arg.as_str()];

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut rounds = 0u64;
    let mut removed = 0;
    while Instant::now() < deadline || rounds < 20 {
        if present(&store, &items).iter().any(|p| !*p) {
            std::fs::remove_dir_all(sandbox.node_modules()).unwrap();
            fetch_into(&sandbox, &server, &store, &[]);
        }
        std::fs::remove_dir_all(sandbox.node_modules()).unwrap();
        let mut fetch = sandbox
            .command(&server.url, &args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr_pipe = fetch.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut log = String::new();
            for line in std::io::BufReader::new(stderr_pipe).lines() {
                let line = line.unwrap();
                if line.contains("entries") {
                    let _ = tx.send(());
                }
                log.push_str(&line);
                log.push('\n');
            }
            log
        });
        let _ = rx.recv_timeout(Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(rounds * 3 % 40));
        removed += store_json(&store, &["prune", "--max-size", "0"])["removed"]
            .as_u64()
            .unwrap();
        let status = fetch.wait().unwrap();
        let log = reader.join().unwrap();
        assert_eq!(status.code(), Some(0), "round {rounds}: {log}");
        assert_tree(&sandbox.node_modules(), &items);
        rounds += 1;
    }
    assert!(removed > 0, "the prunes removed nothing, so nothing raced");
}

#[test]
fn verify_removes_corrupt_contents_and_planted_links() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let items = package("v", 4, 500);
    let server = CraftedServer::start(Script::of(&items));
    let tree = fetched(&server, &store, &[]);
    let objects = objects_of(&items);

    // A byte flipped with the sealing mtime put back: only the hash tells.
    let corrupt = store.join(&objects[0].0);
    let sealed = std::fs::metadata(&corrupt).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&corrupt).unwrap();
    bytes[3] ^= 1;
    std::fs::write(&corrupt, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&corrupt)
        .unwrap()
        .set_modified(sealed)
        .unwrap();
    // A plain write through the tree: the mtime tells.
    let touched = store.join(&objects[1].0);
    std::fs::write(&touched, vec![b'y'; 500]).unwrap();
    // A link named like an object, pointing outside the store.
    let victim = work.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    let planted_name = format!("{}.644", "ee".repeat(32));
    std::fs::create_dir_all(store.join("objects/ee")).unwrap();
    std::os::unix::fs::symlink(&victim, store.join("objects/ee").join(&planted_name)).unwrap();
    // A bucket that is a link to a folder outside.
    let outside = work.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let lure = outside.join(format!("{}.644", "ff".repeat(32)));
    std::fs::write(&lure, "not the store's").unwrap();
    std::os::unix::fs::symlink(&outside, store.join("objects/ff")).unwrap();

    let status = store_json(&store, &["status"]);
    assert_eq!(status["problems"].as_array().unwrap().len(), 3, "{status}");
    let report = store_json(&store, &["verify"]);
    let removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    let planted = format!("objects/ee/{planted_name}");
    let mut expected = vec![
        objects[0].0.as_str(),
        objects[1].0.as_str(),
        &planted,
        "objects/ff",
    ];
    expected.sort();
    let mut removed_sorted = removed.clone();
    removed_sorted.sort();
    assert_eq!(removed_sorted, expected, "{report}");
    assert_eq!(report["checked"], objects.len() as u64);
    assert!(!corrupt.exists() && !touched.exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(&lure).unwrap(), "not the store's");
    for (path, _) in &objects[2..] {
        assert!(store.join(path).exists(), "{path} is sound");
    }
    let clean = store_json(&store, &["verify"]);
    assert_eq!(clean["removed"], serde_json::json!([]), "{clean}");

    // The next restore fetches what verify removed and is whole.
    std::fs::remove_dir_all(tree.node_modules()).unwrap();
    fetch_into(&tree, &server, &store, &[]);
    assert_tree(&tree.node_modules(), &items);
}

#[test]
fn a_content_stored_under_another_mode_is_not_downloaded_again() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let content = b"#!/usr/bin/env node\nconsole.log('hi');\n";
    let plain = [dir("p"), file("p/run.js", content, 0o644)];
    let executable = [dir("p"), file("p/run.js", content, 0o755)];
    fetched(&CraftedServer::start(Script::of(&plain)), &store, &[]);
    let server = CraftedServer::start(Script::of(&executable));
    let sandbox = fetched(&server, &store, &[]);
    assert_eq!(
        server.download_ranges(),
        Vec::<Option<String>>::new(),
        "downloaded"
    );
    assert_tree(&sandbox.node_modules(), &executable);
    assert!(present(&store, &plain)[0] && present(&store, &executable)[0]);
}

#[test]
fn a_fetch_budget_prunes_the_store_after_the_restore() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let old = package("old", 5, 2000);
    let new = package("new", 5, 1000);
    let first = fetched(&CraftedServer::start(Script::of(&old)), &store, &[]);
    std::fs::remove_dir_all(first.node_modules()).unwrap();
    let server = CraftedServer::start(Script::of(&new));
    let sandbox = Sandbox::new();
    fetch_into(
        &sandbox,
        &server,
        &store,
        &["--local-store-max-size", "6KB"],
    );
    assert_tree(&sandbox.node_modules(), &new);
    assert!(
        present(&store, &old).iter().all(|p| !*p),
        "old contents pruned"
    );
    assert!(
        present(&store, &new).iter().all(|p| *p),
        "the new tree's kept"
    );

    let out = sandbox.fetch(&server.url, &["--local-store-max-size", "1GiB"]);
    assert_one_line_failure(&out, 2);
}

#[test]
fn upkeep_of_a_folder_that_is_no_store_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    for sub in ["status", "prune", "verify"] {
        let out = store_cmd(&work.path().join("nothing"), &[sub]);
        let err = assert_one_line_failure(&out, 2);
        assert!(err.contains("holds no local store"), "{err}");
    }
    assert!(
        !work.path().join("nothing").exists(),
        "upkeep creates no store"
    );
}

/// A store whose `tmp` is a link to another folder: fetch refuses it with a
/// sentence instead of writing temp files there and sweeping old ones away.
#[test]
fn a_store_whose_tmp_is_a_symlink_is_refused_and_its_target_untouched() {
    let items = package("a", 2, 100);
    let server = CraftedServer::start(Script::of(&items));
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("store");
    let victim = root.path().join("victim");
    std::fs::create_dir_all(store.join("objects")).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    let precious = victim.join("precious.txt");
    std::fs::write(&precious, b"keep me").unwrap();
    // Old enough that the leftover sweep would take it.
    let old = std::fs::File::options()
        .write(true)
        .open(&precious)
        .unwrap();
    old.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
    drop(old);
    std::os::unix::fs::symlink(&victim, store.join("tmp")).unwrap();

    let sandbox = Sandbox::new();
    let store_arg = store.to_string_lossy().into_owned();
    let out = sandbox.fetch(&server.url, &["--no-fallback", "--local-store", &store_arg]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a real folder"), "{err}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
}
