//! Yarn projects: classic (v1) or Berry (v2+) told apart by the lockfile,
//! the yarn version a project asks for (`packageManager`), and the check of
//! its config files (`.yarnrc.yml`, `.yarnrc`, `.npmrc`). The client runs
//! the check before uploading, the server again on receipt: a config file is
//! accepted only when every setting in it is one that depcache knows cannot
//! carry a credential, move the registry or name a path, line by line. The
//! project shapes depcache cannot reproduce exactly (Plug'n'Play with the
//! global cache, the pnpm linker, a checked-in `yarnPath` release) are refused by `check_yarn_shape`, which
//! makes the client install locally. See docs/installs.md, "Yarn".

use std::collections::BTreeMap;

use serde_json::Value;

/// Which yarn a lockfile belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YarnFlavor {
    /// `# yarn lockfile v1`.
    Classic,
    /// A YAML lockfile with a `__metadata:` block.
    Berry,
}

/// What the config files say about the install (Berry's `.yarnrc.yml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YarnSettings {
    /// `nodeLinker` as written; Berry's default is `pnp`.
    pub node_linker: Option<String>,
    /// The line of `yarnPath`, when set.
    pub yarn_path_line: Option<usize>,
    /// `enableGlobalCache` as written; Yarn 4's default is `true`.
    pub global_cache: Option<String>,
}

/// A config file depcache will not pass on, or a request that is not a
/// yarn project at all; each a 400 naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YarnConfigError {
    #[error(
        "{file} line {line} sets {key}, a credential; depcache never sends credentials to its \
server (the server uses its own registry settings); remove the line or keep it in the \
user-level config"
    )]
    Credential {
        file: String,
        line: usize,
        key: String,
    },
    #[error(
        "{file} line {line} sets {key}, a registry override; the server installs only from the \
registry it trusts, so the tree could differ from yours; remove the line to use depcache"
    )]
    Registry {
        file: String,
        line: usize,
        key: String,
    },
    #[error(
        "{file} line {line} sets {key}, a path the install would read or write outside the \
folders depcache restores; remove the line to use depcache"
    )]
    Path {
        file: String,
        line: usize,
        key: String,
    },
    #[error(
        "{file} line {line} sets {key}, which is not one of the settings depcache passes on \
({accepted}); remove the line to use depcache"
    )]
    NotAccepted {
        file: String,
        line: usize,
        key: String,
        accepted: String,
    },
    #[error("{file} line {line} is not a setting depcache can read: {reason}")]
    Malformed {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("yarn requests must include yarn.lock: without one yarn resolves versions anew")]
    NoLockfile,
    #[error(
        "package.json's \"packageManager\" is {value:?}; depcache reads only yarn@MAJOR.MINOR.PATCH"
    )]
    PackageManager { value: String },
    #[error(
        "yarn.lock is a {lockfile} lockfile but the yarn version is {version}; run the yarn \
the project uses (its packageManager field) or pass --yarn-version"
    )]
    FlavorMismatch {
        lockfile: &'static str,
        version: String,
    },
}

/// A project depcache cannot reproduce exactly: 422 `unsupported_project`,
/// the client installs locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YarnShapeError {
    #[error(
        ".yarnrc.yml line {line} sets yarnPath: the project runs a checked-in yarn release, which \
the server will not execute and cannot prove equal to a published one"
    )]
    YarnPath { line: usize },
    #[error(
        "the project uses Yarn's nodeLinker {linker}; depcache caches the pnp and node-modules \
linkers only"
    )]
    Linker { linker: String },
    #[error(
        "the project uses Yarn Plug'n'Play with the global cache (enableGlobalCache {value}): \
.pnp.cjs then points into each machine's own cache folder, which depcache does not write; set \
enableGlobalCache: false in .yarnrc.yml (the cache then lives in .yarn/cache) to use depcache"
    )]
    PnpGlobalCache { value: String },
}

/// The flavor of a lockfile: Berry's is YAML with a `__metadata:` block.
pub fn yarn_flavor(lockfile: &[u8]) -> YarnFlavor {
    let text = String::from_utf8_lossy(lockfile);
    if text.lines().any(|l| l.trim_end() == "__metadata:") {
        YarnFlavor::Berry
    } else {
        YarnFlavor::Classic
    }
}

/// The yarn version `packageManager` names (`yarn@4.5.0`, its `+sha…` hash
/// dropped); `None` when the field is absent or names another manager.
pub fn package_manager_yarn(manifest: &[u8]) -> Result<Option<String>, YarnConfigError> {
    let doc: Value = match serde_json::from_slice(manifest) {
        Ok(doc) => doc,
        // Unreadable manifests are refused by the trust check with a reason.
        Err(_) => return Ok(None),
    };
    let Some(field) = doc.get("packageManager") else {
        return Ok(None);
    };
    let bad = || YarnConfigError::PackageManager {
        value: field.to_string().chars().take(100).collect(),
    };
    let text = field.as_str().ok_or_else(bad)?;
    let Some(rest) = text.strip_prefix("yarn@") else {
        return Ok(None);
    };
    let version = rest.split('+').next().unwrap_or_default();
    let parts: Vec<&str> = version.split('.').collect();
    let plain = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !plain {
        return Err(bad());
    }
    Ok(Some(version.to_string()))
}

/// The major of a version such as `4.5.0`.
fn major(version: &str) -> Option<u64> {
    version.split('.').next()?.parse().ok()
}

/// Checks a yarn request's files: lockfile present, `packageManager`
/// readable and of the lockfile's flavor, and every config line accepted.
/// `yarn_version` is the version the request names.
pub fn check_yarn_config(
    files: &BTreeMap<String, Vec<u8>>,
    yarn_version: Option<&str>,
) -> Result<YarnSettings, YarnConfigError> {
    let Some(lockfile) = files.get("yarn.lock") else {
        return Err(YarnConfigError::NoLockfile);
    };
    let flavor = yarn_flavor(lockfile);
    if let Some(manifest) = files.get("package.json") {
        package_manager_yarn(manifest)?;
    }
    if let Some(version) = yarn_version {
        let (berry, lockfile_name) = match flavor {
            YarnFlavor::Classic => (false, "classic (v1)"),
            YarnFlavor::Berry => (true, "Berry (v2+)"),
        };
        if major(version).map(|m| m >= 2) != Some(berry) {
            return Err(YarnConfigError::FlavorMismatch {
                lockfile: lockfile_name,
                version: version.to_string(),
            });
        }
    }
    for name in [".yarnrc", ".npmrc"] {
        if let Some(bytes) = files.get(name) {
            super::yarnrc::check_classic_rc(name, bytes)?;
        }
    }
    match files.get(".yarnrc.yml") {
        Some(bytes) => super::yarnrc::check_berry_rc(bytes),
        None => Ok(YarnSettings::default()),
    }
}

/// The workspace folders a Berry lockfile links (`name@workspace:FOLDER`
/// resolutions other than the root's), sorted; `None` for classic, whose
/// lockfile does not record workspaces. Unreadable lockfiles count as none:
/// the trust check refuses them.
pub fn berry_workspaces(files: &BTreeMap<String, Vec<u8>>) -> Option<Vec<String>> {
    let lock = files.get("yarn.lock")?;
    if yarn_flavor(lock) != YarnFlavor::Berry {
        return None;
    }
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_slice(lock).ok()?;
    let mut folders: Vec<String> = doc
        .as_mapping()?
        .values()
        .filter_map(|entry| entry.get("resolution")?.as_str())
        .filter_map(|r| Some(r[1.min(r.len())..].split_once("@workspace:")?.1))
        .filter(|folder| *folder != ".")
        .map(str::to_string)
        .collect();
    folders.sort();
    folders.dedup();
    Some(folders)
}

/// The shapes `check_yarn_config` accepts but depcache cannot cache
/// exactly. Config errors count as nothing here: they are refused first.
pub fn check_yarn_shape(files: &BTreeMap<String, Vec<u8>>) -> Result<(), YarnShapeError> {
    let Ok(settings) = check_yarn_config(files, None) else {
        return Ok(());
    };
    if let Some(line) = settings.yarn_path_line {
        return Err(YarnShapeError::YarnPath { line });
    }
    let berry = files
        .get("yarn.lock")
        .is_some_and(|l| yarn_flavor(l) == YarnFlavor::Berry);
    if berry {
        match settings.node_linker.as_deref().unwrap_or("pnp") {
            "node-modules" => {}
            "pnp" => {
                // Only a project-local cache makes `.pnp.cjs` the same on
                // every machine (its paths are relative to the project).
                let global = settings.global_cache.as_deref().unwrap_or("true");
                if global != "false" {
                    return Err(YarnShapeError::PnpGlobalCache {
                        value: global.to_string(),
                    });
                }
            }
            linker => {
                return Err(YarnShapeError::Linker {
                    linker: linker.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Whether a request is a Yarn Berry Plug'n'Play project (Berry lockfile,
/// `nodeLinker` `pnp` or unset), whose outputs are the ones `pnp` lists
/// rather than a `node_modules` folder.
pub fn is_yarn_pnp(files: &BTreeMap<String, Vec<u8>>) -> bool {
    let berry = files
        .get("yarn.lock")
        .is_some_and(|l| yarn_flavor(l) == YarnFlavor::Berry);
    berry
        && check_yarn_config(files, None)
            .is_ok_and(|s| s.node_linker.as_deref().unwrap_or("pnp") == "pnp")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A Berry project's request files with `pairs` added (yarnrc's tests use it too).
    pub(in crate::protocol) fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        let mut map: BTreeMap<String, Vec<u8>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        map.entry("package.json".to_string())
            .or_insert_with(|| b"{}".to_vec());
        map.entry("yarn.lock".to_string())
            .or_insert_with(|| b"__metadata:\n  version: 8\n".to_vec());
        map
    }

    #[test]
    fn flavor_and_version_must_agree() {
        let f = files(&[]);
        assert!(matches!(
            check_yarn_config(&f, Some("1.22.22")).unwrap_err(),
            YarnConfigError::FlavorMismatch { .. }
        ));
        let mut no_lock = f.clone();
        no_lock.remove("yarn.lock");
        assert_eq!(
            check_yarn_config(&no_lock, None).unwrap_err(),
            YarnConfigError::NoLockfile
        );
        assert_eq!(
            package_manager_yarn(br#"{"packageManager":"yarn@4.5.0+sha224.abc"}"#).unwrap(),
            Some("4.5.0".to_string())
        );
        assert_eq!(
            package_manager_yarn(br#"{"packageManager":"pnpm@9.0.0"}"#).unwrap(),
            None
        );
        assert!(package_manager_yarn(br#"{"packageManager":"yarn@latest"}"#).is_err());
    }

    #[test]
    fn shapes() {
        assert!(matches!(
            check_yarn_shape(&files(&[])).unwrap_err(),
            YarnShapeError::PnpGlobalCache { .. }
        ));
        let local_cache = files(&[(".yarnrc.yml", "enableGlobalCache: false\n")]);
        assert!(check_yarn_shape(&local_cache).is_ok());
        assert!(is_yarn_pnp(&local_cache));
        assert!(matches!(
            check_yarn_shape(&files(&[(
                ".yarnrc.yml",
                "nodeLinker: pnp\nenableGlobalCache: true\n"
            )]))
            .unwrap_err(),
            YarnShapeError::PnpGlobalCache { .. }
        ));
        assert!(matches!(
            check_yarn_shape(&files(&[(".yarnrc.yml", "nodeLinker: pnpm\n")])).unwrap_err(),
            YarnShapeError::Linker { .. }
        ));
        assert!(check_yarn_shape(&files(&[(".yarnrc.yml", "nodeLinker: node-modules\n")])).is_ok());
        assert!(matches!(
            check_yarn_shape(&files(&[(
                ".yarnrc.yml",
                "nodeLinker: node-modules\nyarnPath: x.cjs\n"
            )]))
            .unwrap_err(),
            YarnShapeError::YarnPath { line: 2 }
        ));
        let lock = "__metadata:\n  version: 8\n\n\"r@workspace:.\":\n  resolution: \"r@workspace:.\"\n\n\"a@workspace:packages/a\":\n  resolution: \"a@workspace:packages/a\"\n";
        let ws = files(&[("yarn.lock", lock)]);
        assert_eq!(berry_workspaces(&ws), Some(vec!["packages/a".to_string()]));
        let classic = files(&[("yarn.lock", "# yarn lockfile v1\n")]);
        assert_eq!(berry_workspaces(&classic), None);
    }
}
