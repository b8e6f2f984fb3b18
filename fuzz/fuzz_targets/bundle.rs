//! A bundle and index from a hostile server, restored for real into a fresh
//! project folder: anything but an exact, contained tree is refused, and a
//! refusal leaves nothing behind. Input: 4 bytes little-endian length of the
//! index JSON, the index JSON, then the ZIP bytes.
#![no_main]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use depcache::client::fuzzing::restore;
use depcache::protocol::{Entry, Index};
use indicatif::ProgressBar;
use libfuzzer_sys::fuzz_target;

const ROOT: &str = "node_modules";

/// Every path under `dir`, relative, with what it is; links not followed.
fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, &'static str>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            out.insert(rel, "symlink");
        } else if kind.is_dir() {
            out.insert(rel.clone(), "dir");
            walk(&entry.path(), &rel, out);
        } else {
            out.insert(rel, "file");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let len = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
    let Some(index_json) = data.get(4..4usize.saturating_add(len)) else {
        return;
    };
    let zip = &data[4 + len..];
    let Ok(index) = serde_json::from_slice::<Index>(index_json) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let bundle = scratch.path().join("bundle.zip");
    fs::write(&bundle, zip).unwrap();
    let project = scratch.path().join("project");
    fs::create_dir(&project).unwrap();

    let result = restore(&bundle, &index, &project, ROOT, &ProgressBar::hidden());
    // To see whether a seed gets through (a seed that is refused tests little).
    if std::env::var_os("FUZZ_SHOW_RESULT").is_some() {
        eprintln!("restore: {result:?}");
    }
    let mut left = BTreeMap::new();
    walk(&project, "", &mut left);
    match result {
        Err(_) => assert!(left.is_empty(), "a refused bundle left {left:?}"),
        Ok(_) => {
            let tree = project.join(ROOT);
            let real_root = fs::canonicalize(&tree).unwrap();
            let mut restored = BTreeMap::new();
            walk(&tree, "", &mut restored);
            for entry in &index.entries {
                let kind = match entry {
                    Entry::File(_) => "file",
                    Entry::Dir { .. } => "dir",
                    Entry::Symlink { .. } => "symlink",
                };
                assert_eq!(
                    restored.remove(entry.path()),
                    Some(kind),
                    "{}",
                    entry.path()
                );
                if let Entry::Symlink { path, .. } = entry
                    && let Ok(to) = fs::canonicalize(tree.join(path))
                {
                    assert!(to.starts_with(&real_root), "{path:?} resolves to {to:?}");
                }
            }
            // Whatever is left are the folders the index leaves implicit.
            assert!(
                restored.values().all(|k| *k == "dir"),
                "extra: {restored:?}"
            );
            assert_eq!(
                fs::read_dir(&project).unwrap().count(),
                1,
                "only {ROOT} is left in the project"
            );
        }
    }
});
