//! `GET /v1/versions`: which tool versions a server can install with, and how
//! (PATH tools, other local toolchains, containers). Clients can check before
//! sending a request; operators can see what a server offers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportedVersions {
    /// Trees are installed for this platform only.
    pub platform: String,
    pub npm: ManagerSupport,
    pub composer: ManagerSupport,
    /// `native` lists the PATH yarn and the `--yarn-release` files, each
    /// with the PATH node. Absent from older servers.
    #[serde(default)]
    pub yarn: ManagerSupport,
    /// Sets of `node` alone: each takes any pnpm version the npm registry
    /// publishes (fetched into the server's tool cache). Absent from older
    /// servers.
    #[serde(default)]
    pub pnpm: ManagerSupport,
    /// `container` when npm requests may ask for the tree built with its
    /// install scripts (`options.build_scripts`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_scripts: Option<String>,
}

/// One manager's options; each version set is a `versions` object as a
/// request sends it (`{"node": "20.20.2", "npm": "11.19.1"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerSupport {
    /// The tools on the server's PATH.
    pub native: Vec<BTreeMap<String, String>>,
    /// `--node-toolchain` / `--php-toolchain` directories.
    pub toolchains: Vec<BTreeMap<String, String>>,
    /// `null` when other versions are refused (400 `unsupported_version`).
    pub container: Option<ContainerSupport>,
}

/// Any other version, installed in a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSupport {
    /// `docker` or `podman`.
    pub runtime: String,
    /// The image template; `{version}` is the node or PHP version.
    pub image: String,
    /// Version names that may take any valid value.
    pub any: Vec<String>,
    /// Version names containers provide in one value only (composer: the
    /// mounted `--composer-phar`); a request naming another value is refused.
    pub fixed: BTreeMap<String, String>,
}
