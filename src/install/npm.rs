//! npm: `npm ci` when a lockfile was sent, `npm install` otherwise; lifecycle
//! scripts never run.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CommandSpec, InstallSettings, base_env};
use crate::protocol::Manager;

pub(crate) fn command(
    project: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    omit_dev: bool,
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
    if let Some(registry) = &settings.npm_registry {
        args.push(format!("--registry={registry}"));
    }
    let mut env = base_env(project);
    env.push((
        "npm_config_cache".to_string(),
        settings.tool_cache.join("npm").display().to_string(),
    ));
    CommandSpec {
        program: "npm".to_string(),
        args,
        cwd: project.to_path_buf(),
        env,
    }
}
