//! npm: `npm ci` when a lockfile was sent, `npm install` otherwise; lifecycle
//! scripts never run.

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
    npm_version: Option<&str>,
    settings: &InstallSettings,
) -> CommandSpec {
    let has_lockfile = Manager::Npm
        .lockfiles()
        .iter()
        .any(|name| files.contains_key(*name));
    let mut args: Vec<String> = vec![if has_lockfile { "ci" } else { "install" }.to_string()];
    for flag in [
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
    ] {
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
    if !settings.sources.private().is_empty() {
        // Scope registries and credentials come from a file beside the
        // project (never argv); the request can send no .npmrc of its own.
        let config = super::private::InstallConfig::beside(project);
        env.push((
            "npm_config_userconfig".to_string(),
            config.npmrc.display().to_string(),
        ));
        if settings.sources.private().ca().is_some() {
            env.push((
                "NODE_EXTRA_CA_CERTS".to_string(),
                config.extra_ca.display().to_string(),
            ));
        }
    }
    CommandSpec {
        program: "npm".to_string(),
        args,
        cwd: project.to_path_buf(),
        env,
    }
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
        command(Path::new("/p"), &BTreeMap::new(), false, npm, &settings).args
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
