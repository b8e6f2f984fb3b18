//! JSON bodies of the HTTP API, used by both server and client.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{
    Key, Manager, ValidationError, check_file_name, check_platform, check_versions,
    declared_workspaces, is_workspace_manifest_name,
};

/// Why a cache request is refused; every variant is a sentence for the
/// `message` of a 400 (the server maps it, the protocol knows no HTTP).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    UnknownManager(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("file {name} is not valid base64: {source}")]
    Base64 {
        name: String,
        source: base64::DecodeError,
    },
    #[error(
        "options.build_scripts is sent only as true; leave it out for the tree without scripts"
    )]
    BuildScriptsFalse,
    #[error("options.build_scripts applies to npm requests only")]
    BuildScriptsNotNpm,
    #[error(
        "file name {name:?} is accepted only as an npm workspace manifest, and package.json \
declares no workspaces"
    )]
    NestedWithoutWorkspaces { name: String },
    /// A manager's configuration file carries a line the server refuses
    /// (a credential, a registry override, a path outside the project); the
    /// sentence names the file and the line.
    #[error("{0}")]
    Config(String),
    #[error(
        "options.omit_dev is for yarn classic only: Yarn Berry's install has no production mode"
    )]
    BerryOmitDev,
    #[error(transparent)]
    Scopes(#[from] super::ScopeListError),
}

/// `POST /v1/cache` body. Unknown fields are refused: a field the server would
/// ignore could otherwise change the client's idea of the tree silently.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRequest {
    pub manager: String,
    pub hash: String,
    /// File name to base64 content.
    pub files: BTreeMap<String, String>,
    pub versions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<InstallOptions>,
    /// The npm scopes the job fetches from registries of its own (names
    /// only). Not part of the key: the tree does not depend on where a
    /// package came from, the lockfile pins it; a miss is refused when the
    /// server has no registry for one of them (docs/protocol.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_scopes: Vec<String>,
}

/// Install options that change the tree; each one is part of the key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallOptions {
    /// Leave out devDependencies (`npm ci --omit=dev`, `composer install --no-dev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omit_dev: Option<bool>,
    /// The install scripts ran on the server, inside its container sandbox
    /// (`serve --build-scripts container`): the client runs none of them.
    /// Only `true` is sent; absent means the `--ignore-scripts` tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_scripts: Option<bool>,
}

impl InstallOptions {
    /// The options as sorted `(name, value)` text pairs, as the key encodes them.
    pub fn canonical_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(v) = self.build_scripts {
            pairs.push(("build_scripts", v.to_string()));
        }
        if let Some(v) = self.omit_dev {
            pairs.push(("omit_dev", v.to_string()));
        }
        pairs
    }

    /// Whether the tree is (to be) built with its install scripts.
    pub fn builds_scripts(options: Option<&InstallOptions>) -> bool {
        options.and_then(|o| o.build_scripts).unwrap_or(false)
    }

    pub fn omits_dev(options: Option<&InstallOptions>) -> bool {
        options.and_then(|o| o.omit_dev).unwrap_or(false)
    }
}

/// `POST /v1/cache` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheResponse {
    pub download_url: String,
    pub cache_hit: bool,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub index_url: String,
    /// Regular files in the tree.
    #[serde(default)]
    pub files: u64,
    /// Sum of the regular files' sizes.
    #[serde(default)]
    pub size: u64,
    /// Exact size of the ZIP bundle.
    #[serde(default)]
    pub bundle_size: u64,
}

/// Every error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthResponse {
    pub status: String,
}

/// A request whose every field passed validation, files decoded.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub manager: Manager,
    pub hash: Key,
    pub files: BTreeMap<String, Vec<u8>>,
    pub versions: BTreeMap<String, String>,
    pub platform: Option<String>,
    pub options: Option<InstallOptions>,
    /// Checked and sorted `private_scopes`.
    pub private_scopes: Vec<String>,
}

impl CacheRequest {
    /// Validates names, versions, key shape and file names, and decodes the files.
    pub fn validate(self) -> Result<ValidRequest, RequestError> {
        let manager: Manager = self.manager.parse().map_err(RequestError::UnknownManager)?;
        let hash = Key::parse(&self.hash)?;
        let private_scopes = super::check_private_scopes(&self.private_scopes)?;
        if !private_scopes.is_empty() && manager == Manager::Composer {
            return Err(super::ScopeListError::NotNpmFamily.into());
        }
        check_versions(manager, &self.versions)?;
        if let Some(p) = &self.platform {
            check_platform(p)?;
        }
        let mut files = BTreeMap::new();
        for (name, b64) in self.files {
            let workspace = matches!(manager, Manager::Npm | Manager::Pnpm | Manager::Yarn)
                && is_workspace_manifest_name(&name);
            if !workspace {
                check_file_name(manager, &name)?;
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|source| RequestError::Base64 {
                    name: name.clone(),
                    source,
                })?;
            files.insert(name, bytes);
        }
        if let Some(options) = &self.options {
            // One tree, one key: `false` would be a second key for the
            // unbuilt tree.
            if options.build_scripts == Some(false) {
                return Err(RequestError::BuildScriptsFalse);
            }
            if options.build_scripts.is_some() && manager != Manager::Npm {
                return Err(RequestError::BuildScriptsNotNpm);
            }
        }
        if !files.contains_key(manager.manifest()) {
            return Err(ValidationError::MissingFile {
                manager,
                name: manager.manifest().to_string(),
            }
            .into());
        }
        if manager == Manager::Yarn {
            let yarn = self.versions.get("yarn").map(String::as_str);
            super::check_yarn_config(&files, yarn)
                .map_err(|e| RequestError::Config(e.to_string()))?;
            let berry = super::yarn_flavor(&files["yarn.lock"]) == super::YarnFlavor::Berry;
            if berry && InstallOptions::omits_dev(self.options.as_ref()) {
                return Err(RequestError::BerryOmitDev);
            }
        }
        // A nested manifest is a workspace's or nothing: without workspaces
        // in the root manifest it is a name outside the manager's list.
        let declares = match manager {
            Manager::Pnpm => super::pnpm_workspace_globs(&files).map(|g| !g.is_empty()),
            _ => declared_workspaces(&files[manager.manifest()])
                .map(|globs| !globs.is_empty())
                .map_err(|e| e.to_string()),
        }
        .unwrap_or(true);
        if let Some(name) = files.keys().find(|n| n.contains('/'))
            && !declares
        {
            return Err(RequestError::NestedWithoutWorkspaces { name: name.clone() });
        }
        if manager == Manager::Pnpm {
            super::check_pnpm_config(&files).map_err(RequestError::Config)?;
        }
        Ok(ValidRequest {
            manager,
            hash,
            files,
            versions: self.versions,
            platform: self.platform,
            options: self.options,
            private_scopes,
        })
    }
}

impl ValidRequest {
    pub fn key_input(&self) -> super::KeyInput<'_> {
        super::KeyInput {
            manager: self.manager,
            versions: &self.versions,
            platform: self.platform.as_deref(),
            options: self.options.as_ref(),
            files: &self.files,
        }
    }
}

/// Base64 encoding used for `files`, so client and server agree.
pub fn encode_file(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(manager: &str, manifest: &str, build_scripts: Option<bool>) -> CacheRequest {
        CacheRequest {
            manager: manager.to_string(),
            hash: "0".repeat(64),
            files: BTreeMap::from([(manifest.to_string(), encode_file(b"{}"))]),
            versions: match manager {
                "npm" => [("node", "20.20.2"), ("npm", "11.19.1")].as_slice(),
                _ => [("php", "8.2.36")].as_slice(),
            }
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            platform: None,
            options: Some(InstallOptions {
                omit_dev: None,
                build_scripts,
            }),
            private_scopes: Vec::new(),
        }
    }

    #[test]
    fn build_scripts_is_true_or_absent_and_npm_only() {
        assert!(
            request("npm", "package.json", Some(true))
                .validate()
                .is_ok()
        );
        assert!(request("npm", "package.json", None).validate().is_ok());
        let err = request("npm", "package.json", Some(false))
            .validate()
            .unwrap_err();
        assert!(matches!(err, RequestError::BuildScriptsFalse), "{err}");
        assert!(err.to_string().contains("only as true"), "{err}");
        let err = request("composer", "composer.json", Some(true))
            .validate()
            .unwrap_err();
        assert!(matches!(err, RequestError::BuildScriptsNotNpm), "{err}");
        assert!(err.to_string().contains("npm requests only"), "{err}");
    }

    /// The sentences are what a refused client prints: typed errors must
    /// say exactly what the strings said.
    #[test]
    fn refusals_keep_their_sentences() {
        let mut bad = request("npm", "package.json", None);
        bad.files.insert("package-lock.json".into(), "%%%".into());
        let err = bad.validate().unwrap_err();
        assert!(matches!(err, RequestError::Base64 { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("file package-lock.json is not valid base64: "),
            "{err}"
        );

        let mut nested = request("npm", "package.json", None);
        nested
            .files
            .insert("packages/a/package.json".into(), encode_file(b"{}"));
        assert_eq!(
            nested.validate().unwrap_err().to_string(),
            "file name \"packages/a/package.json\" is accepted only as an npm workspace \
manifest, and package.json declares no workspaces"
        );

        let mut missing = request("npm", "package-lock.json", None);
        missing
            .files
            .insert("package-lock.json".into(), encode_file(b"{}"));
        assert_eq!(
            missing.validate().unwrap_err().to_string(),
            "npm requests must include package.json"
        );

        let err = request("yarn1", "package.json", None)
            .validate()
            .unwrap_err();
        assert!(matches!(err, RequestError::UnknownManager(_)), "{err}");

        let mut key = request("npm", "package.json", None);
        key.hash = "X".into();
        let err = key.validate().unwrap_err();
        assert!(
            matches!(err, RequestError::Invalid(ValidationError::Key(_))),
            "{err}"
        );
    }
}
