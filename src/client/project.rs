//! A project folder turned into a validated request: which files, which tool
//! versions, which platform and options, and the key over all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::client::ClientError;
use crate::install::detect_tool;
use crate::protocol::{
    CacheRequest, InstallOptions, Key, MAX_WORKSPACES, Manager, ValidRequest, WorkspaceGlob,
    YarnFlavor, check_file_name, check_platform, check_versions, current_platform,
    declared_workspaces, encode_file, is_workspace_manifest_name, key_of, package_manager_yarn,
    segment_matches, yarn_flavor,
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
    /// Ask for the tree the server built with its install scripts
    /// (`fetch --server-scripts`); npm only.
    pub build_scripts: bool,
}

/// Reads the files, fills in versions from the local tools, and computes the key.
pub fn load_project(spec: &ProjectSpec) -> Result<ValidRequest, ClientError> {
    let manager = spec.manager;
    let names = match &spec.files {
        Some(names) => names.clone(),
        None => default_files(spec),
    };
    let mut files = BTreeMap::new();
    for name in names {
        let workspace = matches!(manager, Manager::Npm | Manager::Pnpm | Manager::Yarn)
            && is_workspace_manifest_name(&name);
        if !workspace {
            check_file_name(manager, &name).map_err(|e| ClientError::BadProject(e.to_string()))?;
        }
        let path = spec.dir.join(&name);
        let bytes = std::fs::read(&path).map_err(|source| ClientError::ReadProject {
            path: path.clone(),
            source,
        })?;
        files.insert(name, bytes);
    }
    if !files.contains_key(manager.manifest()) {
        return Err(ClientError::BadProject(format!(
            "{} has no {}; run depcache in the project root or pass --dir",
            spec.dir.display(),
            manager.manifest()
        )));
    }
    if spec.build_scripts && manager != Manager::Npm {
        return Err(ClientError::BadProject(
            "--server-scripts is for npm projects only".to_string(),
        ));
    }
    // Before the job's registry lines are stripped: the scopes they name.
    let job_scopes = match manager {
        Manager::Pnpm | Manager::Yarn => {
            let mut scopes = crate::protocol::job_scopes(&files);
            scopes.extend(crate::protocol::job_scopes(&user_config(manager)));
            scopes
        }
        Manager::Npm | Manager::Composer => Default::default(),
    };
    let mut given = spec.versions.clone();
    if manager == Manager::Pnpm {
        pnpm_files(&mut files);
        if !given.contains_key("pnpm")
            && let Some(v) = pnpm_version(&files[manager.manifest()])
        {
            given.insert("pnpm".to_string(), v);
        }
    }
    if manager == Manager::Yarn {
        // The job's registries and credentials stay in the job, as pnpm's.
        crate::protocol::strip_yarn_config(&mut files);
    }
    if manager == Manager::Yarn && !given.contains_key("yarn") {
        let asked = package_manager_yarn(&files[manager.manifest()])
            .map_err(|e| ClientError::BadProject(e.to_string()))?;
        given.extend(asked.map(|v| ("yarn".to_string(), v)));
    }
    if manager == Manager::Yarn
        && spec.omit_dev
        && files
            .get("yarn.lock")
            .is_some_and(|l| yarn_flavor(l) == YarnFlavor::Berry)
    {
        return Err(ClientError::BadProject(
            "--omit-dev is for yarn classic only: Yarn Berry's install has no production mode"
                .to_string(),
        ));
    }
    let versions = resolve_versions(manager, &given)?;
    let platform = spec.platform.clone().unwrap_or_else(current_platform);
    check_platform(&platform).map_err(|e| ClientError::BadProject(e.to_string()))?;
    let options = (spec.omit_dev || spec.build_scripts).then_some(InstallOptions {
        omit_dev: spec.omit_dev.then_some(true),
        build_scripts: spec.build_scripts.then_some(true),
    });
    let mut request = ValidRequest {
        manager,
        // Set just below, from the request's own fields.
        hash: Key::from_bytes([0; 32]),
        files,
        versions,
        platform: Some(platform),
        options,
        private_scopes: Vec::new(),
    };
    // After stripping: only what the sent files use, so a scope the job
    // maps but does not use is not named to the server.
    request.private_scopes = crate::protocol::used_scopes(&job_scopes, &request.files);
    request.hash = key_of(request.key_input());
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
    if matches!(manager, Manager::Npm | Manager::Yarn) {
        let globs = std::fs::read(spec.dir.join("package.json"))
            .ok()
            .and_then(|bytes| declared_workspaces(&bytes).ok())
            .unwrap_or_default();
        names.extend(workspace_manifests(&spec.dir, &globs));
    }
    if manager == Manager::Pnpm {
        for name in ["pnpm-workspace.yaml", ".npmrc"] {
            if std::fs::symlink_metadata(spec.dir.join(name)).is_ok_and(|m| m.is_file()) {
                names.push(name.to_string());
            }
        }
        let yaml: BTreeMap<String, Vec<u8>> = std::fs::read(spec.dir.join("pnpm-workspace.yaml"))
            .map(|b| [("pnpm-workspace.yaml".to_string(), b)].into())
            .unwrap_or_default();
        let globs = crate::protocol::pnpm_workspace_globs(&yaml).unwrap_or_default();
        names.extend(workspace_manifests(&spec.dir, &globs));
    }
    if manager == Manager::Yarn {
        // The config files that may change the tree; checked line by line
        // before anything is sent (`check_yarn_config`).
        for name in [".yarnrc.yml", ".yarnrc", ".npmrc"] {
            let is_file = std::fs::symlink_metadata(spec.dir.join(name))
                .is_ok_and(|m| m.file_type().is_file());
            if is_file {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// The `.npmrc` a pnpm request carries: its layout lines only (credentials,
/// registries and other settings never leave the job; a path line makes
/// `fetch` install locally, see `pnpm_refusal`).
fn pnpm_files(files: &mut BTreeMap<String, Vec<u8>>) {
    if let Some(bytes) = files.remove(".npmrc") {
        let kept = crate::protocol::check_npmrc(&String::from_utf8_lossy(&bytes)).kept;
        if !kept.is_empty() {
            files.insert(".npmrc".to_string(), kept.into_bytes());
        }
    }
}

/// The job's user config files that may map a scope to a registry (as
/// `actions/setup-node` writes one): the npm user config (`npm_config_userconfig`
/// or `~/.npmrc`), for yarn also `~/.yarnrc` and `~/.yarnrc.yml`. Only
/// regular files: a symlink is not followed.
fn user_config(manager: Manager) -> BTreeMap<String, Vec<u8>> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let userconfig = std::env::vars_os()
        .find(|(k, _)| {
            k.to_string_lossy()
                .eq_ignore_ascii_case("npm_config_userconfig")
        })
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| home.as_ref().map(|h| h.join(".npmrc")));
    let mut paths = vec![(".npmrc", userconfig)];
    if manager == Manager::Yarn {
        paths.push((".yarnrc", home.as_ref().map(|h| h.join(".yarnrc"))));
        paths.push((".yarnrc.yml", home.as_ref().map(|h| h.join(".yarnrc.yml"))));
    }
    let mut files = BTreeMap::new();
    for (name, path) in paths {
        let Some(path) = path else { continue };
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            && let Ok(bytes) = std::fs::read(&path)
        {
            files.insert(name.to_string(), bytes);
        }
    }
    files
}

/// `packageManager: "pnpm@10.4.1+sha512..."` decides the pnpm version,
/// as it decides which pnpm runs in the job.
fn pnpm_version(manifest: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    let field = doc["packageManager"].as_str()?;
    let version = field.strip_prefix("pnpm@")?;
    Some(version.split('+').next().unwrap_or(version).to_string())
}

/// Why this project is installed here without asking the server: a shape it
/// would refuse (or, if older, cache wrongly), a pnpm setting outside the
/// project, a yarn config line the server would refuse.
pub(super) fn refused_before_asking(request: &ValidRequest, dir: &Path) -> Option<String> {
    if let Err(e) = crate::protocol::check_project_shape(request.manager, &request.files) {
        return Some(e.to_string());
    }
    if request.manager == Manager::Pnpm
        && let Some(reason) = pnpm_refusal(dir)
    {
        return Some(reason);
    }
    if request.manager == Manager::Npm
        && let Some(reason) = super::npm_config::npm_refusal(
            dir,
            crate::protocol::InstallOptions::omits_dev(request.options.as_ref()),
        )
    {
        return Some(reason);
    }
    if request.manager == Manager::Yarn
        && request.files.get("yarn.lock").is_some_and(|l| {
            crate::protocol::yarn_flavor(l) == crate::protocol::YarnFlavor::Classic
        })
        && let Some(reason) = super::npm_config::yarn_classic_refusal(
            crate::protocol::InstallOptions::omits_dev(request.options.as_ref()),
        )
    {
        return Some(reason);
    }
    if request.manager == Manager::Yarn {
        let yarn = request.versions.get("yarn").map(String::as_str);
        if let Err(e) = crate::protocol::check_yarn_config(&request.files, yarn) {
            return Some(e.to_string());
        }
        if request
            .files
            .get("yarn.lock")
            .is_some_and(|l| crate::protocol::yarn_flavor(l) == crate::protocol::YarnFlavor::Berry)
            && let Some(reason) =
                super::yarn_env::berry_refusal(dir, crate::protocol::is_yarn_pnp(&request.files))
        {
            return Some(reason);
        }
    }
    None
}

/// Why `fetch` installs a pnpm project in the job instead of asking: a
/// `.npmrc` line the server would refuse (other than a credential or a
/// registry, which are just not sent: the lockfile's integrity pins every
/// package whichever registry serves it, and the restored state file gets
/// the job's registries), or a `.pnpmfile.cjs`, whose hooks rewrite
/// resolution with code the server does not get.
pub fn pnpm_refusal(dir: &Path) -> Option<String> {
    if std::fs::symlink_metadata(dir.join(".pnpmfile.cjs")).is_ok() {
        return Some(
            "the project has a .pnpmfile.cjs, whose hooks depcache does not run on the server"
                .to_string(),
        );
    }
    if let Some(reason) = layout_outside_project() {
        return Some(reason);
    }
    let text = std::fs::read_to_string(dir.join(".npmrc")).ok()?;
    let check = crate::protocol::check_npmrc(&text);
    check
        .refused
        .into_iter()
        .find(|r| {
            !matches!(
                r.kind,
                crate::protocol::RefusedKind::Credential | crate::protocol::RefusedKind::Registry
            )
        })
        .map(|r| r.to_string())
}

/// A layout setting from the job's environment or user config would shape
/// the job's tree without being in the key (the server never sees it): a
/// cached tree would silently differ, so the job installs itself.
fn layout_outside_project() -> Option<String> {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_ascii_lowercase();
        if let Some(key) = name.strip_prefix("npm_config_")
            && crate::protocol::is_layout_setting(&key.replace('_', "-"))
        {
            return Some(format!(
                "the environment sets {name}, a node_modules layout setting that is not part \
of the key"
            ));
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let files = [
        home.map(|h| h.join(".npmrc")),
        config_home.map(|c| c.join("pnpm/rc")),
    ];
    for file in files.into_iter().flatten() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let kept = crate::protocol::check_npmrc(&text).kept;
        if let Some(line) = kept.lines().next() {
            let key = line.split('=').next().unwrap_or(line);
            return Some(format!(
                "{} sets {key}, a node_modules layout setting that is not part of the key \
(only the project's .npmrc is)",
                file.display()
            ));
        }
    }
    None
}

/// `<folder>/package.json` of every folder the workspace `globs` match (npm's
/// from package.json, pnpm's from pnpm-workspace.yaml), as npm finds them: real folders only (no symlink is followed),
/// no hidden ones, no `node_modules`. A glob depcache cannot reproduce is
/// skipped here; `check_project_shape` then names it and fetch falls back.
fn workspace_manifests(dir: &Path, globs: &[String]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for glob in globs.iter().filter_map(|g| WorkspaceGlob::parse(g).ok()) {
        let mut folders = vec![String::new()];
        for segment in glob.segments() {
            let mut next = Vec::new();
            for prefix in &folders {
                let base = dir.join(prefix);
                let names: Vec<String> = if segment.contains('*') {
                    std::fs::read_dir(&base)
                        .map(|items| {
                            items
                                .flatten()
                                .filter_map(|i| i.file_name().to_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                } else {
                    vec![segment.clone()]
                };
                for name in names {
                    let real_dir = std::fs::symlink_metadata(base.join(&name))
                        .is_ok_and(|m| m.file_type().is_dir());
                    if real_dir && name != "node_modules" && segment_matches(segment, &name) {
                        next.push(if prefix.is_empty() {
                            name
                        } else {
                            format!("{prefix}/{name}")
                        });
                    }
                }
            }
            folders = next;
        }
        for folder in folders {
            let manifest = format!("{folder}/package.json");
            let is_file = std::fs::symlink_metadata(dir.join(&manifest))
                .is_ok_and(|m| m.file_type().is_file());
            if is_file && is_workspace_manifest_name(&manifest) {
                found.insert(manifest);
            }
            // More than the server accepts: the shape check says so.
            if found.len() > MAX_WORKSPACES {
                return found.into_iter().collect();
            }
        }
    }
    found.into_iter().collect()
}

/// Given versions win; the rest come from the tools on PATH. Optional versions
/// (composer's own) are sent when known, because they change the tree too.
fn resolve_versions(
    manager: Manager,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ClientError> {
    let wanted: Vec<&str> = manager
        .required_versions()
        .iter()
        .chain(manager.optional_versions())
        .copied()
        .collect();
    let mut versions = given.clone();
    // Only the tools this manager's key names: every other one asked would
    // be a process start on every fetch, the no-op included.
    for name in &wanted {
        if !versions.contains_key(*name)
            && let Some(v) = detect_tool(name)
        {
            versions.insert(name.to_string(), v);
        }
    }
    for required in manager.required_versions() {
        if !versions.contains_key(*required) {
            return Err(ClientError::BadProject(format!(
                "{required} version unknown: it is not on PATH; pass --{required}-version"
            )));
        }
    }
    check_versions(manager, &versions).map_err(|e| ClientError::BadProject(e.to_string()))?;
    Ok(versions)
}

impl ValidRequest {
    /// The wire form of a request built by `load_project`.
    pub fn to_wire(&self) -> CacheRequest {
        CacheRequest {
            manager: self.manager.name().to_string(),
            hash: self.hash.to_string(),
            files: self
                .files
                .iter()
                .map(|(name, bytes)| (name.clone(), encode_file(bytes)))
                .collect(),
            versions: self.versions.clone(),
            platform: self.platform.clone(),
            options: self.options.clone(),
            private_scopes: self.private_scopes.clone(),
        }
    }
}
