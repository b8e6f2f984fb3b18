//! How yarn gets the server's private registries. Berry: a `.yarnrc.yml`
//! in a HOME of the install's own (`npmScopes`, `npmRegistries`). Classic
//! reads credentials only from `.npmrc` files, and only with its default rc
//! files on (`--no-default-rc` also turns off `npm_config_userconfig`); so a
//! classic install that needs a private registry runs with them on, every
//! location yarn 1 reads pointed into the install's own folder by
//! environment, and is refused when a file yarn would also read exists
//! outside it (a folder above the install, `/etc/yarnrc`): its settings
//! would silently join the install. See docs/private-registries.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Url;

use super::InstallSettings;
use super::private::InstallConfig;
use crate::protocol::Manager;

/// Whether a classic install of `files` needs the private registries, and
/// so runs with yarn's default rc files on.
pub(crate) fn classic_needs_rc(
    settings: &InstallSettings,
    files: &BTreeMap<String, Vec<u8>>,
) -> bool {
    !super::yarn::is_berry(files) && settings.sources.uses_private(Manager::Yarn, files)
}

/// The environment of a classic install with rc files on: the server's
/// `.npmrc` as the user config, and every other location yarn 1 derives
/// from the environment (global prefix, XDG config, its own user
/// `.yarnrc`) inside the install's config folder, where nothing else is.
pub(crate) fn classic_env(project: &Path, settings: &InstallSettings) -> Vec<(String, String)> {
    let config = InstallConfig::beside(project);
    let inside = |name: &str| config.dir.join(name).display().to_string();
    let mut env = settings.sources.private().npm_env(project);
    env.push(("PREFIX".to_string(), inside("prefix")));
    env.push(("XDG_CONFIG_HOME".to_string(), inside("xdg-config")));
    env.push(("YARN_USERCONFIG".to_string(), inside("yarnrc")));
    env
}

/// `NODE_EXTRA_CA_CERTS` for a classic install with rc files off, when the
/// operator gave `--registry-ca` (written beside the project like the rest
/// of the install's config).
pub(crate) fn classic_ca_env(project: &Path, settings: &InstallSettings) -> Vec<(String, String)> {
    match settings.sources.private().ca() {
        Some(_) => vec![(
            "NODE_EXTRA_CA_CERTS".to_string(),
            InstallConfig::beside(project)
                .extra_ca
                .display()
                .to_string(),
        )],
        None => Vec::new(),
    }
}

/// The environment of a Berry install when private registries are
/// configured: the HOME whose `.yarnrc.yml` holds them, and the CA.
pub(crate) fn berry_env(project: &Path, settings: &InstallSettings) -> Vec<(String, String)> {
    let private = settings.sources.private();
    if private.is_empty() {
        return Vec::new();
    }
    let config = InstallConfig::beside(project);
    let mut env = vec![("HOME".to_string(), config.berry_home.display().to_string())];
    if private.ca().is_some() {
        env.push((
            "NODE_EXTRA_CA_CERTS".to_string(),
            config.extra_ca.display().to_string(),
        ));
    }
    env
}

/// `YARN_UNSAFE_HTTP_WHITELIST` for Berry: the plain-http hosts of the
/// default registry and the scope registries.
pub(crate) fn berry_http_hosts(settings: &InstallSettings) -> Option<String> {
    let default = default_registry(settings);
    settings
        .sources
        .private()
        .berry_http_hosts(default.as_ref())
}

/// Writes what the yarn install of `files` needs beside `project`: Berry's
/// home `.yarnrc.yml`; for classic with rc files on, nothing, but a config
/// file yarn would read outside the install's folders refuses the install
/// (the error names no server path; the log does).
pub(crate) fn prepare(
    project: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    settings: &InstallSettings,
) -> Result<(), std::io::Error> {
    if super::yarn::is_berry(files) {
        let default = default_registry(settings);
        return settings
            .sources
            .private()
            .write_berry_home(project, default.as_ref());
    }
    if !classic_needs_rc(settings, files) {
        return Ok(());
    }
    if let Some(found) = foreign_rc_files(project).first() {
        tracing::error!(
            file = %found.display(),
            "yarn classic would read this config file in a private-registry install; remove it"
        );
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "yarn classic would read a config file on the server outside the install folder \
(named in the server's log), so this private-registry install is not run",
        ));
    }
    Ok(())
}

/// The config files yarn 1 would read, with rc files on and `classic_env`,
/// that are neither the project's own (uploaded and checked) nor the
/// install's: `/etc/yarn/config`, `/etc/yarnrc`, and `.npmrc`, `.yarnrc`
/// and `.yarnrc.yml` in every folder above the project. Symlinks count
/// (never followed).
pub(crate) fn foreign_rc_files(project: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![
        PathBuf::from("/etc/yarn/config"),
        PathBuf::from("/etc/yarnrc"),
    ];
    for folder in project.ancestors().skip(1) {
        for name in [".npmrc", ".yarnrc", ".yarnrc.yml"] {
            candidates.push(folder.join(name));
        }
    }
    candidates
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect()
}

fn default_registry(settings: &InstallSettings) -> Option<Url> {
    settings
        .npm_registry
        .as_deref()
        .and_then(|r| Url::parse(r).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_files_above_the_project_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("install/project");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join(".npmrc"), "save-exact=true\n").unwrap();
        let before = foreign_rc_files(&project);
        assert!(
            !before.iter().any(|p| p.starts_with(dir.path())),
            "{before:?}"
        );
        std::os::unix::fs::symlink("/nowhere", dir.path().join(".yarnrc")).unwrap();
        let after = foreign_rc_files(&project);
        assert!(after.contains(&dir.path().join(".yarnrc")), "{after:?}");
    }
}
