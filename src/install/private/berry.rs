//! Yarn Berry's view of the private registries: Berry reads no `.npmrc`, so
//! the scopes and credentials become a `.yarnrc.yml` in a HOME of the
//! install's own (`npmScopes`, `npmRegistries`), and the plain-http hosts it
//! must be allowed to use (`unsafeHttpWhitelist`, passed by environment).

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use reqwest::Url;

use super::{Credential, InstallConfig, PrivateRegistries, Secret, write_private};

impl PrivateRegistries {
    /// The home `.yarnrc.yml` of a Berry install: every scope registry in
    /// `npmScopes`, and each registry (a scope's or `default_registry`) whose
    /// origin has a credential in `npmRegistries` with it. Berry keys
    /// registries by URL without scheme or trailing slash; the credential is
    /// sent always (`npmAlwaysAuth`), since it belongs to that registry.
    /// Strings are written as JSON strings, which YAML reads unchanged.
    pub fn berry_rc(&self, default_registry: Option<&Url>) -> String {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut text = String::new();
        if !self.scopes.is_empty() {
            text.push_str("npmScopes:\n");
            for s in &self.scopes {
                let name = s.scope.trim_start_matches('@');
                text.push_str(&format!(
                    "  {}:\n    npmRegistryServer: {}\n",
                    quote(name),
                    quote(s.url.as_str().trim_end_matches('/'))
                ));
            }
        }
        let registries: Vec<&Url> = self
            .scopes
            .iter()
            .map(|s| &s.url)
            .chain(default_registry)
            .collect();
        let mut entries = Vec::new();
        for url in registries {
            let Some(credential) = self.credentials.iter().find(|c| c.registry.matches(url)) else {
                continue;
            };
            let key = url.as_str().trim_end_matches('/');
            let key = key
                .split_once(':')
                .map_or(key, |(_, rest)| rest)
                .to_string();
            if entries.iter().any(|(k, _)| *k == key) {
                continue;
            }
            entries.push((key, auth_lines(credential, &quote)));
        }
        if !entries.is_empty() {
            text.push_str("npmRegistries:\n");
            for (key, auth) in entries {
                text.push_str(&format!("  {}:\n{auth}", quote(&key)));
            }
        }
        text
    }

    /// The plain-http hosts among the scope registries and
    /// `default_registry`, comma-separated for `YARN_UNSAFE_HTTP_WHITELIST`
    /// (Berry refuses http registries it was not told to allow).
    pub fn berry_http_hosts(&self, default_registry: Option<&Url>) -> Option<String> {
        let mut hosts: Vec<String> = Vec::new();
        let urls = self.scopes.iter().map(|s| &s.url).chain(default_registry);
        for url in urls.filter(|u| u.scheme() == "http") {
            if let Some(host) = url.host_str().filter(|h| !hosts.iter().any(|x| x == h)) {
                hosts.push(host.to_string());
            }
        }
        (!hosts.is_empty()).then(|| hosts.join(","))
    }

    /// Writes `berry_rc` as `.yarnrc.yml` in the Berry HOME beside
    /// `project` (created new, mode 0700 folder and 0600 file).
    pub fn write_berry_home(
        &self,
        project: &Path,
        default_registry: Option<&Url>,
    ) -> std::io::Result<()> {
        let home = InstallConfig::beside(project).berry_home;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&home)?;
        write_private(
            &home.join(".yarnrc.yml"),
            self.berry_rc(default_registry).as_bytes(),
        )
    }
}

fn auth_lines(credential: &Credential, quote: &dyn Fn(&str) -> String) -> String {
    let secret = match &credential.secret {
        Secret::Token(token) => format!("    npmAuthToken: {}\n", quote(token)),
        Secret::Basic { user, password } => {
            format!(
                "    npmAuthIdent: {}\n",
                quote(&format!("{user}:{password}"))
            )
        }
    };
    format!("{secret}    npmAlwaysAuth: true\n")
}
