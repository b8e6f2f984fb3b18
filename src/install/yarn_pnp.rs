//! The check after a Yarn Plug'n'Play install on the server: PnP leaves no
//! `node_modules` to read, every package stays a zip in `.yarn/cache`, so
//! each zip's `package.json` is read there. A package that would build
//! (install script or `binding.gyp`) makes the tree one the server, with
//! scripts off, does not make as the client's yarn would: refused, as for
//! the node-modules linker.

use std::io::Read;
use std::path::Path;

use super::yarn::YarnTreeError;

/// A manifest larger than this is not one yarn wrote; it counts as
/// unreadable (and so as building: refused rather than guessed).
const MAX_MANIFEST: u64 = 4 << 20;

/// The first zip of `project/.yarn/cache` (by name) whose package would
/// build: the zip's name and why.
pub(super) fn first_build_in_cache(
    project: &Path,
) -> Result<Option<(String, String)>, YarnTreeError> {
    let cache = project.join(".yarn/cache");
    let io = |path: &Path, source| YarnTreeError::Io {
        path: path.display().to_string(),
        source,
    };
    let listing = match std::fs::read_dir(&cache) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&cache, e)),
    };
    let mut zips = Vec::new();
    for item in listing {
        let item = item.map_err(|e| io(&cache, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.ends_with(".zip") {
            zips.push((name, item.path()));
        }
    }
    zips.sort();
    for (name, path) in zips {
        if let Some(why) = builds(&path).map_err(|e| io(&path, e))? {
            return Ok(Some((format!(".yarn/cache/{name}"), why)));
        }
    }
    Ok(None)
}

/// Why the package in this cache zip would build, if it would.
fn builds(zip: &Path) -> std::io::Result<Option<String>> {
    let bad = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip)?).map_err(bad)?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    for name in &names {
        let Some(package) = package_root(name) else {
            continue;
        };
        let mut text = Vec::new();
        archive
            .by_name(name)
            .map_err(bad)?
            .take(MAX_MANIFEST)
            .read_to_end(&mut text)?;
        let doc: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::other(format!("{name}: {e}")))?;
        let scripts = doc.get("scripts").and_then(|s| s.as_object());
        for event in ["preinstall", "install", "postinstall"] {
            if scripts.is_some_and(|s| s.contains_key(event)) {
                return Ok(Some(format!("{event} script")));
            }
        }
        if names.iter().any(|n| *n == format!("{package}binding.gyp")) {
            return Ok(Some("binding.gyp".to_string()));
        }
    }
    Ok(None)
}

/// `node_modules/NAME/` (or `node_modules/@SCOPE/NAME/`) when `name` is
/// that package's own `package.json`.
fn package_root(name: &str) -> Option<&str> {
    let folder = name.strip_suffix("package.json")?;
    let rest = folder.strip_prefix("node_modules/")?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let plain = match parts.as_slice() {
        [one] => !one.starts_with('@'),
        [scope, _] => scope.starts_with('@'),
        _ => false,
    };
    (plain && parts.iter().all(|p| !p.is_empty())).then_some(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_roots() {
        assert_eq!(
            package_root("node_modules/a/package.json"),
            Some("node_modules/a/")
        );
        assert_eq!(
            package_root("node_modules/@s/a/package.json"),
            Some("node_modules/@s/a/")
        );
        assert_eq!(package_root("node_modules/a/lib/package.json"), None);
        assert_eq!(package_root("node_modules/@s/package.json"), None);
    }
}
