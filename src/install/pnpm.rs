//! pnpm: `pnpm install --frozen-lockfile` (no script may run, see `command`)
//! with exactly the requested pnpm (node_tools), its store in the server's tool cache; and
//! the two halves of making pnpm's tree portable. pnpm writes absolute paths
//! into the tree (the project folder in every `.bin` shim's NODE_PATH, the
//! store in `.modules.yaml`): the server replaces them with placeholders
//! before the tree is stored, the client puts its own in after a restore,
//! so the restored folder is what pnpm would have made there. See
//! docs/installs.md ("pnpm").

use std::path::{Path, PathBuf};

use super::node_tools::ToolCli;
use super::{CommandSpec, InstallSettings, base_env};

/// Stands for the project folder in a stored tree.
pub const PROJECT_PLACEHOLDER: &str = "/__depcache_project__";
/// Stands for pnpm's store folder (`storeDir`) in a stored tree.
pub const STORE_PLACEHOLDER: &str = "/__depcache_pnpm_store__";

/// The files pnpm writes absolute paths into, besides `.bin` shims.
const STATE_FILES: &[&str] = &[".modules.yaml", ".pnpm-workspace-state-v1.json"];

/// A tree that cannot be stored as pnpm left it.
#[derive(Debug, thiserror::Error)]
pub enum PnpmTreeError {
    #[error(
        "pnpm left dependency builds pending ({packages}); the server runs no install scripts \
and depcache cannot reproduce which ones pnpm would run, so this project is installed in the job"
    )]
    PendingBuilds { packages: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn command(
    project: &Path,
    omit_dev: bool,
    tool: &ToolCli,
    settings: &InstallSettings,
) -> CommandSpec {
    let mut args = tool.prefix.clone();
    for arg in [
        "install",
        "--frozen-lockfile",
        // Not --ignore-scripts: it changes the tree (bin shims then point
        // into .pnpm instead of through the top-level link). pnpm 10 runs
        // no dependency script unless the project allows it, which
        // `check_pnpm_shape` refuses; and should one start anyway, its
        // shell is /bin/false, so the install fails instead of running it.
        "--config.script-shell=/bin/false",
        "--config.dangerously-allow-all-builds=false",
        "--reporter=append-only",
        // Exactly this pnpm: never the one `packageManager` would download.
        "--config.manage-package-manager-versions=false",
        "--config.update-notifier=false",
        "--config.confirm-modules-purge=false",
    ] {
        args.push(arg.to_string());
    }
    args.push(format!(
        "--store-dir={}",
        settings.tool_cache.join("pnpm-store").display()
    ));
    if omit_dev {
        args.push("--prod".to_string());
    }
    if let Some(registry) = &settings.npm_registry {
        args.push(format!("--registry={registry}"));
    }
    let mut env = base_env(project);
    // pnpm reads `.npmrc` like npm: the server's scope registries and
    // credentials reach it as its user config, beside the project.
    env.extend(settings.sources.private().npm_env(project));
    CommandSpec {
        program: tool.program.clone(),
        args,
        cwd: project.to_path_buf(),
        env,
    }
}

/// Server, after a successful install: refuses a tree with pending builds
/// and swaps the server's paths for placeholders, in the root tree and in
/// each workspace folder's. Blocking.
pub fn prepare_for_store(project: &Path, workspaces: &[String]) -> Result<(), PnpmTreeError> {
    let tree = project.join("node_modules");
    let state = std::fs::read_to_string(tree.join(".modules.yaml")).unwrap_or_default();
    let parsed: serde_json::Value = serde_yaml_ng::from_str(&state).unwrap_or_default();
    if let Some(pending) = parsed["pendingBuilds"].as_array().filter(|p| !p.is_empty()) {
        let packages: Vec<&str> = pending.iter().filter_map(|p| p.as_str()).collect();
        return Err(PnpmTreeError::PendingBuilds {
            packages: packages.join(", "),
        });
    }
    let mut swaps: Vec<(String, String)> = Vec::new();
    if let Some(store) = parsed["storeDir"].as_str() {
        swaps.push((store.to_string(), STORE_PLACEHOLDER.to_string()));
    }
    for form in path_forms(project) {
        swaps.push((form, PROJECT_PLACEHOLDER.to_string()));
    }
    rewrite_tree(&tree, &swaps)?;
    for folder in workspaces {
        rewrite_tree(&project.join(folder).join("node_modules"), &swaps)?;
    }
    Ok(())
}

/// Client, after a restore into `dir`: the placeholders become this
/// project's folder and the pnpm store this project's pnpm uses, and the
/// state file's `registries` this project's pnpm's (when known, see
/// `pnpm_registries`). Blocking.
pub fn adopt_restored(
    dir: &Path,
    store: &Path,
    workspaces: &[String],
    registries: Option<&[(String, String)]>,
) -> Result<(), PnpmTreeError> {
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let swaps = vec![
        (PROJECT_PLACEHOLDER.to_string(), real.display().to_string()),
        (STORE_PLACEHOLDER.to_string(), store.display().to_string()),
    ];
    rewrite_tree(&dir.join("node_modules"), &swaps)?;
    for folder in workspaces {
        rewrite_tree(&dir.join(folder).join("node_modules"), &swaps)?;
    }
    if let Some(registries) = registries {
        let state = dir.join("node_modules/.modules.yaml");
        rewrite_file(&state, |text| {
            super::pnpm_registries::with_registries(text, registries)
        })?;
    }
    Ok(())
}

/// What the job's pnpm prints for `args` in `dir`; `None` when it cannot
/// be run or fails (the callers then keep what they know).
pub(crate) fn ask_pnpm(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("pnpm")
        .args(args)
        .current_dir(dir)
        .env("COREPACK_ENABLE_STRICT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The store pnpm would use in `dir`: what `pnpm store path` says there,
/// else pnpm's default for `version` (`<data home>/pnpm/store/v10`, `v3`
/// before pnpm 10).
pub fn client_store_path(dir: &Path, version: &str) -> PathBuf {
    let asked = ask_pnpm(dir, &["store", "path"])
        .map(|out| out.trim().to_string())
        .filter(|s| s.starts_with('/'));
    if let Some(path) = asked {
        return PathBuf::from(path);
    }
    let major: u64 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let layout = if major >= 10 { "v10" } else { "v3" };
    let data = std::env::var_os("PNPM_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("pnpm")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/pnpm")))
        .unwrap_or_else(|| PathBuf::from("/tmp/pnpm"));
    data.join("store").join(layout)
}

/// The spellings of `dir` pnpm may have written: as given and canonical.
fn path_forms(dir: &Path) -> Vec<String> {
    let mut forms = vec![dir.display().to_string()];
    if let Ok(real) = std::fs::canonicalize(dir) {
        forms.push(real.display().to_string());
    }
    // Longest first, so one spelling inside another is replaced whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms
}

/// Applies `swaps` to the state files at the top of `tree` and to every
/// regular file in a `.bin` folder. Never follows a symlink, and writes a
/// new file instead of changing one in place: a restored file may be a hard
/// link into the client's local store.
fn rewrite_tree(tree: &Path, swaps: &[(String, String)]) -> Result<(), PnpmTreeError> {
    if !std::fs::symlink_metadata(tree).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let mut targets: Vec<PathBuf> = STATE_FILES.iter().map(|f| tree.join(f)).collect();
    for entry in walkdir::WalkDir::new(tree).follow_links(false) {
        let entry = entry.map_err(|e| PnpmTreeError::Io {
            path: tree.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let in_bin = entry
            .path()
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ".bin");
        if in_bin && entry.file_type().is_file() {
            targets.push(entry.into_path());
        }
    }
    for path in targets {
        rewrite_file(&path, |text| {
            let mut new = text.to_string();
            for (from, to) in swaps.iter().filter(|(from, _)| !from.is_empty()) {
                new = new.replace(from.as_str(), to);
            }
            Some(new)
        })?;
    }
    Ok(())
}

/// Replaces the regular file at `path` with `change` of its text, unless
/// that is `None` or the same text.
fn rewrite_file(path: &Path, change: impl Fn(&str) -> Option<String>) -> Result<(), PnpmTreeError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| PnpmTreeError::Io {
        path: path.display().to_string(),
        source,
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Ok(());
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(()); // not text: nothing pnpm wrote a path into
    };
    let Some(new) = change(&text).filter(|new| *new != text) else {
        return Ok(());
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".depcache-rewrite-")
        .tempfile_in(dir)
        .map_err(io)?;
    std::io::Write::write_all(&mut tmp, new.as_bytes()).map_err(io)?;
    std::fs::set_permissions(
        tmp.path(),
        std::fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
    )
    .map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn paths_go_out_as_placeholders_and_come_back_as_the_clients() {
        let server = tempfile::tempdir().unwrap();
        let project = server.path().join("project");
        let bin = project.join("node_modules/.bin");
        std::fs::create_dir_all(&bin).unwrap();
        let shim = format!("NODE_PATH=\"{}/node_modules/.pnpm\"\n", project.display());
        std::fs::write(bin.join("x"), &shim).unwrap();
        std::fs::set_permissions(bin.join("x"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            project.join("node_modules/.modules.yaml"),
            "{\n  \"storeDir\": \"/srv/tc/pnpm-store/v10\"\n}",
        )
        .unwrap();
        prepare_for_store(&project, &[]).unwrap();
        let stored = std::fs::read_to_string(bin.join("x")).unwrap();
        assert_eq!(
            stored,
            "NODE_PATH=\"/__depcache_project__/node_modules/.pnpm\"\n"
        );
        let state = std::fs::read_to_string(project.join("node_modules/.modules.yaml")).unwrap();
        assert!(state.contains("\"/__depcache_pnpm_store__\""), "{state}");

        // A hard link stands for a local store's object: it must not change.
        let object = server.path().join("object");
        std::fs::hard_link(bin.join("x"), &object).unwrap();
        adopt_restored(&project, Path::new("/home/u/store/v10"), &[], None).unwrap();
        let real = std::fs::canonicalize(&project).unwrap();
        let back = std::fs::read_to_string(bin.join("x")).unwrap();
        assert_eq!(
            back,
            format!("NODE_PATH=\"{}/node_modules/.pnpm\"\n", real.display())
        );
        let mode = std::fs::metadata(bin.join("x"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read_to_string(&object).unwrap(), stored);
        let state = std::fs::read_to_string(project.join("node_modules/.modules.yaml")).unwrap();
        assert!(state.contains("\"/home/u/store/v10\""), "{state}");
    }

    #[test]
    fn pending_builds_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("node_modules")).unwrap();
        std::fs::write(
            dir.path().join("node_modules/.modules.yaml"),
            "{\"pendingBuilds\": [\"/esbuild@0.20.0\"]}",
        )
        .unwrap();
        let err = prepare_for_store(dir.path(), &[]).unwrap_err();
        assert!(err.to_string().contains("/esbuild@0.20.0"), "{err}");
    }
}
