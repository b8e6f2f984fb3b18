//! A project folder turned into a validated request: which files, which tool
//! versions, which platform and options, and the key over all of them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::CliError;
use crate::install::{HostTools, detect_host_tools};
use crate::protocol::{
    CacheRequest, InstallOptions, Manager, ValidRequest, check_file_name, check_platform,
    check_versions, compute_key, current_platform, encode_file,
};

/// What the user said about the project; everything left `None` is found out.
#[derive(Debug, Clone)]
pub struct ProjectSpec {
    pub manager: Manager,
    pub dir: PathBuf,
    /// Explicit file list; default: the manifest and whichever lockfile exists.
    pub files: Option<Vec<String>>,
    /// Explicit tool versions by name (`node`, `npm`, `php`, `composer`).
    pub versions: BTreeMap<String, String>,
    pub platform: Option<String>,
    pub omit_dev: bool,
}

/// Reads the files, fills in versions from the local tools, and computes the key.
pub fn load_project(spec: &ProjectSpec) -> Result<ValidRequest, CliError> {
    let manager = spec.manager;
    let names = match &spec.files {
        Some(names) => names.clone(),
        None => default_files(spec),
    };
    let mut files = BTreeMap::new();
    for name in names {
        check_file_name(manager, &name).map_err(|e| CliError::Usage(e.to_string()))?;
        let path = spec.dir.join(&name);
        let bytes = std::fs::read(&path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
        files.insert(name, bytes);
    }
    if !files.contains_key(manager.manifest()) {
        return Err(CliError::Usage(format!(
            "{} has no {}; run depcache in the project root or pass --dir",
            spec.dir.display(),
            manager.manifest()
        )));
    }
    let versions = resolve_versions(manager, &spec.versions)?;
    let platform = spec.platform.clone().unwrap_or_else(current_platform);
    check_platform(&platform).map_err(|e| CliError::Usage(e.to_string()))?;
    let options = spec.omit_dev.then_some(InstallOptions {
        omit_dev: Some(true),
    });
    let mut request = ValidRequest {
        manager,
        hash: String::new(),
        files,
        versions,
        platform: Some(platform),
        options,
    };
    request.hash = compute_key(request.key_input());
    Ok(request)
}

fn default_files(spec: &ProjectSpec) -> Vec<String> {
    let manager = spec.manager;
    let mut names = vec![manager.manifest().to_string()];
    if let Some(lock) = manager
        .lockfiles()
        .iter()
        .find(|name| spec.dir.join(name).is_file())
    {
        names.push(lock.to_string());
    }
    names
}

/// Given versions win; the rest come from the tools on PATH. Optional versions
/// (composer's own) are sent when known, because they change the tree too.
fn resolve_versions(
    manager: Manager,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, CliError> {
    let wanted: Vec<&str> = manager
        .required_versions()
        .iter()
        .chain(manager.optional_versions())
        .copied()
        .collect();
    let mut versions = given.clone();
    let mut host: Option<HostTools> = None;
    for name in &wanted {
        if versions.contains_key(*name) {
            continue;
        }
        let tools = host.get_or_insert_with(detect_host_tools);
        if let Some(v) = tools.get(name) {
            versions.insert(name.to_string(), v.to_string());
        }
    }
    for required in manager.required_versions() {
        if !versions.contains_key(*required) {
            return Err(CliError::Usage(format!(
                "{required} version unknown: it is not on PATH; pass --{required}-version"
            )));
        }
    }
    check_versions(manager, &versions).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(versions)
}

impl ValidRequest {
    /// The wire form of a request built by `load_project`.
    pub fn to_wire(&self) -> CacheRequest {
        CacheRequest {
            manager: self.manager.name().to_string(),
            hash: self.hash.clone(),
            files: self
                .files
                .iter()
                .map(|(name, bytes)| (name.clone(), encode_file(bytes)))
                .collect(),
            versions: self.versions.clone(),
            platform: self.platform.clone(),
            options: self.options.clone(),
        }
    }
}
