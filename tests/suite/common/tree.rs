//! Tree manifests and comparison: what "the same installed tree" means in
//! tests (content, permission bits, symlink targets; not mtimes or dir modes).

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

/// One entry of a tree, keyed by its `/`-separated path relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `mode` is `permissions & 0o777`.
    File {
        sha256: String,
        mode: u32,
    },
    Symlink {
        target: String,
    },
    /// Directory modes are ignored: installers and umasks differ on them.
    Dir,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::File { sha256, mode } => write!(f, "file {mode:03o} sha256:{}", &sha256[..12]),
            Node::Symlink { target } => write!(f, "symlink -> {target}"),
            Node::Dir => write!(f, "dir"),
        }
    }
}

/// The client's stat manifest in a restored root: its own record, not part
/// of the installed tree.
pub const STATE_FILE: &str = ".depcache-state";

/// Walks `root` without following symlinks. The root itself and the
/// client's `STATE_FILE` in it are not listed.
pub fn tree_manifest(root: &Path) -> BTreeMap<String, Node> {
    assert!(
        root.is_dir(),
        "tree root {} is not a directory",
        root.display()
    );
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1).follow_links(false) {
        let entry = entry.unwrap_or_else(|e| panic!("walking {}: {e}", root.display()));
        let rel = entry.path().strip_prefix(root).unwrap();
        let key = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if key == STATE_FILE {
            continue;
        }
        let ft = entry.file_type();
        let node = if ft.is_symlink() {
            let target = std::fs::read_link(entry.path()).unwrap();
            Node::Symlink {
                target: target.to_string_lossy().into_owned(),
            }
        } else if ft.is_dir() {
            Node::Dir
        } else if ft.is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            Node::File {
                sha256: hex::encode(Sha256::digest(&bytes)),
                mode,
            }
        } else {
            panic!("unexpected file type at {}", entry.path().display());
        };
        out.insert(key, node);
    }
    out
}

/// Human-readable differences between two manifests (at most `limit` lines),
/// plus the total count of differing paths.
pub fn diff_manifests(
    actual: &BTreeMap<String, Node>,
    expected: &BTreeMap<String, Node>,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut total = 0;
    let mut note = |line: String| {
        total += 1;
        if lines.len() < limit {
            lines.push(line);
        }
    };
    for (path, want) in expected {
        match actual.get(path) {
            None => note(format!("  missing   {path} (expected {want})")),
            Some(got) if got != want => {
                note(format!("  differs   {path}: got {got}, expected {want}"))
            }
            Some(_) => {}
        }
    }
    for (path, got) in actual {
        if !expected.contains_key(path) {
            note(format!("  extra     {path} ({got})"));
        }
    }
    (lines, total)
}

/// Panics with the first ~20 differing paths if the trees are not identical.
pub fn assert_same_tree(actual: &Path, expected: &Path) {
    let a = tree_manifest(actual);
    let e = tree_manifest(expected);
    let (lines, total) = diff_manifests(&a, &e, 20);
    if total > 0 {
        panic!(
            "trees differ: actual {} ({} entries) vs expected {} ({} entries), {total} differing paths{}:\n{}",
            actual.display(),
            a.len(),
            expected.display(),
            e.len(),
            if total > lines.len() {
                ", first 20"
            } else {
                ""
            },
            lines.join("\n")
        );
    }
}

/// Extracts a ZIP with the system `unzip` (an independent implementation, so
/// bundle tests do not check our writer with our own reader).
pub fn unzip_into(zip: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    let out = Command::new("unzip")
        .arg("-q")
        .arg(zip)
        .arg("-d")
        .arg(dest)
        .output()
        .expect("run unzip");
    assert!(
        out.status.success(),
        "unzip {} failed: {}\n{}",
        zip.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
