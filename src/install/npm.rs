//! npm: `npm ci` when a lockfile was sent, `npm install` otherwise; lifecycle
//! scripts never run, except for a built request (`build_scripts`), which
//! `install_with` runs only in a container.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CommandSpec, InstallSettings, base_env};
use crate::protocol::Manager;

/// npm 11.16.0 is the first with all four `--allow-*` source limits.
const ALLOW_FLAGS_SINCE: (u64, u64, u64) = (11, 16, 0);

/// `npm_version` is the npm that will run (the request's): it decides
/// whether npm's own source limits can be passed as well.
pub(crate) fn command(
    project: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    omit_dev: bool,
    run_scripts: bool,
    npm_version: Option<&str>,
    settings: &InstallSettings,
) -> CommandSpec {
    let has_lockfile = Manager::Npm
        .lockfiles()
        .iter()
        .any(|name| files.contains_key(*name));
    let mut args: Vec<String> = vec![if has_lockfile { "ci" } else { "install" }.to_string()];
    if !run_scripts {
        args.push("--ignore-scripts".to_string());
    }
    for flag in ["--no-audit", "--no-fund", "--no-update-notifier"] {
        args.push(flag.to_string());
    }
    if omit_dev {
        args.push("--omit=dev".to_string());
    }
    // Defence in depth behind `trusted::check`, which already refused every
    // non-registry dependency: npm refuses them too where it knows how.
    if npm_version.and_then(parse_version) >= Some(ALLOW_FLAGS_SINCE) {
        for flag in ["git", "file", "directory"] {
            args.push(format!("--allow-{flag}=none"));
        }
        // npm takes tarballs on a host other than the configured registry
        // for remote ones: with operator-allowed hosts the check alone rules.
        if !settings.sources.has_extra_hosts() {
            args.push("--allow-remote=none".to_string());
        }
    }
    if let Some(registry) = &settings.npm_registry {
        args.push(format!("--registry={registry}"));
    }
    let mut env = base_env(project);
    env.push((
        "npm_config_cache".to_string(),
        settings.tool_cache.join("npm").display().to_string(),
    ));
    // Scope registries and credentials come from a file beside the project
    // (never argv); the request can send no .npmrc of its own.
    env.extend(settings.sources.private().npm_env(project));
    CommandSpec {
        program: "npm".to_string(),
        args,
        cwd: project.to_path_buf(),
        env,
    }
}

/// Events `npm ci` runs from the project's own manifests (root and
/// workspaces) after the dependencies are built (npm's lib/commands/ci.js).
const OWN_EVENTS: &[&str] = &[
    "predependencies",
    "dependencies",
    "postdependencies",
    "preinstall",
    "install",
    "postinstall",
    "prepublish",
    "preprepare",
    "prepare",
    "postprepare",
];

/// The first of the project's own lifecycle scripts (`manifest`, `event`)
/// a built install would run. The server has the manifests but none of the
/// sources they work on, and caches only `node_modules`: run there, such a
/// script would fail or its output would be lost, so built requests that
/// have one are refused. Unreadable manifests count as none here: the
/// trusted-source check refuses them first.
pub fn own_lifecycle_script(files: &BTreeMap<String, Vec<u8>>) -> Option<(String, &'static str)> {
    files
        .iter()
        .filter(|(name, _)| name.rsplit('/').next() == Some("package.json"))
        .find_map(|(name, bytes)| {
            let manifest: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            let scripts = manifest.get("scripts")?.as_object()?;
            OWN_EVENTS
                .iter()
                .find(|e| scripts.contains_key(**e))
                .map(|e| (name.clone(), *e))
        })
}

/// `major.minor.patch` of a version such as `11.19.1` or `11.16.0-pre.1`.
fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_for(npm: Option<&str>) -> Vec<String> {
        args_with(npm, Default::default())
    }

    fn args_with(npm: Option<&str>, sources: crate::install::TrustedSources) -> Vec<String> {
        let settings = InstallSettings {
            npm_registry: None,
            tool_cache: std::path::PathBuf::from("/tc"),
            timeout: std::time::Duration::from_secs(1),
            sources,
        };
        command(
            Path::new("/p"),
            &BTreeMap::new(),
            false,
            false,
            npm,
            &settings,
        )
        .args
    }

    #[test]
    fn scripts_run_only_when_built() {
        let settings = InstallSettings {
            npm_registry: None,
            tool_cache: std::path::PathBuf::from("/tc"),
            timeout: std::time::Duration::from_secs(1),
            sources: Default::default(),
        };
        let files = BTreeMap::new();
        let plain = command(Path::new("/p"), &files, false, false, None, &settings).args;
        let built = command(Path::new("/p"), &files, false, true, None, &settings).args;
        assert!(plain.contains(&"--ignore-scripts".to_string()), "{plain:?}");
        assert!(!built.iter().any(|a| a.contains("scripts")), "{built:?}");
    }

    #[test]
    fn own_lifecycle_scripts_are_found_in_root_and_workspaces() {
        let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, Vec<u8>> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        let none = files(&[
            ("package.json", r#"{"scripts":{"test":"x","build":"y"}}"#),
            ("package-lock.json", r#"{"scripts":{"postinstall":"x"}}"#),
        ]);
        assert_eq!(own_lifecycle_script(&none), None);
        let root = files(&[("package.json", r#"{"scripts":{"prepare":"husky"}}"#)]);
        assert_eq!(
            own_lifecycle_script(&root),
            Some(("package.json".to_string(), "prepare"))
        );
        let workspace = files(&[
            ("package.json", r#"{"workspaces":["packages/*"]}"#),
            ("packages/a/package.json", r#"{"scripts":{"install":"x"}}"#),
        ]);
        assert_eq!(
            own_lifecycle_script(&workspace),
            Some(("packages/a/package.json".to_string(), "install"))
        );
    }

    #[test]
    fn npm_source_limits_only_where_npm_knows_them() {
        let limited = args_for(Some("11.19.1"));
        for flag in [
            "--allow-git=none",
            "--allow-file=none",
            "--allow-directory=none",
            "--allow-remote=none",
        ] {
            assert!(limited.contains(&flag.to_string()), "{limited:?}");
        }
        for old in [Some("11.15.9"), Some("10.9.2"), Some("junk"), None] {
            let args = args_for(old);
            assert!(
                !args.iter().any(|a| a.starts_with("--allow-")),
                "{old:?}: {args:?}"
            );
        }
        assert_eq!(parse_version("11.16.0-pre.1"), Some((11, 16, 0)));
        let hosts = vec!["npm.corp.example".parse().unwrap()];
        let sources = crate::install::TrustedSources::new(None, hosts, &[]).unwrap();
        let args = args_with(Some("11.19.1"), sources);
        assert!(args.contains(&"--allow-git=none".to_string()), "{args:?}");
        assert!(
            !args.contains(&"--allow-remote=none".to_string()),
            "{args:?}"
        );
    }
}
