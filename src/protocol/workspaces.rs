//! npm workspaces: the globs a root `package.json` declares, which workspace
//! manifests a request may carry, and the refusal of project shapes depcache
//! cannot reproduce exactly. Client and server share this so that both
//! refuse the same projects: the client before asking (it falls back to a
//! local install), the server before installing or answering from the store
//! (a tree installed without the right workspace manifests would be silently
//! wrong). `docs/workspaces.md` has the whole story.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Manager;

/// At most this many workspace manifests in one request.
pub const MAX_WORKSPACES: usize = 256;
/// At most this many folders deep below the project root.
pub const MAX_WORKSPACE_DEPTH: usize = 4;
/// At most this many globs in `workspaces`.
const MAX_GLOBS: usize = 64;
/// Where npm and yarn declare their workspace globs.
const NPM_GLOBS: &str = "package.json's \"workspaces\"";
/// Where pnpm declares them.
const PNPM_GLOBS: &str = "pnpm-workspace.yaml's \"packages\"";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectShapeError {
    #[error(
        "the workspace glob {glob:?} in {declared_in} {reason}; depcache caches only \
workspaces inside the project named by plain folders and `*`"
    )]
    Glob {
        glob: String,
        reason: &'static str,
        /// Where the globs are declared (`GlobSource::describe`).
        declared_in: &'static str,
    },
    #[error("{declared_in} declares {count} workspace globs; depcache accepts at most {MAX_GLOBS}")]
    TooManyGlobs {
        count: usize,
        declared_in: &'static str,
    },
    #[error(
        "the project has {count} workspace manifests; depcache accepts at most {MAX_WORKSPACES}"
    )]
    TooManyWorkspaces { count: usize },
    #[error(
        "{path:?} is not a workspace manifest of this project: no glob in {declared_in} matches \
its folder"
    )]
    NotAWorkspace {
        path: String,
        declared_in: &'static str,
    },
    #[error(
        "package.json declares npm workspaces but no lockfile was sent; depcache caches \
workspace projects only from package-lock.json or npm-shrinkwrap.json"
    )]
    NoLockfile,
    #[error("the lockfile links the workspace {folder:?} but {folder}/package.json was not sent")]
    MissingWorkspace { folder: String },
    #[error("{folder}/package.json was sent but the lockfile does not link that workspace")]
    UnlinkedWorkspace { folder: String },
    #[error(
        "the workspace {inner:?} lies inside the workspace {outer:?}; depcache caches only \
workspaces side by side"
    )]
    NestedWorkspace { outer: String, inner: String },
    #[error(
        "the workspace {folder:?} declares bin files; npm ci marks them executable in the \
project's own sources, which a cached tree cannot do"
    )]
    WorkspaceBin { folder: String },
    #[error("{folder}/package.json is not JSON depcache can read ({reason})")]
    UnreadableWorkspace { folder: String, reason: String },
    #[error("the lockfile is not JSON depcache can read ({reason})")]
    UnreadableLockfile { reason: String },
    #[error(
        "package.json has a \"workspaces\" field depcache cannot read ({reason}); it \
cannot tell which folders belong to the install"
    )]
    MalformedWorkspaces { reason: String },
    #[error(
        "package.json is not JSON depcache can read ({reason}); it cannot tell whether \
the project uses workspaces"
    )]
    UnreadableManifest { reason: String },
    #[error("{reason}")]
    Pnpm { reason: String },
    #[error("{0}")]
    Yarn(super::YarnShapeError),
}

/// The workspace globs of an npm root manifest, in the order written; empty
/// when it declares none. Both of npm's forms are read: an array, or an
/// object whose `packages` is one (yarn's `nohoist` beside it changes nothing
/// for npm).
pub fn declared_workspaces(manifest: &[u8]) -> Result<Vec<String>, ProjectShapeError> {
    let doc =
        parse_json(manifest).map_err(|reason| ProjectShapeError::UnreadableManifest { reason })?;
    let malformed = |reason: &str| ProjectShapeError::MalformedWorkspaces {
        reason: reason.to_string(),
    };
    let list = match doc.get("workspaces") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(Value::Object(map)) => match map.get("packages") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(malformed("\"workspaces.packages\" is not an array")),
        },
        Some(_) => return Err(malformed("it is neither an array nor an object")),
    };
    list.iter()
        .map(|glob| match glob {
            Value::String(s) => Ok(s.clone()),
            _ => Err(malformed("an entry is not a string")),
        })
        .collect()
}

/// npm strips a byte order mark before parsing; so must we, or a BOM would
/// hide a field from us but not from npm.
fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    let text = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(bytes);
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

/// A workspace glob, checked: `/`-separated segments, each a plain name or a
/// pattern where `*` stands for any run of characters within the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceGlob {
    segments: Vec<String>,
}

impl WorkspaceGlob {
    /// Refuses what could leave the project (`..`, absolute), hidden folders,
    /// `node_modules`, and glob syntax beyond `*` (`**`, `?`, `[]`, `{}`,
    /// `!`): what depcache cannot match exactly as npm does is not guessed at.
    pub fn parse(glob: &str) -> Result<Self, ProjectShapeError> {
        Self::parse_from(glob, NPM_GLOBS)
    }

    /// `parse` for a glob declared in `source` (named in the refusal).
    pub fn parse_from(glob: &str, source: &'static str) -> Result<Self, ProjectShapeError> {
        let bad = |reason| ProjectShapeError::Glob {
            glob: glob.chars().take(200).collect(),
            reason,
            declared_in: source,
        };
        let trimmed = glob.strip_prefix("./").unwrap_or(glob);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.starts_with('/') {
            return Err(bad("is absolute: it points outside the project"));
        }
        let segments: Vec<&str> = trimmed.split('/').collect();
        if segments.len() > MAX_WORKSPACE_DEPTH {
            return Err(bad("is nested deeper than 4 folders"));
        }
        for segment in &segments {
            match *segment {
                "" | "." => return Err(bad("has an empty or '.' folder")),
                ".." => return Err(bad("climbs with '..': it points outside the project")),
                "node_modules" => return Err(bad("names node_modules")),
                "**" => return Err(bad("uses '**'")),
                s if s.starts_with('.') => return Err(bad("names a hidden folder")),
                s if !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._@+-*".contains(&b)) =>
                {
                    return Err(bad("uses characters or glob syntax other than '*'"));
                }
                _ => {}
            }
        }
        Ok(WorkspaceGlob {
            segments: segments.into_iter().map(str::to_string).collect(),
        })
    }

    /// Whether the folder `dir` (relative to the project) matches.
    pub fn matches(&self, dir: &str) -> bool {
        let parts: Vec<&str> = dir.split('/').collect();
        parts.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(&parts)
                .all(|(pattern, name)| segment_matches(pattern, name))
    }

    /// The folders (segment by segment) this glob names, for expansion.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }
}

/// `*` matches any run of characters; like npm's glob, never a leading dot.
pub fn segment_matches(pattern: &str, name: &str) -> bool {
    if name.is_empty() || (name.starts_with('.') && !pattern.starts_with('.')) {
        return false;
    }
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The workspace folders of a request: every `<folder>/package.json` it
/// carries, sorted.
pub fn workspace_folders(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    files
        .keys()
        .filter_map(|name| name.strip_suffix("/package.json"))
        .map(str::to_string)
        .collect()
}

/// The shape of a workspace manifest's name alone: `<folder>/package.json`
/// with a folder of plain, visible names, at most 4 deep. Whether a glob
/// matches it is `check_project_shape`'s business.
pub fn is_workspace_manifest_name(name: &str) -> bool {
    let Some(folder) = name.strip_suffix("/package.json") else {
        return false;
    };
    let parts: Vec<&str> = folder.split('/').collect();
    parts.len() <= MAX_WORKSPACE_DEPTH
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && *p != "node_modules"
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b))
        })
}

/// Refuses a request depcache would cache wrongly. A workspace project is
/// accepted when its globs are ones depcache reproduces exactly, every
/// workspace manifest sent matches one, and the lockfile links exactly the
/// workspaces sent (so no workspace was left behind).
pub fn check_project_shape(
    manager: Manager,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), ProjectShapeError> {
    let pnpm = |reason| ProjectShapeError::Pnpm { reason };
    // Named in refusals: pnpm's globs are not in package.json.
    let source = if manager == Manager::Pnpm {
        PNPM_GLOBS
    } else {
        NPM_GLOBS
    };
    let declared = match manager {
        Manager::Pnpm => {
            super::check_pnpm_shape(files).map_err(pnpm)?;
            super::pnpm_workspace_globs(files).map_err(pnpm)?
        }
        Manager::Npm => {
            let Some(manifest) = files.get(manager.manifest()) else {
                return Ok(());
            };
            declared_workspaces(manifest)?
        }
        Manager::Yarn => {
            super::check_yarn_shape(files).map_err(ProjectShapeError::Yarn)?;
            let Some(manifest) = files.get(manager.manifest()) else {
                return Ok(());
            };
            declared_workspaces(manifest)?
        }
        Manager::Composer => return Ok(()),
    };
    let sent = workspace_folders(files);
    if declared.len() > MAX_GLOBS {
        return Err(ProjectShapeError::TooManyGlobs {
            count: declared.len(),
            declared_in: source,
        });
    }
    let globs = declared
        .iter()
        .map(|g| WorkspaceGlob::parse_from(g, source))
        .collect::<Result<Vec<_>, _>>()?;
    if sent.len() > MAX_WORKSPACES {
        return Err(ProjectShapeError::TooManyWorkspaces { count: sent.len() });
    }
    if let Some(stray) = sent.iter().find(|f| !globs.iter().any(|g| g.matches(f))) {
        return Err(ProjectShapeError::NotAWorkspace {
            path: format!("{stray}/package.json"),
            declared_in: source,
        });
    }
    if globs.is_empty() {
        return Ok(());
    }
    for folder in &sent {
        check_workspace_manifest(folder, &files[&format!("{folder}/package.json")])?;
        // One inside another would hold the other's tree as its own content.
        let inner = sent.iter().find(|other| {
            other
                .strip_prefix(folder.as_str())
                .is_some_and(|r| r.starts_with('/'))
        });
        if let Some(inner) = inner {
            return Err(ProjectShapeError::NestedWorkspace {
                outer: folder.clone(),
                inner: inner.clone(),
            });
        }
    }
    let linked = if manager == Manager::Pnpm {
        // pnpm's record of the workspaces it found: the lockfile's importers.
        super::pnpm_importers(files).map_err(pnpm)?
    } else if manager == Manager::Yarn {
        // Berry records its workspaces in the lockfile; classic does not,
        // and the globs the client expanded are its only record.
        match super::yarn::berry_workspaces(files) {
            Some(linked) => linked,
            None => return Ok(()),
        }
    } else {
        let Some(lockfile) = manager.lockfiles().iter().find_map(|n| files.get(*n)) else {
            return Err(ProjectShapeError::NoLockfile);
        };
        linked_workspaces(lockfile, &globs)?
    };
    if let Some(folder) = linked.iter().find(|f| !sent.contains(f)) {
        return Err(ProjectShapeError::MissingWorkspace {
            folder: folder.clone(),
        });
    }
    if let Some(folder) = sent.iter().find(|f| !linked.contains(f)) {
        return Err(ProjectShapeError::UnlinkedWorkspace {
            folder: folder.clone(),
        });
    }
    Ok(())
}

/// What npm ci does to a workspace beyond linking it, a cached tree cannot
/// reproduce: bin links chmod their targets, which are the workspace's own
/// files on the client.
fn check_workspace_manifest(folder: &str, manifest: &[u8]) -> Result<(), ProjectShapeError> {
    let doc = parse_json(manifest).map_err(|reason| ProjectShapeError::UnreadableWorkspace {
        folder: folder.to_string(),
        reason,
    })?;
    let has_bin = !matches!(doc.get("bin"), None | Some(Value::Null))
        || !matches!(doc.pointer("/directories/bin"), None | Some(Value::Null));
    if has_bin {
        return Err(ProjectShapeError::WorkspaceBin {
            folder: folder.to_string(),
        });
    }
    Ok(())
}

/// Folders the lockfile links (`"link": true`, `resolved` a relative folder)
/// that a workspace glob matches: npm's record of the workspaces it found.
fn linked_workspaces(
    lockfile: &[u8],
    globs: &[WorkspaceGlob],
) -> Result<Vec<String>, ProjectShapeError> {
    let doc =
        parse_json(lockfile).map_err(|reason| ProjectShapeError::UnreadableLockfile { reason })?;
    let mut linked: Vec<String> = doc
        .get("packages")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|packages| packages.values())
        .filter(|p| p.get("link").and_then(Value::as_bool) == Some(true))
        .filter_map(|p| p.get("resolved").and_then(Value::as_str))
        .filter(|folder| globs.iter().any(|g| g.matches(folder)))
        .map(str::to_string)
        .collect();
    linked.sort();
    linked.dedup();
    Ok(linked)
}

#[cfg(test)]
#[path = "workspaces_tests.rs"]
mod tests;
