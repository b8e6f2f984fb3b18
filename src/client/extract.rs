//! Turning a downloaded bundle into the project's `node_modules`/`vendor`:
//! check the ZIP's layout against the index, extract into a temp sibling on
//! every core while hashing each file, then swap it in. Any violation leaves
//! the existing folder exactly as it was and nothing behind.

use std::collections::HashSet;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::ProgressBar;
use rayon::prelude::*;
use zip::ZipArchive;
use zip::read::ZipArchiveMetadata;

use super::tree::{self, Layout, Trees, io_pool, local, verify};
use crate::client::ClientError;
use crate::digest::{CopyError, Hashing, copy_hashing};
use crate::protocol::{Entry, FileEntry, Index, check_entry_path};

/// What was restored, for the summary line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Restored {
    pub files: u64,
    pub bytes: u64,
}

/// The bundle's entries, checked against the index.
struct Plan<'a> {
    metadata: Arc<ZipArchiveMetadata>,
    /// ZIP entry number, the tree it belongs to, and the index entry it
    /// must match.
    files: Vec<(usize, usize, &'a FileEntry)>,
    symlinks: Vec<(usize, &'a str, &'a str)>,
}

/// Symlink targets are short; anything longer is not a symlink we wrote.
const MAX_LINK: u64 = 4096;

/// Verifies `bundle` against `index` and makes it `project/<root>` (and the
/// nested trees of npm workspaces).
pub fn restore(
    bundle: &Path,
    index: &Index,
    project: &Path,
    root: &str,
    bar: &ProgressBar,
) -> Result<Restored, ClientError> {
    let trees = tree::check_trees(index, root)?;
    let plan = check_layout(bundle, &trees)?;
    bar.set_length(plan.files.len() as u64);
    let bytes = tree::build(project, root, &trees, |bases| {
        let bytes = extract_files(bundle, &plan, bases, bar)?;
        let mut archive = open_worker(bundle, &plan)?;
        for &(number, path, target) in &plan.symlinks {
            check_link_content(&mut archive, number, path, target)?;
        }
        Ok(bytes)
    })?;
    Ok(Restored {
        files: plan.files.len() as u64,
        bytes,
    })
}

/// Every ZIP entry's name and kind against the (already checked) index, and
/// that both list the same entries; nothing is extracted yet. Each entry
/// belongs to the tree whose folder prefixes its name (workspace folders
/// never hold `node_modules`, so at most one does; of PnP's nested folders
/// the longest).
fn check_layout<'a>(bundle: &Path, trees: &Trees<'a>) -> Result<Plan<'a>, ClientError> {
    let prefixes: Vec<(String, &Layout<'a>)> = trees
        .trees
        .iter()
        .map(|(folder, layout)| (format!("{folder}/"), layout))
        .collect();
    let file = File::open(bundle).map_err(|e| local(bundle, e))?;
    let archive = ZipArchive::new(file).map_err(|e| {
        verify(format!(
            "the bundle is not a readable ZIP (truncated or damaged): {e}"
        ))
    })?;
    let mut seen: HashSet<(usize, &str)> = HashSet::new();
    let mut plan = Plan {
        metadata: archive.metadata(),
        files: Vec::new(),
        symlinks: Vec::new(),
    };
    for number in 0..archive.len() {
        let zip_entry = archive
            .by_index_data(number)
            .map_err(|e| verify(format!("bundle entry {number} is unreadable: {e}")))?;
        let name = zip_entry
            .name()
            .map_err(|e| verify(format!("bundle entry {number} has an unreadable name: {e}")))?;
        // The longest folder that prefixes it: a Plug'n'Play index has trees
        // inside a tree's folder (`.yarn/cache` beside `.yarn`'s own files).
        let Some((tree, rest, by_path)) = prefixes
            .iter()
            .enumerate()
            .filter_map(|(i, (p, l))| name.strip_prefix(p.as_str()).map(|r| (i, r, &l.by_path)))
            .min_by_key(|(_, rest, _)| rest.len())
        else {
            return Err(verify(format!(
                "bundle entry {name:?} lies outside {}",
                prefixes[0].0
            )));
        };
        if rest.is_empty() {
            continue; // the root folder itself
        }
        let is_dir = zip_entry.is_dir();
        let rest = if is_dir {
            rest.strip_suffix('/').unwrap_or(rest)
        } else {
            rest
        };
        check_entry_path(rest).map_err(|e| verify(format!("bundle entry is unsafe: {e}")))?;
        if zip_entry.encrypted() {
            return Err(verify(format!("bundle entry {name:?} is encrypted")));
        }
        let Some((&path, &entry)) = by_path.get_key_value(rest) else {
            return Err(verify(format!("bundle entry {name:?} is not in the index")));
        };
        if !seen.insert((tree, path)) {
            return Err(verify(format!("bundle entry {name:?} appears twice")));
        }
        match (entry, is_dir, zip_entry.is_symlink()) {
            (Entry::Dir { .. }, true, _) => {}
            (Entry::Symlink { path, target }, false, true) => {
                plan.symlinks.push((number, path, target))
            }
            (Entry::File(f), false, false) => {
                if zip_entry.size() != f.size {
                    return Err(verify(format!(
                        "bundle entry {name:?} has {} bytes, the index says {}",
                        zip_entry.size(),
                        f.size
                    )));
                }
                plan.files.push((number, tree, f));
            }
            _ => {
                return Err(verify(format!(
                    "bundle entry {name:?} is not the kind of entry the index says"
                )));
            }
        }
    }
    // The first in path order, so the message does not vary between runs.
    for (tree, (prefix, layout)) in prefixes.iter().enumerate() {
        let missing = layout
            .by_path
            .keys()
            .filter(|p| !seen.contains(&(tree, **p)))
            .min();
        if let Some(missing) = missing {
            return Err(verify(format!(
                "the bundle lacks {prefix}{missing}, which the index lists"
            )));
        }
    }
    Ok(plan)
}

/// A reader of the bundle on its own file handle, for one worker.
fn open_worker(bundle: &Path, plan: &Plan<'_>) -> Result<ZipArchive<File>, ClientError> {
    let file = File::open(bundle).map_err(|e| local(bundle, e))?;
    // SAFETY: the metadata was read from this very file, which nobody writes
    // while we extract.
    Ok(unsafe { ZipArchive::unsafe_new_with_metadata(file, plan.metadata.clone()) })
}

/// Files on every core, each worker with its own handle on the bundle; every
/// file hashed as it is written. Returns the bytes written.
fn extract_files(
    bundle: &Path,
    plan: &Plan<'_>,
    bases: &[&Path],
    bar: &ProgressBar,
) -> Result<u64, ClientError> {
    io_pool().install(|| {
        plan.files
            .par_iter()
            .map_init(
                || (open_worker(bundle, plan), vec![0u8; 256 * 1024]),
                |(archive, buf), &(number, tree, entry)| {
                    let archive = archive
                        .as_mut()
                        .map_err(|e| ClientError::Failure(e.to_string()))?;
                    let size = extract_file(archive, number, entry, bases[tree], buf)?;
                    bar.inc(1);
                    Ok(size)
                },
            )
            .try_reduce(|| 0, |a, b| Ok(a + b))
    })
}

fn extract_file(
    archive: &mut ZipArchive<File>,
    number: usize,
    entry: &FileEntry,
    base: &Path,
    buf: &mut [u8],
) -> Result<u64, ClientError> {
    let damaged = |e: &dyn std::fmt::Display| {
        verify(format!("bundle entry for {:?} is damaged: {e}", entry.path))
    };
    let mut zip_file = archive.by_index(number).map_err(|e| damaged(&e))?;
    let dest: PathBuf = base.join(&entry.path);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&dest)
        .map_err(|e| local(&dest, e))?;
    let options = Hashing {
        crc32: false,
        cap: Some(entry.size),
    };
    let hashed = copy_hashing(&mut zip_file, buf, options, &mut |b| out.write_all(b)).map_err(
        |e| match e {
            CopyError::Read(e) => damaged(&e),
            CopyError::Write(e) => local(&dest, e),
        },
    )?;
    hashed
        .check(entry.size, entry.sha256.as_bytes())
        .map_err(|e| verify(format!("{:?} {e}", entry.path)))?;
    let written = hashed.size;
    out.set_permissions(Permissions::from_mode(entry.mode & 0o777))
        .map_err(|e| local(&dest, e))?;
    Ok(written)
}

/// The ZIP's symlink content must be exactly the index's target.
fn check_link_content(
    archive: &mut ZipArchive<File>,
    number: usize,
    path: &str,
    target: &str,
) -> Result<(), ClientError> {
    let entry = archive
        .by_index(number)
        .map_err(|e| verify(format!("bundle entry for {path:?} is damaged: {e}")))?;
    let mut content = Vec::new();
    entry
        .take(MAX_LINK + 1)
        .read_to_end(&mut content)
        .map_err(|e| verify(format!("bundle entry for {path:?} is damaged: {e}")))?;
    if content != target.as_bytes() {
        return Err(verify(format!(
            "symlink {path:?} points elsewhere in the bundle than in the index"
        )));
    }
    Ok(())
}
