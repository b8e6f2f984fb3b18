//! Exact versions of the package managers that are npm packages themselves
//! (`pnpm`, `yarn`, `@yarnpkg/cli-dist`): the one on PATH when it reports
//! exactly the wanted version, else the package fetched from the npm
//! registry the server trusts, its tarball checked against the packument's
//! `dist.integrity` and unpacked (regular files and folders only, nothing
//! outside the package) into `<tool cache>/<name>@<version>/`, atomically
//! (temporary folder + rename), so concurrent installs share one copy. The
//! CLI is the package's bin script run by the server's `node`.
//!
//! Corepack is not used: its default download host is not reachable from
//! build hosts that only see a registry, and it would fetch on its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use reqwest::Url;
use sha2::{Digest, Sha512};

use super::tool_unpack::{bin_script, unpack_into_place};
use super::trusted::TrustedSources;
use crate::protocol::check_version;

/// Packages this module fetches, and the bin each one runs.
const KNOWN: &[(&str, &str)] = &[
    ("pnpm", "pnpm"),
    ("yarn", "yarn"),
    ("@yarnpkg/cli-dist", "yarn"),
];

/// npm's own registry, used when the operator set no `--npm-registry`.
const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// A manager tarball larger than this is refused (pnpm 10 is ~4 MiB).
const MAX_TARBALL: u64 = 256 * 1024 * 1024;

/// How many published versions a refusal lists (newest first).
const LISTED: usize = 15;

/// A runnable CLI of an exact version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCli {
    pub package: String,
    pub version: String,
    /// What to spawn: the bin on PATH, or `node`.
    pub program: String,
    /// Arguments before the command's own: the bin script when run by node.
    pub prefix: Vec<String>,
    pub origin: ToolOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOrigin {
    /// The server's PATH had exactly this version.
    Path(PathBuf),
    /// Unpacked from the registry into this folder (now or earlier).
    Cache(PathBuf),
}

/// Why a tool could not be provided. `NotPublished` and `Unknown` are the
/// request's problem (400); the rest are the server's or the registry's.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "{package:?} is not a package manager this server fetches; known: pnpm, yarn, @yarnpkg/cli-dist"
    )]
    Unknown { package: String },
    #[error("{package} {version:?} is not an exact version such as 10.4.1")]
    BadVersion { package: String, version: String },
    #[error("{package} {version} is not published on {registry}; this server can use: {available}")]
    NotPublished {
        package: String,
        version: String,
        registry: String,
        available: String,
    },
    #[error("could not fetch {url}: {reason}")]
    Registry { url: String, reason: String },
    #[error(
        "{package} {version}: the registry names the tarball {url:?}, which is not on a trusted registry"
    )]
    Untrusted {
        package: String,
        version: String,
        url: String,
    },
    #[error(
        "{package} {version}: the packument has no sha512 integrity for its tarball, so it cannot be checked"
    )]
    NoIntegrity { package: String, version: String },
    #[error(
        "{package} {version}: the tarball's sha512 is {actual}, not the {expected} the registry published; refused"
    )]
    Integrity {
        package: String,
        version: String,
        expected: String,
        actual: String,
    },
    #[error("{package} {version}: the tarball cannot be unpacked safely: {reason}")]
    Unpack {
        package: String,
        version: String,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ToolError {
    /// Whether the request named something this server cannot get (a 400).
    pub fn is_request_error(&self) -> bool {
        matches!(
            self,
            ToolError::Unknown { .. }
                | ToolError::BadVersion { .. }
                | ToolError::NotPublished { .. }
        )
    }
}

/// Where tools come from; cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeTools {
    cache: PathBuf,
    registry: Url,
    sources: TrustedSources,
    client: reqwest::Client,
    timeout: Duration,
}

impl NodeTools {
    /// `registry` is the server's `--npm-registry` (npm's default when
    /// `None`); `sources` decides which tarball hosts are trusted.
    pub fn new(
        cache: &Path,
        registry: Option<&str>,
        sources: TrustedSources,
        timeout: Duration,
    ) -> Result<Self, String> {
        let raw = registry.unwrap_or(DEFAULT_REGISTRY);
        let mut registry = Url::parse(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| format!("the npm registry {raw:?} is not an http(s) URL"))?;
        if !registry.path().ends_with('/') {
            registry.set_path(&format!("{}/", registry.path()));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            // A redirect could leave the trusted registry; refuse it instead.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("depcache/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(NodeTools {
            cache: cache.to_path_buf(),
            registry,
            sources,
            client,
            timeout,
        })
    }

    /// The folder a fetched version lives in.
    pub fn dir_of(&self, package: &str, version: &str) -> PathBuf {
        self.cache.join(format!("{package}@{version}"))
    }

    /// A runnable CLI of exactly `package@version`: PATH when it reports
    /// that version, the tool cache when already fetched, else fetched now.
    pub async fn get(&self, package: &str, version: &str) -> Result<ToolCli, ToolError> {
        let bin_name = bin_name(package)?;
        check_version(package, version).map_err(|_| ToolError::BadVersion {
            package: package.to_string(),
            version: version.to_string(),
        })?;
        if let Some(path) = on_path(bin_name, version).await {
            return Ok(ToolCli {
                package: package.to_string(),
                version: version.to_string(),
                program: path.display().to_string(),
                prefix: Vec::new(),
                origin: ToolOrigin::Path(path),
            });
        }
        self.get_package(package, version).await
    }

    /// Exactly `package@version` as the registry publishes it, from the tool
    /// cache (fetched now when missing), never the PATH: a container can
    /// mount this folder and run its bin with its own node, where a PATH
    /// bin may be a wrapper reaching outside its package.
    pub async fn get_package(&self, package: &str, version: &str) -> Result<ToolCli, ToolError> {
        let bin_name = bin_name(package)?;
        check_version(package, version).map_err(|_| ToolError::BadVersion {
            package: package.to_string(),
            version: version.to_string(),
        })?;
        let dir = self.dir_of(package, version);
        if !is_real_dir(&dir) {
            tokio::time::timeout(self.timeout, self.fetch(package, version, &dir))
                .await
                .map_err(|_| ToolError::Registry {
                    url: self.packument_url(package),
                    reason: format!("not done within {:?}", self.timeout),
                })??;
        }
        let script = bin_script(&dir, bin_name).map_err(|reason| ToolError::Unpack {
            package: package.to_string(),
            version: version.to_string(),
            reason,
        })?;
        Ok(ToolCli {
            package: package.to_string(),
            version: version.to_string(),
            program: "node".to_string(),
            prefix: vec![script.display().to_string()],
            origin: ToolOrigin::Cache(dir),
        })
    }

    /// The versions already in the tool cache, for refusals.
    pub fn cached(&self, package: &str) -> Vec<String> {
        let prefix = format!("{package}@");
        let (parent, prefix) = match prefix.rsplit_once('/') {
            Some((scope, rest)) => (self.cache.join(scope), rest.to_string()),
            None => (self.cache.clone(), prefix),
        };
        let mut out: Vec<String> = std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(&prefix).map(str::to_string)
            })
            .collect();
        out.sort();
        out
    }

    fn packument_url(&self, package: &str) -> String {
        format!("{}{}", self.registry, package.replace('/', "%2f"))
    }

    async fn fetch(&self, package: &str, version: &str, dir: &Path) -> Result<(), ToolError> {
        let url = self.packument_url(package);
        let registry_error = |reason: String| ToolError::Registry {
            url: url.clone(),
            reason,
        };
        let response = self
            .client
            .get(&url)
            .header("accept", "application/vnd.npm.install-v1+json")
            .send()
            .await
            .map_err(|e| registry_error(e.to_string()))?;
        let status = response.status();
        let packument: serde_json::Value = if status == reqwest::StatusCode::NOT_FOUND {
            serde_json::json!({"versions": {}})
        } else if !status.is_success() {
            return Err(registry_error(format!("the registry answered {status}")));
        } else {
            response
                .json()
                .await
                .map_err(|e| registry_error(format!("not a packument: {e}")))?
        };
        let Some(dist) = packument["versions"][version]["dist"].as_object() else {
            return Err(self.not_published(package, version, &packument).await);
        };
        let tarball = dist.get("tarball").and_then(|t| t.as_str()).unwrap_or("");
        let tarball_url = Url::parse(tarball)
            .ok()
            .filter(|u| self.sources.npm_url_trusted(u) || same_origin(u, &self.registry))
            .ok_or_else(|| ToolError::Untrusted {
                package: package.to_string(),
                version: version.to_string(),
                url: tarball.to_string(),
            })?;
        let expected = dist
            .get("integrity")
            .and_then(|i| i.as_str())
            .unwrap_or("")
            .split_whitespace()
            .find_map(|i| i.strip_prefix("sha512-"))
            .map(str::to_string)
            .ok_or_else(|| ToolError::NoIntegrity {
                package: package.to_string(),
                version: version.to_string(),
            })?;
        let parent = dir.parent().unwrap_or(&self.cache).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let mut download = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(&parent)
            .map_err(io(&parent))?;
        let actual = self
            .download(&tarball_url, download.as_file_mut())
            .await
            .map_err(|reason| ToolError::Registry {
                url: tarball_url.to_string(),
                reason,
            })?;
        if actual != expected {
            return Err(ToolError::Integrity {
                package: package.to_string(),
                version: version.to_string(),
                expected: format!("sha512-{expected}"),
                actual: format!("sha512-{actual}"),
            });
        }
        let (package, version, dir) = (package.to_string(), version.to_string(), dir.to_owned());
        tokio::task::spawn_blocking(move || {
            let file = download.reopen().map_err(io(download.path()))?;
            unpack_into_place(file, &parent, &dir).map_err(|reason| ToolError::Unpack {
                package,
                version,
                reason,
            })
        })
        .await
        .map_err(|e| ToolError::Io {
            path: "the unpacking task".to_string(),
            source: std::io::Error::other(e.to_string()),
        })?
    }

    /// Streams the tarball into `file`; its sha512, base64 as in `integrity`.
    async fn download(&self, url: &Url, file: &mut std::fs::File) -> Result<String, String> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the registry answered {}", response.status()));
        }
        let mut hash = Sha512::new();
        let mut size = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            size += chunk.len() as u64;
            if size > MAX_TARBALL {
                return Err(format!("larger than {MAX_TARBALL} bytes"));
            }
            hash.update(&chunk);
            file.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        file.flush().map_err(|e| e.to_string())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(hash.finalize()))
    }

    /// The refusal for a version the registry does not have: what PATH and
    /// the cache hold, and the newest published versions.
    async fn not_published(
        &self,
        package: &str,
        version: &str,
        packument: &serde_json::Value,
    ) -> ToolError {
        let mut options = Vec::new();
        // Named by its bin: the PATH `yarn` may be classic, not the
        // `@yarnpkg/cli-dist` package asked for.
        if let Ok(bin) = bin_name(package)
            && let Some((_, v)) = path_version(bin).await
        {
            options.push(format!("{bin} {v} (PATH)"));
        }
        options.extend(
            self.cached(package)
                .into_iter()
                .map(|v| format!("{package} {v} (tool cache)")),
        );
        let mut published: Vec<&String> = packument["versions"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        published.sort_by_key(|v| std::cmp::Reverse(version_order(v)));
        if published.is_empty() {
            options.push(format!("nothing published as {package} on the registry"));
        } else {
            let newest: Vec<&str> = published.iter().take(LISTED).map(|v| v.as_str()).collect();
            options.push(format!(
                "any version published on the registry (newest: {})",
                newest.join(", ")
            ));
        }
        ToolError::NotPublished {
            package: package.to_string(),
            version: version.to_string(),
            registry: self.registry.to_string(),
            available: options.join(", "),
        }
    }
}

fn bin_name(package: &str) -> Result<&'static str, ToolError> {
    KNOWN
        .iter()
        .find(|(p, _)| *p == package)
        .map(|(_, bin)| *bin)
        .ok_or_else(|| ToolError::Unknown {
            package: package.to_string(),
        })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ToolError + '_ {
    move |source| ToolError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A folder that is not a symlink: the cache entry exists only once renamed
/// into place, so its presence means it is complete.
pub(super) fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Numeric-aware order key so 10.2.0 sorts above 9.15.0; pre-releases last.
fn version_order(v: &str) -> (bool, Vec<u64>, String) {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, p.to_string()),
        None => (v, String::new()),
    };
    let nums = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    (pre.is_empty(), nums, pre)
}

/// `bin --version` of the tool on PATH, when there is one.
async fn path_version(bin: &str) -> Option<(PathBuf, String)> {
    let path = super::find_on_path(bin)?;
    let out = tokio::process::Command::new(&path)
        .arg("--version")
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("COREPACK_ENABLE_STRICT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next()?.trim().to_string();
    (out.status.success() && !version.is_empty()).then_some((path, version))
}

async fn on_path(bin: &str, version: &str) -> Option<PathBuf> {
    path_version(bin)
        .await
        .filter(|(_, v)| v == version)
        .map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_versions_first() {
        let mut v = vec!["9.15.0", "10.2.0", "10.10.0", "11.0.0-rc.1"];
        v.sort_by_key(|v| std::cmp::Reverse(version_order(v)));
        assert_eq!(v, ["10.10.0", "10.2.0", "9.15.0", "11.0.0-rc.1"]);
    }
}
