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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectShapeError {
    #[error(
        "the workspace glob {glob:?} in package.json {reason}; depcache caches only \
workspaces inside the project named by plain folders and `*`"
    )]
    Glob { glob: String, reason: &'static str },
    #[error("package.json declares {count} workspace globs; depcache accepts at most {MAX_GLOBS}")]
    TooManyGlobs { count: usize },
    #[error(
        "the project has {count} workspace manifests; depcache accepts at most {MAX_WORKSPACES}"
    )]
    TooManyWorkspaces { count: usize },
    #[error(
        "{path:?} is not a workspace manifest of this project: no glob in package.json's \
\"workspaces\" matches its folder"
    )]
    NotAWorkspace { path: String },
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
        let bad = |reason| ProjectShapeError::Glob {
            glob: glob.chars().take(200).collect(),
            reason,
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
        });
    }
    let globs = declared
        .iter()
        .map(|g| WorkspaceGlob::parse(g))
        .collect::<Result<Vec<_>, _>>()?;
    if sent.len() > MAX_WORKSPACES {
        return Err(ProjectShapeError::TooManyWorkspaces { count: sent.len() });
    }
    if let Some(stray) = sent.iter().find(|f| !globs.iter().any(|g| g.matches(f))) {
        return Err(ProjectShapeError::NotAWorkspace {
            path: format!("{stray}/package.json"),
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
mod tests {
    use super::*;

    const LOCK: &str = r#"{"lockfileVersion":3,"packages":{
        "":{"workspaces":["packages/*"]},
        "node_modules/a":{"resolved":"packages/a","link":true},
        "node_modules/b":{"resolved":"packages/b","link":true},
        "packages/a":{"version":"1.0.0"}}}"#;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    fn shape(pairs: &[(&str, &str)]) -> Result<(), ProjectShapeError> {
        check_project_shape(Manager::Npm, &files(pairs))
    }

    #[test]
    fn both_forms_are_read() {
        assert_eq!(
            declared_workspaces(br#"{"workspaces":["packages/*","tools/x"]}"#).unwrap(),
            ["packages/*", "tools/x"]
        );
        assert_eq!(
            declared_workspaces(br#"{"workspaces":{"packages":["a"],"nohoist":["x"]}}"#).unwrap(),
            ["a"]
        );
        assert!(declared_workspaces(br#"{"name":"x"}"#).unwrap().is_empty());
        assert!(declared_workspaces(b"\xEF\xBB\xBF{\"workspaces\":[\"a\"]}").unwrap() == ["a"]);
    }

    #[test]
    fn globs() {
        let g = WorkspaceGlob::parse("./packages/*/").unwrap();
        assert!(g.matches("packages/a") && g.matches("packages/@x"));
        assert!(
            !g.matches("packages/.hidden") && !g.matches("packages") && !g.matches("packages/a/b")
        );
        assert!(
            WorkspaceGlob::parse("apps/web")
                .unwrap()
                .matches("apps/web")
        );
        assert!(WorkspaceGlob::parse("pkg-*-x").unwrap().matches("pkg-1-x"));
        assert!(!WorkspaceGlob::parse("pkg-*-x").unwrap().matches("pkg-x"));
        for bad in [
            "../other/*",
            "/abs/*",
            "a/../b",
            ".hidden/*",
            "**",
            "packages/**",
            "a/{b,c}",
            "!a",
            "a?",
            "",
            "node_modules/*",
            "a/b/c/d/e",
        ] {
            assert!(WorkspaceGlob::parse(bad).is_err(), "{bad}");
        }
        let message = WorkspaceGlob::parse("../other/*").unwrap_err().to_string();
        assert!(message.contains("outside the project"), "{message}");
    }

    #[test]
    fn workspace_projects_must_be_consistent() {
        let root = r#"{"workspaces":["packages/*"]}"#;
        let ok = [
            ("package.json", root),
            ("package-lock.json", LOCK),
            ("packages/a/package.json", "{}"),
            ("packages/b/package.json", "{}"),
        ];
        assert!(shape(&ok).is_ok());
        assert!(shape(&[("package.json", r#"{"name":"x"}"#)]).is_ok());
        assert!(shape(&[("package.json", r#"{"workspaces":[]}"#)]).is_ok());
        // A workspace left out, one too many, one no glob matches, no lockfile.
        assert!(matches!(
            shape(&ok[..3]),
            Err(ProjectShapeError::MissingWorkspace { .. })
        ));
        let mut extra = ok.to_vec();
        extra.push(("packages/c/package.json", "{}"));
        assert!(matches!(
            shape(&extra),
            Err(ProjectShapeError::UnlinkedWorkspace { .. })
        ));
        let mut with_bin = ok.to_vec();
        with_bin[2] = ("packages/a/package.json", r#"{"bin":{"x":"cli.js"}}"#);
        assert!(matches!(
            shape(&with_bin),
            Err(ProjectShapeError::WorkspaceBin { .. })
        ));
        let nested = [
            (
                "package.json",
                r#"{"workspaces":["packages/*","packages/a/*"]}"#,
            ),
            ("packages/a/package.json", "{}"),
            ("packages/a/x/package.json", "{}"),
        ];
        assert!(matches!(
            shape(&nested),
            Err(ProjectShapeError::NestedWorkspace { .. })
        ));
        let mut stray = ok.to_vec();
        stray.push(("tools/c/package.json", "{}"));
        assert!(matches!(
            shape(&stray),
            Err(ProjectShapeError::NotAWorkspace { .. })
        ));
        assert!(matches!(
            shape(&[("package.json", root)]),
            Err(ProjectShapeError::NoLockfile)
        ));
        for refused in [
            r#"{"workspaces":"packages/*"}"#,
            r#"{"workspaces":[1]}"#,
            r#"{"workspaces":["../x/*"]}"#,
            "{not json",
        ] {
            assert!(shape(&[("package.json", refused)]).is_err(), "{refused}");
        }
        let composer = BTreeMap::from([(
            "composer.json".to_string(),
            br#"{"workspaces":["a"]}"#.to_vec(),
        )]);
        assert!(check_project_shape(Manager::Composer, &composer).is_ok());
    }

    #[test]
    fn manifest_names() {
        assert!(is_workspace_manifest_name("packages/a/package.json"));
        for bad in [
            "package.json",
            "../a/package.json",
            "/a/package.json",
            "a/../package.json",
            ".git/package.json",
            "a//package.json",
            "node_modules/x/package.json",
            "a/b/c/d/e/package.json",
            "a/package-lock.json",
        ] {
            assert!(!is_workspace_manifest_name(bad), "{bad}");
        }
    }
}
