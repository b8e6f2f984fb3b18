//! npm projects for tests: package.json + a lockfile made by the real npm
//! against the in-process registry, and reference `npm ci` installs.
//!
//! Note: the lockfile's `resolved` URLs embed the registry's random port, so a
//! lockfile is only valid within the test process that generated it.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Map, Value, json};

use super::registry::registry;

/// A `npm` command that never touches the user's ~/.npm or ~/.npmrc: cache
/// and config live in `scratch`, and nothing phones home.
pub fn npm_command(cwd: &Path, scratch: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(cwd)
        .env("npm_config_cache", scratch.join("npm-cache"))
        .env("npm_config_userconfig", scratch.join("npmrc"))
        .env("npm_config_globalconfig", scratch.join("global-npmrc"))
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .env("npm_config_loglevel", "warn")
        .env_remove("NPM_CONFIG_REGISTRY")
        .env_remove("npm_config_registry");
    cmd
}

fn run_npm(cwd: &Path, args: &[&str]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let url = registry().url();
    npm_command(cwd, scratch.path())
        .args(args)
        .args([
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--registry",
            &url,
        ])
        .output()
        .expect("spawn npm")
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn deps_map(deps: &[(&str, &str)]) -> Value {
    Value::Object(
        deps.iter()
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Writes `package.json` only (no npm run); for tests that need a project
/// without a lockfile.
pub fn write_package_json(dir: &Path, deps: &[(&str, &str)], dev_deps: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let doc = json!({
        "name": "dc-test-project",
        "version": "1.0.0",
        "private": true,
        "dependencies": deps_map(deps),
        "devDependencies": deps_map(dev_deps),
    });
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    std::fs::write(dir.join("package.json"), text).unwrap();
}

/// Like [`npm_project`] but returns npm's output instead of panicking
/// (for projects meant to fail, e.g. depending on `dc-fail`).
pub fn try_npm_project(
    dir: &Path,
    deps: &[(&str, &str)],
    dev_deps: &[(&str, &str)],
) -> Result<(), String> {
    write_package_json(dir, deps, dev_deps);
    let out = run_npm(dir, &["install", "--package-lock-only"]);
    if out.status.success() {
        Ok(())
    } else {
        Err(describe("npm install --package-lock-only", &out))
    }
}

/// Writes package.json and generates package-lock.json with the real npm.
pub fn npm_project(dir: &Path, deps: &[(&str, &str)], dev_deps: &[(&str, &str)]) {
    if let Err(e) = try_npm_project(dir, deps, dev_deps) {
        panic!("{e}");
    }
    assert!(
        dir.join("package-lock.json").is_file(),
        "npm wrote no lockfile"
    );
}

/// Runs `npm ci` in `dir` (which holds package.json + package-lock.json).
pub fn try_npm_ci(dir: &Path, omit_dev: bool) -> Result<(), String> {
    let mut args = vec!["ci"];
    if omit_dev {
        args.push("--omit=dev");
    }
    let out = run_npm(dir, &args);
    if out.status.success() {
        Ok(())
    } else {
        Err(describe("npm ci", &out))
    }
}

/// Copies package.json + package-lock.json of `project_dir` into a fresh temp
/// dir and runs `npm ci` there; its `node_modules` is the reference tree.
pub fn npm_ci_reference(project_dir: &Path, omit_dev: bool) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for name in ["package.json", "package-lock.json"] {
        std::fs::copy(project_dir.join(name), out.path().join(name))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    if let Err(e) = try_npm_ci(out.path(), omit_dev) {
        panic!("{e}");
    }
    out
}

/// Like [`npm_project`], with `scripts` as the root package.json's scripts
/// (the lockfile is still made with scripts off: nothing runs here).
pub fn npm_project_with_scripts(
    dir: &Path,
    deps: &[(&str, &str)],
    dev_deps: &[(&str, &str)],
    scripts: Value,
) {
    write_package_json(dir, deps, dev_deps);
    let path = dir.join("package.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["scripts"] = scripts;
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    let out = run_npm(dir, &["install", "--package-lock-only"]);
    assert!(
        out.status.success(),
        "{}",
        describe("npm install --package-lock-only", &out)
    );
}

/// The reference with scripts on: a real `npm ci` (dependency install
/// scripts, bin links, the root's lifecycle events) in a copy of the project.
pub fn npm_ci_scripts_reference(project_dir: &Path, omit_dev: bool) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for name in ["package.json", "package-lock.json"] {
        std::fs::copy(project_dir.join(name), out.path().join(name))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = npm_command(out.path(), scratch.path());
    cmd.args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--registry",
        &registry().url(),
    ]);
    if omit_dev {
        cmd.arg("--omit=dev");
    }
    let result = cmd.output().expect("spawn npm");
    assert!(result.status.success(), "{}", describe("npm ci", &result));
    out
}

/// The manifest and lockfile of an npm project, as a cache request sends
/// them.
pub fn npm_project_files(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    ["package.json", "package-lock.json"]
        .into_iter()
        .map(|n| (n, std::fs::read(dir.join(n)).unwrap()))
        .collect()
}

/// A project whose install and ingestion take long enough to interrupt
/// (`dc-big`, `dc-cli`), and `npm ci`'s own tree of it to compare with.
pub fn big_npm_project() -> (tempfile::TempDir, tempfile::TempDir) {
    npm_project_and_reference(&[("dc-big", "1.0.0"), ("dc-cli", "1.0.0")], &[])
}

/// The everyday project: two dependencies with bins and one dev dependency,
/// and `npm ci`'s tree of it.
pub fn standard_npm_project() -> (tempfile::TempDir, tempfile::TempDir) {
    npm_project_and_reference(
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[("dc-dev", "1.0.0")],
    )
}

fn npm_project_and_reference(
    deps: &[(&str, &str)],
    dev_deps: &[(&str, &str)],
) -> (tempfile::TempDir, tempfile::TempDir) {
    let project = tempfile::tempdir().unwrap();
    npm_project(project.path(), deps, dev_deps);
    let reference = npm_ci_reference(project.path(), false);
    (project, reference)
}
