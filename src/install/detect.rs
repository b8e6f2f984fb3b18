//! Which tool versions this host really provides, asked of the tools
//! themselves, or read from the npm package a tool on PATH plainly is.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Versions found on `PATH`; `None` when a tool is missing or unreadable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostTools {
    pub node: Option<String>,
    pub npm: Option<String>,
    pub php: Option<String>,
    pub composer: Option<String>,
    pub yarn: Option<String>,
}

impl HostTools {
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "node" => self.node.as_deref(),
            "npm" => self.npm.as_deref(),
            "php" => self.php.as_deref(),
            "composer" => self.composer.as_deref(),
            "yarn" => self.yarn.as_deref(),
            _ => None,
        }
    }
}

/// Blocking: runs each tool once (the server, at start-up, wants them all).
pub fn detect_host_tools() -> HostTools {
    HostTools {
        node: detect_tool("node"),
        npm: detect_tool("npm"),
        php: detect_tool("php"),
        composer: detect_tool("composer"),
        yarn: detect_tool("yarn"),
    }
}

/// The version of one tool on PATH (blocking: runs it once). Asked one by
/// one because each costs a process start (npm's and composer's about a
/// tenth of a second): a client asks only what its manager's key names.
pub fn detect_tool(name: &str) -> Option<String> {
    match name {
        "node" => output_of("node", &["--version"]).map(|v| v.trim_start_matches('v').to_string()),
        "npm" => package_version("npm").or_else(|| output_of("npm", &["--version"])),
        "php" => output_of("php", &["-r", "echo PHP_VERSION;"]),
        "composer" => output_of("composer", &["--version", "--no-ansi"])
            .and_then(|out| parse_composer_version(&out)),
        "yarn" => package_version("yarn").or_else(super::yarn::path_yarn_version),
        // Strict corepack would refuse a pnpm the project's packageManager
        // does not name; the version on PATH is what is asked here.
        "pnpm" => package_version("pnpm").or_else(|| output_of("pnpm", &["--version"])),
        _ => None,
    }
}

/// The file `name` resolves to on PATH, as a shell would find it.
pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The version in the `package.json` of the npm package `name` on PATH is,
/// when PATH's `name` resolves to the very file that package declares as its
/// `name` bin (how npm, the node tarball, nvm and Homebrew install npm, pnpm
/// and yarn): the number `name --version` prints, without the tenth of a
/// second node takes to start and say it. Anything else (a shell shim such as
/// volta's or corepack's, a wrapper, a package of another name) is asked.
fn package_version(name: &str) -> Option<String> {
    let entry = std::fs::canonicalize(find_on_path(name)?).ok()?;
    let mut dir = entry.parent();
    // bin/<file>, or a bin file a few folders deep: never above the package.
    for _ in 0..3 {
        let here = dir?;
        if let Some(version) = declared_version(here, name, &entry) {
            return Some(version);
        }
        dir = here.parent();
    }
    None
}

/// `dir/package.json` names package `name` and its `name` bin is `entry`.
fn declared_version(dir: &Path, name: &str, entry: &Path) -> Option<String> {
    let text = std::fs::read(dir.join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&text).ok()?;
    if manifest.get("name")?.as_str()? != name {
        return None;
    }
    let bin = match manifest.get("bin")? {
        serde_json::Value::String(path) => path.as_str(),
        bins => bins.get(name)?.as_str()?,
    };
    let declared: PathBuf = std::fs::canonicalize(dir.join(bin)).ok()?;
    if declared != entry {
        return None;
    }
    let version = manifest.get("version")?.as_str()?;
    crate::protocol::check_version(name, version).ok()?;
    Some(version.to_string())
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("COREPACK_ENABLE_STRICT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let first = text.lines().next()?.trim().to_string();
    (!first.is_empty()).then_some(first)
}

/// `Composer version 2.5.5 2023-03-21 11:50:05` → `2.5.5`.
pub(super) fn parse_composer_version(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    while let Some(word) = words.next() {
        if word == "version" {
            return words.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A package laid out as npm installs it globally, its bin linked from
    /// `bin_dir` as PATH sees it.
    fn package(root: &Path, name: &str, bin: &str, version: &str) -> std::path::PathBuf {
        let pkg = root.join("lib/node_modules").join(name);
        std::fs::create_dir_all(pkg.join("bin")).unwrap();
        std::fs::write(pkg.join("bin/cli.js"), "").unwrap();
        std::fs::write(
            pkg.join("package.json"),
            format!(r#"{{"name":"{name}","version":"{version}","bin":{bin}}}"#),
        )
        .unwrap();
        let bin_dir = root.join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::os::unix::fs::symlink(pkg.join("bin/cli.js"), bin_dir.join(name)).unwrap();
        std::fs::canonicalize(pkg.join("bin/cli.js")).unwrap()
    }

    #[test]
    fn a_package_bin_says_its_version_and_nothing_else_does() {
        let root = tempfile::tempdir().unwrap();
        let entry = package(root.path(), "npm", r#"{"npm":"bin/cli.js"}"#, "10.9.2");
        let pkg = entry.parent().unwrap().parent().unwrap();
        assert_eq!(
            super::declared_version(pkg, "npm", &entry).as_deref(),
            Some("10.9.2")
        );
        // Another package's bin, or a bin that is not this file: asked instead.
        assert_eq!(super::declared_version(pkg, "pnpm", &entry), None);
        let other = pkg.join("bin/other.js");
        std::fs::write(&other, "").unwrap();
        let other = std::fs::canonicalize(other).unwrap();
        assert_eq!(super::declared_version(pkg, "npm", &other), None);
        // A version that is no version is not believed.
        let odd = package(
            root.path().join("odd").as_path(),
            "yarn",
            r#""bin/cli.js""#,
            "latest",
        );
        assert_eq!(
            super::declared_version(odd.parent().unwrap().parent().unwrap(), "yarn", &odd),
            None
        );
    }

    /// The shortcut agrees with the tool itself, for the npm this host has.
    #[test]
    fn npm_on_path_reads_what_it_prints() {
        let Some(asked) = super::output_of("npm", &["--version"]) else {
            return; // no npm on this machine's PATH
        };
        assert_eq!(super::package_version("npm"), Some(asked));
    }

    #[test]
    fn composer_version_line() {
        assert_eq!(
            super::parse_composer_version("Composer version 2.5.5 2023-03-21 11:50:05").as_deref(),
            Some("2.5.5")
        );
        assert_eq!(super::parse_composer_version("garbage"), None);
    }
}
