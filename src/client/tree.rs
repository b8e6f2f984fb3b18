//! What every restore shares, whatever the file contents come from (a
//! downloaded bundle or the local store): the index's own safety checks, the
//! staging folder beside each target (`node_modules`, and with npm workspaces
//! each `<workspace>/node_modules`; Yarn Plug'n'Play's outputs by
//! `pnp_tree`'s rules), folders, symlinks, modes and the swaps.
//! Any error before the swaps drops every staging folder and leaves the old
//! trees as they were.

use std::collections::HashMap;
use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use super::{pnp_tree, swap};
use crate::client::ClientError;
use crate::protocol::{
    Entry, FileEntry, Index, PNP_ROOT, check_entry_path, check_root_tree_link,
    check_symlink_target, check_workspace_link, is_workspace_manifest_name,
};

/// The index, checked, sorted by kind.
pub(super) struct Layout<'a> {
    pub by_path: HashMap<&'a str, &'a Entry>,
    /// Parents before children, implicit parents included.
    pub dirs: Vec<(&'a str, u32)>,
    pub files: Vec<&'a FileEntry>,
    /// Path and target.
    pub symlinks: Vec<(&'a str, &'a str)>,
}

/// Writing and unlinking thousands of small files waits on the file system
/// far more than on the CPU: more threads than cores keep more operations in
/// flight (measured: deleting a 16k-file tree went from 4.5 s to 0.6 s).
pub(super) fn io_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads((cores * 4).clamp(4, 32))
            .thread_name(|i| format!("depcache-io-{i}"))
            .build()
            .expect("a thread pool")
    })
}

pub(super) fn verify(message: String) -> ClientError {
    ClientError::Verification(message)
}

pub(super) fn local(path: &Path, source: std::io::Error) -> ClientError {
    ClientError::Local {
        path: path.to_path_buf(),
        source,
    }
}

/// Every tree of an index, checked: its folder in the project and layout.
pub(super) struct Trees<'a> {
    pub trees: Vec<(&'a str, Layout<'a>)>,
    /// The workspace folders links may point at (npm workspaces).
    pub workspaces: &'a [String],
    /// A Yarn Plug'n'Play index (`protocol::pnp`), restored by `pnp_tree`'s
    /// rules; `None` for `node_modules`/`vendor` trees.
    pub pnp: Option<&'a Index>,
}

impl Trees<'_> {
    pub fn file_count(&self) -> u64 {
        self.trees.iter().map(|(_, l)| l.files.len() as u64).sum()
    }
}

/// The root tree and each nested one (npm workspaces). Nested trees may sit
/// only at `<workspace>/<root>` of a workspace folder the index names, and
/// the fetch has already checked those are the folders it sent.
pub(super) fn check_trees<'a>(index: &'a Index, root: &str) -> Result<Trees<'a>, ClientError> {
    if index.root != root {
        return Err(verify(format!(
            "the index is rooted at {:?}, not {root:?}",
            index.root
        )));
    }
    for folder in &index.workspaces {
        if !is_workspace_manifest_name(&format!("{folder}/package.json")) {
            return Err(verify(format!(
                "the index names {folder:?} as a workspace folder, which is not a plain relative folder"
            )));
        }
    }
    let pnp = root == PNP_ROOT;
    if pnp {
        pnp_tree::check_pnp_index(index)?;
    }
    let mut trees = Vec::with_capacity(1 + index.nested.len());
    for (folder, entries) in index.trees() {
        if pnp {
            // Yarn's outputs hold no links: nothing may point elsewhere.
            trees.push((folder, check_entries(entries, folder, &[])?));
            continue;
        }
        if folder != root {
            let allowed = index
                .workspaces
                .iter()
                .any(|w| folder.strip_prefix(w.as_str()) == Some(&format!("/{root}")));
            if !allowed || trees.iter().any(|(f, _)| *f == folder) {
                return Err(verify(format!(
                    "the index holds a tree at {folder:?}, which is not the {root} of a workspace it names"
                )));
            }
        }
        let layout = check_entries(entries, folder, &index.workspaces)?;
        trees.push((folder, layout));
    }
    Ok(Trees {
        trees,
        workspaces: &index.workspaces,
        pnp: pnp.then_some(index),
    })
}

/// Every path and symlink target passes the protocol's rules, no path twice,
/// nothing under a file or a symlink (writing there would follow the link or
/// fail half-way). A symlink may leave its tree only as a workspace link.
fn check_entries<'a>(
    entries: &'a [Entry],
    folder: &str,
    workspaces: &[String],
) -> Result<Layout<'a>, ClientError> {
    let mut layout = Layout {
        by_path: HashMap::with_capacity(entries.len()),
        dirs: Vec::new(),
        files: Vec::new(),
        symlinks: Vec::new(),
    };
    for entry in entries {
        let path = entry.path();
        check_entry_path(path).map_err(|e| verify(format!("the index is unsafe: {e}")))?;
        match entry {
            Entry::Symlink { path, target } => {
                let full = format!("{folder}/{path}");
                // A nested tree's root has the root tree's name.
                let root = folder.rsplit('/').next().unwrap_or(folder);
                check_symlink_target(path, target)
                    .map(|_| ())
                    .or_else(|e| {
                        check_workspace_link(&full, target, workspaces)
                            .map(|_| ())
                            .or_else(|_| check_root_tree_link(&full, target, root))
                            .map_err(|_| e)
                    })
                    .map_err(|e| verify(format!("the index is unsafe: {e}")))?;
                layout.symlinks.push((path, target));
            }
            Entry::Dir { path, mode } => layout.dirs.push((path, *mode)),
            Entry::File(f) => layout.files.push(f),
        }
        if layout.by_path.insert(path, entry).is_some() {
            return Err(verify(format!("the index lists {path:?} twice")));
        }
    }
    for entry in entries {
        let path = entry.path();
        for (i, _) in path.match_indices('/') {
            match layout.by_path.get(&path[..i]) {
                None | Some(Entry::Dir { .. }) => {}
                Some(_) => {
                    return Err(verify(format!(
                        "the index puts {path:?} inside {:?}, which is not a folder",
                        &path[..i]
                    )));
                }
            }
        }
    }
    // A folder the index leaves implicit is still needed to hold its entries.
    for entry in entries {
        if let Some((parent, _)) = entry.path().rsplit_once('/')
            && !layout.by_path.contains_key(parent)
        {
            layout.dirs.push((parent, 0o755));
        }
    }
    layout.dirs.sort_unstable();
    layout.dirs.dedup_by(|a, b| a.0 == b.0);
    Ok(layout)
}

/// Builds every tree (`project/<folder>`) in a staging sibling: folders,
/// then `fill` writes every file given each tree's staging folder (returning
/// the bytes written), then symlinks, then modes; and only when all are
/// complete swaps each in, then removes a stale `<workspace>/<root>` the new
/// tree does not have (npm would not leave one either). Returns what `fill`
/// returned.
pub(super) fn build(
    project: &Path,
    root: &str,
    trees: &Trees<'_>,
    fill: impl FnOnce(&[&Path]) -> Result<u64, ClientError>,
) -> Result<u64, ClientError> {
    // Dropping `staging` (on any error below) deletes the half-built trees.
    let mut staging = Vec::with_capacity(trees.trees.len());
    if trees.pnp.is_some() {
        let folders: Vec<&str> = trees.trees.iter().map(|(f, _)| *f).collect();
        pnp_tree::prepare(project, &folders)?;
    }
    for (folder, _) in &trees.trees {
        let parent = match trees.pnp {
            Some(_) => real_folder(project, pnp_tree::staging_folder(folder))?,
            None => real_folder(project, folder.rsplit_once('/').map_or("", |(p, _)| p))?,
        };
        let dir = tempfile::Builder::new()
            .prefix(&swap::staging_prefix(root))
            .tempdir_in(&parent)
            .map_err(|e| local(&parent, e))?;
        staging.push(dir);
    }
    let bases: Vec<&Path> = staging.iter().map(|d| d.path()).collect();
    for ((_, layout), base) in trees.trees.iter().zip(&bases) {
        for (path, _) in &layout.dirs {
            let dir = base.join(path);
            fs::create_dir_all(&dir).map_err(|e| local(&dir, e))?;
        }
    }
    let bytes = fill(&bases)?;
    for ((folder, layout), base) in trees.trees.iter().zip(&bases) {
        for &(path, target) in &layout.symlinks {
            let link = base.join(path);
            std::os::unix::fs::symlink(target, &link).map_err(|e| local(&link, e))?;
        }
        let mut allowed: Vec<std::path::PathBuf> =
            trees.workspaces.iter().map(|w| project.join(w)).collect();
        // A nested tree's links into the root tree (pnpm) land in the root
        // tree's final folder, which is swapped in with them.
        if let Some(root) = folder.rsplit_once('/').map(|(_, root)| root) {
            allowed.push(project.join(root));
        }
        check_links_resolve_inside(base, folder, layout, &allowed)?;
        // Modes last: a read-only folder must not stop its own files being written.
        for (path, mode) in &layout.dirs {
            let dir = base.join(path);
            fs::set_permissions(&dir, Permissions::from_mode(dir_mode(*mode)))
                .map_err(|e| local(&dir, e))?;
        }
        fs::set_permissions(base, Permissions::from_mode(0o755)).map_err(|e| local(base, e))?;
    }
    if let Some(index) = trees.pnp {
        // Folders first, `.pnp.cjs` last: it names what they hold.
        let mut staged: Vec<_> = trees.trees.iter().zip(staging).collect();
        staged.sort_by_key(|((folder, _), _)| !pnp_tree::is_folder(folder));
        for ((folder, layout), dir) in staged {
            let target = project.join(pnp_tree::staging_folder(folder));
            if pnp_tree::is_folder(folder) {
                swap::swap_in(dir, &project.join(folder))?;
            } else {
                pnp_tree::place_files(dir.path(), &target, layout)?;
            }
        }
        pnp_tree::remove_absent(project, index, trees.workspaces)?;
        return Ok(bytes);
    }
    for ((folder, _), dir) in trees.trees.iter().zip(staging) {
        swap::swap_in(dir, &project.join(folder))?;
    }
    for workspace in trees.workspaces {
        let folder = format!("{workspace}/{root}");
        if !trees.trees.iter().any(|(f, _)| *f == folder) {
            remove_stale(&project.join(&folder))?;
        }
    }
    Ok(bytes)
}

/// Removes what is at `path` without following it: a symlink or file is
/// unlinked, a folder first renamed aside (so a killed run leaves a leftover
/// `clean_leftovers` knows, not a half-deleted tree) and then deleted.
fn remove_stale(path: &Path) -> Result<(), ClientError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_dir() {
        return fs::remove_file(path).map_err(|e| local(path, e));
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = tempfile::Builder::new()
        .prefix(&swap::staging_prefix(&name))
        .tempdir_in(parent)
        .map_err(|e| local(parent, e))?
        .keep();
    fs::rename(path, &aside).map_err(|e| local(path, e))?;
    swap::remove_tree(&aside);
    Ok(())
}

/// `project/<folder>`, every component a real folder: a nested tree is
/// written only where the project itself has the workspace, never through a
/// symlink.
fn real_folder(project: &Path, folder: &str) -> Result<std::path::PathBuf, ClientError> {
    let mut path = project.to_path_buf();
    for component in folder.split('/').filter(|c| !c.is_empty()) {
        path.push(component);
        let real = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_dir());
        if !real {
            return Err(ClientError::Failure(format!(
                "{} is not a folder of the project (missing, or a symlink); no tree is restored through it",
                path.display()
            )));
        }
    }
    Ok(path)
}

/// Folders stay owner-writable so the next restore can replace the tree.
fn dir_mode(mode: u32) -> u32 {
    (mode & 0o777) | 0o700
}

/// Lexical checks assume every link in a target's way is a folder; a link
/// through another link can still climb out. Resolving each one on disk, in
/// the staging folder, catches that before the tree is swapped in. Workspace
/// links (and links through them) resolve into the workspace folders.
fn check_links_resolve_inside(
    base: &Path,
    folder: &str,
    layout: &Layout<'_>,
    workspaces: &[std::path::PathBuf],
) -> Result<(), ClientError> {
    if layout.symlinks.is_empty() {
        return Ok(());
    }
    let real_base = fs::canonicalize(base).map_err(|e| local(base, e))?;
    let real_workspaces: Vec<std::path::PathBuf> = workspaces
        .iter()
        .filter_map(|w| fs::canonicalize(w).ok())
        .collect();
    for &(path, target) in &layout.symlinks {
        // A dangling link resolves nowhere; its lexical check already passed.
        if let Ok(resolved) = fs::canonicalize(base.join(path))
            && !resolved.starts_with(&real_base)
            && !real_workspaces.iter().any(|w| resolved.starts_with(w))
        {
            return Err(verify(format!(
                "symlink {folder}/{path} -> {target:?} resolves outside its tree"
            )));
        }
    }
    Ok(())
}
