//! Which sources a server-side install may fetch from, and the check of a
//! request's manifest and lockfile against them before anything is spawned.
//!
//! npm and composer follow whatever a lockfile names: `file:` folders (copied
//! into the tree, so into a downloadable bundle), git URLs (run through git),
//! tarball URLs on any host (SSRF). The server therefore reads the uploaded
//! files itself and refuses every dependency that does not come from a
//! trusted registry: the configured npm registry, the public registries'
//! well-known hosts, the hosts an operator allowed with
//! `--allow-registry-host`, and, for composer `path` repositories only, the
//! folders an operator allowed with `--allow-composer-path`. See
//! docs/installs.md for the rules.

mod composer;
mod npm;
mod pnpm;
#[cfg(test)]
mod tests;
mod yarn;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use reqwest::Url;

use super::private::PrivateRegistries;
use crate::protocol::Manager;

/// npm's own default registry. Always trusted: npm rewrites lockfile URLs on
/// it to the configured registry (`replace-registry-host`, default `npmjs`).
const NPM_DEFAULT_REGISTRY: &str = "registry.npmjs.org";

/// Where packagist.org's packages come from: its metadata and notification
/// hosts, and the forges its dist archives and git sources point at.
const COMPOSER_DEFAULT_HOSTS: &[&str] = &[
    "repo.packagist.org",
    "packagist.org",
    "api.github.com",
    "codeload.github.com",
    "github.com",
    "gitlab.com",
    "bitbucket.org",
];

/// A dependency or setting the server will not install from. Every variant
/// names the uploaded file and where in it the offending entry sits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    #[error(
        "{file}: {at} is a {kind} source ({spec:?}); the server installs only from trusted \
registries and no server flag allows {kind} sources (install it in the job instead)"
    )]
    Kind {
        file: String,
        at: String,
        kind: &'static str,
        spec: String,
    },
    #[error(
        "{file}: {at} is fetched from {url:?}, which is not a trusted registry; an operator can \
allow that host with `depcache serve --allow-registry-host {host}`"
    )]
    Host {
        file: String,
        at: String,
        url: String,
        host: String,
    },
    #[error(
        "{file}: {at} reads packages from the folder {path:?}; an operator can allow a folder \
of packages with `depcache serve --allow-composer-path DIR`"
    )]
    Path {
        file: String,
        at: String,
        path: String,
    },
    #[error("{file}: {at} is not accepted by the server: {reason}")]
    Setting {
        file: String,
        at: String,
        reason: String,
    },
    #[error("{file} cannot be checked for untrusted sources: {reason}")]
    Unreadable { file: String, reason: String },
}

/// A host the operator allowed: exact name (or IP) and, when given, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    /// `HOST` or `HOST:PORT`, nothing else: no scheme, path, user or
    /// wildcard, so the match stays exact.
    fn from_str(value: &str) -> Result<Self, String> {
        let refuse = || {
            format!(
                "--allow-registry-host {value:?} must be a host name or address with an optional \
port, such as npm.internal.example or 10.0.0.5:4873"
            )
        };
        if value.is_empty() || value.contains(['/', '@', '*', '?', '#', '\\']) {
            return Err(refuse());
        }
        let url = Url::parse(&format!("http://{value}/")).map_err(|_| refuse())?;
        let host = url.host_str().ok_or_else(refuse)?.to_string();
        // `Url` reports no port when it is the scheme's default (80 here).
        let port = url.port().or_else(|| value.ends_with(":80").then_some(80));
        let spelled = match port {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        if spelled != value.to_ascii_lowercase() {
            return Err(refuse());
        }
        Ok(AllowedHost { host, port })
    }
}

impl AllowedHost {
    /// Whether `url` (http or https) is on this host and port; no port means
    /// the URL scheme's default.
    pub(crate) fn matches(&self, url: &Url) -> bool {
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == Some(self.port.unwrap_or(default_port))
    }

    /// The host as given: `HOST` or `HOST:PORT`. Names a private registry in
    /// API key scopes and 403s.
    pub fn name(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn port(&self) -> Option<u16> {
        self.port
    }
}

/// The server's trust configuration, fixed at start-up.
#[derive(Debug, Clone, Default)]
pub struct TrustedSources {
    /// `--npm-registry`, when the operator set one.
    npm_registry: Option<Url>,
    /// `--allow-registry-host`.
    hosts: Vec<AllowedHost>,
    /// `--allow-composer-path`, canonical.
    composer_paths: Vec<PathBuf>,
    /// `--npm-scope-registry` and `--registry-credentials`: the scope
    /// registries count as trusted npm origins.
    private: Arc<PrivateRegistries>,
}

impl TrustedSources {
    /// Checks and records the operator's settings; errors are sentences for
    /// a start-up refusal.
    pub fn new(
        npm_registry: Option<&str>,
        hosts: Vec<AllowedHost>,
        composer_paths: &[PathBuf],
    ) -> Result<Self, String> {
        let npm_registry = npm_registry
            .map(|raw| {
                Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| format!("--npm-registry {raw:?} is not an http(s) URL"))
            })
            .transpose()?;
        let composer_paths = composer_paths
            .iter()
            .map(|p| {
                std::fs::canonicalize(p)
                    .ok()
                    .filter(|c| c.is_dir())
                    .ok_or_else(|| format!("--allow-composer-path {} is not a folder", p.display()))
            })
            .collect::<Result<_, _>>()?;
        Ok(TrustedSources {
            npm_registry,
            hosts,
            composer_paths,
            private: Arc::default(),
        })
    }

    /// Adds the operator's private registries. Every credential must belong
    /// to a registry this configuration already trusts: a credential for any
    /// other host would be sent nowhere, or somewhere nobody checked.
    pub fn with_private(mut self, private: PrivateRegistries) -> Result<Self, String> {
        self.private = Arc::new(private);
        for credential in self.private.credentials() {
            let url = credential.probe_urls();
            if !url.iter().any(|u| self.url_trusted(u, &[], true)) {
                return Err(format!(
                    "the registry credential for {} names no configured registry: add it with --npm-registry, --npm-scope-registry or --allow-registry-host",
                    credential.registry()
                ));
            }
        }
        Ok(self)
    }

    /// The private registries and their credentials.
    pub fn private(&self) -> &PrivateRegistries {
        &self.private
    }

    /// Whether an install of `files` uses a scope registry or a credential.
    pub fn uses_private(
        &self,
        manager: Manager,
        files: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> bool {
        self.private
            .applies(manager, self.npm_registry.as_ref(), files)
    }

    /// The credentialed registries (`HOST[:PORT]`) `files` fetch from: the
    /// API key scopes a tree of them needs.
    pub fn registries_needed(
        &self,
        manager: Manager,
        files: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Vec<String> {
        self.private
            .needed(manager, self.npm_registry.as_ref(), files)
            .into_iter()
            .collect()
    }

    /// Whether the operator allowed extra hosts: npm's `--allow-remote=none`
    /// would refuse their tarballs (npm counts only the configured registry's
    /// URLs as registry ones), so it is passed only without them. Scope
    /// registries count: their tarballs are not on the default registry.
    pub fn has_extra_hosts(&self) -> bool {
        !self.hosts.is_empty() || !self.private.scopes().is_empty()
    }

    /// Refuses `files` when anything in them would make the install fetch
    /// from an untrusted source. Runs before the install is spawned.
    pub fn check(
        &self,
        manager: Manager,
        files: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Result<(), Untrusted> {
        match manager {
            Manager::Npm => npm::check(self, files),
            Manager::Composer => composer::check(self, files),
            Manager::Pnpm => pnpm::check(self, files),
            Manager::Yarn => yarn::check(self, files),
        }
    }

    /// Whether an npm tarball at `url` may be fetched: the configured or the
    /// default npm registry, a scope registry or an allowed host.
    pub fn npm_url_trusted(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && self.url_trusted(url, &[NPM_DEFAULT_REGISTRY], true)
    }

    /// Whether `url` (already parsed, http or https) is on a trusted origin:
    /// the configured npm registry when `npm`, a default host over https, or
    /// an operator-allowed host and port.
    fn url_trusted(&self, url: &Url, defaults: &[&str], npm: bool) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        if npm
            && let Some(registry) = &self.npm_registry
            && registry.scheme() == url.scheme()
            && registry.host_str() == Some(host)
            && registry.port_or_known_default() == Some(port)
        {
            return true;
        }
        if npm && self.private.scopes().iter().any(|s| s.same_origin(url)) {
            return true;
        }
        if url.scheme() == "https" && port == 443 && defaults.contains(&host) {
            return true;
        }
        self.hosts.iter().any(|a| a.matches(url))
    }

    /// Whether the absolute, `..`-free `path` lies inside an allowed folder.
    fn path_trusted(&self, path: &str) -> bool {
        let path = Path::new(path);
        let clean = path.is_absolute()
            && path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        clean && self.composer_paths.iter().any(|dir| path.starts_with(dir))
    }
}

/// Refusal for a URL-shaped source: a non-http(s) scheme is a kind that no
/// flag allows; an http(s) URL on the wrong host names the flag.
fn check_url(
    sources: &TrustedSources,
    file: &str,
    at: impl Fn() -> String,
    raw: &str,
    defaults: &[&str],
    npm: bool,
) -> Result<(), Untrusted> {
    let parsed = Url::parse(raw).ok();
    let Some(url) = parsed.filter(|u| matches!(u.scheme(), "http" | "https")) else {
        return Err(Untrusted::Kind {
            file: file.to_string(),
            at: at(),
            kind: "non-registry",
            spec: raw.to_string(),
        });
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Untrusted::Setting {
            file: file.to_string(),
            at: at(),
            reason: format!("the URL {raw:?} carries credentials"),
        });
    }
    if sources.url_trusted(&url, defaults, npm) {
        return Ok(());
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => String::new(),
    };
    Err(Untrusted::Host {
        file: file.to_string(),
        at: at(),
        url: raw.to_string(),
        host,
    })
}

/// A path a package names inside itself (autoload, bin): relative and with
/// no `..`, so that it cannot point outside the package.
fn inside_package(path: &str) -> bool {
    let p = Path::new(path);
    !path.contains('\\')
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn parse_json(file: &str, bytes: &[u8]) -> Result<serde_json::Value, Untrusted> {
    serde_json::from_slice(bytes).map_err(|e| Untrusted::Unreadable {
        file: file.to_string(),
        reason: format!("it is not valid JSON ({e})"),
    })
}
