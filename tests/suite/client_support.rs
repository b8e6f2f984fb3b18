//! What the client tests share: a throwaway project inside a sandbox folder,
//! running the real binary, and a manifest of a tree to compare before/after.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// `sandbox/project/` with a package.json and lockfile; anything the client
/// writes outside the project shows up in the sandbox.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        fs::create_dir(&project).unwrap();
        fs::write(
            project.join("package.json"),
            "{\"name\":\"t\",\"version\":\"1.0.0\"}\n",
        )
        .unwrap();
        fs::write(
            project.join("package-lock.json"),
            "{\"lockfileVersion\":3}\n",
        )
        .unwrap();
        Sandbox { dir }
    }

    /// A project with no dependencies and a lockfile npm itself wrote, so the
    /// real `npm ci` of the client's fallback succeeds offline.
    pub fn npm_can_install() -> Self {
        let sandbox = Sandbox::new();
        let project = sandbox.project();
        fs::remove_file(project.join("package-lock.json")).unwrap();
        let lock = Command::new("npm")
            .args([
                "install",
                "--package-lock-only",
                "--offline",
                "--no-audit",
                "--no-fund",
            ])
            .current_dir(&project)
            .output()
            .expect("npm must be installed to run these tests");
        assert!(lock.status.success(), "{}", stderr(&lock));
        sandbox
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    pub fn node_modules(&self) -> PathBuf {
        self.project().join("node_modules")
    }

    /// A node_modules from an earlier build, to be left alone on failure.
    pub fn with_old_tree(self) -> Self {
        let nm = self.node_modules();
        fs::create_dir_all(nm.join("old-pkg/bin")).unwrap();
        fs::write(nm.join("old-pkg/index.js"), "module.exports = 'old';\n").unwrap();
        fs::write(nm.join("old-pkg/bin/run"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            nm.join("old-pkg/bin/run"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("../old-pkg/bin/run", nm.join("old-link")).unwrap();
        self
    }

    /// `depcache fetch npm --server URL --dir project` plus `extra`.
    pub fn command(&self, server: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_depcache"));
        cmd.args(["fetch", "npm", "--server", server, "--dir"])
            .arg(self.project())
            .args(["--node-version", "20.20.2", "--npm-version", "11.19.1"])
            .args(extra)
            .env_remove("DEPCACHE_SERVER")
            .env_remove("DEPCACHE_API_KEY")
            .env_remove("RUST_LOG");
        cmd
    }

    pub fn fetch(&self, server: &str, extra: &[&str]) -> Output {
        self.command(server, extra).output().unwrap()
    }

    /// Every path under the sandbox with its kind, mode and content hash.
    pub fn manifest(&self) -> Vec<String> {
        manifest(self.dir.path())
    }

    /// Names directly in the project folder, sorted.
    pub fn project_listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.project())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

pub fn manifest(root: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        // The client's stat manifest (inode numbers, times) is no tree content.
        if entry.file_name() == ".depcache-state" {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string();
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let line = if meta.file_type().is_symlink() {
            let target = fs::read_link(entry.path()).unwrap();
            format!("link {rel} -> {}", target.display())
        } else if meta.is_dir() {
            format!("dir  {rel} {mode:o}")
        } else {
            let hash = hex::encode(Sha256::digest(fs::read(entry.path()).unwrap()));
            format!("file {rel} {mode:o} {hash}")
        };
        lines.push(line);
    }
    lines
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit code, and stderr as one `depcache: ...` line.
pub fn assert_one_line_failure(output: &Output, code: i32) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("depcache: "), "{err}");
    err
}

/// A port nothing listens on.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
