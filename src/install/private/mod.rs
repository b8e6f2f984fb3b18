//! Private registries: npm scope registries (`--npm-scope-registry`), the
//! credentials of registries (`--registry-credentials`, a file: never argv),
//! the per-install config they become (an `.npmrc`, a composer `auth.json`
//! and Yarn Berry's home `.yarnrc.yml`, outside the uploaded project), which
//! credentialed registries a request needs (what API key scopes are checked
//! against), and the scrubbing of every secret from install output. See
//! docs/private-registries.md.

mod berry;
mod ca;
mod scrub;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use reqwest::Url;
use serde_json::{Value, json};

pub use ca::RegistryCa;

use crate::install::trusted::AllowedHost;
use crate::protocol::Manager;

/// What replaces a secret in anything that leaves the server.
pub const REDACTED: &str = "<credential>";

/// `@scope=URL`: npm, pnpm and yarn fetch `@scope/*` packages from URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRegistry {
    scope: String,
    url: Url,
}

impl std::str::FromStr for ScopeRegistry {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let refuse = |why: &str| {
            format!(
                "--npm-scope-registry {value:?} {why}; expected @scope=URL such as \
@acme=https://npm.acme.example/"
            )
        };
        let (scope, raw) = value.split_once('=').ok_or_else(|| refuse("has no '='"))?;
        let name = scope.strip_prefix('@').unwrap_or("");
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b));
        if !valid {
            return Err(refuse("does not start with a lower-case npm scope"));
        }
        let url = Url::parse(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| refuse("has no http(s) URL"))?;
        // Credentials belong in the credentials file, where they are kept
        // out of argv and scrubbed from output.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("carries credentials in its URL"));
        }
        let mut url = url;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Ok(ScopeRegistry {
            scope: scope.to_string(),
            url,
        })
    }
}

impl ScopeRegistry {
    /// `@scope`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        self.url.scheme() == url.scheme()
            && self.url.host_str() == url.host_str()
            && self.url.port_or_known_default() == url.port_or_known_default()
    }
}

#[derive(Clone, PartialEq, Eq)]
enum Secret {
    Token(String),
    Basic { user: String, password: String },
}

/// One registry's credential. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    registry: AllowedHost,
    secret: Secret,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({} {REDACTED})", self.registry.name())
    }
}

impl Credential {
    /// The registry it is for, `HOST[:PORT]`: also its scope name for API keys.
    pub fn registry(&self) -> String {
        self.registry.name()
    }

    /// http and https URLs of its origin, to ask whether it is trusted.
    pub(crate) fn probe_urls(&self) -> Vec<Url> {
        ["http", "https"]
            .iter()
            .filter_map(|scheme| Url::parse(&format!("{scheme}://{}/", self.registry())).ok())
            .collect()
    }

    /// The spellings of its origin a tool may look it up by: with the port,
    /// and without it when the port is a scheme default (npm and composer
    /// drop default ports from the URLs they key on).
    fn origins(&self) -> Vec<String> {
        let host = self.registry.host();
        match self.registry.port() {
            None => vec![host.to_string()],
            Some(p @ (80 | 443)) => vec![format!("{host}:{p}"), host.to_string()],
            Some(p) => vec![format!("{host}:{p}")],
        }
    }

    /// Every form the secret may appear in: as given, npm's base64 `_auth`
    /// and `_password`, and `user:password`.
    fn forms(&self) -> Vec<String> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        match &self.secret {
            Secret::Token(token) => vec![token.clone()],
            Secret::Basic { user, password } => {
                let pair = format!("{user}:{password}");
                vec![b64(&pair), b64(password), pair, password.clone()]
            }
        }
    }
}

/// The operator's private registry settings, fixed at start-up.
#[derive(Debug, Clone, Default)]
pub struct PrivateRegistries {
    scopes: Vec<ScopeRegistry>,
    credentials: Vec<Credential>,
    /// `--registry-ca`: more CA certificates for registries' TLS.
    ca: Option<RegistryCa>,
}

impl PrivateRegistries {
    /// Refuses a scope or a registry given twice: which one wins would be
    /// the tool's guess.
    pub fn new(scopes: Vec<ScopeRegistry>, credentials: Vec<Credential>) -> Result<Self, String> {
        let mut seen = BTreeSet::new();
        if let Some(s) = scopes.iter().find(|s| !seen.insert(s.scope.clone())) {
            return Err(format!("--npm-scope-registry names {} twice", s.scope));
        }
        let mut seen = BTreeSet::new();
        if let Some(c) = credentials.iter().find(|c| !seen.insert(c.registry())) {
            return Err(format!(
                "the registry credentials name {} twice",
                c.registry()
            ));
        }
        Ok(PrivateRegistries {
            scopes,
            credentials,
            ca: None,
        })
    }

    /// Adds `--registry-ca`.
    pub fn with_ca(mut self, ca: RegistryCa) -> Self {
        self.ca = Some(ca);
        self
    }

    pub fn ca(&self) -> Option<&RegistryCa> {
        self.ca.as_ref()
    }

    pub fn scopes(&self) -> &[ScopeRegistry] {
        &self.scopes
    }

    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty() && self.credentials.is_empty() && self.ca.is_none()
    }

    /// The `.npmrc` npm reads as its user config: scope registries and
    /// credentials keyed by origin (npm sends a credential only to URLs under
    /// the origin it is keyed on).
    pub fn npmrc(&self) -> String {
        let mut text = String::new();
        for s in &self.scopes {
            text.push_str(&format!("{}:registry={}\n", s.scope, s.url));
        }
        for c in &self.credentials {
            for origin in c.origins() {
                match &c.secret {
                    Secret::Token(token) => {
                        text.push_str(&format!("//{origin}/:_authToken={token}\n"));
                    }
                    Secret::Basic { .. } => {
                        text.push_str(&format!("//{origin}/:_auth={}\n", c.forms()[0]));
                    }
                }
            }
        }
        text
    }

    /// composer's `auth.json`: `bearer` and `http-basic`, keyed by origin.
    pub fn composer_auth(&self) -> String {
        let (mut basic, mut bearer) = (BTreeMap::new(), BTreeMap::new());
        for c in &self.credentials {
            for origin in c.origins() {
                match &c.secret {
                    Secret::Token(token) => {
                        bearer.insert(origin, json!(token));
                    }
                    Secret::Basic { user, password } => {
                        basic.insert(origin, json!({"username": user, "password": password}));
                    }
                }
            }
        }
        json!({"http-basic": basic, "bearer": bearer}).to_string()
    }

    /// Writes the per-install config beside `project` (never inside it, so
    /// never in a tree or a bundle), readable by the server's user alone.
    pub fn write_install_config(&self, project: &Path) -> std::io::Result<()> {
        let paths = InstallConfig::beside(project);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&paths.composer_home)?;
        write_private(&paths.npmrc, self.npmrc().as_bytes())?;
        write_private(
            &paths.composer_home.join("auth.json"),
            self.composer_auth().as_bytes(),
        )?;
        if let Some(ca) = &self.ca {
            ca.write(&paths)?;
        }
        Ok(())
    }

    /// The credentialed registries `files` fetch from, by name (`HOST[:PORT]`):
    /// URLs on their origins anywhere in the files, `@scope/` names of a
    /// scope registry on them, and for the JavaScript managers the default
    /// registry when it has a credential. JSON files are read as JSON, the
    /// rest (pnpm-lock.yaml, yarn.lock) word by word: pnpm's and Berry's
    /// lockfiles name a registry package by name alone. Errs towards more: a
    /// wrong extra name refuses a key, a missing one would hand a private
    /// tree to it.
    pub fn needed(
        &self,
        manager: Manager,
        default_registry: Option<&Url>,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> BTreeSet<String> {
        let mut needed = BTreeSet::new();
        if self.credentials.is_empty() {
            return needed;
        }
        let on = |url: &Url, needed: &mut BTreeSet<String>| {
            for c in self.credentials.iter().filter(|c| c.registry.matches(url)) {
                needed.insert(c.registry());
            }
        };
        let javascript = is_javascript(manager);
        if javascript && let Some(registry) = default_registry {
            on(registry, &mut needed);
        }
        let mut strings = Vec::new();
        for bytes in files.values() {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(doc) => collect_strings(&doc, &mut strings),
                // YAML and yarn's own format (and files the trust check
                // will refuse): every word, so no name or URL is missed.
                Err(_) => strings.extend(
                    String::from_utf8_lossy(bytes)
                        .split(|c: char| c.is_whitespace() || "\"',{}[]".contains(c))
                        .map(|w| w.trim_end_matches(':').to_string())
                        .filter(|w| !w.is_empty()),
                ),
            }
        }
        for s in &strings {
            let s = s.trim();
            if let Ok(url) = Url::parse(s)
                && matches!(url.scheme(), "http" | "https")
            {
                on(&url, &mut needed);
            }
            if javascript {
                for scope in self.scopes.iter().filter(|r| names_scope(s, &r.scope)) {
                    on(&scope.url, &mut needed);
                }
            }
        }
        needed
    }

    /// Whether an install of `files` would use anything configured here: a
    /// credentialed registry, or a scope registry (npm, pnpm, yarn).
    pub fn applies(
        &self,
        manager: Manager,
        default_registry: Option<&Url>,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> bool {
        if !self.needed(manager, default_registry, files).is_empty() {
            return true;
        }
        is_javascript(manager)
            && files.values().any(|bytes| {
                let text = String::from_utf8_lossy(bytes);
                self.scopes
                    .iter()
                    .any(|s| text.contains(&format!("{}/", s.scope)))
            })
    }

    /// The environment that points npm, pnpm and yarn classic at the
    /// install's config beside `project`: its `.npmrc` as their user config
    /// (never argv) and, with `--registry-ca`, the extra CA certificates.
    pub fn npm_env(&self, project: &Path) -> Vec<(String, String)> {
        if self.is_empty() {
            return Vec::new();
        }
        let config = InstallConfig::beside(project);
        let mut env = vec![(
            "npm_config_userconfig".to_string(),
            config.npmrc.display().to_string(),
        )];
        if self.ca.is_some() {
            env.push((
                "NODE_EXTRA_CA_CERTS".to_string(),
                config.extra_ca.display().to_string(),
            ));
        }
        env
    }

    /// `text` without any configured secret in any of its forms, nor the
    /// value of an npm auth setting or an Authorization header.
    pub fn scrub(&self, text: &str) -> String {
        let mut forms: Vec<String> = self
            .credentials
            .iter()
            .flat_map(Credential::forms)
            .collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut out = text.to_string();
        for form in forms.iter().filter(|f| !f.is_empty()) {
            out = out.replace(form.as_str(), REDACTED);
        }
        scrub::auth_values(&out)
    }
}

/// Where an install's registry config lives: beside the project folder, in
/// the install's own private folder.
#[derive(Debug, Clone)]
pub struct InstallConfig {
    /// The folder holding all of them, the install's alone.
    pub dir: PathBuf,
    pub npmrc: PathBuf,
    /// The HOME of a Yarn Berry install, whose `.yarnrc.yml` holds the
    /// scopes and credentials (Berry reads no `.npmrc`).
    pub berry_home: PathBuf,
    pub composer_home: PathBuf,
    /// `--registry-ca`'s certificates alone, for `NODE_EXTRA_CA_CERTS`.
    pub extra_ca: PathBuf,
    /// The system's CA bundle plus `--registry-ca`, for composer's `cafile`
    /// (which replaces the system's rather than adding to it).
    pub ca_bundle: PathBuf,
}

impl InstallConfig {
    pub fn beside(project: &Path) -> Self {
        let dir = project.parent().unwrap_or(project).join("registry-config");
        InstallConfig {
            npmrc: dir.join("npmrc"),
            berry_home: dir.join("home"),
            composer_home: dir.join("composer-home"),
            extra_ca: dir.join("extra-ca.pem"),
            ca_bundle: dir.join("ca-bundle.pem"),
            dir,
        }
    }
}

/// Created new (an existing file or symlink there is an error), mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// The managers that read npm registries (and npm scopes).
fn is_javascript(manager: Manager) -> bool {
    matches!(manager, Manager::Npm | Manager::Pnpm | Manager::Yarn)
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(list) => list.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Whether `s` names a package of `scope`: `@scope/x`, `npm:@scope/x@1`, or a
/// lockfile location `node_modules/@scope/x`.
fn names_scope(s: &str, scope: &str) -> bool {
    let prefix = format!("{scope}/");
    let lower = s.to_ascii_lowercase();
    lower.starts_with(&prefix)
        || lower.contains(&format!("npm:{prefix}"))
        || lower.contains(&format!("node_modules/{prefix}"))
}

/// Reads `HOST[:PORT] token SECRET` and `HOST[:PORT] basic USER:PASSWORD`
/// lines (`#` comments, blank lines). Errors name the source and the line,
/// never its content: a typo'd line may hold a secret.
pub fn parse_credentials(text: &str, source: &str) -> Result<Vec<Credential>, String> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let refuse = |why: &str| format!("{source} line {}: {why}", number + 1);
        let mut parts = line.split_whitespace();
        let (Some(host), Some(kind), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse(
                "expected `HOST[:PORT] token TOKEN` or `HOST[:PORT] basic USER:PASSWORD`",
            ));
        };
        let registry: AllowedHost = host.parse().map_err(|_| {
            refuse("the registry must be HOST or HOST:PORT, without scheme or path")
        })?;
        if secret.chars().any(char::is_control) {
            return Err(refuse("the secret holds control characters"));
        }
        let secret = match kind {
            "token" => Secret::Token(secret.to_string()),
            "basic" => match secret.split_once(':') {
                Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                    Secret::Basic {
                        user: user.to_string(),
                        password: password.to_string(),
                    }
                }
                _ => return Err(refuse("a basic credential is USER:PASSWORD")),
            },
            _ => return Err(refuse("the kind must be `token` or `basic`")),
        };
        out.push(Credential { registry, secret });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
