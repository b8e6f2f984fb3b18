//! The package managers depcache knows, and what each one may send and needs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    Npm,
    Composer,
    Pnpm,
    Yarn,
}

impl Manager {
    pub const ALL: [Manager; 4] = [
        Manager::Npm,
        Manager::Composer,
        Manager::Pnpm,
        Manager::Yarn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Manager::Npm => "npm",
            Manager::Composer => "composer",
            Manager::Pnpm => "pnpm",
            Manager::Yarn => "yarn",
        }
    }

    /// The folder the manager installs into, relative to the project root;
    /// bundles are rooted at it.
    pub fn output_dir(self) -> &'static str {
        match self {
            Manager::Npm => "node_modules",
            Manager::Composer => "vendor",
            Manager::Pnpm => "node_modules",
            Manager::Yarn => "node_modules",
        }
    }

    /// The only file names a request may upload: manifests and lockfiles. Anything
    /// else could smuggle configuration (`.npmrc`, `auth.json`) into the install.
    pub fn allowed_files(self) -> &'static [&'static str] {
        match self {
            Manager::Npm => &["package.json", "package-lock.json", "npm-shrinkwrap.json"],
            Manager::Composer => &["composer.json", "composer.lock"],
            // `.npmrc` only after `npmrc::filter` kept its layout settings.
            Manager::Pnpm => &[
                "package.json",
                "pnpm-lock.yaml",
                "pnpm-workspace.yaml",
                ".npmrc",
            ],
            // The config files go through `check_yarn_config` line by line.
            Manager::Yarn => &[
                "package.json",
                "yarn.lock",
                ".yarnrc.yml",
                ".yarnrc",
                ".npmrc",
            ],
        }
    }

    /// The manifest every request must carry.
    pub fn manifest(self) -> &'static str {
        match self {
            Manager::Npm => "package.json",
            Manager::Composer => "composer.json",
            Manager::Pnpm => "package.json",
            Manager::Yarn => "package.json",
        }
    }

    /// Lockfiles in order of preference.
    pub fn lockfiles(self) -> &'static [&'static str] {
        match self {
            Manager::Npm => &["npm-shrinkwrap.json", "package-lock.json"],
            Manager::Composer => &["composer.lock"],
            Manager::Pnpm => &["pnpm-lock.yaml"],
            Manager::Yarn => &["yarn.lock"],
        }
    }

    /// Tool versions a request must name: they decide the tree.
    pub fn required_versions(self) -> &'static [&'static str] {
        match self {
            Manager::Npm => &["node", "npm"],
            Manager::Composer => &["php"],
            Manager::Pnpm => &["node", "pnpm"],
            Manager::Yarn => &["node", "yarn"],
        }
    }

    /// Tool versions a request may name in addition; when named they must match
    /// the tool that installs.
    pub fn optional_versions(self) -> &'static [&'static str] {
        match self {
            Manager::Npm => &[],
            Manager::Composer => &["composer"],
            Manager::Pnpm => &[],
            Manager::Yarn => &[],
        }
    }
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Manager {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Manager::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Manager::ALL.iter().map(|m| m.name()).collect();
                format!("unknown package manager {s:?}; known: {}", known.join(", "))
            })
    }
}
