//! The layout's own tests: offsets the plan promises against what a ZIP
//! reader finds, and the ZIP64 boundaries, including an entry over 4 GiB laid
//! out in a sparse file (only the header bytes are written).

use std::io::{Read, Seek, SeekFrom, Write};

use super::*;
use crate::bundle::write_bundle;
use crate::protocol::{FileEntry, INDEX_FORMAT};
use crate::store::{HashedFile, MemStore, StagedBlob, Store, pack_file};

fn index(entries: Vec<Entry>) -> Index {
    let mut index: Index = serde_json::from_value(serde_json::json!({
        "format": INDEX_FORMAT, "key": "c".repeat(64), "manager": "npm",
        "versions": {}, "root": "node_modules", "created": 0, "entries": [],
    }))
    .unwrap();
    index.entries = entries;
    index
}

fn stored_file(store: &dyn Store, path: &str, content: &[u8], mode: u32) -> Entry {
    let scratch = tempfile::tempdir().unwrap();
    let source = scratch.path().join("content");
    std::fs::write(&source, content).unwrap();
    let hashed = HashedFile::of(&source).unwrap();
    let (info, staged) = pack_file(&source, &hashed, store.staging_dir()).unwrap();
    store
        .put_blobs(vec![StagedBlob { info, file: staged }])
        .unwrap();
    Entry::File(FileEntry {
        path: path.into(),
        sha256: info.sha256,
        size: info.size,
        mode,
        crc32: info.crc32,
        method: info.method,
        packed_size: info.packed_size,
    })
}

#[test]
fn blob_ranges_are_where_a_zip_reader_finds_the_data() {
    let store = MemStore::new().unwrap();
    let a = b"module.exports = 1;\n".repeat(200);
    let entries = vec![
        Entry::Dir {
            path: "a".into(),
            mode: 0o755,
        },
        stored_file(&store, "a/index.js", &a, 0o644),
        stored_file(&store, "a/run.sh", b"#!/bin/sh\n", 0o755),
        Entry::Symlink {
            path: "b".into(),
            target: "a".into(),
        },
    ];
    let index = index(entries);
    let plan = plan(&index);
    let mut bytes = Vec::new();
    write_bundle(&index, &store, &mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, plan.len());

    let ranges: Vec<_> = plan.blob_ranges().map(|(_, r)| r).collect();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "node_modules/",
            "node_modules/a/",
            "node_modules/a/index.js",
            "node_modules/a/run.sh",
            "node_modules/b"
        ]
    );
    for (number, (content, mode)) in [(2, (&a[..], 0o644)), (3, (&b"#!/bin/sh\n"[..], 0o755))] {
        let mut entry = zip.by_index(number).unwrap();
        let range = &ranges[number - 2];
        assert_eq!(entry.data_start(), Some(range.start));
        assert_eq!(entry.compressed_size(), range.end - range.start);
        assert_eq!(entry.unix_mode(), Some(0o100000 | mode));
        let mut read = Vec::new();
        entry.read_to_end(&mut read).unwrap();
        assert_eq!(read, content);
    }
    let link = zip.by_index(4).unwrap();
    assert!(link.is_symlink());
    assert_eq!(link.size(), 1);
}

#[test]
fn an_entry_over_4_gib_and_one_after_it_use_zip64_fields() {
    const BIG: u64 = 5 << 30;
    let index = index(vec![
        Entry::File(FileEntry {
            path: "big".into(),
            sha256: crate::protocol::Sha256::from_bytes([0xaa; 32]),
            size: BIG,
            mode: 0o644,
            crc32: 0,
            method: METHOD_STORED,
            packed_size: BIG,
        }),
        Entry::Symlink {
            path: "link".into(),
            target: "big".into(),
        },
    ]);
    let plan = plan(&index);
    // Sparse: the header bytes at their offsets, a hole where the blob is.
    let mut file = tempfile::tempfile().unwrap();
    for (start, segment) in &plan.segments {
        if let Segment::Bytes(bytes) = segment {
            file.seek(SeekFrom::Start(*start)).unwrap();
            file.write_all(bytes).unwrap();
        }
    }
    file.set_len(plan.len()).unwrap();

    let blob = plan.blob_ranges().next().unwrap().1;
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let big = zip.by_name("node_modules/big").unwrap();
    assert_eq!((big.size(), big.compressed_size()), (BIG, BIG));
    assert_eq!(big.data_start(), Some(blob.start));
    drop(big);
    let mut link = zip.by_name("node_modules/link").unwrap();
    assert!(link.header_start() > U32_MAX);
    assert_eq!(link.header_start(), blob.end);
    let mut target = String::new();
    link.read_to_string(&mut target).unwrap();
    assert_eq!(target, "big");
}

fn file_central(size: u64, offset: u64) -> Central {
    Central {
        name: b"f".to_vec(),
        method: METHOD_STORED,
        crc32: 0,
        packed: size,
        size,
        external: 0,
        offset,
    }
}

/// 0xFFFF_FFFF itself means "see the ZIP64 field", so it is the first value
/// that needs one.
#[test]
fn sizes_and_offsets_switch_to_zip64_at_u32_max() {
    let small = local_header(&file_central(U32_MAX - 1, 0));
    assert_eq!(small.len(), 30 + 1);
    assert_eq!(&small[4..6], &20u16.to_le_bytes());
    let big = local_header(&file_central(U32_MAX, 0));
    assert_eq!(big.len(), 30 + 1 + 20);
    assert_eq!(&big[4..6], &45u16.to_le_bytes());

    let central = |size, offset| {
        let mut b = BytesMut::new();
        central_header(&mut b, &file_central(size, offset));
        b.len()
    };
    assert_eq!(central(U32_MAX - 1, U32_MAX - 1), 46 + 1);
    // Size and packed size overflow: two u64s; the offset too: three.
    assert_eq!(central(U32_MAX, U32_MAX - 1), 46 + 1 + 4 + 16);
    assert_eq!(central(U32_MAX, U32_MAX), 46 + 1 + 4 + 24);
    assert_eq!(central(1, U32_MAX), 46 + 1 + 4 + 8);
}

#[test]
fn the_end_records_switch_to_zip64_at_65535_entries() {
    let eocd = |entries| {
        let mut b = BytesMut::new();
        end_of_central_directory(&mut b, entries, 100, 1000);
        b
    };
    let plain = eocd(0xFFFE);
    assert_eq!(plain.len(), 22);
    assert_eq!(&plain[8..10], &0xFFFEu16.to_le_bytes());
    let zip64 = eocd(0xFFFF);
    assert_eq!(zip64.len(), 56 + 20 + 22);
    assert_eq!(&zip64[0..4], &ZIP64_EOCD_SIG.to_le_bytes());
    assert_eq!(&zip64[32..40], &0xFFFFu64.to_le_bytes());
    assert_eq!(&zip64[56..60], &ZIP64_LOCATOR_SIG.to_le_bytes());
    // The locator points at the ZIP64 record, which starts right after the
    // central directory.
    assert_eq!(&zip64[64..72], &1100u64.to_le_bytes());
    let end = &zip64[76..];
    assert_eq!(&end[0..4], &EOCD_SIG.to_le_bytes());
    assert_eq!(&end[8..10], &0xFFFFu16.to_le_bytes());
}
