//! What a pnpm request may carry besides its manifest and lockfile, one rule
//! used by the client before upload and by the server on receipt. `.npmrc`:
//! node_modules layout settings are kept (they change the tree, so they are
//! in the key); credentials, registry overrides and paths outside the
//! project are refused, naming the line; everything else is dropped.
//! `pnpm-workspace.yaml`: the same refusals for its settings. And the shapes
//! not cached (yet): workspaces, no lockfile, the root's own install
//! scripts. The lists and the reasons are in docs/installs.md ("pnpm").

/// Settings that decide the shape of `node_modules` (pnpm's "node-modules
/// settings" and the lockfile/peer settings that change which folders exist).
const LAYOUT: &[&str] = &[
    "node-linker",
    "shamefully-hoist",
    "public-hoist-pattern",
    "public-hoist-pattern[]",
    "hoist-pattern",
    "hoist-pattern[]",
    "hoist",
    "hoist-workspace-packages",
    "symlink",
    "virtual-store-dir",
    "virtual-store-dir-max-length",
    "enable-modules-dir",
    "auto-install-peers",
    "dedupe-peer-dependents",
    "dedupe-direct-deps",
    "dedupe-injected-deps",
    "resolve-peers-from-workspace-root",
    "strict-peer-dependencies",
    "link-workspace-packages",
    "inject-workspace-packages",
    "shared-workspace-lockfile",
    "prefer-workspace-packages",
    "exclude-links-from-lockfile",
    "peers-suffix-max-length",
    "engine-strict",
    "node-version",
];

/// Settings naming a folder or file the install would read or write.
const PATHS: &[&str] = &[
    "store-dir",
    "cache-dir",
    "global-dir",
    "global-bin-dir",
    "state-dir",
    "modules-dir",
    "lockfile-dir",
    "pnpmfile",
    "global-pnpmfile",
    "npmrc-auth-file",
    "userconfig",
    "globalconfig",
    "prefix",
    "patches-dir",
];

/// Settings that are credentials wherever they appear.
const CREDENTIALS: &[&str] = &[
    "_authToken",
    "_auth",
    "_password",
    "username",
    "password",
    "email",
    "cert",
    "key",
    "certfile",
    "keyfile",
    "ca",
    "cafile",
    "tokenHelper",
];

/// A line of `.npmrc` that no request may carry. The value is never shown:
/// it may be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".npmrc line {line} ({key}) {reason}")]
pub struct NpmrcRefusal {
    pub line: usize,
    pub key: String,
    pub kind: RefusedKind,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKind {
    Credential,
    Registry,
    Path,
    Environment,
}

/// A line of `.npmrc` that is neither sent nor refused: it does not change
/// the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmrcDropped {
    pub line: usize,
    pub key: String,
}

/// What the rule made of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpmrcCheck {
    /// The kept layout lines, one per line, in file order.
    pub kept: String,
    /// Settings dropped as neither layout nor refused, in file order.
    pub dropped: Vec<NpmrcDropped>,
    /// Every refused line, first one first.
    pub refused: Vec<NpmrcRefusal>,
}

/// Sorts every line of `text` into kept, dropped and refused.
pub fn check_npmrc(text: &str) -> NpmrcCheck {
    let mut out = NpmrcCheck::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        let refuse = |kind, reason| NpmrcRefusal {
            line: i + 1,
            key: key.chars().take(80).collect(),
            kind,
            reason,
        };
        let last = key.rsplit(':').next().unwrap_or(key);
        if key.starts_with("//") || CREDENTIALS.contains(&last) {
            out.refused.push(refuse(
                RefusedKind::Credential,
                "is a credential; credentials stay in the job and are never sent to the server",
            ));
        } else if key == "registry" || key.ends_with(":registry") || key == "registries" {
            out.refused.push(refuse(
                RefusedKind::Registry,
                "overrides the registry; the server installs only from the registries its \
operator trusts",
            ));
        } else if PATHS.contains(&key) || (key == "virtual-store-dir" && !inside(value)) {
            out.refused.push(refuse(
                RefusedKind::Path,
                "names a path the install would use outside the project",
            ));
        } else if LAYOUT.contains(&key) && value.contains("${") {
            out.refused.push(refuse(
                RefusedKind::Environment,
                "takes its value from an environment variable, which the server does not have",
            ));
        } else if LAYOUT.contains(&key) {
            out.kept.push_str(&format!("{key}={value}\n"));
        } else {
            out.dropped.push(NpmrcDropped {
                line: i + 1,
                key: key.chars().take(80).collect(),
            });
        }
    }
    out
}

/// Whether `key` (`.npmrc` spelling) is a node_modules layout setting.
pub fn is_layout_setting(key: &str) -> bool {
    LAYOUT.contains(&key)
}

/// A relative path with no `..` part: stays inside the project.
fn inside(value: &str) -> bool {
    let path = std::path::Path::new(value);
    !value.is_empty()
        && !value.contains('\\')
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// `pnpm-workspace.yaml` settings refused like their `.npmrc` spelling:
/// registries and paths outside the project.
const WORKSPACE_REFUSED: &[&str] = &[
    "registry",
    "registries",
    "storeDir",
    "cacheDir",
    "globalDir",
    "globalBinDir",
    "stateDir",
    "modulesDir",
    "lockfileDir",
    "pnpmfile",
    "globalPnpmfile",
    "npmrcAuthFile",
    "virtualStoreDir",
];

/// Settings that let pnpm run dependency build scripts.
const BUILD_SETTINGS: &[&str] = &[
    "onlyBuiltDependencies",
    "onlyBuiltDependenciesFile",
    "allowBuilds",
    "dangerouslyAllowAllBuilds",
    "neverBuiltDependencies",
];

/// The root manifest's scripts `pnpm install` runs in the project itself.
const ROOT_SCRIPTS: &[&str] = &[
    "pnpm:devPreinstall",
    "preinstall",
    "install",
    "postinstall",
    "preprepare",
    "prepare",
    "postprepare",
];

/// Server-side check of what the client should have filtered (a 400 on
/// failure): an uploaded `.npmrc` holds exactly the kept layout lines, and
/// `pnpm-workspace.yaml` no refused setting.
pub fn check_pnpm_config(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    if let Some(bytes) = files.get(".npmrc") {
        let text = std::str::from_utf8(bytes).map_err(|_| ".npmrc is not UTF-8".to_string())?;
        let check = check_npmrc(text);
        if let Some(refused) = check.refused.first() {
            return Err(refused.to_string());
        }
        if let Some(NpmrcDropped { key, .. }) = check.dropped.first() {
            return Err(format!(
                ".npmrc setting {key:?} is not a node_modules layout setting; depcache clients \
drop such settings before upload"
            ));
        }
        if check.kept != text {
            return Err(
                ".npmrc is not in the form depcache clients send (one KEY=VALUE \
layout setting per line, no comments)"
                    .to_string(),
            );
        }
    }
    if let Some(key) = workspace_settings(files)?
        .keys()
        .find(|k| refused_workspace_key(k))
    {
        return Err(format!(
            "pnpm-workspace.yaml setting {key:?} names a registry, a credential or a path \
outside the project; the server does not accept it"
        ));
    }
    Ok(())
}

fn refused_workspace_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    WORKSPACE_REFUSED.contains(&key)
        || lower.contains("auth")
        || lower.contains("token")
        || lower.contains("registr")
}

/// The `packages` globs of `pnpm-workspace.yaml` (none without one).
pub fn pnpm_workspace_globs(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<Vec<String>, String> {
    let not_string = || "pnpm-workspace.yaml: a packages entry is not a string".to_string();
    match workspace_settings(files)?.get("packages") {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|g| g.as_str().map(str::to_string).ok_or_else(not_string))
            .collect(),
        Some(_) => Err("pnpm-workspace.yaml: packages is not a list".to_string()),
    }
}

/// The workspace folders `pnpm-lock.yaml` has importers for (all but `.`).
pub fn pnpm_importers(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<Vec<String>, String> {
    let Some(bytes) = files.get("pnpm-lock.yaml") else {
        return Ok(Vec::new());
    };
    let lock: serde_json::Value = serde_yaml_ng::from_slice(bytes)
        .map_err(|e| format!("pnpm-lock.yaml is not YAML depcache can read ({e})"))?;
    let mut folders: Vec<String> = lock["importers"]
        .as_object()
        .map(|m| m.keys().filter(|k| *k != ".").cloned().collect())
        .unwrap_or_default();
    folders.sort();
    Ok(folders)
}

/// The top-level settings of `pnpm-workspace.yaml` (empty without one).
fn workspace_settings(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let Some(bytes) = files.get("pnpm-workspace.yaml") else {
        return Ok(Default::default());
    };
    let value: serde_json::Value = serde_yaml_ng::from_slice(bytes)
        .map_err(|e| format!("pnpm-workspace.yaml is not YAML depcache can read ({e})"))?;
    match value {
        serde_json::Value::Null => Ok(Default::default()),
        serde_json::Value::Object(map) => Ok(map),
        _ => Err("pnpm-workspace.yaml is not a mapping of settings".to_string()),
    }
}

/// Shapes depcache does not cache for pnpm (a 422; the client installs
/// locally): no lockfile, root install scripts (they need the project's
/// sources), build allow-lists. Workspaces are `workspaces.rs`' business.
pub fn check_pnpm_shape(files: &std::collections::BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let settings = workspace_settings(files)?;
    let pnpm_field = serde_json::from_slice::<serde_json::Value>(
        files.get("package.json").map_or(&b"{}"[..], Vec::as_slice),
    )
    .map(|m| m["pnpm"].clone())
    .unwrap_or_default();
    let allows = BUILD_SETTINGS
        .iter()
        .find(|k| settings.contains_key(**k) || pnpm_field.get(**k).is_some());
    if let Some(setting) = allows {
        return Err(format!(
            "the project sets {setting}, so pnpm would run dependency build scripts; the server \
runs none, and this project is installed in the job"
        ));
    }
    if !files.contains_key("pnpm-lock.yaml") {
        return Err(
            "the project has no pnpm-lock.yaml; depcache caches pnpm projects only from \
a lockfile (the server runs pnpm install --frozen-lockfile)"
                .to_string(),
        );
    }
    let manifest: serde_json::Value = files
        .get("package.json")
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    if let Some(script) = ROOT_SCRIPTS
        .iter()
        .find(|s| manifest["scripts"].get(**s).is_some())
    {
        return Err(format!(
            "package.json has a {script} script, which pnpm install runs in the project's own \
sources; those are not sent to the server"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_layout_drops_the_rest_refuses_secrets_registries_and_paths() {
        let text = "# comment\nnode-linker=hoisted\nshamefully-hoist = true\n\
fund=false\n//registry.npmjs.org/:_authToken=s3cret\nregistry=https://evil.example/\n\
@acme:registry=https://npm.acme.example/\nstore-dir=/tmp/x\nvirtual-store-dir=../vs\n\
virtual-store-dir=node_modules/.vs\n_auth=abc\npublic-hoist-pattern[]=*eslint*\n";
        let check = check_npmrc(text);
        assert_eq!(
            check.kept,
            "node-linker=hoisted\nshamefully-hoist=true\nvirtual-store-dir=node_modules/.vs\n\
public-hoist-pattern[]=*eslint*\n"
        );
        let dropped: Vec<(usize, &str)> = check
            .dropped
            .iter()
            .map(|d| (d.line, d.key.as_str()))
            .collect();
        assert_eq!(dropped, [(4, "fund")]);
        let lines: Vec<(usize, RefusedKind)> =
            check.refused.iter().map(|r| (r.line, r.kind)).collect();
        assert_eq!(
            lines,
            [
                (5, RefusedKind::Credential),
                (6, RefusedKind::Registry),
                (7, RefusedKind::Registry),
                (8, RefusedKind::Path),
                (9, RefusedKind::Path),
                (11, RefusedKind::Credential),
            ]
        );
        let shown = check.refused[0].to_string();
        assert!(
            shown.starts_with(".npmrc line 5 (//registry.npmjs.org/:_authToken)"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    fn files(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn server_refuses_what_a_client_would_not_send() {
        let ok = files(&[(".npmrc", "node-linker=hoisted\n")]);
        assert_eq!(check_pnpm_config(&ok), Ok(()));
        let token = files(&[(".npmrc", "node-linker=hoisted\n//r.example/:_authToken=x\n")]);
        let err = check_pnpm_config(&token).unwrap_err();
        assert!(
            err.starts_with(".npmrc line 2 (//r.example/:_authToken)"),
            "{err}"
        );
        let dropped = files(&[(".npmrc", "fund=false\n")]);
        assert!(
            check_pnpm_config(&dropped)
                .unwrap_err()
                .contains("\"fund\"")
        );
        let spaced = files(&[(".npmrc", "node-linker = hoisted\n")]);
        assert!(check_pnpm_config(&spaced).unwrap_err().contains("form"));
        let yaml = files(&[("pnpm-workspace.yaml", "storeDir: /srv\n")]);
        assert!(
            check_pnpm_config(&yaml)
                .unwrap_err()
                .contains("\"storeDir\"")
        );
    }

    #[test]
    fn shapes_not_cached() {
        let lock = ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
        let plain = files(&[("package.json", "{}"), lock]);
        assert_eq!(check_pnpm_shape(&plain), Ok(()));
        let ws = files(&[
            ("package.json", "{}"),
            lock,
            ("pnpm-workspace.yaml", "packages: [a]\n"),
        ]);
        assert_eq!(pnpm_workspace_globs(&ws), Ok(vec!["a".to_string()]));
        let nolock = files(&[("package.json", "{}")]);
        assert!(
            check_pnpm_shape(&nolock)
                .unwrap_err()
                .contains("no pnpm-lock.yaml")
        );
        let script = files(&[("package.json", r#"{"scripts":{"postinstall":"x"}}"#), lock]);
        assert!(
            check_pnpm_shape(&script)
                .unwrap_err()
                .contains("postinstall")
        );
        let builds = files(&[
            ("package.json", "{}"),
            lock,
            ("pnpm-workspace.yaml", "onlyBuiltDependencies: [esbuild]\n"),
        ]);
        assert!(
            check_pnpm_shape(&builds)
                .unwrap_err()
                .contains("onlyBuiltDependencies")
        );
    }

    #[test]
    fn environment_references_in_layout_values_are_refused() {
        let check = check_npmrc("node-linker=${LINKER}\n");
        assert_eq!(check.refused[0].kind, RefusedKind::Environment);
        assert!(check.kept.is_empty());
    }
}
