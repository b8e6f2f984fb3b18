//! Repeat fetches: when the restored folder's stat manifest (see
//! `stat_manifest`) names the key being fetched and every entry still has the
//! stats it had, the fetch does nothing at all: no request, no write. When
//! some entries differ, only those are put right (their contents fetched by
//! `Range` from the bundle, as for the local store) and entries added since
//! are removed; anything else (a folder replaced, an entry an install script
//! made, too much changed) falls back to a normal, whole restore.
//!
//! The manifest is recorded last, after everything the fetch does to the
//! folder, so the next run compares against the final tree.

use std::fs::{self, Permissions};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::fetch::FetchOptions;
use super::http::{Http, ServerError};
use super::stat_manifest::{self, Diff, Kind, Snapshot, State};
use super::tree::{self, io_pool};
use super::{partial, progress, remove};
use crate::client::ClientError;
use crate::protocol::{Entry, FileEntry, Index, Key, ValidRequest};

/// Why a tree that differs from its manifest is restored whole instead of
/// entry by entry. Logged, never shown as a failure: the whole restore that
/// follows reports its own.
#[derive(Debug, thiserror::Error)]
enum NotRepairable {
    #[error("{path:?} was made or changed by an install script")]
    Foreign { path: String },
    #[error("the folder {path:?} changed")]
    FolderChanged { path: String },
    #[error("{path:?} is not a file or symlink of the index as recorded")]
    NotInIndex { path: String },
    #[error("the server: {0}")]
    Server(String),
    #[error("the index does not fit this tree: {0}")]
    Index(String),
    #[error("{0}")]
    Ranges(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path:?} does not match the index: {what}")]
    Content { path: String, what: String },
}

fn io_at(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> NotRepairable {
    let path = path.to_string();
    move |source| NotRepairable::Io { path, source }
}

/// Whether the folder already holds `request`'s tree (left as it is, or put
/// right entry by entry). `false`: restore it normally. Any manifest that
/// does not describe the folder any more is removed first.
pub fn up_to_date(
    options: &FetchOptions,
    request: &ValidRequest,
    started: Instant,
) -> Result<bool, ClientError> {
    let root = request.manager.output_dir();
    let tree = options.project.dir.join(root);
    if options.force {
        stat_manifest::forget(&tree);
        return Ok(false);
    }
    let Some(state) = stat_manifest::load(&tree) else {
        return Ok(false);
    };
    // Same key but another script setting is another tree.
    if state.key != request.hash.to_string() || state.ignore_scripts != options.ignore_scripts {
        stat_manifest::forget(&tree);
        return Ok(false);
    }
    let diff = match state.compare(&tree) {
        Ok(Some(diff)) => diff,
        Ok(None) | Err(_) => {
            stat_manifest::forget(&tree);
            return Ok(false);
        }
    };
    if diff.is_empty() {
        tracing::info!(elapsed = ?started.elapsed(), "stat check passed");
        if !options.quiet {
            eprintln!(
                "{root} already holds {}: cache hit, nothing to do, {}",
                short(&request.hash),
                progress::seconds(started.elapsed())
            );
        }
        return Ok(true);
    }
    stat_manifest::forget(&tree);
    tracing::info!(
        changed = diff.changed.len(),
        added = diff.added.len(),
        "the tree differs from its stat manifest"
    );
    if options.local_store.is_some() {
        // Its files are links into the store: the store's own restore checks
        // and heals contents there, which writing single files here would not.
        return Ok(false);
    }
    match repair(options, request, &tree, &state, &diff) {
        Ok(bytes) => {
            if !options.quiet {
                eprintln!(
                    "{root} already held {}: cache hit, {} entries put right, {} removed, {} downloaded, {}",
                    short(&request.hash),
                    indicatif::HumanCount(diff.changed.len() as u64),
                    indicatif::HumanCount(diff.added.len() as u64),
                    crate::units::human_bytes(bytes),
                    progress::seconds(started.elapsed())
                );
            }
            Ok(true)
        }
        Err(reason) => {
            tracing::info!("restoring the whole tree: {reason}");
            Ok(false)
        }
    }
}

fn short(key: &Key) -> String {
    key.to_string()[..12].to_string()
}

/// The tree right after a restore, before anything else the fetch runs;
/// `None` when it cannot be read (then no manifest is recorded).
pub fn after_restore(project: &Path, root: &str) -> Option<Snapshot> {
    stat_manifest::snapshot(&project.join(root)).ok().flatten()
}

/// Records the manifest of the final tree; entries that changed since
/// `restored` (install scripts ran) are marked as not the index's.
/// A failure only costs the next run its shortcut.
pub fn record(
    options: &FetchOptions,
    root: &str,
    key: &Key,
    index: &Index,
    restored: Option<Snapshot>,
) {
    let tree = options.project.dir.join(root);
    // Workspace trees live outside the root folder, which is all the
    // manifest describes: no shortcut for them rather than a wrong one.
    if !index.nested.is_empty() {
        stat_manifest::forget(&tree);
        return;
    }
    let Some(restored) = restored else { return };
    let result = stat_manifest::snapshot(&tree).and_then(|now| {
        let Some(now) = now else { return Ok(()) };
        let foreign = stat_manifest::changed_since(&restored, &now);
        let state = State::new(key, now, foreign, options.ignore_scripts);
        stat_manifest::save(&tree, &state)
    });
    if let Err(e) = result {
        tracing::warn!("could not record {}: {e}", stat_manifest::STATE_FILE);
        stat_manifest::forget(&tree);
    }
}

/// Puts the changed entries back and removes the added ones; returns the
/// bytes downloaded. `Err` (a reason) when only a whole restore will do;
/// the tree may then be half repaired, which the whole restore replaces.
fn repair(
    options: &FetchOptions,
    request: &ValidRequest,
    tree_dir: &Path,
    state: &State,
    diff: &Diff,
) -> Result<u64, NotRepairable> {
    let recorded = &state.snapshot.entries;
    for path in &diff.changed {
        if state.foreign.contains(path) {
            return Err(NotRepairable::Foreign { path: path.clone() });
        }
        if recorded.get(path).is_some_and(|s| s.kind == Kind::Dir) {
            return Err(NotRepairable::FolderChanged { path: path.clone() });
        }
    }
    let http = Http::new(options.http.clone()).map_err(|e| NotRepairable::Server(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_at("the async runtime"))?;
    let root = request.manager.output_dir();
    let project = &options.project.dir;
    runtime.block_on(async {
        let response = http.ask_cache(request, true).await.map_err(server_reason)?;
        if response.key != request.hash.to_string() {
            return Err(NotRepairable::Server(format!(
                "it answered for key {}",
                response.key
            )));
        }
        let index_url = format!("{}/v1/index/{}", http.server(), request.hash);
        let index = http.get_index(&index_url).await.map_err(server_reason)?;
        if index.key != request.hash || index.manager != request.manager.name() {
            return Err(NotRepairable::Server("it sent another key's index".into()));
        }
        let (files, links) = wanted(&index, root, state, diff)?;
        let plan =
            partial::plan(&index, response.bundle_size, &files).map_err(NotRepairable::Ranges)?;
        let bar = progress::download_bar(options.quiet, plan.bytes());
        let ranges = partial::download(&http, &response.download_url, &plan, project, root, &bar)
            .await
            .map_err(server_reason)?;
        bar.finish_and_clear();
        let ranges = ranges.ok_or(NotRepairable::Server("it ignored Range".into()))?;
        for path in &diff.added {
            remove::remove_tree(&tree_dir.join(path)).map_err(io_at(path))?;
        }
        write_files(tree_dir, &plan, &ranges)?;
        for (path, target) in links {
            let link = tree_dir.join(path);
            remove::remove_tree(&link).map_err(io_at(path))?;
            std::os::unix::fs::symlink(target, &link).map_err(io_at(path))?;
        }
        let now = stat_manifest::snapshot(tree_dir)
            .map_err(io_at(tree_dir.display()))?
            .ok_or(NotRepairable::FolderChanged {
                path: String::new(),
            })?;
        stat_manifest::save(
            tree_dir,
            &State::new(
                &request.hash,
                now,
                state.foreign.clone(),
                state.ignore_scripts,
            ),
        )
        .map_err(io_at(stat_manifest::STATE_FILE))?;
        Ok(plan.bytes())
    })
}

fn server_reason(e: ServerError) -> NotRepairable {
    NotRepairable::Server(match e {
        ServerError::Down(m) | ServerError::Gone(m) | ServerError::Uncacheable(m) => m,
        ServerError::Fatal(e) => e.to_string(),
    })
}

/// Files to fetch, and symlinks (path, target) to make again.
type Wanted<'a> = (Vec<&'a FileEntry>, Vec<(&'a str, &'a str)>);

/// The index entries behind the changed paths: files to fetch and symlinks
/// to make again. Checks first that the manifest described this index's
/// tree (every entry of the index was recorded with its kind).
fn wanted<'a>(
    index: &'a Index,
    root: &str,
    state: &State,
    diff: &Diff,
) -> Result<Wanted<'a>, NotRepairable> {
    let trees = tree::check_trees(index, root).map_err(|e| NotRepairable::Index(e.to_string()))?;
    // Nested (workspace) trees are never recorded; one tree is the root's.
    let [(_, layout)] = <[_; 1]>::try_from(trees.trees)
        .map_err(|_| NotRepairable::Index("it has workspace trees".into()))?;
    let recorded = &state.snapshot.entries;
    for (path, entry) in &layout.by_path {
        let kind = match entry {
            Entry::File(_) => Kind::File,
            Entry::Dir { .. } => Kind::Dir,
            Entry::Symlink { .. } => Kind::Symlink,
        };
        if recorded.get(*path).map(|s| s.kind) != Some(kind) {
            return Err(NotRepairable::NotInIndex {
                path: path.to_string(),
            });
        }
    }
    let mut files = Vec::new();
    let mut links = Vec::new();
    for path in &diff.changed {
        match layout.by_path.get(path.as_str()) {
            Some(Entry::File(f)) => files.push(f),
            Some(Entry::Symlink { path, target }) => links.push((path.as_str(), target.as_str())),
            _ => return Err(NotRepairable::NotInIndex { path: path.clone() }),
        }
    }
    Ok((files, links))
}

/// Each content from the downloaded ranges, inflated and checked against its
/// sha256 and size in a temp file beside its path, then renamed over it
/// (a rename replaces whatever is there, a symlink included, without
/// following it).
fn write_files(
    tree_dir: &Path,
    plan: &partial::RangePlan<'_>,
    ranges: &partial::Ranges,
) -> Result<(), NotRepairable> {
    use rayon::prelude::*;
    io_pool().install(|| {
        plan.items.par_iter().try_for_each(|(f, range)| {
            let target = tree_dir.join(&f.path);
            let parent = target.parent().ok_or(NotRepairable::NotInIndex {
                path: f.path.clone(),
            })?;
            let mut staged = tempfile::Builder::new()
                .prefix(".depcache-put-")
                .tempfile_in(parent)
                .map_err(io_at(parent.display()))?;
            let written = match range {
                None => 0,
                Some(range) => {
                    let packed = ranges.open(range).map_err(io_at(&f.path))?;
                    let mut reader: Box<dyn Read> = match f.method {
                        0 => Box::new(packed),
                        8 => Box::new(flate2::read::DeflateDecoder::new(packed)),
                        m => {
                            return Err(NotRepairable::Content {
                                path: f.path.clone(),
                                what: format!("unknown packing {m}"),
                            });
                        }
                    };
                    copy_hashed(&mut reader, staged.as_file_mut(), &f.sha256).map_err(|e| {
                        NotRepairable::Content {
                            path: f.path.clone(),
                            what: e.to_string(),
                        }
                    })?
                }
            };
            if written != f.size {
                return Err(NotRepairable::Content {
                    path: f.path.clone(),
                    what: format!("{written} bytes, not {}", f.size),
                });
            }
            fs::set_permissions(staged.path(), Permissions::from_mode(f.mode & 0o777))
                .map_err(io_at(&f.path))?;
            staged.persist(&target).map_err(|e| NotRepairable::Io {
                path: f.path.clone(),
                source: e.error,
            })?;
            Ok(())
        })
    })
}

fn copy_hashed(
    from: &mut dyn Read,
    to: &mut fs::File,
    sha256: &crate::protocol::Sha256,
) -> io::Result<u64> {
    use std::io::Write;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
    if hasher.finalize()[..] != sha256.as_bytes()[..] {
        return Err(io::Error::other(
            "content does not match the index's sha256",
        ));
    }
    Ok(total)
}
