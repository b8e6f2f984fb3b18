//! Composer projects for tests: local packages in a `path` repository
//! (packagist disabled, no network), a composer.lock made by the real
//! composer, and reference `composer install` runs.
//!
//! Determinism (checked with composer 2.5.5): two installs of one lock are
//! byte-identical only with
//! - `config.autoloader-suffix` set: otherwise vendor/autoload.php,
//!   composer/autoload_real.php and autoload_static.php get a random class
//!   suffix on every install;
//! - a root `version`: otherwise composer guesses it from git when the install
//!   dir is inside a repository, and vendor/composer/installed.php gets
//!   `dev-<branch>` plus the commit hash instead of `1.0.0+no-version-set`.
//!
//! installed.json keeps the packages' absolute paths (dist.url), so the path
//! repository must be absolute and stay where it is for every install.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value, json};

/// Where [`composer_project`] put things.
pub struct ComposerProject {
    /// Holds composer.json and composer.lock.
    pub project: PathBuf,
    /// The path repository: one folder per package.
    pub packages: PathBuf,
}

/// A `composer` command with home and cache in `scratch` and no network.
pub fn composer_command(cwd: &Path, scratch: &Path) -> Command {
    let mut cmd = Command::new("composer");
    cmd.current_dir(cwd)
        .env("COMPOSER_HOME", scratch.join("home"))
        .env("COMPOSER_CACHE_DIR", scratch.join("cache"))
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .env("COMPOSER_NO_INTERACTION", "1")
        .env("COMPOSER_NO_AUDIT", "1")
        .env("COMPOSER_DISABLE_NETWORK", "1")
        .env_remove("COMPOSER")
        .env_remove("COMPOSER_VENDOR_DIR")
        .env_remove("COMPOSER_ROOT_VERSION");
    cmd
}

fn run_composer(cwd: &Path, args: &[&str]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    composer_command(cwd, scratch.path())
        .args(args)
        .args([
            "--no-interaction",
            "--no-scripts",
            "--no-plugins",
            "--no-progress",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}", missing_composer(&e)))
}

/// What a developer without composer reads instead of a raw spawn error.
pub fn missing_composer(e: &std::io::Error) -> String {
    format!(
        "cannot run composer ({e}): the composer tests need php-cli, composer and unzip on \
PATH (Debian: apt-get install php-cli composer unzip; `bash .ci/run` as root installs them)"
    )
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, body: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn write_json(path: &Path, doc: &Value) {
    write(
        path,
        &(serde_json::to_string_pretty(doc).unwrap() + "\n"),
        0o644,
    );
}

/// Writes the local packages into `packages`:
/// - `acme/greeter` 1.0.0: requires acme/shared, ships `bin/greet` (0755,
///   declared in "bin", so composer writes the proxy `vendor/bin/greet`);
/// - `acme/shared` 1.0.0;
/// - `acme/devtool` 1.0.0: meant for require-dev.
pub fn write_packages(packages: &Path) {
    let pkg = |dir: &str, name: &str, ns: &str, extra: Value| {
        let root = packages.join(dir);
        let mut doc = json!({
            "name": name,
            "version": "1.0.0", // path repositories need it: there is no VCS tag
            "type": "library",
            "license": "MIT",
            "autoload": {"psr-4": {format!("Acme\\{ns}\\"): "src/"}},
        });
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        write_json(&root.join("composer.json"), &doc);
        write(
            &root.join(format!("src/{ns}.php")),
            &format!("<?php\nnamespace Acme\\{ns};\n\nclass {ns}\n{{\n}}\n"),
            0o644,
        );
        root
    };
    let greeter = pkg(
        "greeter",
        "acme/greeter",
        "Greeter",
        json!({"bin": ["bin/greet"], "require": {"acme/shared": "^1.0"}}),
    );
    write(
        &greeter.join("bin/greet"),
        "#!/usr/bin/env php\n<?php\necho \"hello\\n\";\n",
        0o755,
    );
    write(&greeter.join("README.md"), "# greeter\n", 0o644);
    pkg("shared", "acme/shared", "Shared", json!({}));
    pkg("devtool", "acme/devtool", "Devtool", json!({}));
}

fn reqs(list: &[(&str, &str)]) -> Value {
    Value::Object(
        list.iter()
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Creates `dir/packages/*` and `dir/project` requiring `require` and
/// `require_dev`, and generates `dir/project/composer.lock`.
pub fn composer_project_with(
    dir: &Path,
    require: &[(&str, &str)],
    require_dev: &[(&str, &str)],
) -> ComposerProject {
    composer_project_extra(dir, require, require_dev, json!({}))
}

/// Like [`composer_project_with`], with the fields of `extra` (`autoload`,
/// `scripts`, `config` entries, ...) merged into the root composer.json.
pub fn composer_project_extra(
    dir: &Path,
    require: &[(&str, &str)],
    require_dev: &[(&str, &str)],
    extra: Value,
) -> ComposerProject {
    let dir = std::fs::canonicalize(dir).unwrap(); // the repo URL must be absolute
    let packages = dir.join("packages");
    write_packages(&packages);
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let doc = json!({
        "name": "acme/app",
        "version": "1.0.0",
        "type": "project",
        "license": "proprietary",
        "require": reqs(require),
        "require-dev": reqs(require_dev),
        "repositories": [
            {"packagist.org": false},
            {"type": "path", "url": format!("{}/*", packages.display()), "options": {"symlink": false}},
        ],
        "config": {"autoloader-suffix": "depcache"},
    });
    let mut doc = doc;
    for (key, value) in extra.as_object().unwrap() {
        match (doc.get_mut(key), value) {
            (Some(Value::Object(have)), Value::Object(more)) => {
                have.extend(more.clone());
            }
            _ => doc[key] = value.clone(),
        }
    }
    write_json(&project.join("composer.json"), &doc);
    // --no-install: the project dir keeps only the two inputs, no vendor/.
    let out = run_composer(&project, &["update", "--no-audit", "--no-install"]);
    check("composer update", &out);
    assert!(
        project.join("composer.lock").is_file(),
        "composer wrote no lock"
    );
    ComposerProject { project, packages }
}

/// The default project: greeter (pulls in shared) + devtool as require-dev.
pub fn composer_project(dir: &Path) -> ComposerProject {
    composer_project_with(
        dir,
        &[("acme/greeter", "1.0.0")],
        &[("acme/devtool", "1.0.0")],
    )
}

/// Copies composer.json + composer.lock into a fresh temp dir and runs
/// `composer install` there; its `vendor` is the reference tree.
pub fn composer_install_reference(project_dir: &Path, no_dev: bool) -> tempfile::TempDir {
    composer_reference_with(project_dir, no_dev, &[])
}

/// The tree the server stores: `composer install` without the autoloader,
/// which the client writes over the project's own sources after restoring.
pub fn composer_server_reference(project_dir: &Path, no_dev: bool) -> tempfile::TempDir {
    composer_reference_with(project_dir, no_dev, &["--no-autoloader"])
}

fn composer_reference_with(project_dir: &Path, no_dev: bool, extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for name in ["composer.json", "composer.lock"] {
        std::fs::copy(project_dir.join(name), out.path().join(name))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    let mut args = vec!["install", "--prefer-dist"];
    if no_dev {
        args.push("--no-dev");
    }
    args.extend(extra);
    check("composer install", &run_composer(out.path(), &args));
    out
}
