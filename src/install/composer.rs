//! composer: `composer install` with scripts and plugins off (both run code from
//! the packages being installed), dist archives preferred, and no autoloader:
//! it depends on the project's own sources (`classmap`, `files`, `psr-4`),
//! which the server never sees, so the client writes it after restoring.

use std::path::Path;

use super::{CommandSpec, InstallSettings, base_env};

pub(super) fn command(project: &Path, omit_dev: bool, settings: &InstallSettings) -> CommandSpec {
    let mut args: Vec<String> = [
        "install",
        "--no-scripts",
        "--no-plugins",
        "--no-interaction",
        "--no-progress",
        "--no-ansi",
        "--prefer-dist",
        "--no-autoloader",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if omit_dev {
        args.push("--no-dev".to_string());
    }
    let mut env = base_env(project);
    let home = settings.tool_cache.join("composer");
    // With credentials, COMPOSER_HOME is the install's own (its auth.json
    // beside the project); the download cache stays shared.
    let composer_home = if settings.sources.private().is_empty() {
        home.clone()
    } else {
        super::private::InstallConfig::beside(project).composer_home
    };
    env.push((
        "COMPOSER_HOME".to_string(),
        composer_home.display().to_string(),
    ));
    env.push((
        "COMPOSER_CACHE_DIR".to_string(),
        home.join("cache").display().to_string(),
    ));
    // Sources are a fallback for failed dist downloads (and `trusted` allows
    // only https ones): git may speak nothing else, no file:// or ext::.
    env.push(("GIT_ALLOW_PROTOCOL".to_string(), "https".to_string()));
    // The server may well run as root in a container; composer only warns.
    env.push(("COMPOSER_ALLOW_SUPERUSER".to_string(), "1".to_string()));
    CommandSpec {
        program: "composer".to_string(),
        args,
        cwd: project.to_path_buf(),
        env,
    }
}
