//! Unpacking a package manager's npm tarball for `node_tools`: regular
//! files and folders only, nothing outside the package, files created new
//! (never through an existing link), staged beside the cache entry and
//! renamed into place; and finding its bin script inside it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::node_tools::is_real_dir;

/// The bin script `bin_name` of the unpacked package in `dir`, checked to be
/// a regular file inside it.
pub(super) fn bin_script(dir: &Path, bin_name: &str) -> Result<PathBuf, String> {
    let manifest = std::fs::read(dir.join("package.json"))
        .map_err(|e| format!("no package.json in {}: {e}", dir.display()))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest).map_err(|e| format!("package.json: {e}"))?;
    let relative = match &manifest["bin"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(m) => m.get(bin_name).and_then(|v| v.as_str()).map(String::from),
        _ => None,
    }
    .ok_or_else(|| format!("package.json names no bin {bin_name:?}"))?;
    let relative = safe_relative(&relative)
        .ok_or_else(|| format!("the bin {relative:?} points outside the package"))?;
    let script = dir.join(relative);
    if !std::fs::symlink_metadata(&script).is_ok_and(|m| m.is_file()) {
        return Err(format!("the bin {} is not a file", script.display()));
    }
    Ok(script)
}

/// `path` without `.`, `..`, root or prefix parts; `None` when it has any
/// part that could leave the folder it is joined to.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.contains('\\') || path.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks the gzip'd tarball into a fresh folder beside `dir`, then renames
/// it to `dir`. A concurrent fetch that renamed first wins; ours is removed.
pub(super) fn unpack_into_place(
    file: std::fs::File,
    parent: &Path,
    dir: &Path,
) -> Result<(), String> {
    let staging = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot create a folder in {}: {e}", parent.display()))?;
    unpack(file, staging.path())?;
    let root = staging.path().join("package");
    if !is_real_dir(&root) {
        return Err("it has no package/ folder".to_string());
    }
    match std::fs::rename(&root, dir) {
        Ok(()) => Ok(()),
        Err(_) if is_real_dir(dir) => Ok(()),
        Err(e) => Err(format!("cannot move it to {}: {e}", dir.display())),
    }
}

/// Regular files and folders only; every path stays under `into` with its
/// first part (npm packs everything under one top folder) renamed to
/// `package`. Files are created new, never opened through an existing link.
fn unpack(file: std::fs::File, into: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive.entries().map_err(|e| e.to_string())?;
    let mut seen = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let raw = entry.path().map_err(|e| e.to_string())?.into_owned();
        let shown = raw.display().to_string();
        let relative =
            safe_relative(&shown).ok_or_else(|| format!("the entry {shown:?} escapes"))?;
        let mut parts = relative.components();
        parts.next();
        let inner = parts.as_path();
        let target = into.join("package").join(inner);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("{shown}: {e}"))?;
            continue;
        }
        if !kind.is_file() {
            // pax headers are metadata the tar crate already applied.
            if matches!(
                kind,
                tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
            ) {
                continue;
            }
            return Err(format!(
                "the entry {shown:?} is not a regular file or folder"
            ));
        }
        if inner.as_os_str().is_empty() || seen.insert(inner.to_path_buf(), ()).is_some() {
            return Err(format!("the entry {shown:?} is empty or repeated"));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{shown}: {e}"))?;
        }
        let executable = entry.header().mode().unwrap_or(0o644) & 0o111 != 0;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 })
            .open(&target)
            .map_err(|e| format!("{shown}: {e}"))?;
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n]).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(entries: &[(&str, tar::EntryType, &[u8])]) -> std::fs::File {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
            }
            // set_path refuses `..`; write the raw name to test it.
            let name = h.as_gnu_mut().unwrap();
            name.name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            tar.append(&h, *data).unwrap();
        }
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        use std::io::Seek;
        file.rewind().unwrap();
        file
    }

    const REG: tar::EntryType = tar::EntryType::Regular;

    #[test]
    fn unpacks_files_under_package() {
        let dir = tempfile::tempdir().unwrap();
        let file = tgz(&[
            ("package/package.json", REG, b"{}"),
            ("package/bin/x.js", REG, b"x"),
        ]);
        unpack(file, dir.path()).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("package/bin/x.js")).unwrap(),
            b"x"
        );
    }

    #[test]
    fn refuses_escapes_links_and_repeats() {
        for (entries, word) in [
            (vec![("package/../../evil", REG, &b"x"[..])], "escapes"),
            (vec![("/abs/evil", REG, &b"x"[..])], "escapes"),
            (
                vec![("package/link", tar::EntryType::Symlink, &b""[..])],
                "not a regular",
            ),
            (
                vec![("package/a", REG, &b"x"[..]), ("package/a", REG, &b"y"[..])],
                "repeated",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(tgz(&entries), dir.path()).unwrap_err();
            assert!(err.contains(word), "{err}");
        }
    }

    #[test]
    fn bin_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"bin":{"pnpm":"../x.js"}}"#,
        )
        .unwrap();
        assert!(
            bin_script(dir.path(), "pnpm")
                .unwrap_err()
                .contains("outside")
        );
        std::fs::write(dir.path().join("package.json"), r#"{"bin":"bin/p.cjs"}"#).unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/p.cjs"), "").unwrap();
        assert_eq!(
            bin_script(dir.path(), "pnpm").unwrap(),
            dir.path().join("bin/p.cjs")
        );
    }
}
