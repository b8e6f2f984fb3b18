//! Which tool versions this server can really install with. A tree is only
//! ever stored under the versions (and platform) that produced it.

use super::ApiError;
use crate::install::HostTools;
use crate::protocol::{Manager, ValidRequest};

#[derive(Debug, Clone)]
pub struct VersionPolicy {
    /// Supported `(node, npm)` pairs.
    pub npm: Vec<(String, String)>,
    /// Supported PHP versions.
    pub php: Vec<String>,
    /// The composer this host runs; a request naming another one is refused.
    pub composer: Option<String>,
    pub platform: String,
    pub use_containers: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "--supported-versions-node lists node {node} / npm {npm}, but this host has {host}; \
install that version on PATH or remove it from the list"
    )]
    NodeUnavailable {
        node: String,
        npm: String,
        host: String,
    },
    #[error(
        "--supported-versions-php lists PHP {php}, but this host has {host}; install that \
version on PATH or remove it from the list"
    )]
    PhpUnavailable { php: String, host: String },
    #[error("{0}")]
    Malformed(String),
}

impl VersionPolicy {
    /// Builds the policy from the command line lists and the detected tools.
    /// An empty list means "what this host has".
    pub fn new(
        host: &HostTools,
        node_list: &[(String, String)],
        php_list: &[String],
        platform: String,
        use_containers: bool,
    ) -> Result<Self, PolicyError> {
        let host_pair = host.node.clone().zip(host.npm.clone());
        let describe_node = || match &host_pair {
            Some((n, m)) => format!("node {n} / npm {m}"),
            None => "no node/npm on PATH".to_string(),
        };
        let mut npm = Vec::new();
        for (node, npm_v) in node_list {
            if host_pair.as_ref() != Some(&(node.clone(), npm_v.clone())) {
                return Err(PolicyError::NodeUnavailable {
                    node: node.clone(),
                    npm: npm_v.clone(),
                    host: describe_node(),
                });
            }
            npm.push((node.clone(), npm_v.clone()));
        }
        if node_list.is_empty() {
            npm.extend(host_pair.clone());
        }
        let mut php = Vec::new();
        for v in php_list {
            if host.php.as_deref() != Some(v.as_str()) {
                return Err(PolicyError::PhpUnavailable {
                    php: v.clone(),
                    host: host
                        .php
                        .as_ref()
                        .map(|p| format!("PHP {p}"))
                        .unwrap_or_else(|| "no php on PATH".to_string()),
                });
            }
            php.push(v.clone());
        }
        if php_list.is_empty() && host.composer.is_some() {
            php.extend(host.php.clone());
        }
        npm.dedup();
        php.dedup();
        Ok(VersionPolicy {
            npm,
            php,
            composer: host.composer.clone(),
            platform,
            use_containers,
        })
    }

    /// 400 unless this server can install exactly what the request names.
    pub fn check(&self, request: &ValidRequest) -> Result<(), ApiError> {
        if let Some(p) = request.platform.as_ref().filter(|p| **p != self.platform) {
            return Err(ApiError::bad_request(
                "unsupported_platform",
                format!(
                    "this server installs for {}, not {p}; trees are platform-specific",
                    self.platform
                ),
            ));
        }
        let v = |name: &str| request.versions.get(name).cloned().unwrap_or_default();
        let supported = match request.manager {
            Manager::Npm => {
                let wanted = (v("node"), v("npm"));
                if self.npm.contains(&wanted) {
                    return Ok(());
                }
                format!(
                    "node {} / npm {} is not supported here; supported: {}",
                    wanted.0,
                    wanted.1,
                    self.describe_npm()
                )
            }
            Manager::Composer => {
                let php = v("php");
                let composer_ok = match request.versions.get("composer") {
                    None => true,
                    Some(c) => self.composer.as_ref() == Some(c),
                };
                if self.php.contains(&php) && composer_ok {
                    return Ok(());
                }
                let asked = match request.versions.get("composer") {
                    Some(c) => format!("PHP {php} / composer {c}"),
                    None => format!("PHP {php}"),
                };
                format!(
                    "{asked} is not supported here; supported: {}",
                    self.describe_php()
                )
            }
        };
        let hint = if self.use_containers {
            " (container installs for other versions are not available in this build)"
        } else {
            ""
        };
        Err(ApiError::bad_request(
            "unsupported_version",
            format!("{supported}{hint}"),
        ))
    }

    pub fn describe_npm(&self) -> String {
        if self.npm.is_empty() {
            return "none (no node/npm on this server)".to_string();
        }
        self.npm
            .iter()
            .map(|(n, m)| format!("node {n} / npm {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn describe_php(&self) -> String {
        if self.php.is_empty() {
            return "none (no php/composer on this server)".to_string();
        }
        let composer = self
            .composer
            .as_ref()
            .map(|c| format!(" with composer {c}"))
            .unwrap_or_default();
        self.php
            .iter()
            .map(|p| format!("PHP {p}{composer}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses `N:M,N:M` (node:npm pairs).
pub fn parse_node_pairs(list: &[String]) -> Result<Vec<(String, String)>, PolicyError> {
    list.iter()
        .map(|pair| {
            let (node, npm) = pair.split_once(':').ok_or_else(|| {
                PolicyError::Malformed(format!(
                    "--supported-versions-node entry {pair:?} is not NODE:NPM, e.g. 20.20.2:11.19.1"
                ))
            })?;
            for (name, value) in [("node", node), ("npm", npm)] {
                crate::protocol::check_version(name, value)
                    .map_err(|e| PolicyError::Malformed(e.to_string()))?;
            }
            Ok((node.to_string(), npm.to_string()))
        })
        .collect()
}
