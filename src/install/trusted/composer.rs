//! composer's inputs: the repositories and config of composer.json, and each
//! locked package's dist, source, mirrors, notification URL and the paths it
//! names inside itself (autoload, bin), which composer would otherwise
//! resolve outside the package.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    COMPOSER_DEFAULT_HOSTS, TrustedSources, Untrusted, check_url, inside_package, parse_json,
};

/// `config` keys that change neither where composer fetches from nor where
/// it reads or writes: anything else is refused by name (cafile, cache-dir,
/// secure-http, github-domains, credentials, ...).
const SAFE_CONFIG: &[&str] = &[
    "allow-plugins",
    "apcu-autoloader",
    "autoloader-suffix",
    "bin-compat",
    "classmap-authoritative",
    "discard-changes",
    "htaccess-protect",
    "lock",
    "notify-on-install",
    "optimize-autoloader",
    "platform",
    "platform-check",
    "preferred-install",
    "prepend-autoloader",
    "process-timeout",
    "sort-packages",
    "allow-missing-requirements",
    "bump-after-update",
    "audit",
];

/// Archive types composer unpacks; anything else (path aside) is refused.
const ARCHIVE_TYPES: &[&str] = &["zip", "tar", "gzip", "xz", "bzip2", "phar", "rar", "7z"];

const MANIFEST: &str = "composer.json";
const LOCK: &str = "composer.lock";

pub(super) fn check(
    sources: &TrustedSources,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), Untrusted> {
    if let Some(bytes) = files.get(MANIFEST) {
        let doc = parse_json(MANIFEST, bytes)?;
        check_manifest(sources, &doc)?;
    }
    if let Some(bytes) = files.get(LOCK) {
        let doc = parse_json(LOCK, bytes)?;
        for section in ["packages", "packages-dev"] {
            let Some(list) = doc.get(section) else {
                continue;
            };
            let Some(list) = list.as_array() else {
                return Err(Untrusted::Unreadable {
                    file: LOCK.to_string(),
                    reason: format!("\"{section}\" is not a list"),
                });
            };
            for (i, package) in list.iter().enumerate() {
                check_locked(sources, section, i, package)?;
            }
        }
    }
    Ok(())
}

fn setting(file: &str, at: impl Into<String>, reason: impl Into<String>) -> Untrusted {
    Untrusted::Setting {
        file: file.to_string(),
        at: at.into(),
        reason: reason.into(),
    }
}

fn check_manifest(sources: &TrustedSources, doc: &Value) -> Result<(), Untrusted> {
    match doc.get("repositories") {
        None | Some(Value::Null) => {}
        // The object form names each repository; `false` disables one.
        Some(Value::Object(map)) => {
            for (name, repo) in map {
                check_repository(sources, &format!("repositories > {name}"), repo)?;
            }
        }
        Some(Value::Array(list)) => {
            for (i, repo) in list.iter().enumerate() {
                let at = format!("repositories > #{i}");
                match repo.as_object() {
                    // `{"packagist.org": false}`: only ever disables.
                    Some(map)
                        if map.len() == 1 && map.values().all(|v| *v == Value::Bool(false)) => {}
                    _ => check_repository(sources, &at, repo)?,
                }
            }
        }
        Some(_) => {
            return Err(setting(
                MANIFEST,
                "repositories",
                "must be a list or an object",
            ));
        }
    }
    if let Some(config) = doc.get("config") {
        check_config(config)?;
    }
    check_package_paths(MANIFEST, "the root package", doc)
}

fn check_repository(sources: &TrustedSources, at: &str, repo: &Value) -> Result<(), Untrusted> {
    if *repo == Value::Bool(false) {
        return Ok(());
    }
    let Some(fields) = repo.as_object() else {
        return Err(setting(
            MANIFEST,
            at,
            "a repository must be an object or false",
        ));
    };
    let kind = fields.get("type").and_then(Value::as_str).unwrap_or("");
    let url = fields.get("url").and_then(Value::as_str);
    let allowed_keys: &[&str] = match kind {
        "composer" => &["type", "url", "canonical", "only", "exclude"],
        "path" => &["type", "url", "options", "canonical", "only", "exclude"],
        _ => {
            return Err(Untrusted::Kind {
                file: MANIFEST.to_string(),
                at: at.to_string(),
                kind: "non-composer repository",
                spec: kind.to_string(),
            });
        }
    };
    if let Some(key) = fields.keys().find(|k| !allowed_keys.contains(&k.as_str())) {
        return Err(setting(
            MANIFEST,
            format!("{at} > {key}"),
            format!(
                "a {kind} repository may only set {}",
                allowed_keys.join(", ")
            ),
        ));
    }
    let Some(url) = url else {
        return Err(setting(MANIFEST, at, "a repository needs a \"url\""));
    };
    if kind == "path" {
        check_path_source(sources, MANIFEST, at, url)?;
        let options = fields.get("options").and_then(Value::as_object);
        return check_path_options(MANIFEST, &format!("{at} > options"), options);
    }
    check_url(
        sources,
        MANIFEST,
        || at.to_string(),
        url,
        COMPOSER_DEFAULT_HOSTS,
        false,
    )
}

fn check_path_source(
    sources: &TrustedSources,
    file: &str,
    at: &str,
    path: &str,
) -> Result<(), Untrusted> {
    if sources.path_trusted(path) {
        Ok(())
    } else {
        Err(Untrusted::Path {
            file: file.to_string(),
            at: at.to_string(),
            path: path.to_string(),
        })
    }
}

/// Path repository options that only choose copy or link.
fn check_path_options(
    file: &str,
    at: &str,
    options: Option<&Map<String, Value>>,
) -> Result<(), Untrusted> {
    const SAFE: &[&str] = &["symlink", "relative", "reference", "versions"];
    match options.and_then(|o| o.keys().find(|k| !SAFE.contains(&k.as_str()))) {
        Some(key) => Err(setting(
            file,
            format!("{at} > {key}"),
            format!("path repository options are limited to {}", SAFE.join(", ")),
        )),
        None => Ok(()),
    }
}

fn check_config(config: &Value) -> Result<(), Untrusted> {
    let Some(config) = config.as_object() else {
        return Err(setting(MANIFEST, "config", "must be an object"));
    };
    for (key, value) in config {
        let at = format!("config > {key}");
        // The output must stay `vendor/` (what the server stores) with its
        // binaries inside it.
        let fixed = match key.as_str() {
            "vendor-dir" => Some("vendor"),
            "bin-dir" => Some("vendor/bin"),
            _ => None,
        };
        if let Some(expected) = fixed {
            if value.as_str() != Some(expected) {
                return Err(setting(
                    MANIFEST,
                    at,
                    format!("only {expected:?} is supported"),
                ));
            }
        } else if !SAFE_CONFIG.contains(&key.as_str()) {
            return Err(setting(
                MANIFEST,
                at,
                "it can change where composer fetches from, reads or writes (see docs/installs.md \
for the accepted config keys)",
            ));
        }
    }
    Ok(())
}

/// Paths a package names relative to itself: autoload entries, binaries,
/// include paths and the old target-dir.
fn check_package_paths<'a>(file: &str, who: &str, package: &'a Value) -> Result<(), Untrusted> {
    let mut paths: Vec<(String, &str)> = Vec::new();
    let mut collect = |at: String, value: &'a Value| {
        for path in strings(value) {
            paths.push((at.clone(), path));
        }
    };
    for section in ["autoload", "autoload-dev"] {
        let Some(map) = package.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (kind, rules) in map {
            let at = format!("{section} > {kind}");
            match rules {
                // psr-4 / psr-0: namespace -> path or paths.
                Value::Object(ns) => ns.values().for_each(|v| collect(at.clone(), v)),
                other => collect(at.clone(), other),
            }
        }
    }
    for field in ["bin", "include-path", "target-dir"] {
        if let Some(value) = package.get(field) {
            collect(field.to_string(), value);
        }
    }
    match paths.into_iter().find(|(_, p)| !inside_package(p)) {
        Some((at, path)) => Err(setting(
            file,
            format!("{who} ({at})"),
            format!("the path {path:?} points outside the package"),
        )),
        None => Ok(()),
    }
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn check_locked(
    sources: &TrustedSources,
    section: &str,
    index: usize,
    package: &Value,
) -> Result<(), Untrusted> {
    let name = package.get("name").and_then(Value::as_str).unwrap_or("?");
    let at = format!("{section} > {name}");
    let kind = package
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("library");
    let dist = package.get("dist").and_then(Value::as_object);
    let transport = package.get("transport-options").and_then(Value::as_object);
    match dist {
        Some(dist) => check_dist(sources, &at, dist, transport)?,
        // A metapackage has no files at all; any other package without an
        // archive would be cloned from its source, which the server never does.
        None if kind == "metapackage" && package.get("source").is_none() => {}
        None => {
            return Err(Untrusted::Kind {
                file: LOCK.to_string(),
                at,
                kind: "source-only (git)",
                spec: format!("{section} #{index} has no \"dist\""),
            });
        }
    }
    if let Some(source) = package.get("source") {
        check_source(sources, &format!("{at} (source)"), source)?;
    }
    if let Some(url) = package.get("notification-url").and_then(Value::as_str) {
        let at = || format!("{at} (notification-url)");
        check_url(sources, LOCK, at, url, COMPOSER_DEFAULT_HOSTS, false)?;
    }
    check_package_paths(LOCK, &at, package)
}

fn check_dist(
    sources: &TrustedSources,
    at: &str,
    dist: &Map<String, Value>,
    transport: Option<&Map<String, Value>>,
) -> Result<(), Untrusted> {
    let kind = dist.get("type").and_then(Value::as_str).unwrap_or("");
    let url = dist.get("url").and_then(Value::as_str).unwrap_or("");
    if kind == "path" {
        check_path_source(sources, LOCK, &format!("{at} (dist)"), url)?;
        return check_path_options(LOCK, &format!("{at} (transport-options)"), transport);
    }
    // Transport options are stream-context settings (proxies, TLS files).
    if transport.is_some_and(|t| !t.is_empty()) {
        return Err(setting(
            LOCK,
            format!("{at} (transport-options)"),
            "transport options can redirect or weaken downloads",
        ));
    }
    if !ARCHIVE_TYPES.contains(&kind) {
        return Err(Untrusted::Kind {
            file: LOCK.to_string(),
            at: format!("{at} (dist)"),
            kind: "non-archive",
            spec: format!("type {kind:?}"),
        });
    }
    let dist_at = || format!("{at} (dist)");
    check_url(sources, LOCK, dist_at, url, COMPOSER_DEFAULT_HOSTS, false)?;
    check_mirrors(
        sources,
        &format!("{at} (dist mirrors)"),
        dist.get("mirrors"),
    )
}

/// A git source is only ever a fallback for a failed dist download; it must
/// still be https on a trusted host, and nothing else than git.
fn check_source(sources: &TrustedSources, at: &str, source: &Value) -> Result<(), Untrusted> {
    let kind = source.get("type").and_then(Value::as_str).unwrap_or("");
    let url = source.get("url").and_then(Value::as_str).unwrap_or("");
    if kind != "git" || !url.starts_with("https://") {
        return Err(Untrusted::Kind {
            file: LOCK.to_string(),
            at: at.to_string(),
            kind: "non-https or non-git source",
            spec: format!("{kind} {url}"),
        });
    }
    check_url(
        sources,
        LOCK,
        || at.to_string(),
        url,
        COMPOSER_DEFAULT_HOSTS,
        false,
    )?;
    check_mirrors(sources, at, source.get("mirrors"))
}

fn check_mirrors(
    sources: &TrustedSources,
    at: &str,
    mirrors: Option<&Value>,
) -> Result<(), Untrusted> {
    let Some(mirrors) = mirrors else {
        return Ok(());
    };
    let Some(list) = mirrors.as_array() else {
        return Err(setting(LOCK, at, "mirrors must be a list"));
    };
    for mirror in list {
        let url = mirror.get("url").and_then(Value::as_str).unwrap_or("");
        check_url(
            sources,
            LOCK,
            || at.to_string(),
            url,
            COMPOSER_DEFAULT_HOSTS,
            false,
        )?;
    }
    Ok(())
}
