//! The stat manifest a restore leaves inside the folder it restored
//! (`node_modules/.depcache-state`): the key, and `lstat` data (inode, size,
//! mode, mtime, ctime) of every entry, as git's index keeps for a work tree.
//! A later fetch of the same key compares the folder with it: identical
//! stats mean an identical tree, so nothing is downloaded or written.
//!
//! Why stats are enough: whatever rewrites, replaces or chmods an entry sets
//! its ctime, which no user call can set back; adding, removing or renaming
//! an entry sets its folder's mtime and ctime, so folders are listed again
//! only when theirs changed. The root folder itself is not compared (writing
//! this file changes it): it is always listed.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::tree::io_pool;
use crate::protocol::Key;

/// The manifest's file name inside the restored folder. Never in an index
/// (ingestion refuses nothing by that name, but a tree holding one would be
/// overwritten by the client's own; see docs/client.md).
pub const STATE_FILE: &str = ".depcache-state";
const STATE_TMP_PREFIX: &str = ".depcache-state.tmp";
const FORMAT: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One entry's `lstat`, as compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub kind: Kind,
    pub ino: u64,
    pub size: u64,
    pub mode: u32,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Stat {
    fn of(meta: &fs::Metadata) -> Stat {
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        };
        Stat {
            kind,
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Every entry under a root folder (paths relative to it, `/`-separated),
/// with the root's own device and inode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub root_dev: u64,
    pub root_ino: u64,
    pub entries: BTreeMap<String, Stat>,
}

/// What is written to `STATE_FILE`.
#[derive(Debug, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    pub key: String,
    pub snapshot: Snapshot,
    /// Entries the fetch itself changed or added after the restore (install
    /// scripts): not in the index as they are, so only a full restore (which
    /// runs the scripts again) can put them back.
    pub foreign: Vec<String>,
    /// Whether the run that recorded it skipped install scripts: the key
    /// does not say, and the trees differ (`--ignore-scripts`).
    pub ignore_scripts: bool,
}

/// How the folder differs from its manifest.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Recorded entries whose stat changed or that are gone.
    pub changed: Vec<String>,
    /// Entries that were not there when the manifest was written.
    pub added: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty()
    }
}

/// `lstat`s the whole tree at `root` without following any symlink; `None`
/// when `root` is not a real folder.
pub fn snapshot(root: &Path) -> io::Result<Option<Snapshot>> {
    let top = match fs::symlink_metadata(root) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut entries = BTreeMap::new();
    for item in walkdir::WalkDir::new(root).min_depth(1).follow_links(false) {
        let item = item.map_err(io::Error::from)?;
        let rel = relative(root, item.path())?;
        if is_ours(&rel) {
            continue;
        }
        let meta = item.metadata().map_err(io::Error::from)?;
        entries.insert(rel, Stat::of(&meta));
    }
    Ok(Some(Snapshot {
        root_dev: top.dev(),
        root_ino: top.ino(),
        entries,
    }))
}

fn relative(root: &Path, path: &Path) -> io::Result<String> {
    let rel = path.strip_prefix(root).map_err(io::Error::other)?;
    rel.to_str()
        .map(str::to_string)
        .ok_or_else(|| io::Error::other(format!("{} is not UTF-8", path.display())))
}

fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

fn is_ours(rel: &str) -> bool {
    rel == STATE_FILE || rel.starts_with(STATE_TMP_PREFIX)
}

/// Which entries of `after` are not as they were in `before`: what ran
/// between the two (install scripts) changed or added them.
pub fn changed_since(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    after
        .entries
        .iter()
        .filter(|(path, stat)| {
            // A folder's times change whenever a script adds a file in it;
            // the added file is what counts.
            let same = |b: &Stat| {
                b.kind == stat.kind && (b.kind == Kind::Dir && b.ino == stat.ino || b == *stat)
            };
            !before.entries.get(*path).is_some_and(same)
        })
        .map(|(path, _)| path.clone())
        .collect()
}

/// Writes `state` as `root/STATE_FILE` (temp file and rename, so a reader
/// never sees half of it). The temp file is created exclusively: a symlink
/// planted under its name is never written through.
///
/// File times are coarse (a clock tick of a few milliseconds): a write in
/// the same tick as the last recorded change would leave the same ctime
/// (git's "racily clean" entries). So the file is written until its own
/// ctime is past every recorded one; any later change then gets a later ctime.
pub fn save(root: &Path, state: &State) -> io::Result<()> {
    if !is_real_dir(root) {
        return Err(io::Error::other(format!(
            "{} is not a folder",
            root.display()
        )));
    }
    let latest = state
        .snapshot
        .entries
        .values()
        .map(|s| s.ctime)
        .max()
        .unwrap_or((i64::MIN, 0));
    let bytes = serde_json::to_vec(state)?;
    for _ in 0..200 {
        let mut staged = tempfile::Builder::new()
            .prefix(STATE_TMP_PREFIX)
            .tempfile_in(root)?;
        staged.as_file_mut().write_all(&bytes)?;
        let written = staged.as_file().metadata()?;
        staged.persist(root.join(STATE_FILE)).map_err(|e| e.error)?;
        if (written.ctime(), written.ctime_nsec()) > latest {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    forget(root);
    Err(io::Error::other("the file system clock does not advance"))
}

/// The manifest in `root`, or `None` when there is none or it cannot be
/// used (not a regular file, another format, unreadable).
pub fn load(root: &Path) -> Option<State> {
    if !is_real_dir(root) {
        return None;
    }
    let path = root.join(STATE_FILE);
    // Never read through a symlink someone put there.
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let bytes = fs::read(&path).ok()?;
    serde_json::from_slice::<State>(&bytes)
        .ok()
        .filter(|s| s.format == FORMAT)
}

/// Removes the manifest: the folder is about to change in a way it does not
/// describe.
pub fn forget(root: &Path) {
    // A root that is a symlink is someone else's folder: never reached into.
    if !is_real_dir(root) {
        return;
    }
    let path = root.join(STATE_FILE);
    if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
        let _ = fs::remove_file(&path);
    }
}

impl State {
    pub fn new(key: &Key, snapshot: Snapshot, foreign: Vec<String>, ignore_scripts: bool) -> State {
        State {
            format: FORMAT,
            key: key.to_string(),
            snapshot,
            foreign,
            ignore_scripts,
        }
    }

    /// Compares the folder at `root` with the manifest: one `lstat` per
    /// recorded entry (on every core), and a listing of the root and of the
    /// folders whose times changed. `None` when `root` itself was replaced or
    /// holds a name that is not UTF-8.
    pub fn compare(&self, root: &Path) -> io::Result<Option<Diff>> {
        let top = fs::symlink_metadata(root)?;
        if !top.is_dir()
            || top.dev() != self.snapshot.root_dev
            || top.ino() != self.snapshot.root_ino
        {
            return Ok(None);
        }
        let recorded: Vec<(&String, &Stat)> = self.snapshot.entries.iter().collect();
        let results: Vec<(String, Option<Stat>, bool)> = io_pool().install(|| {
            recorded
                .par_iter()
                .map(|(path, stat)| {
                    let now = fs::symlink_metadata(root.join(path))
                        .ok()
                        .map(|m| Stat::of(&m));
                    (path.to_string(), now, now.as_ref() == Some(stat))
                })
                .collect()
        });
        let mut diff = Diff::default();
        let mut relist = vec![String::new()];
        for (path, now, same) in results {
            if same {
                continue;
            }
            match now {
                // Still the same folder: only its list of entries changed.
                Some(now)
                    if now.kind == Kind::Dir
                        && self.snapshot.entries[&path].kind == Kind::Dir
                        && now.ino == self.snapshot.entries[&path].ino
                        && now.mode == self.snapshot.entries[&path].mode =>
                {
                    relist.push(path)
                }
                _ => diff.changed.push(path),
            }
        }
        for dir in relist {
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            let listing = match fs::read_dir(root.join(&dir)) {
                Ok(listing) => listing,
                // Replaced meanwhile: its own stat shows it as changed next time.
                Err(_) => continue,
            };
            for entry in listing {
                let name = entry?.file_name();
                // Never recorded, and not a name this client can delete by
                // path text: the caller restores the whole tree instead.
                let Some(name) = name.to_str() else {
                    return Ok(None);
                };
                let rel = format!("{prefix}{name}");
                if !is_ours(&rel) && !self.snapshot.entries.contains_key(&rel) {
                    diff.added.push(rel);
                }
            }
        }
        diff.changed.sort();
        diff.added.sort();
        Ok(Some(diff))
    }
}
