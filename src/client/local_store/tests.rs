//! Unit tests of the store's entry, presence and placement checks.

use super::*;

fn entry(content: &[u8], mode: u32) -> FileEntry {
    FileEntry {
        path: "p/index.js".into(),
        sha256: crate::protocol::Sha256::from_bytes(Sha256::digest(content).into()),
        size: content.len() as u64,
        mode,
        crc32: 0,
        method: 0,
        packed_size: content.len() as u64,
    }
}

#[test]
fn only_verified_untouched_contents_count_as_present() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    let f = entry(b"module.exports = 1;\n", 0o644);
    assert!(!store.has(&f));
    // Wrong content never enters.
    let err = store.ingest(&f, &mut &b"module.exports = 2;\n"[..]);
    assert!(matches!(err, Err(ClientError::Verification(_))));
    assert!(!store.has(&f));
    store
        .ingest(&f, &mut &b"module.exports = 1;\n"[..])
        .unwrap();
    assert!(store.has(&f));
    // Another mode is another file: a hard link cannot differ in mode.
    assert!(!store.has(&entry(b"module.exports = 1;\n", 0o755)));

    // Placed by hard link: the same inode.
    let tree = dir.path().join("tree.js");
    assert_eq!(store.place(&f, &tree).unwrap(), f.size);
    assert!(fs::metadata(&tree).unwrap().nlink() >= 2);

    // A write through the link (same size) unseals it: no longer used.
    fs::write(&tree, b"module.exports = 3;\n").unwrap();
    assert!(!store.has(&f));
    store
        .ingest(&f, &mut &b"module.exports = 1;\n"[..])
        .unwrap();
    assert!(store.has(&f));
    // `cp -p` of another sealed, same-size file: size, mode and mtime
    // all as sealed, only the bytes differ. Counts as missing.
    let tree = dir.path().join("tree2.js");
    store.place(&f, &tree).unwrap();
    fs::write(&tree, b"module.exports = 4;\n").unwrap();
    File::open(&tree)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + SEALED)
        .unwrap();
    assert!(!store.has(&f));
    assert!(store.place(&f, &dir.path().join("tree3.js")).is_err());
    store
        .ingest(&f, &mut &b"module.exports = 1;\n"[..])
        .unwrap();
    assert!(store.has(&f));
    // A store file of the wrong size counts as missing, even with the
    // sealing mtime put back.
    let object = store.object(&f);
    let handle = fs::OpenOptions::new().write(true).open(&object).unwrap();
    handle.set_len(3).unwrap();
    handle
        .set_modified(SystemTime::UNIX_EPOCH + SEALED)
        .unwrap();
    assert!(!store.has(&f));
}

#[test]
fn a_malformed_hash_never_becomes_a_path() {
    // Refused where the server's index is parsed, before any path exists.
    let mut f = serde_json::to_value(entry(b"x", 0o644)).unwrap();
    f["sha256"] = "../../etc/passwd".into();
    assert!(serde_json::from_value::<FileEntry>(f).is_err());
}
