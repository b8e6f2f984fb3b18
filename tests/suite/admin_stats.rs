//! `admin stats` and `admin list` report exactly what was put in the store.

use depcache::protocol::Manager;
use depcache::store::DirStore;

use crate::admin_support::*;

#[test]
fn stats_match_what_was_stored_and_what_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let shared = noise(1, 10_000);
    let (a, _) = ingest(
        &store,
        "a",
        &[("lib/shared.js", shared.clone()), ("a.js", noise(2, 3000))],
    );
    let (b, _) = ingest(
        &store,
        "b",
        &[("lib/shared.js", shared.clone()), ("b.js", noise(3, 4000))],
    );
    let (c, _) = ingest_as(
        &store,
        Manager::Composer,
        "c",
        &[("lib/shared.php", shared)],
    );

    let s = admin_json(&["stats", "--cache-dir", dir.path().to_str().unwrap()]);
    let (blobs, blob_bytes) = files_and_bytes(&dir.path().join("objects"));
    let (indexes, index_bytes) = files_and_bytes(&dir.path().join("indexes"));
    // shared, a.js, b.js and the run.js every tree holds.
    assert_eq!(blobs, 4);
    assert_eq!(s["format"], 1);
    assert_eq!(s["keys"], 3);
    assert_eq!(indexes, 3);
    assert_eq!(s["blobs"], blobs);
    assert_eq!(s["blob_bytes"], blob_bytes);
    assert_eq!(s["index_bytes"], index_bytes);
    assert_eq!(s["bundle_bytes"], 0);
    let logical = a.logical_size() + b.logical_size() + c.logical_size();
    assert_eq!(s["logical_bytes"], logical);
    let ratio = s["dedup_ratio"].as_f64().unwrap();
    assert!(
        (ratio - logical as f64 / blob_bytes as f64).abs() < 0.01,
        "{ratio}"
    );
    assert!(ratio > 1.5, "three trees share most bytes: {ratio}");
    assert_eq!(s["managers"]["npm"], 2);
    assert_eq!(s["managers"]["composer"], 1);
    let created = [a.created, b.created, c.created];
    assert_eq!(s["oldest"]["time"], *created.iter().min().unwrap());
    assert_eq!(s["newest"]["time"], *created.iter().max().unwrap());

    // The human form names every figure, aligned.
    let out = admin(&["stats", "--cache-dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("keys (composer)"), "{text}");
    // 0 kept bundles is the usual figure: said why, not a bare 0.
    assert!(
        text.contains("kept bundles         0 (none yet: serve keeps"),
        "{text}"
    );
    let value_columns: Vec<usize> = text
        .lines()
        .map(|l| l.find("  ").unwrap() + l[l.find("  ").unwrap()..].find(|c| c != ' ').unwrap())
        .collect();
    assert!(value_columns.windows(2).all(|w| w[0] == w[1]), "{text}");
}

#[test]
fn list_names_every_key_with_its_details_most_recent_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let (a, _) = ingest(&store, "a", &[("a.js", b"a".to_vec())]);
    let (b, _) = ingest_as(&store, Manager::Composer, "b", &[("b.php", b"bb".to_vec())]);
    set_last_used(dir.path(), &a.key, std::time::Duration::from_secs(3600));
    let list = admin_json(&["list", "--cache-dir", dir.path().to_str().unwrap()]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|e| e["format"] == 1), "{list:?}");
    assert_eq!(list[0]["key"], b.key.to_string());
    assert_eq!(list[0]["manager"], "composer");
    assert_eq!(list[0]["versions"]["php"], "8.3.6");
    assert_eq!(list[0]["platform"], "linux-x64-glibc");
    assert_eq!(list[0]["files"], b.file_count());
    assert_eq!(list[0]["size"], b.logical_size());
    assert_eq!(list[1]["key"], a.key.to_string());
    assert!(list[0]["last_used"].as_u64() > list[1]["last_used"].as_u64());
    let out = admin(&["list", "--cache-dir", dir.path().to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("KEY"), "{text}");
    assert!(
        text.contains(&a.key.to_string()[..16]) && text.contains("node=20.20.2"),
        "{text}"
    );
}

#[test]
fn admin_refuses_a_directory_that_is_not_a_store_and_leaves_tmp_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = admin(&["stats", "--cache-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    DirStore::open(dir.path()).unwrap();
    // A live server's staging file must survive an admin command.
    std::fs::write(dir.path().join("tmp/blob-in-progress"), b"x").unwrap();
    admin_json(&["stats", "--cache-dir", dir.path().to_str().unwrap()]);
    assert!(dir.path().join("tmp/blob-in-progress").exists());
}

/// The kept bundles' real size (those `serve` keeps from a key's second
/// download), in both forms.
#[test]
fn stats_count_kept_bundles() {
    use depcache::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let (a, _) = ingest(&store, "a", &[("a.js", noise(2, 3000))]);
    store
        .keep_bundle(&crate::common::key(&a.key), 1, &mut |out| {
            out.write_all(&[7u8; 4321])
        })
        .unwrap();
    let s = admin_json(&["stats", "--cache-dir", dir.path().to_str().unwrap()]);
    assert_eq!(s["bundle_bytes"], 4321);
    let out = admin(&["stats", "--cache-dir", dir.path().to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("kept bundles         4321 (4.2 KiB)\n"),
        "{text}"
    );
}
