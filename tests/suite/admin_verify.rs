//! `admin verify` finds flipped bytes and missing blobs, exits 6 until
//! repaired, and `--repair` removes exactly what is broken.

use depcache::store::DirStore;

use crate::admin_support::*;

#[test]
fn verify_finds_corruption_and_repair_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    let (a, _) = ingest(
        &store,
        "a",
        &[
            ("text.js", b"hello ".repeat(500)),
            ("a.bin", noise(1, 4000)),
        ],
    );
    let (b, _) = ingest(&store, "b", &[("b.bin", noise(2, 4000))]);
    let (c, _) = ingest(&store, "c", &[("c.bin", noise(3, 4000))]);
    let cache_dir = root.to_str().unwrap();

    let clean = admin(&["verify", "--cache-dir", cache_dir]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    // Flip one byte of a's deflated text blob; delete b's unique blob.
    let sha_of = |index: &depcache::protocol::Index, path: &str| {
        index.files().find(|f| f.path == path).unwrap().sha256
    };
    let flipped = sha_of(&a, "text.js");
    let blob = blob_path(root, &flipped);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&blob, bytes).unwrap();
    let missing = sha_of(&b, "b.bin");
    std::fs::remove_file(blob_path(root, &missing)).unwrap();

    let out = admin(&["verify", "--cache-dir", cache_dir, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "documented exit code for problems"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["corrupt_blobs"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["corrupt_blobs"][0]["sha256"], flipped.to_string());
    let bad: Vec<&str> = report["bad_indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    let (a_key, b_key) = (a.key.to_string(), b.key.to_string());
    let mut expected = vec![a_key.as_str(), b_key.as_str()];
    expected.sort();
    let mut bad_sorted = bad.clone();
    bad_sorted.sort();
    assert_eq!(bad_sorted, expected, "{report}");
    assert!(report.to_string().contains("missing"), "{report}");
    // Nothing removed without --repair.
    assert!(blob.exists() && has_index(root, &a.key));

    let out = admin(&["verify", "--cache-dir", cache_dir, "--repair"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!blob.exists());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("repaired: removed 1 blob and 2 indexes;"),
        "{said}"
    );
    assert!(!has_index(root, &a.key) && !has_index(root, &b.key));
    assert!(has_index(root, &c.key), "an intact key stays");
    // Blobs of a that were fine stay (gc will collect them if unused).
    assert!(blob_path(root, &sha_of(&a, "a.bin")).exists());
    let again = admin(&["verify", "--cache-dir", cache_dir]);
    assert!(again.status.success());

    // The repaired key ingests again from scratch and verifies.
    ingest(
        &store,
        "a",
        &[
            ("text.js", b"hello ".repeat(500)),
            ("a.bin", noise(1, 4000)),
        ],
    );
    assert!(blob.exists());
    assert!(
        admin(&["verify", "--cache-dir", cache_dir])
            .status
            .success()
    );
}

#[test]
fn verify_reports_a_header_that_disagrees_with_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = DirStore::open(root).unwrap();
    let (a, _) = ingest(&store, "a", &[("a.bin", noise(1, 4000))]);
    // Rewrite the index with a wrong CRC for one file.
    let path = index_file(root, &a.key);
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for e in index["entries"].as_array_mut().unwrap() {
        if e["path"] == "a.bin" {
            e["crc32"] = serde_json::json!(12345);
        }
    }
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    let out = admin(&["verify", "--cache-dir", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("disagrees"), "{text}");
}

#[test]
fn verify_counts_one_index_in_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    ingest(&store, "one", &[("a.bin", noise(7, 100))]);
    let out = admin(&["verify", "--cache-dir", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(" and 1 index: 0 corrupt blobs, 0 bad indexes"),
        "{text}"
    );
}
