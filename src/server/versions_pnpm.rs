//! pnpm in the version policy: any node this server has natively or as a
//! toolchain, else the node container (the pnpm fetched into the tool cache
//! mounted into it), each with any pnpm version the registry publishes
//! (`Installer` fetches it and refuses a version the registry lacks).

use super::versions::{Refusal, VersionPolicy};
use crate::install::Runner;
use crate::protocol::{Manager, ValidRequest};

impl VersionPolicy {
    pub(super) fn decide_pnpm(&self, request: &ValidRequest) -> Result<Runner, Refusal> {
        let node = request.versions.get("node").cloned().unwrap_or_default();
        if self.npm.iter().any(|(n, _)| *n == node) {
            return Ok(Runner::Native);
        }
        if let Some(t) = self.node_toolchains.iter().find(|t| t.node == node) {
            return Ok(Runner::Toolchain(t.run()));
        }
        if !self.use_containers {
            return Err(Refusal::Version {
                asked: format!("node {node}"),
                why: " for pnpm".to_string(),
                supported: self.describe(Manager::Pnpm),
            });
        }
        self.container_for(request, &format!("node {node}"))
    }

    /// Where pnpm runs, in words, for the 400.
    pub(super) fn describe_pnpm(&self) -> String {
        let mut nodes: Vec<String> = self
            .npm
            .iter()
            .map(|(n, _)| format!("node {n} (PATH)"))
            .chain(
                self.node_toolchains
                    .iter()
                    .map(|t| format!("node {} (toolchain)", t.node)),
            )
            .collect();
        let local = !nodes.is_empty();
        if let Some(c) = self.container.as_ref().filter(|_| self.use_containers) {
            nodes.push(format!(
                "any node in a container ({} image {})",
                c.runtime, c.node_image
            ));
        }
        if nodes.is_empty() {
            return "nothing (no node on this server)".to_string();
        }
        let path = if local { " or the pnpm on PATH" } else { "" };
        format!(
            "{}, each with any pnpm version the npm registry publishes (fetched into the tool \
cache){path}",
            nodes.join(", ")
        )
    }
}
