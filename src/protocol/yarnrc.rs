//! The yarn config files a request may carry (`.yarnrc.yml`, `.yarnrc`,
//! `.npmrc`), read line by line against an allow-list of settings that change
//! nothing but the layout: a credential, a registry override, a path or an
//! unknown setting is refused naming the file and line. `check_yarn_config`
//! (client before sending, server on receipt) runs these.

use super::yarn::{YarnConfigError, YarnSettings};

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
    "defaultSemverRangePrefix",
    "preferInteractive",
    "httpTimeout",
    "httpRetry",
    "networkConcurrency",
    "yarnPath",
];

/// Keys (at any depth) that hold a secret.
pub(super) const BERRY_CREDENTIALS: &[&str] = &["npmAuthToken", "npmAuthIdent", "npmAlwaysAuth"];
/// Keys that say where packages are fetched from and how that host is
/// reached (`npmScopes` and `npmRegistries` also hold credentials): the
/// job's business, which a client may strip (`yarnrc_strip`).
pub(super) const BERRY_SOURCES: &[&str] = &[
    "npmRegistryServer",
    "npmScopes",
    "npmRegistries",
    "npmPublishRegistry",
    "unsafeHttpWhitelist",
    "httpProxy",
    "httpsProxy",
];
/// Keys that change what is installed (network, offline mode, extensions,
/// plugins): refused with the sources, never stripped.
const BERRY_INSTALL_CHANGING: &[&str] = &[
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

/// `.yarnrc.yml`: every line is blank, a comment, or `key: scalar` at the
/// top level with `key` accepted; nested blocks (`npmScopes:` …) and flow
/// syntax are refused, so what yarn's YAML parser reads is what was checked.
/// A credential anywhere (also nested or quoted) is named as one.
pub(super) fn check_berry_rc(bytes: &[u8]) -> Result<YarnSettings, YarnConfigError> {
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
        if named(BERRY_SOURCES) || named(BERRY_INSTALL_CHANGING) {
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
            "enableGlobalCache" => settings.global_cache = Some(value.to_string()),
            "yarnPath" => settings.yarn_path_line = Some(line),
            _ => {}
        }
    }
    Ok(settings)
}

/// `.yarnrc` (`key value`) and `.npmrc` (`key=value`): only accepted keys;
/// registries, auth and paths are named as such.
pub(super) fn check_classic_rc(file: &str, bytes: &[u8]) -> Result<(), YarnConfigError> {
    let text = String::from_utf8_lossy(bytes);
    for (i, raw) in text.lines().enumerate() {
        check_classic_line(file, i + 1, raw)?;
    }
    Ok(())
}

/// One line of a `.yarnrc` or `.npmrc`: accepted, blank or a comment, else
/// why not (a credential or registry line is stripped by the client before
/// sending, see `yarnrc_strip`).
pub(super) fn check_classic_line(
    file: &str,
    line: usize,
    raw: &str,
) -> Result<(), YarnConfigError> {
    let content = raw.trim();
    if content.is_empty() || content.starts_with('#') || content.starts_with(';') {
        return Ok(());
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
    Ok(())
}

/// The line without a `#` comment (YAML: at the start or after a space).
pub(super) fn strip_comment(line: &str) -> &str {
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
    use crate::protocol::check_yarn_config;
    use crate::protocol::yarn::tests::files;

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
}
