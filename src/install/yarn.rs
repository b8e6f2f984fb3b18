//! yarn: classic (v1) `yarn install --frozen-lockfile --ignore-scripts`, Berry
//! (v2+) `yarn install --immutable` with scripts off, both told where to
//! fetch from (the server's trusted registry) and where to keep their caches
//! (the server's tool cache, never a home folder); and the check after the
//! install that the tree is the one the manager makes with its scripts on.
//! Which yarn runs is the request's exact version: the `yarn` on PATH, or a
//! release file (`serve --yarn-release`) run by the PATH node, whose version
//! is asked of it at start-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{CommandSpec, InstallSettings, base_env};
use crate::protocol::{YarnFlavor, is_yarn_pnp, workspace_folders, yarn_flavor};

/// A yarn release as a JS file (`@yarnpkg/cli-dist`'s `bin/yarn.js`, or
/// classic's `bin/yarn.js`), run with the node on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YarnRelease {
    pub version: String,
    pub entry: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum YarnReleaseError {
    #[error("--yarn-release {}: could not run it with node: {source}", path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--yarn-release {}: `node {} --version` printed {out:?}, not a version", path.display(), path.display())]
    NoVersion { path: PathBuf, out: String },
}

impl YarnRelease {
    /// Asks the release its version (blocking; start-up only).
    pub fn detect(entry: &Path) -> Result<Self, YarnReleaseError> {
        let out = Command::new("node")
            .arg(entry)
            .arg("--version")
            .env("YARN_IGNORE_PATH", "1")
            .env("YARN_ENABLE_TELEMETRY", "0")
            .env("SKIP_YARN_COREPACK_CHECK", "1")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|source| YarnReleaseError::Spawn {
                path: entry.to_path_buf(),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || crate::protocol::check_version("yarn", &text).is_err() {
            return Err(YarnReleaseError::NoVersion {
                path: entry.to_path_buf(),
                out: text.chars().take(100).collect(),
            });
        }
        Ok(YarnRelease {
            version: text,
            entry: std::fs::canonicalize(entry).unwrap_or_else(|_| entry.to_path_buf()),
        })
    }
}

/// The version of the `yarn` on PATH, if any (blocking).
pub fn path_yarn_version() -> Option<String> {
    let out = Command::new("yarn")
        .arg("--version")
        .env("YARN_IGNORE_PATH", "1")
        .env("SKIP_YARN_COREPACK_CHECK", "1")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && crate::protocol::check_version("yarn", &text).is_ok()).then_some(text)
}

/// The install command: `program` with `prefix` before yarn's own
/// arguments is the yarn to run; the lockfile decides classic or Berry.
pub(crate) fn command(
    project: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    program: String,
    prefix: Vec<String>,
    omit_dev: bool,
    settings: &InstallSettings,
) -> CommandSpec {
    let mut args = prefix;
    let mut env = base_env(project);
    // Neither flavor may hand over to a yarn the project names.
    env.push(("YARN_IGNORE_PATH".to_string(), "1".to_string()));
    env.push(("SKIP_YARN_COREPACK_CHECK".to_string(), "1".to_string()));
    env.push(("COREPACK_ENABLE_STRICT".to_string(), "0".to_string()));
    let cache = settings.tool_cache.join("yarn");
    if is_berry(files) {
        args.extend(["install", "--immutable"].map(str::to_string));
        for (name, value) in [
            ("YARN_ENABLE_SCRIPTS", "0"),
            ("YARN_ENABLE_TELEMETRY", "0"),
            ("YARN_ENABLE_GLOBAL_CACHE", "0"),
            ("YARN_ENABLE_PROGRESS_BARS", "0"),
            ("YARN_ENABLE_COLORS", "0"),
            ("YARN_ENABLE_HYPERLINKS", "0"),
        ] {
            env.push((name.to_string(), value.to_string()));
        }
        // Plug'n'Play writes the cache's path into `.pnp.cjs`: it stays the
        // project's own `.yarn/cache` (its `enableGlobalCache: false`, which
        // the shape check requires); the global folder's mirror still saves
        // the downloads.
        if !is_yarn_pnp(files) {
            env.push((
                "YARN_CACHE_FOLDER".to_string(),
                cache.join("berry-cache").display().to_string(),
            ));
        }
        env.push((
            "YARN_GLOBAL_FOLDER".to_string(),
            cache.join("berry-global").display().to_string(),
        ));
        if let Some(registry) = &settings.npm_registry {
            env.push((
                "YARN_NPM_REGISTRY_SERVER".to_string(),
                registry.trim_end_matches('/').to_string(),
            ));
        }
        // Berry refuses plain-http registries unless whitelisted: the
        // operator chose these (the registry, the scope registries), so
        // they are, by env and never in the project's own file.
        if let Some(hosts) = super::yarn_private::berry_http_hosts(settings) {
            env.push(("YARN_UNSAFE_HTTP_WHITELIST".to_string(), hosts));
        }
        // Scopes and credentials: a HOME of the install's own.
        env.extend(super::yarn_private::berry_env(project, settings));
    } else {
        let with_rc = super::yarn_private::classic_needs_rc(settings, files);
        args.extend(
            [
                "install",
                "--frozen-lockfile",
                "--non-interactive",
                "--ignore-scripts",
                "--no-progress",
            ]
            .map(str::to_string),
        );
        if with_rc {
            // Credentials reach yarn 1 only through `.npmrc` files: every
            // place it reads is the install's own or refused
            // (`yarn_private::prepare`).
            env.extend(super::yarn_private::classic_env(project, settings));
        } else {
            // Not the server's own (or its user's) yarnrc/npmrc; the
            // project's are tree-neutral by `check_yarn_config`.
            args.push("--no-default-rc".to_string());
            // `--registry-ca` is about TLS, not about rc files: node reads
            // it from the environment, so a public-registry install behind
            // an intercepting proxy trusts it too (as npm and pnpm do).
            env.extend(super::yarn_private::classic_ca_env(project, settings));
        }
        args.push("--cache-folder".to_string());
        args.push(cache.join("classic-cache").display().to_string());
        if omit_dev {
            args.push("--production".to_string());
        }
        if let Some(registry) = &settings.npm_registry {
            args.push("--registry".to_string());
            args.push(registry.clone());
        }
    }
    CommandSpec {
        program,
        args,
        cwd: project.to_path_buf(),
        env,
    }
}

/// Whether the request's lockfile is Berry's.
pub fn is_berry(files: &BTreeMap<String, Vec<u8>>) -> bool {
    files
        .get("yarn.lock")
        .is_some_and(|l| yarn_flavor(l) == YarnFlavor::Berry)
}

/// Why a finished install cannot be cached as the manager's own tree.
#[derive(Debug, thiserror::Error)]
pub enum YarnTreeError {
    #[error(
        "{package} has an install script ({what}), which yarn runs on install and the server \
does not; depcache does not cache yarn trees whose packages build"
    )]
    BuildScript { package: String, what: String },
    #[error("could not read {path} after the install: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// After the install: refuse trees with a package that would have built
/// (its tree with scripts on differs), then make the install record what
/// a plain install records. Classic notes `--ignore-scripts` in
/// `node_modules/.yarn-integrity` (a later `yarn install` would then relink
/// everything); with no script to run the flag changed nothing, so it is
/// dropped, leaving the file a plain `yarn install --frozen-lockfile` writes.
pub fn finish(project: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), YarnTreeError> {
    if is_yarn_pnp(files) {
        return match super::yarn_pnp::first_build_in_cache(project)? {
            Some((package, what)) => Err(YarnTreeError::BuildScript { package, what }),
            None => Ok(()),
        };
    }
    let modules = project.join("node_modules");
    let mut trees = vec![String::new()];
    trees.extend(
        workspace_folders(files)
            .into_iter()
            .map(|f| format!("{f}/")),
    );
    for tree in trees {
        let top = project.join(format!("{tree}node_modules"));
        if let Some((package, what)) = first_build_script(&top, &top, 0)? {
            return Err(YarnTreeError::BuildScript {
                package: format!("{tree}node_modules/{package}"),
                what,
            });
        }
    }
    let integrity = modules.join(".yarn-integrity");
    let io = |source| YarnTreeError::Io {
        path: "node_modules/.yarn-integrity".to_string(),
        source,
    };
    match std::fs::read_to_string(&integrity) {
        Ok(text) => {
            let plain = text.replace(
                "\"flags\": [\n    \"ignoreScripts\"\n  ],",
                "\"flags\": [],",
            );
            let plain = plain.replace("    \"ignoreScripts\",\n", "");
            let plain = plain.replace(",\n    \"ignoreScripts\"\n", "\n");
            if plain != text {
                std::fs::write(&integrity, plain).map_err(io)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

const INSTALL_EVENTS: &[&str] = &["preinstall", "install", "postinstall"];

/// The first package under `modules` (recursively, nested `node_modules`
/// included, symlinks not followed) that yarn would build: an install
/// script, or a `binding.gyp` (yarn runs `node-gyp rebuild` for it).
fn first_build_script(
    top: &Path,
    modules: &Path,
    depth: usize,
) -> Result<Option<(String, String)>, YarnTreeError> {
    let io = |path: &Path, source| YarnTreeError::Io {
        path: path.display().to_string(),
        source,
    };
    let listing = match std::fs::read_dir(modules) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(modules, e)),
    };
    let mut names: Vec<PathBuf> = Vec::new();
    for item in listing {
        let item = item.map_err(|e| io(modules, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let kind = item.file_type().map_err(|e| io(&item.path(), e))?;
        if !kind.is_dir() || name.starts_with('.') {
            continue;
        }
        if name.starts_with('@') {
            for scoped in std::fs::read_dir(item.path()).map_err(|e| io(&item.path(), e))? {
                let scoped = scoped.map_err(|e| io(&item.path(), e))?;
                if scoped.file_type().is_ok_and(|t| t.is_dir()) {
                    names.push(scoped.path());
                }
            }
        } else {
            names.push(item.path());
        }
    }
    names.sort();
    for package in names {
        let shown = package
            .strip_prefix(top)
            .unwrap_or(&package)
            .display()
            .to_string();
        if let Ok(bytes) = std::fs::read(package.join("package.json"))
            && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && let Some(scripts) = doc.get("scripts").and_then(|s| s.as_object())
            && let Some(event) = INSTALL_EVENTS.iter().find(|e| scripts.contains_key(**e))
        {
            return Ok(Some((shown, format!("{event} script"))));
        }
        if std::fs::symlink_metadata(package.join("binding.gyp")).is_ok() {
            return Ok(Some((shown, "binding.gyp".to_string())));
        }
        if depth < 64
            && let Some(found) = first_build_script(top, &package.join("node_modules"), depth + 1)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_flag_is_dropped_and_scripts_refused() {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("node_modules");
        std::fs::create_dir_all(modules.join("a/node_modules/@s/b")).unwrap();
        std::fs::write(modules.join("a/package.json"), b"{}").unwrap();
        let with_flag = "{\n  \"systemParams\": \"x\",\n  \"flags\": [\n    \"ignoreScripts\"\n  ],\n  \"linkedModules\": []\n}";
        std::fs::write(modules.join(".yarn-integrity"), with_flag).unwrap();
        finish(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(
            std::fs::read_to_string(modules.join(".yarn-integrity")).unwrap(),
            "{\n  \"systemParams\": \"x\",\n  \"flags\": [],\n  \"linkedModules\": []\n}"
        );
        std::fs::write(
            modules.join("a/node_modules/@s/b/package.json"),
            br#"{"scripts":{"postinstall":"node x"}}"#,
        )
        .unwrap();
        let err = finish(dir.path(), &BTreeMap::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("node_modules/a/node_modules/@s/b has an install script"),
            "{err}"
        );
    }
}
