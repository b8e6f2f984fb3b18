//! pnpm in the version policy: any node this server has natively or as a
//! toolchain, else the node container (the pnpm fetched into the tool cache
//! mounted into it), each with any pnpm version the registry publishes
//! (`Installer` fetches it and refuses a version the registry lacks).

use std::collections::BTreeMap;

use super::versions::{Refusal, VersionPolicy};
use crate::install::Runner;
use crate::protocol::{ContainerSupport, Manager, ManagerSupport, ValidRequest};

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

    /// pnpm's row of `GET /v1/versions`, on the same decision as
    /// `decide_pnpm`: the nodes it runs natively or as toolchains, each set
    /// without `pnpm` because any published pnpm is fetched for it; the node
    /// image for any other node.
    pub(super) fn supported_pnpm(&self) -> ManagerSupport {
        let node = |n: &str| BTreeMap::from([("node".to_string(), n.to_string())]);
        let mut native: Vec<_> = self.npm.iter().map(|(n, _)| node(n)).collect();
        native.dedup();
        ManagerSupport {
            native,
            toolchains: self.node_toolchains.iter().map(|t| node(&t.node)).collect(),
            container: self
                .container
                .as_ref()
                .filter(|_| self.use_containers)
                .map(|c| ContainerSupport {
                    runtime: c.runtime.clone(),
                    image: c.node_image.clone(),
                    any: vec!["node".to_string(), "pnpm".to_string()],
                    fixed: BTreeMap::new(),
                }),
        }
    }
}
