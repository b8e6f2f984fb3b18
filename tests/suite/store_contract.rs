//! The `Store` contract, written once and run on every backend: the
//! directory store, the in-memory store and (tests/suite/s3_servers.rs) S3
//! through a real S3-compatible server. A backend is done when it passes.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use depcache::bundle::write_bundle;
use depcache::protocol::{Index, Manager, Sha256 as Id};
use depcache::store::{
    DirStore, GcSafety, MemStore, OpenMode, Store, StoreLocation, TreeLimits, ingest_tree,
    ingest_tree_counted, open_location, unpack,
};
use sha2::{Digest, Sha256};

use crate::admin_support::{make_tree, noise, request};

/// Files of the contract's first tree: text that deflates, noise that
/// does not, an empty file and a duplicate.
fn first_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a/index.js", b"module.exports = 1;\n".repeat(200)),
        ("a/blob.bin", noise(1, 70_000)),
        ("a/empty.txt", Vec::new()),
        ("b/same.js", b"module.exports = 1;\n".repeat(200)),
    ]
}

fn ingest(store: &dyn Store, seed: &str, files: &[(&str, Vec<u8>)]) -> Index {
    let work = tempfile::tempdir().unwrap();
    let tree = make_tree(work.path(), Manager::Npm, files);
    ingest_tree(store, &tree, &request(Manager::Npm, seed)).unwrap()
}

fn bundle_sha(store: &dyn Store, index: &Index) -> String {
    let mut out = Vec::new();
    write_bundle(index, store, &mut out).unwrap();
    hex::encode(Sha256::digest(&out))
}

/// Runs the whole contract; returns the sha256 of the first tree's bundle,
/// which must be the same on every backend.
pub fn run_contract(store: &dyn Store) -> String {
    empty_store(store);
    let index = ingest(store, "contract-1", &first_files());
    reads_back(store, &index);
    let sha = bundle_sha(store, &index);
    assert_eq!(bundle_sha(store, &index), sha, "bundles are deterministic");
    dedups(store);
    rewrite_keeps_one_index(store, &index);
    listings(store, &index);
    deletes(store, &index);
    rejects_hostile_names(store);
    concurrent_ingestions(store);
    gc_capability(store);
    sha
}

fn empty_store(store: &dyn Store) {
    let key = request(Manager::Npm, "contract-1").hash;
    assert!(
        store
            .get_index(&crate::common::key(&key))
            .unwrap()
            .is_none()
    );
    let sha = Id::from_bytes(Sha256::digest(b"absent").into());
    assert_eq!(store.blob_infos(&[sha, sha]).unwrap(), vec![None, None]);
    assert!(store.blob_info(&sha).unwrap().is_none());
}

fn reads_back(store: &dyn Store, index: &Index) {
    let stored = store
        .get_index(&crate::common::key(&index.key))
        .unwrap()
        .expect("index stored");
    assert_eq!(&stored, index);
    assert!(store.list_keys().unwrap().contains(&index.key));
    let files: Vec<_> = index.files().collect();
    assert_eq!(files.len(), 5, "4 files plus the executable");
    let shas: Vec<Id> = files.iter().map(|f| f.sha256).collect();
    let infos = store.blob_infos(&shas).unwrap();
    for (file, info) in files.iter().zip(infos) {
        let info = info.unwrap_or_else(|| panic!("blob of {} missing", file.path));
        assert_eq!(Some(info), store.blob_info(&file.sha256).unwrap());
        assert_eq!(
            (info.size, info.crc32, info.packed_size),
            (file.size, file.crc32, file.packed_size)
        );
        let mut content = Vec::new();
        unpack(&info, store.open_packed(&file.sha256, 0).unwrap())
            .read_to_end(&mut content)
            .unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&content)),
            file.sha256.to_string()
        );
        if info.packed_size > 10 {
            let mut tail = Vec::new();
            store
                .open_packed(&file.sha256, 10)
                .unwrap()
                .take(info.packed_size - 10)
                .read_to_end(&mut tail)
                .unwrap();
            let mut whole = Vec::new();
            store
                .open_packed(&file.sha256, 0)
                .unwrap()
                .take(info.packed_size)
                .read_to_end(&mut whole)
                .unwrap();
            assert_eq!(tail, whole[10..], "offsets are past the header");
        }
    }
}

fn dedups(store: &dyn Store) {
    let mut files = first_files();
    files.push(("c/new.txt", b"only in the second tree\n".to_vec()));
    let work = tempfile::tempdir().unwrap();
    let tree = make_tree(work.path(), Manager::Npm, &files);
    let (_, stats) = ingest_tree_counted(
        store,
        &tree,
        &request(Manager::Npm, "contract-2"),
        TreeLimits::default(),
    )
    .unwrap();
    assert_eq!(stats.new_blobs, 1, "only the new content is stored");
}

fn rewrite_keeps_one_index(store: &dyn Store, index: &Index) {
    let mut other = index.clone();
    other.created += 1;
    store.put_index(&other).unwrap();
    let stored = store
        .get_index(&crate::common::key(&index.key))
        .unwrap()
        .unwrap();
    assert!(
        stored == *index || stored == other,
        "one whole index remains"
    );
}

fn listings(store: &dyn Store, index: &Index) {
    let Ok(metas) = store.list_indexes() else {
        return;
    };
    let meta = metas.iter().find(|m| m.key == index.key).expect("listed");
    assert_eq!(meta.manager, "npm");
    assert!(meta.size > 0);
    assert_eq!(
        store.read_listed_index(meta).unwrap().as_ref(),
        store
            .get_index(&crate::common::key(&index.key))
            .unwrap()
            .as_ref()
    );
    for file in index.files() {
        let sha = file.sha256;
        let shard = store.list_blobs(sha.as_bytes()[0]).unwrap();
        let blob = shard.iter().find(|b| b.sha256 == sha).expect("blob listed");
        assert_eq!(blob.size, 32 + file.packed_size);
        assert!(
            shard
                .iter()
                .all(|b| b.sha256.as_bytes()[0] == sha.as_bytes()[0])
        );
    }
    // A use after the listing keeps the key from eviction; the generation
    // stays, since the index was not rewritten. (Past a second: some stores
    // keep times to the second.)
    std::thread::sleep(Duration::from_millis(1100));
    store.touch_index(&crate::common::key(&index.key)).unwrap();
    let after = store.list_indexes().unwrap();
    let touched = after.iter().find(|m| m.key == index.key).unwrap();
    assert_eq!(touched.generation, meta.generation);
    assert!(touched.last_used > meta.last_used, "touch moves last use");
    assert!(
        !store.delete_listed_index(meta).unwrap(),
        "used since listed"
    );
    assert!(
        store
            .get_index(&crate::common::key(&index.key))
            .unwrap()
            .is_some()
    );
    assert!(store.delete_listed_index(touched).unwrap());
    assert!(
        store
            .get_index(&crate::common::key(&index.key))
            .unwrap()
            .is_none()
    );
    store.put_index(index).unwrap();
}

fn deletes(store: &dyn Store, index: &Index) {
    let key = request(Manager::Npm, "contract-2").hash;
    assert!(store.delete_index(&crate::common::key(&key)).unwrap());
    assert!(!store.delete_index(&crate::common::key(&key)).unwrap());
    assert!(
        store
            .get_index(&crate::common::key(&key))
            .unwrap()
            .is_none()
    );
    let only_second = Id::from_bytes(Sha256::digest(b"only in the second tree\n").into());
    assert!(store.delete_blob(&only_second).unwrap());
    assert!(!store.delete_blob(&only_second).unwrap());
    assert!(store.blob_info(&only_second).unwrap().is_none());
    assert!(store.open_packed(&only_second, 0).is_err());
    assert!(
        store
            .get_index(&crate::common::key(&index.key))
            .unwrap()
            .is_some(),
        "others stay"
    );
}

fn rejects_hostile_names(_store: &dyn Store) {
    // A key reaches the store only as a `Key`, which these cannot become.
    for key in ["../../etc/passwd", "ab", "", "AB/../x"] {
        assert!(depcache::protocol::Key::parse(key).is_err(), "{key:?}");
    }
    // Nor a blob's sha256 but as a `Sha256`.
    for sha in ["../x", "zz", ""] {
        assert!(Id::parse(sha).is_err(), "{sha:?}");
    }
}

/// Two ingestions of one key at once end with one readable index.
fn concurrent_ingestions(store: &dyn Store) {
    let files = [("x/shared.js", b"export default 2;\n".repeat(50))];
    let indexes: Vec<Index> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| ingest(store, "contract-race", &files)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stored = store
        .get_index(&crate::common::key(&indexes[0].key))
        .unwrap()
        .unwrap();
    assert!(indexes.contains(&stored));
    assert!(!bundle_sha(store, &stored).is_empty());
}

/// A backend states how gc stays safe; with a lock, a sweep excludes
/// ingestions.
fn gc_capability(store: &dyn Store) {
    match store.gc_safety() {
        GcSafety::Locked => {
            let ingesting = store.ingest_lock().unwrap();
            let _also = store.ingest_lock().unwrap();
            let started = Instant::now();
            std::thread::scope(|s| {
                let sweep = s.spawn(|| {
                    let _lock = store.sweep_lock().unwrap();
                    started.elapsed()
                });
                std::thread::sleep(Duration::from_millis(300));
                drop(ingesting);
                drop(_also);
                assert!(sweep.join().unwrap() >= Duration::from_millis(300));
            });
        }
        GcSafety::Protocol => {
            let times = store
                .protocol_times()
                .expect("protocol stores state their times");
            assert!(times.window < times.min_grace);
        }
        GcSafety::Unsupported => {}
    }
}

#[test]
fn directory_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let sha = run_contract(&store);
    assert_eq!(
        sha,
        run_contract(&MemStore::new().unwrap()),
        "same bundle bytes"
    );
}

#[test]
fn memory_store_keeps_the_contract() {
    run_contract(&MemStore::new().unwrap());
}

#[test]
fn gc_refuses_a_store_without_gc_safety() {
    let store = MemStore::unguarded().unwrap();
    ingest(&store, "unguarded", &first_files());
    let options = depcache::admin::gc::GcOptions {
        older_than: Some(Duration::ZERO),
        max_size: None,
        grace: Duration::ZERO,
        dry_run: false,
    };
    let err = depcache::admin::gc::gc(&store, &options).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("gc refuses"), "{err}");
    assert_eq!(store.list_keys().unwrap().len(), 1, "nothing evicted");
}

#[test]
fn admin_opens_through_the_factory() {
    let missing = tempfile::tempdir().unwrap().path().join("nothing-here");
    let location = StoreLocation::Dir(missing.clone());
    assert!(open_location(&location, &OpenMode::Admin).is_err());
    assert!(!missing.exists(), "admin never creates a store");
    let store: Arc<dyn Store> =
        open_location(&location, &OpenMode::Serve { work_dir: None }).unwrap();
    assert!(missing.join("objects").is_dir());
    assert!(open_location(&location, &OpenMode::Admin).is_ok());
    drop(store);
}

/// `--cache-dir s3://...` never becomes a local folder named `s3:`, whether
/// or not the S3 backend can reach the bucket.
#[test]
fn s3_locations_never_become_folders() {
    let cwd = tempfile::tempdir().unwrap();
    for args in [
        vec!["admin", "stats", "--cache-dir", "s3:/bucket/prefix"],
        vec!["admin", "list", "--cache-dir", "gs://bucket"],
        vec!["serve", "--is-public", "--cache-dir", "s3:bucket", "0"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
            .args(&args)
            .current_dir(cwd.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.to_lowercase().contains("s3"), "{args:?}: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "no folder made"
    );
}
