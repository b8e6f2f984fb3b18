//! The package managers `.ci/run` installs on this machine (pnpm and classic
//! yarn on PATH, Berry's `@yarnpkg/cli-dist` under /opt/yarn-berry), packed
//! back into the registry packages they came from, so a server's tool cache
//! fetches real managers from the test registry (`src/install/node_tools.rs`)
//! as it would from npmjs: a real tarball with a real sha512 `integrity`.
//! Packed on the first request for one of them (pnpm is ~23 MB unpacked);
//! most tests never ask.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

/// Held by the tests whose servers download `@yarnpkg/cli-dist`, so the one
/// that counts those downloads (yarn_berry_registry) counts only its own.
pub static BERRY_DOWNLOADS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The packages served from installed copies.
pub const NAMES: &[&str] = &["pnpm", "yarn", "@yarnpkg/cli-dist"];

/// One installed manager, packed.
pub struct Packed {
    pub name: String,
    pub version: String,
    /// Its package.json, as installed.
    pub manifest: Value,
    pub tgz: Vec<u8>,
}

/// The folder of each installed manager: the package above its bin script.
fn installed() -> Vec<PathBuf> {
    let package_of = |bin: &Path| -> Option<PathBuf> {
        let real = std::fs::canonicalize(bin).ok()?;
        Some(real.parent()?.parent()?.to_path_buf())
    };
    let mut dirs = Vec::new();
    for bin in ["pnpm", "yarn"] {
        let found = depcache::install::find_on_path(bin)
            .and_then(|p| package_of(&p))
            .unwrap_or_else(|| panic!("{bin} is not on PATH as an npm package: run .ci/run"));
        dirs.push(found);
    }
    dirs.extend(package_of(&super::yarn_project::berry_release()));
    dirs
}

/// Every installed manager, packed (blocking: reads and gzips them).
pub fn pack_installed() -> Vec<Packed> {
    installed().iter().map(|dir| pack(dir)).collect()
}

/// `dir` as npm packs it: every regular file under `package/`, with its
/// mode, a fixed mtime, in name order so the bytes (and the sha512) are
/// the same on every run.
fn pack(dir: &Path) -> Packed {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("package.json")).unwrap()).unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap();
        let data = std::fs::read(entry.path()).unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(499162500);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, Path::new("package").join(rel), data.as_slice())
            .unwrap();
    }
    let tgz = tar.into_inner().unwrap().finish().unwrap();
    Packed {
        name: manifest["name"].as_str().unwrap().to_string(),
        version: manifest["version"].as_str().unwrap().to_string(),
        manifest,
        tgz,
    }
}

/// Packuments and tarballs, keyed as the registry keys its own.
#[derive(Default)]
pub struct Served {
    pub packuments: HashMap<String, Bytes>,
    pub tarballs: HashMap<String, Bytes>,
}

/// The installed managers as the registry at `base` serves them: each
/// version added to the packument of the same name in `packuments` (pnpm's
/// has the stand-in versions too), its tarball at npm's path.
pub fn serve(base: &str, packuments: &HashMap<String, Bytes>) -> Served {
    let mut served = Served::default();
    for packed in pack_installed() {
        let base_name = packed.name.rsplit('/').next().unwrap();
        let path = format!("{}/-/{base_name}-{}.tgz", packed.name, packed.version);
        let integrity =
            base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&packed.tgz));
        let mut manifest = packed.manifest;
        manifest["dist"] = json!({
            "tarball": format!("{base}{path}"),
            "integrity": format!("sha512-{integrity}"),
        });
        let mut doc: Value = packuments
            .get(&packed.name)
            .map(|d| serde_json::from_slice(d).unwrap())
            .unwrap_or_else(|| {
                json!({"name": packed.name, "dist-tags": {"latest": packed.version}, "versions": {}})
            });
        doc["versions"][&packed.version] = manifest;
        served.packuments.insert(
            packed.name.clone(),
            Bytes::from(serde_json::to_vec(&doc).unwrap()),
        );
        served.tarballs.insert(path, Bytes::from(packed.tgz));
    }
    served
}
