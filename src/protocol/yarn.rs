//! Yarn projects: classic (v1) or Berry (v2+) told apart by the lockfile,
//! the yarn version a project asks for (`packageManager`), and the check of
//! its config files (`.yarnrc.yml`, `.yarnrc`, `.npmrc`). The client runs
//! the check before uploading, the server again on receipt: a config file is
//! accepted only when every setting in it is one that depcache knows cannot
//! carry a credential, move the registry or name a path, line by line. The
//! project shapes depcache cannot reproduce exactly (Plug'n'Play, workspaces,
//! a checked-in `yarnPath` release) are refused by `check_yarn_shape`, which
//! makes the client install locally. See docs/installs.md, "Yarn".

use std::collections::BTreeMap;

use serde_json::Value;

/// Which yarn a lockfile belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YarnFlavor {
    /// `# yarn lockfile v1`.
    Classic,
    /// A YAML lockfile with a `__metadata:` block.
    Berry,
}

/// What the config files say about the install (Berry's `.yarnrc.yml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YarnSettings {
    /// `nodeLinker` as written; Berry's default is `pnp`.
    pub node_linker: Option<String>,
    /// The line of `yarnPath`, when set.
    pub yarn_path_line: Option<usize>,
}

/// A config file depcache will not pass on, or a request that is not a
/// yarn project at all; each a 400 naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YarnConfigError {
    #[error(
        "{file} line {line} sets {key}, a credential; depcache never sends credentials to its \
server (the server uses its own registry settings); remove the line or keep it in the \
user-level config"
    )]
    Credential {
        file: String,
        line: usize,
        key: String,
    },
    #[error(
        "{file} line {line} sets {key}, a registry override; the server installs only from the \
registry it trusts, so the tree could differ from yours; remove the line to use depcache"
    )]
    Registry {
        file: String,
        line: usize,
        key: String,
    },
    #[error(
        "{file} line {line} sets {key}, a path the install would read or write outside the \
folders depcache restores; remove the line to use depcache"
    )]
    Path {
        file: String,
        line: usize,
        key: String,
    },
    #[error(
        "{file} line {line} sets {key}, which is not one of the settings depcache passes on \
({accepted}); remove the line to use depcache"
    )]
    NotAccepted {
        file: String,
        line: usize,
        key: String,
        accepted: String,
    },
    #[error("{file} line {line} is not a setting depcache can read: {reason}")]
    Malformed {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("yarn requests must include yarn.lock: without one yarn resolves versions anew")]
    NoLockfile,
    #[error(
        "package.json's \"packageManager\" is {value:?}; depcache reads only yarn@MAJOR.MINOR.PATCH"
    )]
    PackageManager { value: String },
    #[error(
        "yarn.lock is a {lockfile} lockfile but the yarn version is {version}; run the yarn \
the project uses (its packageManager field) or pass --yarn-version"
    )]
    FlavorMismatch {
        lockfile: &'static str,
        version: String,
    },
}

/// A project depcache cannot reproduce exactly: 422 `unsupported_project`,
/// the client installs locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YarnShapeError {
    #[error(
        ".yarnrc.yml line {line} sets yarnPath: the project runs a checked-in yarn release, which \
the server will not execute and cannot prove equal to a published one"
    )]
    YarnPath { line: usize },
    #[error(
        "the project uses Yarn Plug'n'Play (nodeLinker {linker}); depcache caches only \
node_modules trees of Yarn so far (set nodeLinker: node-modules to use it)"
    )]
    PlugNPlay { linker: String },
    #[error("package.json declares yarn workspaces; depcache does not cache yarn workspaces yet")]
    Workspaces,
}

/// `.yarnrc.yml` settings that only change how the tree is laid out or how
/// yarn talks, never where from or with what: passed on as written (and in
/// the key, as part of the file).
const BERRY_ACCEPTED: &[&str] = &[
    "nodeLinker",
    "nmMode",
    "nmHoistingLimits",
    "nmSelfReferences",
    "pnpMode",
    "pnpFallbackMode",
    "pnpEnableEsmLoader",
    "pnpEnableInlining",
    "enableGlobalCache",
    "enableTelemetry",
    "enableProgressBars",
    "enableColors",
    "enableHyperlinks",
    "enableMessageNames",
    "enableInlineBuilds",
    "enableTransparentWorkspaces",
    "enableImmutableInstalls",
    "enableImmutableCache",
    "compressionLevel",
    "checksumBehavior",
    "defaultSemverRangePrefix",
    "preferInteractive",
    "httpTimeout",
    "httpRetry",
    "networkConcurrency",
    "yarnPath",
];

/// Keys (at any depth) that hold a secret.
const BERRY_CREDENTIALS: &[&str] = &["npmAuthToken", "npmAuthIdent", "npmAlwaysAuth"];
/// Keys that change where packages come from.
const BERRY_REGISTRY: &[&str] = &[
    "npmRegistryServer",
    "npmScopes",
    "npmRegistries",
    "npmPublishRegistry",
    "unsafeHttpWhitelist",
    "httpProxy",
    "httpsProxy",
    "enableNetwork",
    "enableOfflineMode",
    "packageExtensions",
    "plugins",
];
/// Keys naming files or folders.
const BERRY_PATHS: &[&str] = &[
    "cacheFolder",
    "globalFolder",
    "installStatePath",
    "pnpUnpluggedFolder",
    "pnpDataPath",
    "virtualFolder",
    "lockfileFilename",
    "injectEnvironmentFiles",
    "caFilePath",
    "httpsCaFilePath",
    "httpsCertFilePath",
    "httpsKeyFilePath",
    "patchFolder",
    "deferredVersionFolder",
];

/// `.yarnrc` (classic) and `.npmrc` settings that never change the tree.
const CLASSIC_ACCEPTED: &[&str] = &[
    "network-timeout",
    "network-concurrency",
    "child-concurrency",
    "disable-self-update-check",
    "save-prefix",
    "save-exact",
    "engine-strict",
    "fund",
    "audit",
    "progress",
    "loglevel",
    "lastUpdateCheck",
];

/// The flavor of a lockfile: Berry's is YAML with a `__metadata:` block.
pub fn yarn_flavor(lockfile: &[u8]) -> YarnFlavor {
    let text = String::from_utf8_lossy(lockfile);
    if text.lines().any(|l| l.trim_end() == "__metadata:") {
        YarnFlavor::Berry
    } else {
        YarnFlavor::Classic
    }
}

/// The yarn version `packageManager` names (`yarn@4.5.0`, its `+sha…` hash
/// dropped); `None` when the field is absent or names another manager.
pub fn package_manager_yarn(manifest: &[u8]) -> Result<Option<String>, YarnConfigError> {
    let doc: Value = match serde_json::from_slice(manifest) {
        Ok(doc) => doc,
        // Unreadable manifests are refused by the trust check with a reason.
        Err(_) => return Ok(None),
    };
    let Some(field) = doc.get("packageManager") else {
        return Ok(None);
    };
    let bad = || YarnConfigError::PackageManager {
        value: field.to_string().chars().take(100).collect(),
    };
    let text = field.as_str().ok_or_else(bad)?;
    let Some(rest) = text.strip_prefix("yarn@") else {
        return Ok(None);
    };
    let version = rest.split('+').next().unwrap_or_default();
    let parts: Vec<&str> = version.split('.').collect();
    let plain = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !plain {
        return Err(bad());
    }
    Ok(Some(version.to_string()))
}

/// The major of a version such as `4.5.0`.
fn major(version: &str) -> Option<u64> {
    version.split('.').next()?.parse().ok()
}

/// Checks a yarn request's files: lockfile present, `packageManager`
/// readable and of the lockfile's flavor, and every config line accepted.
/// `yarn_version` is the version the request names.
pub fn check_yarn_config(
    files: &BTreeMap<String, Vec<u8>>,
    yarn_version: Option<&str>,
) -> Result<YarnSettings, YarnConfigError> {
    let Some(lockfile) = files.get("yarn.lock") else {
        return Err(YarnConfigError::NoLockfile);
    };
    let flavor = yarn_flavor(lockfile);
    if let Some(manifest) = files.get("package.json") {
        package_manager_yarn(manifest)?;
    }
    if let Some(version) = yarn_version {
        let (berry, lockfile_name) = match flavor {
            YarnFlavor::Classic => (false, "classic (v1)"),
            YarnFlavor::Berry => (true, "Berry (v2+)"),
        };
        if major(version).map(|m| m >= 2) != Some(berry) {
            return Err(YarnConfigError::FlavorMismatch {
                lockfile: lockfile_name,
                version: version.to_string(),
            });
        }
    }
    for name in [".yarnrc", ".npmrc"] {
        if let Some(bytes) = files.get(name) {
            check_classic_rc(name, bytes)?;
        }
    }
    match files.get(".yarnrc.yml") {
        Some(bytes) => check_berry_rc(bytes),
        None => Ok(YarnSettings::default()),
    }
}

/// The shapes `check_yarn_config` accepts but depcache cannot cache
/// exactly. Config errors count as nothing here: they are refused first.
pub fn check_yarn_shape(files: &BTreeMap<String, Vec<u8>>) -> Result<(), YarnShapeError> {
    let Ok(settings) = check_yarn_config(files, None) else {
        return Ok(());
    };
    if let Some(line) = settings.yarn_path_line {
        return Err(YarnShapeError::YarnPath { line });
    }
    let workspaces = files
        .get("package.json")
        .and_then(|m| serde_json::from_slice::<Value>(m).ok())
        .is_some_and(|doc| doc.get("workspaces").is_some_and(|w| !w.is_null()));
    if workspaces {
        return Err(YarnShapeError::Workspaces);
    }
    let berry = files
        .get("yarn.lock")
        .is_some_and(|l| yarn_flavor(l) == YarnFlavor::Berry);
    if berry {
        let linker = settings.node_linker.as_deref().unwrap_or("pnp");
        if linker != "node-modules" {
            return Err(YarnShapeError::PlugNPlay {
                linker: linker.to_string(),
            });
        }
    }
    Ok(())
}

/// `.yarnrc.yml`: every line is blank, a comment, or `key: scalar` at the
/// top level with `key` accepted; nested blocks (`npmScopes:` …) and flow
/// syntax are refused, so what yarn's YAML parser reads is what was checked.
/// A credential anywhere (also nested or quoted) is named as one.
fn check_berry_rc(bytes: &[u8]) -> Result<YarnSettings, YarnConfigError> {
    const FILE: &str = ".yarnrc.yml";
    let text = std::str::from_utf8(bytes).map_err(|_| YarnConfigError::Malformed {
        file: FILE.to_string(),
        line: 1,
        reason: "the file is not UTF-8".to_string(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut settings = YarnSettings::default();
    // Credentials first, anywhere in the file: the most important refusal.
    for (i, raw) in text.lines().enumerate() {
        let key = raw
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches(['"', '\'', '{', ' '])
            .split([':', '"', '\''])
            .next()
            .unwrap_or_default();
        if let Some(found) = BERRY_CREDENTIALS.iter().find(|c| key == **c) {
            return Err(YarnConfigError::Credential {
                file: FILE.to_string(),
                line: i + 1,
                key: found.to_string(),
            });
        }
    }
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let malformed = |reason: &str| YarnConfigError::Malformed {
            file: FILE.to_string(),
            line,
            reason: reason.to_string(),
        };
        let content = strip_comment(raw);
        if content.trim().is_empty() || raw.trim() == "---" {
            continue;
        }
        if content.starts_with([' ', '\t', '-']) {
            return Err(malformed(
                "nested values are accepted only under settings depcache refuses anyway",
            ));
        }
        let Some((key, value)) = content.split_once(':') else {
            return Err(malformed("expected `key: value`"));
        };
        let key = key.trim();
        let named = |list: &[&str]| list.contains(&key);
        if named(BERRY_REGISTRY) {
            return Err(YarnConfigError::Registry {
                file: FILE.to_string(),
                line,
                key: key.to_string(),
            });
        }
        if named(BERRY_PATHS) {
            return Err(YarnConfigError::Path {
                file: FILE.to_string(),
                line,
                key: key.to_string(),
            });
        }
        if !named(BERRY_ACCEPTED) {
            return Err(YarnConfigError::NotAccepted {
                file: FILE.to_string(),
                line,
                key: key.chars().take(64).collect(),
                accepted: BERRY_ACCEPTED.join(", "),
            });
        }
        let value = unquote(value.trim()).ok_or_else(|| {
            malformed("the value must be a plain word or number (no `${…}`, lists or maps)")
        })?;
        match key {
            "nodeLinker" => settings.node_linker = Some(value.to_string()),
            "yarnPath" => settings.yarn_path_line = Some(line),
            _ => {}
        }
    }
    Ok(settings)
}

/// `.yarnrc` (`key value`) and `.npmrc` (`key=value`): only accepted keys;
/// registries, auth and paths are named as such.
fn check_classic_rc(file: &str, bytes: &[u8]) -> Result<(), YarnConfigError> {
    let text = String::from_utf8_lossy(bytes);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') || content.starts_with(';') {
            continue;
        }
        let key = content
            .split(['=', ' ', '\t'])
            .next()
            .unwrap_or_default()
            .trim_matches('"')
            .trim_start_matches("--");
        let lower = key.to_ascii_lowercase();
        let last = lower.rsplit(':').next().unwrap_or(&lower);
        let credential = [
            "_authtoken",
            "_auth",
            "_password",
            "username",
            "always-auth",
        ]
        .iter()
        .any(|c| last == *c || last.ends_with(&format!(".{c}")))
            || lower.starts_with("//");
        if credential {
            return Err(YarnConfigError::Credential {
                file: file.to_string(),
                line,
                key: key.chars().take(64).collect(),
            });
        }
        if last == "registry" || last.ends_with(".registry") || lower.contains("proxy") {
            return Err(YarnConfigError::Registry {
                file: file.to_string(),
                line,
                key: key.chars().take(64).collect(),
            });
        }
        let path_like = [
            "yarn-path",
            "cache-folder",
            "modules-folder",
            "global-folder",
            "link-folder",
            "offline-mirror",
            "cafile",
            "prefix",
            "cache",
            "userconfig",
            "globalconfig",
        ];
        if path_like
            .iter()
            .any(|p| last == *p || last.ends_with(&format!(".{p}")) || last.contains("mirror"))
        {
            return Err(YarnConfigError::Path {
                file: file.to_string(),
                line,
                key: key.chars().take(64).collect(),
            });
        }
        if !CLASSIC_ACCEPTED.contains(&key) {
            return Err(YarnConfigError::NotAccepted {
                file: file.to_string(),
                line,
                key: key.chars().take(64).collect(),
                accepted: CLASSIC_ACCEPTED.join(", "),
            });
        }
    }
    Ok(())
}

/// The line without a `#` comment (YAML: at the start or after a space).
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// A plain scalar, or one in matching quotes: letters, digits, `.-_/@`.
fn unquote(value: &str) -> Option<&str> {
    let inner = match value.as_bytes().first() {
        Some(b'"') | Some(b'\'') => {
            let q = &value[..1];
            value.strip_prefix(q)?.strip_suffix(q)?
        }
        _ => value,
    };
    let ok = !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/@".contains(&b));
    ok.then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        let mut map: BTreeMap<String, Vec<u8>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        map.entry("package.json".to_string())
            .or_insert_with(|| b"{}".to_vec());
        map.entry("yarn.lock".to_string())
            .or_insert_with(|| b"__metadata:\n  version: 8\n".to_vec());
        map
    }

    fn berry(rc: &str) -> Result<YarnSettings, YarnConfigError> {
        check_yarn_config(&files(&[(".yarnrc.yml", rc)]), Some("4.1.0"))
    }

    #[test]
    fn credentials_are_named_with_their_line_even_nested() {
        let err = berry("nodeLinker: node-modules\nnpmAuthToken: abc\n").unwrap_err();
        assert!(
            matches!(err, YarnConfigError::Credential { line: 2, ref key, .. } if key == "npmAuthToken"),
            "{err}"
        );
        let nested = "npmScopes:\n  acme:\n    npmAuthToken: \"x\"\n";
        let err = berry(nested).unwrap_err();
        assert!(
            matches!(err, YarnConfigError::Credential { line: 3, .. }),
            "{err}"
        );
        let err = berry("\"npmAuthIdent\": u:p\n").unwrap_err();
        assert!(matches!(err, YarnConfigError::Credential { line: 1, .. }));
    }

    #[test]
    fn registries_paths_and_unknown_keys_are_refused() {
        let err = berry("# c\nnpmRegistryServer: \"https://x\"\n").unwrap_err();
        assert!(
            matches!(err, YarnConfigError::Registry { line: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = berry("npmScopes:\n  a:\n    npmRegistryServer: x\n").unwrap_err();
        assert!(matches!(err, YarnConfigError::Registry { line: 1, .. }));
        assert!(matches!(
            berry("cacheFolder: ../cache\n").unwrap_err(),
            YarnConfigError::Path { line: 1, .. }
        ));
        assert!(matches!(
            berry("somethingNew: true\n").unwrap_err(),
            YarnConfigError::NotAccepted { .. }
        ));
        assert!(matches!(
            berry("nodeLinker: ${LINKER}\n").unwrap_err(),
            YarnConfigError::Malformed { .. }
        ));
        assert!(matches!(
            berry("{nodeLinker: pnp}\n").unwrap_err(),
            YarnConfigError::NotAccepted { .. } | YarnConfigError::Malformed { .. }
        ));
    }

    #[test]
    fn layout_settings_are_read() {
        let s =
            berry("nodeLinker: \"node-modules\"  # comment\nenableGlobalCache: false\n").unwrap();
        assert_eq!(s.node_linker.as_deref(), Some("node-modules"));
        let s = berry("yarnPath: .yarn/releases/yarn-4.1.0.cjs\n").unwrap();
        assert_eq!(s.yarn_path_line, Some(1));
    }

    #[test]
    fn classic_rc_files() {
        let classic = |name: &str, text: &str| {
            let mut f = files(&[(name, text)]);
            f.insert("yarn.lock".into(), b"# yarn lockfile v1\n".to_vec());
            check_yarn_config(&f, Some("1.22.22"))
        };
        assert!(classic(".yarnrc", "network-timeout 600000\n# c\n").is_ok());
        assert!(matches!(
            classic(".npmrc", "save-exact=true\nregistry=https://x/\n").unwrap_err(),
            YarnConfigError::Registry { line: 2, .. }
        ));
        assert!(matches!(
            classic(".npmrc", "//r.example/:_authToken=abc\n").unwrap_err(),
            YarnConfigError::Credential { line: 1, .. }
        ));
        assert!(matches!(
            classic(".npmrc", "@acme:registry=https://x/\n").unwrap_err(),
            YarnConfigError::Registry { .. }
        ));
        assert!(matches!(
            classic(".yarnrc", "yarn-path \"./y.js\"\n").unwrap_err(),
            YarnConfigError::Path { .. }
        ));
        assert!(matches!(
            classic(".yarnrc", "--install.ignore-optional true\n").unwrap_err(),
            YarnConfigError::NotAccepted { .. }
        ));
    }

    #[test]
    fn flavor_and_version_must_agree() {
        let f = files(&[]);
        assert!(matches!(
            check_yarn_config(&f, Some("1.22.22")).unwrap_err(),
            YarnConfigError::FlavorMismatch { .. }
        ));
        let mut no_lock = f.clone();
        no_lock.remove("yarn.lock");
        assert_eq!(
            check_yarn_config(&no_lock, None).unwrap_err(),
            YarnConfigError::NoLockfile
        );
        assert_eq!(
            package_manager_yarn(br#"{"packageManager":"yarn@4.5.0+sha224.abc"}"#).unwrap(),
            Some("4.5.0".to_string())
        );
        assert_eq!(
            package_manager_yarn(br#"{"packageManager":"pnpm@9.0.0"}"#).unwrap(),
            None
        );
        assert!(package_manager_yarn(br#"{"packageManager":"yarn@latest"}"#).is_err());
    }

    #[test]
    fn shapes() {
        assert!(matches!(
            check_yarn_shape(&files(&[])).unwrap_err(),
            YarnShapeError::PlugNPlay { .. }
        ));
        assert!(check_yarn_shape(&files(&[(".yarnrc.yml", "nodeLinker: node-modules\n")])).is_ok());
        assert!(matches!(
            check_yarn_shape(&files(&[(
                ".yarnrc.yml",
                "nodeLinker: node-modules\nyarnPath: x.cjs\n"
            )]))
            .unwrap_err(),
            YarnShapeError::YarnPath { line: 2 }
        ));
        let ws = files(&[
            ("package.json", r#"{"workspaces":["a"]}"#),
            (".yarnrc.yml", "nodeLinker: node-modules\n"),
        ]);
        assert_eq!(
            check_yarn_shape(&ws).unwrap_err(),
            YarnShapeError::Workspaces
        );
    }
}
