//! npm: after the `npm ci --ignore-scripts` tree is in place, `npm rebuild`
//! of exactly the installed packages the lockfile marks `hasInstallScript`
//! (npm's own ordering, node-gyp default, allowScripts policy and bin links),
//! then the root project's events in `npm ci`'s order through npm's own
//! run-script. Nothing starts when the plan is empty.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::links::{make_private, real_dir};
use super::npm_plan::{Folder, Plan, ROOT_EVENTS, plan, plan_from_manifests};
use super::run::run as run_command;
use super::{Ran, ScriptError, ScriptOptions, parse};
use crate::protocol::{Manager, ValidRequest};

const DRIVER: &str = include_str!("root_lifecycle.js");

/// The project folder as the planner sees it.
struct Project<'a>(&'a Path);

impl Folder for Project<'_> {
    fn has_dir(&self, rel: &str) -> bool {
        real_dir(self.0, rel).is_some()
    }

    fn has_link(&self, rel: &str) -> bool {
        let (parent, _) = rel.rsplit_once('/').unwrap_or(("", rel));
        (parent.is_empty() || real_dir(self.0, parent).is_some())
            && std::fs::symlink_metadata(self.0.join(rel)).is_ok_and(|m| m.is_symlink())
    }

    fn has_file(&self, rel: &str) -> bool {
        let (parent, _) = rel.rsplit_once('/').unwrap_or(("", rel));
        (parent.is_empty() || real_dir(self.0, parent).is_some())
            && std::fs::symlink_metadata(self.0.join(rel)).is_ok_and(|m| m.is_file())
    }

    fn manifest(&self, rel: &str) -> Option<Value> {
        real_dir(self.0, rel)?;
        let bytes = std::fs::read(self.0.join(rel).join("package.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

pub(super) fn run(
    request: &ValidRequest,
    dir: &Path,
    options: ScriptOptions,
) -> Result<Option<Ran>, ScriptError> {
    if options.ignore {
        return Ok(None);
    }
    let manifest = parse(request, Manager::Npm.manifest())?.unwrap_or(Value::Null);
    let plan = make_plan(request, dir, &manifest)?;
    if plan.is_empty() {
        return Ok(None);
    }
    let show = !options.quiet;
    let mut parts = Vec::new();
    let rebuilt: Vec<&String> = plan.packages.iter().chain(&plan.links).collect();
    // A package's scripts write into its own folder: that folder's files
    // must be private before they run. The root's scripts may write anywhere
    // in node_modules (patch tools do), so then the whole tree goes private.
    if plan.root {
        if let Some(tree) = real_dir(dir, Manager::Npm.output_dir()) {
            make_private(&tree)?;
        }
    } else {
        for location in &plan.packages {
            if let Some(folder) = real_dir(dir, location) {
                make_private(&folder)?;
            }
        }
    }
    if !rebuilt.is_empty() {
        let mut command = Command::new("npm");
        command.arg("rebuild").current_dir(dir);
        // A trailing slash keeps npm from reading a folder named like a
        // tarball (`x.tgz`) as a file spec; npm matches folders by path.
        command.args(rebuilt.iter().map(|l| format!("./{l}/")));
        let shown = format!("npm rebuild ({} packages)", rebuilt.len());
        run_command(command, &shown, show)?;
        parts.push(format!(
            "install scripts of {} package{}",
            rebuilt.len(),
            if rebuilt.len() == 1 { "" } else { "s" }
        ));
    }
    if plan.root {
        run_root(dir, &plan, show)?;
        parts.push("the project's own lifecycle scripts".to_string());
    }
    Ok(Some(Ran {
        what: parts.join(" and "),
    }))
}

/// The project's lockfile first (it is what the key was made of); for a
/// lockfile without `packages`, npm's record of the tree it made; without
/// either, the installed packages' own package.json files.
fn make_plan(request: &ValidRequest, dir: &Path, manifest: &Value) -> Result<Plan, ScriptError> {
    let folder = Project(dir);
    for name in Manager::Npm.lockfiles() {
        if let Some(lockfile) = parse(request, name)?
            && let Some(plan) = plan(manifest, &lockfile, &folder)
        {
            return Ok(plan);
        }
    }
    let hidden = format!("{}/.package-lock.json", Manager::Npm.output_dir());
    if folder.has_file(&hidden)
        && let Ok(bytes) = std::fs::read(dir.join(&hidden))
        && let Ok(lockfile) = serde_json::from_slice::<Value>(&bytes)
        && let Some(plan) = plan(manifest, &lockfile, &folder)
    {
        return Ok(plan);
    }
    // No record at all: read the installed package.json files, as npm does
    // for trees its lockfile does not describe.
    let mut installed = Vec::new();
    collect_packages(dir, Manager::Npm.output_dir(), &mut installed, 0)?;
    Ok(plan_from_manifests(manifest, &installed, &folder))
}

/// Deeper than this, a tree is not one npm made (it nests at most a few
/// levels in practice); the walk stops rather than recursing without bound.
const MAX_NESTING: usize = 32;

/// Every package folder under the `node_modules` at `rel` (scoped ones
/// included, nested `node_modules` recursed), with its package.json. Follows
/// no symlink: links are left as they are.
fn collect_packages(
    dir: &Path,
    rel: &str,
    out: &mut Vec<(String, Value)>,
    depth: usize,
) -> Result<(), ScriptError> {
    let Some(path) = real_dir(dir, rel) else {
        return Ok(());
    };
    if depth > MAX_NESTING {
        return Ok(());
    }
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .map_err(|source| ScriptError::Io {
            path: path.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    for name in names {
        let location = format!("{rel}/{name}");
        if name.starts_with('@') {
            // A scope folder holds packages, not a package.
            collect_packages(dir, &location, out, depth)?;
            continue;
        }
        if let Ok(bytes) = std::fs::read(dir.join(&location).join("package.json"))
            && let Ok(package) = serde_json::from_slice::<Value>(&bytes)
        {
            out.push((location.clone(), package));
        }
        collect_packages(dir, &format!("{location}/node_modules"), out, depth + 1)?;
    }
    Ok(())
}

/// The root's events through npm's run-script, started by `npm exec` so the
/// scripts get npm's environment; the driver is a temp file of ours.
fn run_root(dir: &Path, plan: &Plan, show: bool) -> Result<(), ScriptError> {
    let mut driver = tempfile::Builder::new()
        .prefix("depcache-root-lifecycle-")
        .suffix(".js")
        .tempfile()
        .map_err(|source| ScriptError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    driver
        .write_all(DRIVER.as_bytes())
        .and_then(|()| driver.flush())
        .map_err(|source| ScriptError::Io {
            path: driver.path().to_path_buf(),
            source,
        })?;
    let events: Vec<&str> = ROOT_EVENTS
        .iter()
        .copied()
        // reify runs the `dependencies` trio only when it changed the tree.
        .filter(|e| plan.has_packages || !e.ends_with("dependencies"))
        .collect();
    let mut command = Command::new("npm");
    command
        .args(["exec", "--call"])
        .arg(format!(
            "exec \"$npm_node_execpath\" {}",
            shell_quote(&driver.path().to_string_lossy())
        ))
        .current_dir(dir)
        .env("DEPCACHE_ROOT_EVENTS", events.join(","))
        .env(
            "DEPCACHE_SCRIPT_PATH",
            std::env::var_os("PATH").unwrap_or_default(),
        );
    run_command(command, "the project's npm lifecycle scripts", show)
}

/// One single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
