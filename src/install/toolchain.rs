//! Extra local toolchains (`--node-toolchain VERSION=DIR`, `--php-toolchain
//! VERSION=DIR`): one host serving several node or PHP versions natively. Each
//! directory is checked at start-up by asking its binaries for their versions,
//! so a key never names a version that did not produce the tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::CommandSpec;
use super::detect::parse_composer_version;
use crate::protocol::check_version;

/// `DIR/bin/node` and `DIR/bin/npm`, versions as they report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeToolchain {
    pub node: String,
    pub npm: String,
    pub dir: PathBuf,
}

/// `DIR/bin/php`, and the composer it runs: `DIR/bin/composer` when present,
/// else the host's composer script (run by this php, not by its shebang).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhpToolchain {
    pub php: String,
    pub composer: Option<String>,
    pub dir: PathBuf,
    pub composer_script: Option<PathBuf>,
}

/// What an install needs to run a toolchain instead of the PATH tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolchainRun {
    /// Prepended to PATH, so `#!/usr/bin/env node` scripts find this node.
    pub bin: PathBuf,
    /// For composer: the script `bin/php` runs.
    pub composer_script: Option<PathBuf>,
}

impl NodeToolchain {
    pub fn run(&self) -> ToolchainRun {
        ToolchainRun {
            bin: self.dir.join("bin"),
            composer_script: None,
        }
    }
}

impl PhpToolchain {
    pub fn run(&self) -> ToolchainRun {
        ToolchainRun {
            bin: self.dir.join("bin"),
            composer_script: self.composer_script.clone(),
        }
    }
}

/// `VERSION=DIR` as given on the command line.
pub fn parse_spec(flag: &str, spec: &str) -> Result<(String, PathBuf), String> {
    let (version, dir) = spec
        .split_once('=')
        .ok_or_else(|| format!("{flag} {spec:?} is not VERSION=DIR, e.g. 18.19.0=/opt/node-18"))?;
    check_version(flag, version).map_err(|e| format!("{flag}: {e}"))?;
    let dir = PathBuf::from(dir);
    if !dir.is_absolute() {
        return Err(format!(
            "{flag}: {} must be an absolute path",
            dir.display()
        ));
    }
    Ok((version.to_string(), dir))
}

/// Start-up check of `--node-toolchain VERSION=DIR`: blocking, runs the tools.
pub fn detect_node(version: &str, dir: &Path) -> Result<NodeToolchain, String> {
    let bin = dir.join("bin");
    let node = ask(&bin, &bin.join("node"), &["--version"])
        .map_err(|e| format!("--node-toolchain {version}={}: {e}", dir.display()))?;
    let node = node.trim_start_matches('v').to_string();
    if node != version {
        return Err(format!(
            "--node-toolchain {version}={}: bin/node reports {node}, not {version}",
            dir.display()
        ));
    }
    let npm = ask(&bin, &bin.join("npm"), &["--version"])
        .map_err(|e| format!("--node-toolchain {version}={}: {e}", dir.display()))?;
    check_version("npm", &npm).map_err(|e| format!("--node-toolchain: bin/npm: {e}"))?;
    Ok(NodeToolchain {
        node,
        npm,
        dir: dir.to_path_buf(),
    })
}

/// Start-up check of `--php-toolchain VERSION=DIR`. `host_composer` is the
/// composer script on PATH, used when DIR has none.
pub fn detect_php(
    version: &str,
    dir: &Path,
    host_composer: Option<&Path>,
) -> Result<PhpToolchain, String> {
    let bin = dir.join("bin");
    let php_bin = bin.join("php");
    let context = |e: String| format!("--php-toolchain {version}={}: {e}", dir.display());
    let php = ask(&bin, &php_bin, &["-r", "echo PHP_VERSION;"]).map_err(context)?;
    if php != version {
        return Err(context(format!("bin/php reports {php}, not {version}")));
    }
    let own = bin.join("composer");
    let composer_script = if own.is_file() {
        Some(own)
    } else {
        host_composer.map(Path::to_path_buf)
    };
    let composer = match &composer_script {
        Some(script) => {
            let script = script.display().to_string();
            let out = ask(&bin, &php_bin, &[&script, "--version", "--no-ansi"]).map_err(context)?;
            Some(
                parse_composer_version(&out).ok_or_else(|| {
                    context(format!("cannot read a composer version from {out:?}"))
                })?,
            )
        }
        None => None,
    };
    Ok(PhpToolchain {
        php,
        composer,
        dir: dir.to_path_buf(),
        composer_script,
    })
}

/// Runs `program args` with `bin` first on PATH; the first line of stdout.
fn ask(bin: &Path, program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .env(
            "PATH",
            prepend_path(bin, std::env::var("PATH").ok().as_deref()),
        )
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .env("NO_UPDATE_NOTIFIER", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}", program.display(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

pub(super) fn prepend_path(bin: &Path, path: Option<&str>) -> String {
    match path {
        Some(p) if !p.is_empty() => format!("{}:{p}", bin.display()),
        _ => bin.display().to_string(),
    }
}

/// Rewrites a PATH-tools command to use the toolchain: absolute program (no
/// lookup that could find the host's), `bin` first on PATH for the
/// `#!/usr/bin/env node` scripts npm itself is made of.
pub(super) fn apply(mut spec: CommandSpec, run: &ToolchainRun) -> CommandSpec {
    match (&run.composer_script, spec.program.as_str()) {
        (Some(script), "composer") => {
            spec.program = run.bin.join("php").display().to_string();
            spec.args.insert(0, script.display().to_string());
        }
        _ => spec.program = run.bin.join(&spec.program).display().to_string(),
    }
    let old = spec
        .env
        .iter()
        .position(|(k, _)| k == "PATH")
        .map(|i| spec.env.remove(i).1);
    spec.env
        .push(("PATH".to_string(), prepend_path(&run.bin, old.as_deref())));
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(path: &Path, body: &str) {
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn fake_node(node: &str, npm: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        script(&dir.path().join("bin/node"), &format!("echo v{node}"));
        script(&dir.path().join("bin/npm"), &format!("echo {npm}"));
        dir
    }

    #[test]
    fn node_toolchain_reports_what_it_has() {
        let dir = fake_node("18.19.0", "10.2.3");
        let tc = detect_node("18.19.0", dir.path()).unwrap();
        assert_eq!((tc.node.as_str(), tc.npm.as_str()), ("18.19.0", "10.2.3"));
    }

    #[test]
    fn node_toolchain_of_another_version_is_a_startup_error() {
        let dir = fake_node("18.19.0", "10.2.3");
        let err = detect_node("18.20.0", dir.path()).unwrap_err();
        assert!(err.contains("reports 18.19.0, not 18.20.0"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = detect_node("18.19.0", empty.path()).unwrap_err();
        assert!(err.contains("cannot run"), "{err}");
    }

    #[test]
    fn php_toolchain_checks_php_and_finds_composer() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        // A fake php that answers both questions.
        script(
            &dir.path().join("bin/php"),
            "case \"$1\" in -r) printf 8.1.2;; *) echo 'Composer version 2.6.0 2023-09-01';; esac",
        );
        let host_composer = dir.path().join("composer-script");
        let tc = detect_php("8.1.2", dir.path(), Some(&host_composer)).unwrap();
        assert_eq!(tc.composer.as_deref(), Some("2.6.0"));
        assert_eq!(tc.composer_script.as_deref(), Some(host_composer.as_path()));
        let err = detect_php("8.3.0", dir.path(), None).unwrap_err();
        assert!(err.contains("reports 8.1.2, not 8.3.0"), "{err}");
    }

    #[test]
    fn specs() {
        assert_eq!(
            parse_spec("--node-toolchain", "18.19.0=/opt/n").unwrap(),
            ("18.19.0".to_string(), PathBuf::from("/opt/n"))
        );
        assert!(parse_spec("--node-toolchain", "18.19.0").is_err());
        assert!(parse_spec("--node-toolchain", "v18=/opt/n").is_err());
        assert!(parse_spec("--node-toolchain", "18=relative").is_err());
    }

    #[test]
    fn apply_puts_the_toolchain_first() {
        let run = ToolchainRun {
            bin: PathBuf::from("/opt/n/bin"),
            composer_script: None,
        };
        let spec = CommandSpec {
            program: "npm".to_string(),
            args: vec!["ci".to_string()],
            cwd: PathBuf::from("/w"),
            env: vec![("PATH".to_string(), "/usr/bin".to_string())],
        };
        let spec = apply(spec, &run);
        assert_eq!(spec.program, "/opt/n/bin/npm");
        assert_eq!(
            spec.env,
            vec![("PATH".into(), "/opt/n/bin:/usr/bin".into())]
        );
        let php = ToolchainRun {
            bin: PathBuf::from("/opt/p/bin"),
            composer_script: Some(PathBuf::from("/usr/bin/composer")),
        };
        let spec = CommandSpec {
            program: "composer".to_string(),
            args: vec!["install".to_string()],
            cwd: PathBuf::from("/w"),
            env: vec![],
        };
        let spec = apply(spec, &php);
        assert_eq!(spec.program, "/opt/p/bin/php");
        assert_eq!(spec.args, vec!["/usr/bin/composer", "install"]);
    }
}
