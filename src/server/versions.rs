//! Which tool versions this server can really install with, and how: the
//! PATH tools, another local toolchain, a container, or a refusal. A tree is
//! only ever stored under the versions (and platform) that produced it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;

use super::ApiError;
use crate::install::yarn::YarnRelease;
use crate::install::{
    ContainerConfig, ContainerPlan, HostTools, NodeToolchain, PhpToolchain, Runner,
};
use crate::protocol::{
    ContainerSupport, InstallOptions, Manager, ManagerSupport, SupportedVersions, ValidRequest,
};

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
    /// Other local toolchains, each checked at start-up.
    pub node_toolchains: Vec<NodeToolchain>,
    pub php_toolchains: Vec<PhpToolchain>,
    /// The runtime for other versions; `None` with `use_containers` means
    /// none answered (requests then get 503, see `decide`).
    pub container: Option<Arc<ContainerConfig>>,
    /// `--build-scripts container`: requests with `build_scripts` are
    /// installed with their scripts, always in `container`.
    pub build_scripts: bool,
    /// The yarn on PATH.
    pub yarn: Option<String>,
    /// `--yarn-release` files, run by the PATH node.
    pub yarn_releases: Vec<Arc<YarnRelease>>,
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

/// Why a request's versions cannot be installed here. The policy decides in
/// these terms; `From<Refusal> for ApiError` alone knows the HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this server installs for {server}, not {asked}; trees are platform-specific")]
    Platform { server: String, asked: String },
    #[error(
        "this server does not run install scripts (it was not started with --build-scripts \
container); fetch without --server-scripts"
    )]
    BuildScriptsUnavailable,
    /// `why` is empty or a parenthesis starting with a space.
    #[error("{asked} is not supported here{why}; supported: {supported}")]
    Version {
        asked: String,
        why: String,
        supported: String,
    },
    /// A container was needed and no runtime answered at start-up.
    #[error("{what}, but this server has no working container runtime{}",
        .supported.as_ref().map(|s| format!("; supported without one: {s}")).unwrap_or_default())]
    NoRuntime {
        what: String,
        supported: Option<String>,
    },
    #[error("{0}")]
    Image(String),
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        let (status, code) = match refusal {
            Refusal::Platform { .. } => (StatusCode::BAD_REQUEST, "unsupported_platform"),
            Refusal::BuildScriptsUnavailable => {
                (StatusCode::BAD_REQUEST, "build_scripts_unavailable")
            }
            Refusal::Version { .. } => (StatusCode::BAD_REQUEST, "unsupported_version"),
            Refusal::NoRuntime { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "container_runtime_unavailable",
            ),
            Refusal::Image(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        };
        ApiError::new(status, code, refusal.to_string())
    }
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
            node_toolchains: Vec::new(),
            php_toolchains: Vec::new(),
            container: None,
            build_scripts: false,
            yarn: host.yarn.clone(),
            yarn_releases: Vec::new(),
        })
    }

    /// Adds the `--node-toolchain` / `--php-toolchain` directories (checked
    /// at start-up by `install::toolchain`).
    pub fn with_toolchains(mut self, node: Vec<NodeToolchain>, php: Vec<PhpToolchain>) -> Self {
        self.node_toolchains = node;
        self.php_toolchains = php;
        self
    }

    /// The container runtime other versions are installed with; only used
    /// when `use_containers` is set.
    pub fn with_container(mut self, config: Arc<ContainerConfig>) -> Self {
        self.container = Some(config);
        self
    }

    /// `--build-scripts container`: needs `with_container`, or every
    /// built request gets 503.
    pub fn with_build_scripts(mut self, enabled: bool) -> Self {
        self.build_scripts = enabled;
        self
    }

    /// A refusal unless this server can install exactly what the request names.
    pub fn check(&self, request: &ValidRequest) -> Result<(), Refusal> {
        self.decide(request).map(|_| ())
    }

    /// How the request's versions are provided: the PATH tools, another local
    /// toolchain, a container, or a refusal saying what is supported. Pure:
    /// looks only at the policy and the request.
    pub fn decide(&self, request: &ValidRequest) -> Result<Runner, Refusal> {
        let runner = self.decide_versions(request)?;
        if !InstallOptions::builds_scripts(request.options.as_ref()) {
            return Ok(runner);
        }
        // Scripts run in the container sandbox or not at all: a version the
        // PATH or a toolchain has still goes to a container.
        if !self.build_scripts {
            return Err(Refusal::BuildScriptsUnavailable);
        }
        match runner {
            Runner::Container(..) => Ok(runner),
            Runner::Native | Runner::Toolchain(_) | Runner::YarnRelease(_) => match &self.container
            {
                Some(config) => self.container_plan(config, request),
                None => Err(Refusal::NoRuntime {
                    what: "install scripts would run in a container".into(),
                    supported: None,
                }),
            },
        }
    }

    fn decide_versions(&self, request: &ValidRequest) -> Result<Runner, Refusal> {
        if let Some(p) = request.platform.as_ref().filter(|p| **p != self.platform) {
            return Err(Refusal::Platform {
                server: self.platform.clone(),
                asked: p.clone(),
            });
        }
        let v = |name: &str| request.versions.get(name).cloned().unwrap_or_default();
        let asked = match request.manager {
            Manager::Npm => {
                let wanted = (v("node"), v("npm"));
                if self.npm.contains(&wanted) {
                    return Ok(Runner::Native);
                }
                let toolchain = self
                    .node_toolchains
                    .iter()
                    .find(|t| (&t.node, &t.npm) == (&wanted.0, &wanted.1));
                if let Some(t) = toolchain {
                    return Ok(Runner::Toolchain(t.run()));
                }
                format!("node {} / npm {}", wanted.0, wanted.1)
            }
            Manager::Pnpm => return self.decide_pnpm(request),
            Manager::Composer => {
                let php = v("php");
                let composer = request.versions.get("composer");
                let fits = |c: Option<&String>| composer.is_none() || composer == c;
                if self.php.contains(&php) && fits(self.composer.as_ref()) {
                    return Ok(Runner::Native);
                }
                let toolchain = self
                    .php_toolchains
                    .iter()
                    .find(|t| t.php == php && fits(t.composer.as_ref()));
                if let Some(t) = toolchain {
                    return Ok(Runner::Toolchain(t.run()));
                }
                match composer {
                    Some(c) => format!("PHP {php} / composer {c}"),
                    None => format!("PHP {php}"),
                }
            }
            Manager::Yarn => return self.decide_yarn(request),
        };
        self.container_for(request, &asked)
    }

    /// The container fallback, or why there is none.
    pub(super) fn container_for(
        &self,
        request: &ValidRequest,
        asked: &str,
    ) -> Result<Runner, Refusal> {
        let supported = self.describe(request.manager);
        let refuse = |why: &str| Refusal::Version {
            asked: asked.to_string(),
            why: why.to_string(),
            supported: supported.clone(),
        };
        if !self.use_containers {
            return Err(refuse(
                " (other versions would need a server started with --use-docker-on-version-mismatch)",
            ));
        }
        let Some(config) = &self.container else {
            return Err(Refusal::NoRuntime {
                what: format!("{asked} would be installed in a container"),
                supported: Some(supported),
            });
        };
        if request.manager == Manager::Composer {
            let Some((_, phar)) = &config.composer_phar else {
                return Err(refuse(
                    " (PHP containers need the server's --composer-phar)",
                ));
            };
            if let Some(c) = request.versions.get("composer").filter(|c| *c != phar) {
                return Err(refuse(&format!(
                    " (containers run composer {phar}, not {c})"
                )));
            }
        }
        self.container_plan(config, request)
    }

    /// The container run of exactly the request's versions.
    fn container_plan(
        &self,
        config: &Arc<ContainerConfig>,
        request: &ValidRequest,
    ) -> Result<Runner, Refusal> {
        let (template, main) = match request.manager {
            Manager::Npm | Manager::Pnpm => (&config.node_image, "node"),
            Manager::Composer => (&config.php_image, "php"),
            Manager::Yarn => (&config.node_image, "node"),
        };
        let version = request.versions.get(main).map(String::as_str).unwrap_or("");
        let image = config
            .image(template, main, version)
            .map_err(Refusal::Image)?;
        Ok(Runner::Container(
            config.clone(),
            ContainerPlan {
                image,
                versions: request.versions.clone(),
            },
        ))
    }

    /// Every option for `manager`, in words, for the 400.
    pub fn describe(&self, manager: Manager) -> String {
        let table = self.supported();
        let support = match manager {
            Manager::Npm => &table.npm,
            Manager::Composer => &table.composer,
            Manager::Pnpm => return self.describe_pnpm(),
            Manager::Yarn => &table.yarn,
        };
        let words = |set: &BTreeMap<String, String>| {
            set.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let mut parts: Vec<String> = Vec::new();
        parts.extend(
            support
                .native
                .iter()
                .map(|s| format!("{} (PATH)", words(s))),
        );
        // Yarn's `{"node"}` sets (toolchain nodes, any yarn) are said below.
        parts.extend(
            support
                .toolchains
                .iter()
                .filter(|s| manager != Manager::Yarn || s.contains_key("yarn"))
                .map(|s| format!("{} (toolchain)", words(s))),
        );
        if let Some(c) = &support.container {
            let fixed = if c.fixed.is_empty() {
                String::new()
            } else {
                format!(" with {}", words(&c.fixed))
            };
            parts.push(format!(
                "any {} in a container ({} image {}{fixed})",
                c.any.join(" / "),
                c.runtime,
                c.image
            ));
        }
        if manager == Manager::Yarn {
            let nodes = self.npm.iter().map(|(node, _)| format!("node {node}"));
            let toolchains = self
                .node_toolchains
                .iter()
                .map(|t| format!("node {} (toolchain)", t.node));
            parts.extend(nodes.chain(toolchains).map(|node| {
                format!(
                    "{node} with any yarn version the npm registry publishes (yarn, or \
@yarnpkg/cli-dist for Berry; fetched into the tool cache)"
                )
            }));
        }
        if parts.is_empty() {
            return "nothing (no tools for this manager on this server)".to_string();
        }
        parts.join(", ")
    }

    /// The table `GET /v1/versions` answers.
    pub fn supported(&self) -> SupportedVersions {
        let set = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let php_set = |php: &str, composer: Option<&String>| {
            let mut s = set(&[("php", php)]);
            if let Some(c) = composer {
                s.insert("composer".to_string(), c.clone());
            }
            s
        };
        let container = self.container.as_ref().filter(|_| self.use_containers);
        SupportedVersions {
            platform: self.platform.clone(),
            yarn: ManagerSupport {
                native: self
                    .npm
                    .iter()
                    .filter_map(|(node, _)| {
                        Some(set(&[("node", node), ("yarn", self.yarn.as_ref()?)]))
                    })
                    .collect(),
                // `--yarn-release` files: local releases, as toolchains are;
                // then the `--node-toolchain` nodes, with any yarn (no
                // `yarn` in the set, as in pnpm's).
                toolchains: self
                    .npm
                    .iter()
                    .flat_map(|(node, _)| {
                        self.yarn_releases
                            .iter()
                            .map(move |r| set(&[("node", node), ("yarn", &r.version)]))
                    })
                    .chain(
                        self.node_toolchains
                            .iter()
                            .map(|t| set(&[("node", &t.node)])),
                    )
                    .collect(),
                // Any yarn the registry publishes, run by the image's node.
                container: container.map(|c| ContainerSupport {
                    runtime: c.runtime.clone(),
                    image: c.node_image.clone(),
                    any: vec!["node".to_string(), "yarn".to_string()],
                    fixed: BTreeMap::new(),
                }),
            },
            pnpm: self.supported_pnpm(),
            build_scripts: (self.build_scripts && self.container.is_some())
                .then(|| "container".to_string()),
            npm: ManagerSupport {
                native: self
                    .npm
                    .iter()
                    .map(|(n, m)| set(&[("node", n), ("npm", m)]))
                    .collect(),
                toolchains: self
                    .node_toolchains
                    .iter()
                    .map(|t| set(&[("node", &t.node), ("npm", &t.npm)]))
                    .collect(),
                container: container.map(|c| ContainerSupport {
                    runtime: c.runtime.clone(),
                    image: c.node_image.clone(),
                    any: vec!["node".to_string(), "npm".to_string()],
                    fixed: BTreeMap::new(),
                }),
            },
            composer: ManagerSupport {
                native: self
                    .php
                    .iter()
                    .map(|p| php_set(p, self.composer.as_ref()))
                    .collect(),
                toolchains: self
                    .php_toolchains
                    .iter()
                    .map(|t| php_set(&t.php, t.composer.as_ref()))
                    .collect(),
                container: container.and_then(|c| {
                    let (_, phar) = c.composer_phar.as_ref()?;
                    Some(ContainerSupport {
                        runtime: c.runtime.clone(),
                        image: c.php_image.clone(),
                        any: vec!["php".to_string()],
                        fixed: set(&[("composer", phar)]),
                    })
                }),
            },
        }
    }

    pub fn describe_npm(&self) -> String {
        self.describe(Manager::Npm)
    }

    pub fn describe_php(&self) -> String {
        self.describe(Manager::Composer)
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

#[cfg(test)]
#[path = "versions_tests.rs"]
mod tests;
