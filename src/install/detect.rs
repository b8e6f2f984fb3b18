//! Which tool versions this host really provides, asked of the tools themselves.

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

/// Blocking: runs each tool once.
pub fn detect_host_tools() -> HostTools {
    HostTools {
        node: output_of("node", &["--version"]).map(|v| v.trim_start_matches('v').to_string()),
        npm: output_of("npm", &["--version"]),
        php: output_of("php", &["-r", "echo PHP_VERSION;"]),
        composer: output_of("composer", &["--version", "--no-ansi"])
            .and_then(|out| parse_composer_version(&out)),
        yarn: super::yarn::path_yarn_version(),
    }
}

/// The file `name` resolves to on PATH, as a shell would find it.
pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .env("NO_UPDATE_NOTIFIER", "1")
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
    #[test]
    fn composer_version_line() {
        assert_eq!(
            super::parse_composer_version("Composer version 2.5.5 2023-03-21 11:50:05").as_deref(),
            Some("2.5.5")
        );
        assert_eq!(super::parse_composer_version("garbage"), None);
    }
}
