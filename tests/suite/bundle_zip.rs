//! Bundle format edge cases that real trees rarely reach: more than 65,535
//! entries (ZIP64 end records), read back by both `unzip` and the zip crate.

use std::collections::BTreeMap;
use std::process::Command;

use depcache::bundle::write_bundle;
use depcache::protocol::{Entry, FileEntry, INDEX_FORMAT, Index};
use depcache::store::{HashedFile, StagedBlob, Store, pack_file};

fn index_with_files(store: &dyn Store, count: usize) -> Index {
    let scratch = tempfile::tempdir().unwrap();
    let source = scratch.path().join("content");
    std::fs::write(&source, b"same content in every file\n").unwrap();
    let hashed = HashedFile::of(&source).unwrap();
    let (info, staged) = pack_file(&source, &hashed, store.staging_dir()).unwrap();
    store
        .put_blobs(vec![StagedBlob { info, file: staged }])
        .unwrap();
    let mut entries = vec![Entry::Dir {
        path: "d".into(),
        mode: 0o755,
    }];
    entries.extend((0..count).map(|i| {
        Entry::File(FileEntry {
            path: format!("d/{i:06}.txt"),
            sha256: info.sha256,
            size: info.size,
            mode: if i % 2 == 0 { 0o644 } else { 0o755 },
            crc32: info.crc32,
            method: info.method,
            packed_size: info.packed_size,
        })
    }));
    Index {
        format: INDEX_FORMAT,
        key: depcache::protocol::Key::from_bytes([0xcc; 32]),
        manager: "npm".into(),
        versions: BTreeMap::new(),
        platform: None,
        options: None,
        root: "node_modules".into(),
        created: 0,
        entries,
        workspaces: Vec::new(),
        nested: Vec::new(),
        registries: Vec::new(),
    }
}

#[test]
fn more_than_65535_entries_use_zip64_and_still_unzip() {
    let dir = tempfile::tempdir().unwrap();
    let store = depcache::store::open(&dir.path().join("store")).unwrap();
    let index = index_with_files(&*store, 70_000);
    let zip_path = dir.path().join("big.zip");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&zip_path).unwrap());
    write_bundle(&index, &*store, &mut out).unwrap();
    drop(out);

    let archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(archive.len(), 70_000 + 2, "root folder + d/ + files");

    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    let status = Command::new("unzip")
        .arg("-q")
        .arg(&zip_path)
        .arg("-d")
        .arg(&restored)
        .status()
        .unwrap();
    assert!(status.success());
    let files = std::fs::read_dir(restored.join("node_modules/d"))
        .unwrap()
        .count();
    assert_eq!(files, 70_000);
    use std::os::unix::fs::PermissionsExt;
    let odd = std::fs::metadata(restored.join("node_modules/d/000001.txt")).unwrap();
    assert_eq!(odd.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        std::fs::read(restored.join("node_modules/d/069999.txt")).unwrap(),
        b"same content in every file\n"
    );
}

#[test]
fn the_same_index_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = depcache::store::open(&dir.path().join("store")).unwrap();
    let index = index_with_files(&*store, 50);
    let mut first = Vec::new();
    let mut second = Vec::new();
    write_bundle(&index, &*store, &mut first).unwrap();
    write_bundle(&index, &*store, &mut second).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.len() as u64, depcache::bundle::plan(&index).len());
}

/// What `fetch --local-store` relies on to download single contents: each
/// range the plan names holds exactly that blob's packed data in the bundle.
#[test]
fn blob_ranges_locate_each_file_s_packed_data() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let store = depcache::store::open(&dir.path().join("store")).unwrap();
    let index = index_with_files(&*store, 3);
    let mut bundle = Vec::new();
    write_bundle(&index, &*store, &mut bundle).unwrap();
    let plan = depcache::bundle::plan(&index);
    let ranges: Vec<_> = plan.blob_ranges().collect();
    assert_eq!(ranges.len(), 3, "one per file, even with the same content");
    let file = index.files().next().unwrap();
    let mut packed = Vec::new();
    store
        .open_packed(&file.sha256, 0)
        .unwrap()
        .read_to_end(&mut packed)
        .unwrap();
    for (sha, range) in ranges {
        assert_eq!(*sha, file.sha256);
        assert_eq!(
            &bundle[range.start as usize..range.end as usize],
            &packed[..]
        );
    }
}
