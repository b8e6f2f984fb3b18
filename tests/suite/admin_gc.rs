//! `admin gc`: evicts least recently used keys first, keeps what surviving
//! keys reference (their bundles still restore), changes nothing on a dry
//! run, and never breaks a key ingested while it runs.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use depcache::admin::gc::{GcOptions, gc};
use depcache::store::{DirStore, Store};

use crate::admin_support::*;

const DAY: Duration = Duration::from_secs(86400);

/// Three keys sharing one file, each with a unique one; a is the least
/// recently used, c the most.
fn three_keys(store: &DirStore) -> [depcache::protocol::Index; 3] {
    let shared = noise(9, 8000);
    ["a", "b", "c"].map(|seed| {
        let unique = noise(seed.as_bytes()[0] as u64, 20_000);
        ingest(
            store,
            seed,
            &[("shared.js", shared.clone()), ("unique.bin", unique)],
        )
        .0
    })
}

fn unique_sha(index: &depcache::protocol::Index) -> depcache::protocol::Sha256 {
    index
        .files()
        .find(|f| f.path == "unique.bin")
        .unwrap()
        .sha256
}

#[test]
fn a_size_budget_evicts_least_recently_used_first_and_survivors_still_restore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    let [a, b, c] = three_keys(&store);
    set_last_used(root, &a.key, 3 * DAY);
    set_last_used(root, &b.key, 2 * DAY);
    set_last_used(root, &c.key, DAY);
    let (_, blob_bytes) = files_and_bytes(&root.join("objects"));
    let (_, index_bytes) = files_and_bytes(&root.join("indexes"));
    // One byte under the current size: evicting the oldest key is enough.
    let budget = (blob_bytes + index_bytes - 1).to_string();
    let report = admin_json(&[
        "gc",
        "--cache-dir",
        root.to_str().unwrap(),
        "--max-size",
        &budget,
        "--grace",
        "0s",
    ]);
    assert_eq!(report["evicted"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["evicted"][0]["key"], a.key.to_string());
    assert_eq!(report["evicted"][0]["reason"], "max_size");
    assert!(!has_index(root, &a.key));
    assert!(has_index(root, &b.key) && has_index(root, &c.key));
    assert!(!blob_path(root, &unique_sha(&a)).exists());
    assert_eq!(report["blobs_removed"], 1);
    let freed = report["bytes_freed"].as_u64().unwrap();
    let (_, blob_after) = files_and_bytes(&root.join("objects"));
    let (_, index_after) = files_and_bytes(&root.join("indexes"));
    assert_eq!(blob_bytes + index_bytes - freed, blob_after + index_after);
    for f in b.files().chain(c.files()) {
        assert!(blob_path(root, &f.sha256).exists(), "{} lost", f.path);
    }

    // A tighter budget takes b next, never c before b.
    let budget = (blob_after + index_after - 1).to_string();
    let report = admin_json(&[
        "gc",
        "--cache-dir",
        root.to_str().unwrap(),
        "--max-size",
        &budget,
        "--grace",
        "0s",
    ]);
    assert_eq!(report["evicted"][0]["key"], b.key.to_string(), "{report}");
    assert!(has_index(root, &c.key));

    // c's bundle assembles from what is left and unzips to the original tree.
    let (c_again, c_tree) = ingest(
        &store,
        "c",
        &[
            ("shared.js", noise(9, 8000)),
            ("unique.bin", noise(b'c' as u64, 20_000)),
        ],
    );
    assert_eq!(c_again.entries, c.entries);
    let zip = root.join("c.zip");
    let index = store
        .get_index(&crate::common::key(&c.key))
        .unwrap()
        .unwrap();
    depcache::bundle::write_bundle(&index, &store, &mut std::fs::File::create(&zip).unwrap())
        .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let status = Command::new("unzip")
        .arg("-q")
        .arg(&zip)
        .arg("-d")
        .arg(out_dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        describe_tree(&out_dir.path().join("node_modules")),
        describe_tree(&c_tree)
    );
}

#[test]
fn older_than_evicts_only_keys_unused_that_long() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    let [a, b, c] = three_keys(&store);
    set_last_used(root, &a.key, 40 * DAY);
    set_last_used(root, &b.key, 29 * DAY);
    let report = admin_json(&[
        "gc",
        "--cache-dir",
        root.to_str().unwrap(),
        "--older-than",
        "30d",
        "--grace",
        "0s",
    ]);
    assert_eq!(report["evicted"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["evicted"][0]["reason"], "older_than");
    assert!(!has_index(root, &a.key) && has_index(root, &b.key) && has_index(root, &c.key));
    // The shared blob is still referenced by b and c.
    let shared = &a.files().find(|f| f.path == "shared.js").unwrap().sha256;
    assert!(blob_path(root, shared).exists());
}

#[test]
fn dry_run_changes_nothing_but_reports_what_it_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    let [a, _, _] = three_keys(&store);
    set_last_used(root, &a.key, 40 * DAY);
    // An orphan blob, as a crash between blob and index writes leaves.
    let orphan = ingest(&store, "orphan", &[("orphan.bin", noise(77, 5000))]).0;
    std::fs::remove_file(index_file(root, &orphan.key)).unwrap();
    let before = full_listing(root);
    let report = admin_json(&[
        "gc",
        "--cache-dir",
        root.to_str().unwrap(),
        "--older-than",
        "30d",
        "--max-size",
        "1",
        "--grace",
        "0s",
        "--dry-run",
    ]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["evicted"].as_array().unwrap().len(), 3, "{report}");
    assert!(report["blobs_removed"].as_u64().unwrap() >= 5, "{report}");
    assert_eq!(full_listing(root), before);
    let out = admin(&[
        "gc",
        "--cache-dir",
        root.to_str().unwrap(),
        "--max-size",
        "1",
        "--dry-run",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("would remove key"));
    assert_eq!(full_listing(root), before);
}

#[test]
fn young_unreferenced_blobs_are_kept_by_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    let orphan = ingest(&store, "orphan", &[("orphan.bin", noise(77, 5000))]).0;
    std::fs::remove_file(index_file(root, &orphan.key)).unwrap();
    let report = admin_json(&["gc", "--cache-dir", root.to_str().unwrap()]);
    assert_eq!(report["blobs_removed"], 0);
    assert_eq!(report["blobs_in_grace"], 2, "{report}");
    let report = admin_json(&["gc", "--cache-dir", root.to_str().unwrap(), "--grace", "0s"]);
    assert_eq!(report["blobs_removed"], 2, "{report}");
    assert_eq!(files_and_bytes(&root.join("objects")).0, 0);
}

/// Ingestion reusing blobs that gc is sweeping as unreferenced: without the
/// lock an index could name a blob deleted under it.
#[test]
fn gc_racing_ingestion_never_leaves_an_index_naming_a_missing_blob() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = DirStore::open(&root).unwrap();
    let shared: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("lib/f{i}.js"), noise(1000 + i, 2000)))
        .collect();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let store = DirStore::open_existing(&root).unwrap();
            let options = GcOptions {
                older_than: None,
                // Evict everything, then sweep with no grace: the harshest gc.
                max_size: Some(0),
                grace: Duration::ZERO,
                dry_run: false,
            };
            let mut runs = 0;
            while !done.load(Ordering::Relaxed) || runs < 3 {
                gc(&store, &options).unwrap();
                runs += 1;
            }
        });
        // Stops the gc thread even when ingestion panics, so a failure is a
        // failure and not a hang.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&done);
        for round in 0..25 {
            let mut files: Vec<(&str, Vec<u8>)> = shared
                .iter()
                .map(|(p, b)| (p.as_str(), b.clone()))
                .collect();
            let own = noise(round, 100);
            files.push(("own.js", own));
            let (index, _) = ingest(&store, &format!("race-{round}"), &files);
            // Right after ingestion the key is whole, whatever gc does next.
            if let Some(current) = store.get_index(&crate::common::key(&index.key)).unwrap() {
                for f in current.files() {
                    let present = blob_path(&root, &f.sha256).exists();
                    assert!(
                        present || !has_index(&root, &index.key),
                        "{} missing",
                        f.path
                    );
                }
            }
        }
    });
    // Every index that survived names only blobs that exist and verify.
    let report = depcache::admin::verify::verify(&store, false).unwrap();
    assert!(report.is_clean(), "{}", report.render());
}

/// `--dry-run --older-than` evicts a fresh key: its blobs are all in grace.
/// The report says so, with the period and the flag that changes it.
#[test]
fn blobs_kept_by_the_grace_period_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    ingest(&store, "fresh", &[("fresh.bin", noise(78, 5000))]);
    let args = ["gc", "--cache-dir", root.to_str().unwrap(), "--dry-run"];
    let out = admin(&[&args[..], &["--older-than", "0s"]].concat());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("blobs in grace"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("2 (unreferenced"), "{line}");
    assert!(line.contains("less than 10m ago"), "{line}");
    assert!(line.contains("--grace"), "{line}");
    let report = admin_json(&[&args[..], &["--older-than", "0s", "--grace", "90m"]].concat());
    assert_eq!(report["grace_secs"], 5400, "{report}");
    // Nothing kept: no explanation.
    let out = admin(&[&args[..], &["--grace", "0s"]].concat());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("blobs in grace  0\n"), "{text}");
}
