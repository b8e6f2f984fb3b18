//! Yarn projects for tests: package.json (+ `.yarnrc.yml` for Berry) and a
//! yarn.lock made by the real yarn against the in-process registry, and the
//! control installs the restored trees are compared with. Classic is the
//! `yarn` on PATH; Berry is the `@yarnpkg/cli-dist` release `.ci/run`
//! installs (`DEPCACHE_TEST_YARN_BERRY` names another). Caches and config
//! live in a scratch folder, never the user's home.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value, json};

use super::registry::registry;

/// The Berry release `.ci/run` installs.
const BERRY_DEFAULT: &str = "/opt/yarn-berry/node_modules/@yarnpkg/cli-dist/bin/yarn.js";

/// The Berry release file; panics with what to install when missing.
pub fn berry_release() -> PathBuf {
    let path = std::env::var_os("DEPCACHE_TEST_YARN_BERRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BERRY_DEFAULT));
    assert!(
        path.is_file(),
        "Yarn Berry is not installed at {}: run .ci/run (it installs @yarnpkg/cli-dist into \
/opt/yarn-berry) or set DEPCACHE_TEST_YARN_BERRY",
        path.display()
    );
    path
}

/// The version of `berry_release()`.
pub fn berry_version() -> String {
    let out = Command::new("node")
        .arg(berry_release())
        .arg("--version")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The classic yarn on PATH, its version.
pub fn classic_version() -> String {
    let out = Command::new("yarn")
        .arg("--version")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("yarn classic is not on PATH ({e}): run .ci/run"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Classic,
    /// Berry with `nodeLinker: node-modules`.
    BerryNodeModules,
    /// Berry with Plug'n'Play (no `nodeLinker`) and `enableGlobalCache:
    /// false`: the zip cache in the project's `.yarn/cache`.
    BerryPnp,
}

impl Flavor {
    fn berry(self) -> bool {
        self != Flavor::Classic
    }
}

/// yarn (classic from PATH, Berry as `node <release>`) in `cwd`, with
/// caches and home in `scratch` and the test registry as the registry.
pub fn yarn_command(flavor: Flavor, cwd: &Path, scratch: &Path) -> Command {
    let url = registry().url();
    let mut cmd = match flavor {
        Flavor::Classic => Command::new("yarn"),
        Flavor::BerryNodeModules | Flavor::BerryPnp => {
            let mut c = Command::new("node");
            c.arg(berry_release());
            c
        }
    };
    // Plug'n'Play keeps its cache where the project says (`.yarn/cache`).
    if flavor != Flavor::BerryPnp {
        cmd.env("YARN_CACHE_FOLDER", scratch.join("yarn-cache"));
    }
    cmd.current_dir(cwd)
        .env("HOME", scratch.join("home"))
        .env("YARN_GLOBAL_FOLDER", scratch.join("yarn-global"))
        .env("YARN_ENABLE_TELEMETRY", "0")
        .env("YARN_ENABLE_GLOBAL_CACHE", "0")
        .env("YARN_NPM_REGISTRY_SERVER", url.trim_end_matches('/'))
        .env("YARN_UNSAFE_HTTP_WHITELIST", "127.0.0.1")
        .env("YARN_ENABLE_PROGRESS_BARS", "0")
        // Yarn 4 quarantines versions without a publish time (the test
        // registry sends none) while resolving.
        .env("YARN_NPM_MINIMAL_AGE_GATE", "0")
        .env("npm_config_registry", &url)
        .env("YARN_REGISTRY", &url)
        .env_remove("NPM_CONFIG_REGISTRY");
    cmd
}

fn run(flavor: Flavor, cwd: &Path, args: &[&str]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = yarn_command(flavor, cwd, scratch.path());
    if flavor == Flavor::Classic {
        cmd.args(["--registry", &registry().url(), "--non-interactive"]);
    }
    cmd.args(args).output().expect("spawn yarn")
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

fn deps_map(deps: &[(&str, &str)]) -> Value {
    Value::Object(
        deps.iter()
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// The files a project of `flavor` consists of besides the lockfile.
pub fn project_files(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::Classic => &["package.json", "yarn.lock"],
        Flavor::BerryNodeModules | Flavor::BerryPnp => {
            &["package.json", "yarn.lock", ".yarnrc.yml"]
        }
    }
}

/// Writes package.json (with `extra` fields merged in; Berry also gets
/// `packageManager` and `.yarnrc.yml`) and makes yarn.lock with the real
/// yarn, scripts off; then removes what that install left so `dir` holds
/// only the project files.
pub fn yarn_project(
    flavor: Flavor,
    dir: &Path,
    deps: &[(&str, &str)],
    dev_deps: &[(&str, &str)],
    extra: Value,
) {
    let mut manifest = json!({
        "name": "fixture",
        "version": "1.0.0",
        "private": true,
        "dependencies": deps_map(deps),
        "devDependencies": deps_map(dev_deps),
    });
    if flavor.berry() {
        manifest["packageManager"] = json!(format!("yarn@{}", berry_version()));
        let rc = match flavor {
            Flavor::BerryPnp => "enableGlobalCache: false\n",
            _ => "nodeLinker: node-modules\n",
        };
        if !dir.join(".yarnrc.yml").exists() {
            std::fs::write(dir.join(".yarnrc.yml"), rc).unwrap();
        }
    }
    if let (Some(m), Some(e)) = (manifest.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    std::fs::write(
        dir.join("package.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let out = match flavor {
        Flavor::Classic => run(flavor, dir, &["install", "--ignore-scripts"]),
        Flavor::BerryNodeModules | Flavor::BerryPnp => {
            let scratch = tempfile::tempdir().unwrap();
            yarn_command(flavor, dir, scratch.path())
                .args(["install", "--mode=update-lockfile"])
                .env("YARN_ENABLE_SCRIPTS", "0")
                .output()
                .expect("spawn yarn")
        }
    };
    check("making yarn.lock", &out);
    for leftover in ["node_modules", ".yarn", ".pnp.cjs", ".pnp.loader.mjs"] {
        let path = dir.join(leftover);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

/// The control install: the project files copied into a fresh folder and
/// installed there the way a CI job would, scripts on (classic
/// `yarn install --frozen-lockfile`, Berry `yarn install --immutable`).
pub fn yarn_reference(flavor: Flavor, project: &Path) -> tempfile::TempDir {
    yarn_reference_with(flavor, project, &[])
}

/// [`yarn_reference`] with more files copied (workspace manifests).
pub fn yarn_reference_with(flavor: Flavor, project: &Path, extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for name in project_files(flavor).iter().chain(extra) {
        if let Some(parent) = Path::new(name).parent() {
            std::fs::create_dir_all(out.path().join(parent)).unwrap();
        }
        std::fs::copy(project.join(name), out.path().join(name))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    let result = match flavor {
        Flavor::Classic => run(flavor, out.path(), &["install", "--frozen-lockfile"]),
        Flavor::BerryNodeModules | Flavor::BerryPnp => {
            run(flavor, out.path(), &["install", "--immutable"])
        }
    };
    check("the control install", &result);
    out
}

/// `node -e <code>` in `dir`; its trimmed stdout.
pub fn node_eval(dir: &Path, code: &str) -> String {
    let out = Command::new("node")
        .args(["-e", code])
        .current_dir(dir)
        .output()
        .unwrap();
    check(&format!("node -e {code:?}"), &out);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
