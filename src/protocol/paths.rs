//! Path rules for index and bundle entries: relative, normalized, and never
//! pointing outside the root folder, not even through a symlink.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error(
        "entry path {0:?} is empty, absolute, or has an empty, '.', '..', NUL or backslash component"
    )]
    Unsafe(String),
    #[error("symlink {path:?} points to {target:?}, outside the root folder")]
    EscapingSymlink { path: String, target: String },
}

/// A path relative to the root folder: `/`-separated, no empty, `.` or `..`
/// components, no NUL or backslash.
pub fn check_entry_path(path: &str) -> Result<(), PathError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path.contains('\\')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        Err(PathError::Unsafe(path.to_string()))
    } else {
        Ok(())
    }
}

/// A symlink at `path` (relative to the root) may point only to a relative
/// target of the form `../../name/name`: every `..` first, then only names,
/// and never above the root. Lexical resolution alone is not enough once
/// links chain (`up -> ../..` plus `out -> up/../../..` escapes although each
/// looks harmless), but with `..` only at the front a target climbs through
/// real folders (entries never sit under a symlink) and then only descends, so
/// by induction every link resolves inside the root. npm's `.bin` links and
/// pnpm's layout are all of this form.
pub fn check_symlink_target(path: &str, target: &str) -> Result<(), PathError> {
    let escaping = || PathError::EscapingSymlink {
        path: path.to_string(),
        target: target.to_string(),
    };
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return Err(escaping());
    }
    let mut depth: i64 = path.split('/').count() as i64 - 1;
    let mut descended = false;
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 || descended {
                    return Err(escaping());
                }
            }
            _ => {
                descended = true;
                depth += 1;
            }
        }
    }
    Ok(())
}

/// A workspace link: the symlink at `link` (relative to the project, e.g.
/// `node_modules/a` or `node_modules/@s/a`) must point, by a target of the
/// same `../../name/name` form, at exactly one of `workspaces` (folders
/// relative to the project). Returns that folder. Only npm's workspace links
/// may leave their tree, and only to the folders the request named.
pub fn check_workspace_link<'w>(
    link: &str,
    target: &str,
    workspaces: &'w [String],
) -> Result<&'w str, PathError> {
    let resolved = resolve_link(link, target)?;
    workspaces
        .iter()
        .find(|w| **w == resolved)
        .map(String::as_str)
        .ok_or_else(|| escaping(link, target))
}

/// A link of a nested tree (`<workspace>/node_modules/...`) into the
/// project's root tree, as pnpm makes them
/// (`../../../node_modules/.pnpm/x@1/node_modules/x`): by a target of the
/// same climb-then-descend form, it must land strictly inside `root` (the
/// root tree's folder, relative to the project).
pub fn check_root_tree_link(link: &str, target: &str, root: &str) -> Result<(), PathError> {
    let resolved = resolve_link(link, target)?;
    if !link.starts_with(&format!("{root}/"))
        && resolved
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
    {
        return Ok(());
    }
    Err(escaping(link, target))
}

fn escaping(link: &str, target: &str) -> PathError {
    PathError::EscapingSymlink {
        path: link.to_string(),
        target: target.to_string(),
    }
}

/// Where a relative `target` of the link at `link` (both relative to the
/// project) lands, for targets that only climb and then descend.
fn resolve_link(link: &str, target: &str) -> Result<String, PathError> {
    if target.is_empty() || target.starts_with('/') || target.contains(['\0', '\\']) {
        return Err(escaping(link, target));
    }
    let mut resolved: Vec<&str> = link.split('/').collect();
    resolved.pop();
    let mut descended = false;
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." if descended => return Err(escaping(link, target)),
            ".." => {
                resolved.pop().ok_or_else(|| escaping(link, target))?;
            }
            name => {
                descended = true;
                resolved.push(name);
            }
        }
    }
    Ok(resolved.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_trees_may_link_into_the_root_tree_only() {
        let link = "packages/a/node_modules/semver";
        assert!(
            check_root_tree_link(
                link,
                "../../../node_modules/.pnpm/s@1/node_modules/s",
                "node_modules"
            )
            .is_ok()
        );
        for bad in [
            "../../../node_modules",
            "../../../vendor/x",
            "../../../../etc/passwd",
            "../../../node_modules/../x",
            "/abs",
        ] {
            assert!(
                check_root_tree_link(link, bad, "node_modules").is_err(),
                "{bad}"
            );
        }
        // The root tree's own links stay inside it by the ordinary rule.
        assert!(
            check_root_tree_link("node_modules/x", "../node_modules/y", "node_modules").is_err()
        );
    }

    #[test]
    fn workspace_links() {
        let ws = vec!["packages/a".to_string(), "tools/b".to_string()];
        assert_eq!(
            check_workspace_link("node_modules/a", "../packages/a", &ws),
            Ok("packages/a")
        );
        assert!(check_workspace_link("node_modules/@s/b", "../../tools/b", &ws).is_ok());
        for (link, target) in [
            ("node_modules/a", "../packages"),
            ("node_modules/a", "../packages/a/.."),
            ("node_modules/a", "../packages/c"),
            ("node_modules/a", "../../packages/a"),
            ("node_modules/a", "/packages/a"),
            ("node_modules/a", "x/../../packages/a"),
            ("node_modules/a", "../src"),
        ] {
            assert!(check_workspace_link(link, target, &ws).is_err(), "{target}");
        }
    }

    #[test]
    fn entry_paths() {
        for good in ["a", ".bin/x", "@scope/pkg/index.js", "a/.hidden"] {
            assert!(check_entry_path(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\b",
            "a\0",
        ] {
            assert!(check_entry_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn symlinks() {
        assert!(check_symlink_target(".bin/tool", "../tool/bin/cli.js").is_ok());
        assert!(check_symlink_target("a/b/c", "../../x").is_ok());
        assert!(check_symlink_target(".bin/tool", "../../etc/passwd").is_err());
        assert!(check_symlink_target("x", "/etc/passwd").is_err());
        assert!(check_symlink_target("x", "..").is_err());
        assert!(check_symlink_target("a/x", "..").is_ok());
        // Each alone stays inside; chained through `up` the second escapes.
        assert!(check_symlink_target("a/b/up", "../..").is_ok());
        assert!(check_symlink_target("a/b/out", "up/../../..").is_err());
        assert!(check_symlink_target("a/b/c", "x/../y").is_err());
        assert!(check_symlink_target(".bin/tool", "../.pnpm/t@1/node_modules/t/cli.js").is_ok());
    }
}
