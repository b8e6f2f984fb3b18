//! Yarn in the version policy: a `--yarn-release` file of exactly the
//! request's version, else the tool cache (which the installer asks, and
//! whose refusal this adds the server's other options to).

use std::sync::Arc;

use super::ApiError;
use super::versions::{Refusal, VersionPolicy};
use crate::install::Runner;
use crate::install::yarn::YarnRelease;
use crate::protocol::{Manager, ValidRequest};

impl VersionPolicy {
    /// Adds the `--yarn-release` files (versions asked of them at start-up).
    pub fn with_yarn_releases(mut self, releases: Vec<YarnRelease>) -> Self {
        self.yarn_releases = releases.into_iter().map(Arc::new).collect();
        self
    }

    /// The PATH node with a `--yarn-release` file of exactly the request's
    /// yarn, else with the yarn the tool cache provides (the PATH one of
    /// that version, or fetched from the registry: `Installer` asks it and
    /// refuses a version the registry lacks). A `--node-toolchain` node, as
    /// for pnpm: that node first on PATH, running the tool cache's yarn (a
    /// release file stays with the PATH node it was checked with). Another
    /// node: the node container, running the yarn fetched into the tool
    /// cache.
    pub(super) fn decide_yarn(&self, request: &ValidRequest) -> Result<Runner, Refusal> {
        let v = |name: &str| request.versions.get(name).cloned().unwrap_or_default();
        let (node, yarn) = (v("node"), v("yarn"));
        if !self.npm.iter().any(|(n, _)| *n == node)
            && let Some(t) = self.node_toolchains.iter().find(|t| t.node == node)
        {
            return Ok(Runner::Toolchain(t.run()));
        }
        if !self.npm.iter().any(|(n, _)| *n == node) && self.use_containers {
            return self.container_for(request, &format!("node {node}"));
        }
        if !self.npm.iter().any(|(n, _)| *n == node) {
            return Err(Refusal::Version {
                asked: format!("node {node}"),
                why: " for yarn".to_string(),
                supported: self.describe(Manager::Yarn),
            });
        }
        match self.yarn_releases.iter().find(|r| r.version == yarn) {
            Some(release) => Ok(Runner::YarnRelease(release.clone())),
            None => Ok(Runner::Native),
        }
    }

    /// A yarn version the tool cache could not get is refused by the
    /// installer, which knows only the registry: the 400 also lists what
    /// this server has besides.
    pub fn with_alternatives(&self, manager: Manager, mut error: ApiError) -> ApiError {
        if manager == Manager::Yarn && error.code == "unsupported_version" {
            error.message = format!(
                "{}; supported here: {}",
                error.message,
                self.describe(Manager::Yarn)
            );
        }
        error
    }
}
