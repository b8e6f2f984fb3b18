//! Restoring a Yarn Plug'n'Play index (see `protocol::pnp`): which trees it
//! may hold and what each may contain, where each is staged, how the named
//! files are put in place one by one beside the project's own, and what a
//! PnP install removes that the index does not have (stale outputs, and the
//! `node_modules` folders Yarn's PnP linker deletes).

use std::fs;
use std::path::{Path, PathBuf};

use super::tree::{Layout, local, verify};
use crate::client::ClientError;
use crate::protocol::{Entry, Index, PNP_OUTPUTS, PNP_ROOT, PnpOutput, pnp_output};

/// Every tree of a PnP index is one of `PNP_OUTPUTS`, once, the root first;
/// a files tree holds only its named files (no folders, no links), so it
/// cannot write anywhere else in the folder it shares with the project.
pub(super) fn check_pnp_index(index: &Index) -> Result<(), ClientError> {
    let mut seen: Vec<&str> = Vec::new();
    for (number, (folder, entries)) in index.trees().enumerate() {
        let kind = pnp_output(folder).ok_or_else(|| {
            verify(format!(
                "the index holds a tree at {folder:?}, which is no Plug'n'Play output"
            ))
        })?;
        if seen.contains(&folder) || (number == 0) != (folder == PNP_ROOT) {
            return Err(verify(format!(
                "the index holds the Plug'n'Play output {folder:?} twice or out of place"
            )));
        }
        seen.push(folder);
        if let PnpOutput::Files(names) = kind {
            for entry in entries {
                let named = matches!(entry, Entry::File(f) if names.contains(&f.path.as_str()));
                if !named {
                    return Err(verify(format!(
                        "the index puts {:?} into {folder:?}, where only {} may be restored",
                        entry.path(),
                        names.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Makes `.yarn` when a tree lives in it and it is missing (a fresh
/// checkout); it must then be a real folder, never a symlink.
pub(super) fn prepare(project: &Path, folders: &[&str]) -> Result<(), ClientError> {
    if folders.iter().any(|f| f.starts_with(".yarn")) {
        let yarn = project.join(".yarn");
        match fs::create_dir(&yarn) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(local(&yarn, e)),
        }
    }
    Ok(())
}

/// Where a PnP tree is staged, relative to the project: a files tree in its
/// own folder (each file then renamed within it), a folder beside itself.
pub(super) fn staging_folder(folder: &str) -> &str {
    match pnp_output(folder) {
        Some(PnpOutput::Files(_)) if folder == PNP_ROOT => "",
        Some(PnpOutput::Files(_)) => folder,
        _ => folder.rsplit_once('/').map_or("", |(parent, _)| parent),
    }
}

/// Whether the tree at `folder` is swapped whole (else its files are put in
/// place one by one).
pub(super) fn is_folder(folder: &str) -> bool {
    pnp_output(folder) == Some(PnpOutput::Folder)
}

/// Renames each staged file over its place: atomic per file, and a link
/// standing there is replaced, never written through.
pub(super) fn place_files(
    staged: &Path,
    target: &Path,
    layout: &Layout<'_>,
) -> Result<(), ClientError> {
    for file in &layout.files {
        let to = target.join(&file.path);
        fs::rename(staged.join(&file.path), &to).map_err(|e| local(&to, e))?;
    }
    Ok(())
}

/// After the swaps: what Yarn's PnP install leaves absent goes. Each output
/// the index lacks (a named file, a folder), inside real folders only; and
/// each workspace's `node_modules` (the root's too) as Yarn's linker removes
/// it: whole, or all but its dot-folders other than `.bin` when it has some.
pub(super) fn remove_absent(
    project: &Path,
    index: &Index,
    workspaces: &[String],
) -> Result<(), ClientError> {
    for (folder, kind) in PNP_OUTPUTS {
        let present = index.trees().find(|(f, _)| f == folder);
        match (kind, present) {
            (PnpOutput::Folder, None) => {
                if let Some(parent) = real(project, staging_folder(folder)) {
                    remove(&parent.join(folder.rsplit('/').next().unwrap_or(folder)))?;
                }
            }
            (PnpOutput::Files(names), present) => {
                let Some(dir) = real(project, if *folder == PNP_ROOT { "" } else { folder }) else {
                    continue;
                };
                let entries = present.map_or(&[][..], |(_, e)| e);
                for name in names.iter() {
                    if !entries.iter().any(|e| e.path() == *name) {
                        remove(&dir.join(name))?;
                    }
                }
            }
            (PnpOutput::Folder, Some(_)) => {}
        }
    }
    let mut homes = vec![String::new()];
    homes.extend(workspaces.iter().cloned());
    for home in homes {
        let Some(dir) = real(project, &home) else {
            continue;
        };
        remove_node_modules(&dir.join("node_modules"))?;
    }
    Ok(())
}

/// Yarn's `locateNodeModules`: a `node_modules` holding dot-folders other
/// than `.bin` (tool caches such as `.cache`) keeps them and loses the rest;
/// otherwise it goes whole.
fn remove_node_modules(modules: &Path) -> Result<(), ClientError> {
    let Ok(meta) = fs::symlink_metadata(modules) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return remove(modules);
    }
    let mut doomed = Vec::new();
    let mut kept = false;
    for item in fs::read_dir(modules).map_err(|e| local(modules, e))? {
        let item = item.map_err(|e| local(modules, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let dir = item
            .file_type()
            .map_err(|e| local(&item.path(), e))?
            .is_dir();
        if dir && name != ".bin" && name.starts_with('.') {
            kept = true;
        } else {
            doomed.push(item.path());
        }
    }
    if !kept {
        return remove(modules);
    }
    for path in doomed {
        remove(&path)?;
    }
    Ok(())
}

/// `project/<folder>` when every component is a real folder.
fn real(project: &Path, folder: &str) -> Option<PathBuf> {
    let mut path = project.to_path_buf();
    for component in folder.split('/').filter(|c| !c.is_empty()) {
        path.push(component);
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_dir()) {
            return None;
        }
    }
    Some(path)
}

/// Removes a file or link (the link only) or a whole folder, not following
/// links; nothing there is fine.
fn remove(path: &Path) -> Result<(), ClientError> {
    super::remove::remove_tree(path).map_err(|e| local(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{INDEX_FORMAT_PNP, NestedTree};

    fn file(path: &str) -> Entry {
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        serde_json::from_value(
            serde_json::json!({"type": "file", "path": path, "sha256": sha,
            "size": 1, "mode": 420, "crc32": 0, "method": 0, "packed_size": 1}),
        )
        .unwrap()
    }

    fn index(root: Vec<Entry>, nested: Vec<(&str, Vec<Entry>)>) -> Index {
        serde_json::from_value::<Index>(serde_json::json!({"format": INDEX_FORMAT_PNP,
            "key": "00".repeat(32), "manager": "yarn", "versions": {}, "root": PNP_ROOT,
            "created": 1, "entries": []}))
        .map(|mut i| {
            i.entries = root;
            i.nested = nested
                .into_iter()
                .map(|(root, entries)| NestedTree {
                    root: root.to_string(),
                    entries,
                })
                .collect();
            i
        })
        .unwrap()
    }

    /// The project's own files and folders are out of an index's reach: a
    /// files tree writes only its named files, and only PnP folders exist.
    #[test]
    fn an_index_reaching_beyond_the_pnp_outputs_is_refused() {
        let ok = index(
            vec![file(".pnp.cjs")],
            vec![
                (".yarn", vec![file("install-state.gz")]),
                (".yarn/cache", vec![file("a.zip")]),
            ],
        );
        check_pnp_index(&ok).unwrap();
        for bad in [
            index(vec![file("package.json")], vec![]),
            index(
                vec![file(".pnp.cjs")],
                vec![(".yarn", vec![file("releases/y.cjs")])],
            ),
            index(
                vec![file(".pnp.cjs")],
                vec![(".yarn/releases", vec![file("y.cjs")])],
            ),
            index(
                vec![],
                vec![(".yarn/cache", vec![]), (".yarn/cache", vec![])],
            ),
            index(vec![], vec![(".", vec![])]),
        ] {
            assert!(check_pnp_index(&bad).is_err(), "{bad:?}");
        }
    }
}
