//! npm's inputs: package.json dependency specs and overrides, and every
//! lockfile form npm 7+ reads (`packages` of lockfileVersion 2 and 3, the
//! nested `dependencies` of version 1). A package is trusted when it is a
//! registry package whose `resolved` URL, if any, is on a trusted origin.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::protocol::workspace_folders;

use super::{NPM_DEFAULT_REGISTRY, TrustedSources, Untrusted, check_url, parse_json};

/// The dependency maps of a package.json or a lockfile entry.
const DEP_FIELDS: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

/// What npm would do with a dependency spec (after npm-package-arg's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Spec {
    /// A version, range or tag: fetched from the configured registry.
    Registry,
    /// A tarball URL, fetched as is.
    Remote,
    /// Anything else: the kind, for the message.
    Other(&'static str),
}

/// Classifies `spec` the way npm-package-arg would, erring towards refusal:
/// anything with a scheme, a slash or a file-like ending is not a registry
/// spec. `npm:` aliases are classified by what they point at.
pub(super) fn classify(spec: &str) -> Spec {
    let s = spec.trim();
    let lower = s.to_ascii_lowercase();
    if let Some(target) = lower.strip_prefix("npm:") {
        return match alias_target(target) {
            Some(inner) if classify(inner) == Spec::Registry && !inner.contains(':') => {
                Spec::Registry
            }
            _ => Spec::Other("aliased non-registry"),
        };
    }
    let prefixed = |prefixes: &[&str]| prefixes.iter().any(|p| lower.starts_with(p));
    if prefixed(&["file:"]) {
        Spec::Other("file")
    } else if prefixed(&["link:", "workspace:", "portal:"]) {
        Spec::Other("linked folder")
    } else if prefixed(&["git", "github:", "gist:", "gitlab:", "bitbucket:", "ssh:"]) {
        Spec::Other("git")
    } else if prefixed(&["http:", "https:"]) {
        Spec::Remote
    } else if lower.contains(':') {
        Spec::Other("non-registry")
    } else if lower.starts_with('.') || lower.starts_with('/') || lower.starts_with("~/") {
        Spec::Other("folder")
    } else if lower.contains('/') || lower.contains('\\') {
        // `user/repo` is a GitHub shorthand, `a/b` otherwise a folder.
        Spec::Other("git or folder")
    } else if [".tgz", ".tar", ".tar.gz"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        Spec::Other("file")
    } else {
        Spec::Registry
    }
}

/// `name@spec` (or bare `name`) after `npm:`; the name may be `@scope/name`.
fn alias_target(target: &str) -> Option<&str> {
    let (name, spec) = match target.strip_prefix('@') {
        Some(rest) => match rest.find('@') {
            Some(i) => (&target[..i + 1], &target[i + 2..]),
            None => (target, ""),
        },
        None => target.split_once('@').unwrap_or((target, "")),
    };
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            && !part.starts_with('.')
    };
    let ok = match name.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(s, n)| valid(s) && valid(n)),
        None => valid(name),
    };
    ok.then_some(spec)
}

pub(super) fn check(
    sources: &TrustedSources,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), Untrusted> {
    // The workspace folders the request carries; their shape (globs, count,
    // depth, agreement with the lockfile) was checked before this, so here
    // they are only what links may point at and whose specs need checking.
    let workspaces = workspace_folders(files);
    if let Some(bytes) = files.get("package.json") {
        let doc = parse_json("package.json", bytes)?;
        check_manifest(sources, "package.json", &doc, !workspaces.is_empty())?;
    }
    for folder in &workspaces {
        let file = format!("{folder}/package.json");
        if let Some(bytes) = files.get(&file) {
            let doc = parse_json(&file, bytes)?;
            check_manifest(sources, &file, &doc, false)?;
        }
    }
    for file in ["npm-shrinkwrap.json", "package-lock.json"] {
        if let Some(bytes) = files.get(file) {
            let doc = parse_json(file, bytes)?;
            check_lockfile(sources, file, &doc, &workspaces)?;
        }
    }
    Ok(())
}

/// A package.json: the root's (which alone may declare the workspaces the
/// request carries) or a workspace's.
pub(super) fn check_manifest(
    sources: &TrustedSources,
    file: &str,
    doc: &Value,
    may_have_workspaces: bool,
) -> Result<(), Untrusted> {
    if !may_have_workspaces && doc.get("workspaces").is_some_and(|w| !w.is_null()) {
        return Err(Untrusted::Setting {
            file: file.to_string(),
            at: "\"workspaces\"".to_string(),
            reason: "workspaces are linked from folders the request did not send; the server \
installs only the workspaces whose package.json it received"
                .to_string(),
        });
    }
    check_dep_maps(sources, file, "", doc, DEP_FIELDS)?;
    if let Some(overrides) = doc.get("overrides") {
        check_overrides(sources, overrides, "overrides")?;
    }
    Ok(())
}

/// Overrides nest: a string is a spec (or `$name`, a root dependency's spec,
/// checked there), an object holds more overrides (`.` being its own spec).
fn check_overrides(sources: &TrustedSources, value: &Value, at: &str) -> Result<(), Untrusted> {
    match value {
        Value::String(spec) if spec.starts_with('$') => Ok(()),
        Value::String(spec) => check_spec(sources, "package.json", at, spec),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_overrides(sources, v, &format!("{at} > {k}"))),
        _ => Err(Untrusted::Setting {
            file: "package.json".to_string(),
            at: at.to_string(),
            reason: "an override must be a spec or an object".to_string(),
        }),
    }
}

/// The spec maps `fields` of `entry` (package.json, or a lockfile entry at
/// `location`).
fn check_dep_maps(
    sources: &TrustedSources,
    file: &str,
    location: &str,
    entry: &Value,
    fields: &[&str],
) -> Result<(), Untrusted> {
    for field in fields {
        let Some(map) = entry.get(*field).and_then(Value::as_object) else {
            continue;
        };
        for (name, spec) in map {
            let at = if location.is_empty() {
                format!("{field} > {name}")
            } else {
                format!("{location} ({field} > {name})")
            };
            match spec {
                Value::String(spec) => check_spec(sources, file, &at, spec)?,
                _ => {
                    return Err(Untrusted::Setting {
                        file: file.to_string(),
                        at,
                        reason: "a dependency spec must be a string".to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

pub(super) fn check_spec(
    sources: &TrustedSources,
    file: &str,
    at: &str,
    spec: &str,
) -> Result<(), Untrusted> {
    match classify(spec) {
        Spec::Registry => Ok(()),
        Spec::Remote => check_url(
            sources,
            file,
            || at.to_string(),
            spec.trim(),
            &[NPM_DEFAULT_REGISTRY],
            true,
        ),
        Spec::Other(kind) => Err(Untrusted::Kind {
            file: file.to_string(),
            at: at.to_string(),
            kind,
            spec: spec.to_string(),
        }),
    }
}

/// A `resolved` field: an http(s) URL on a trusted origin.
fn check_resolved(
    sources: &TrustedSources,
    file: &str,
    at: &str,
    resolved: &Value,
) -> Result<(), Untrusted> {
    let Some(raw) = resolved.as_str() else {
        return Err(Untrusted::Setting {
            file: file.to_string(),
            at: at.to_string(),
            reason: "\"resolved\" must be a string".to_string(),
        });
    };
    if let Spec::Other(kind) = classify(raw) {
        return Err(Untrusted::Kind {
            file: file.to_string(),
            at: at.to_string(),
            kind,
            spec: raw.to_string(),
        });
    }
    check_url(
        sources,
        file,
        || at.to_string(),
        raw,
        &[NPM_DEFAULT_REGISTRY],
        true,
    )
}

fn check_lockfile(
    sources: &TrustedSources,
    file: &str,
    doc: &Value,
    workspaces: &[String],
) -> Result<(), Untrusted> {
    let Some(root) = doc.as_object() else {
        return Err(Untrusted::Unreadable {
            file: file.to_string(),
            reason: "it is not a JSON object".to_string(),
        });
    };
    if let Some(packages) = root.get("packages") {
        let Some(packages) = packages.as_object() else {
            return Err(Untrusted::Unreadable {
                file: file.to_string(),
                reason: "\"packages\" is not an object".to_string(),
            });
        };
        for (location, entry) in packages {
            check_package_entry(sources, file, location, entry, workspaces)?;
        }
    }
    if let Some(deps) = root.get("dependencies") {
        check_v1_dependencies(sources, file, "dependencies", deps)?;
    }
    Ok(())
}

/// Whether `location` is `node_modules/<name>` nested any number of times:
/// anything else is a folder package (workspaces, `file:` folders) or a path
/// that would place a package outside `node_modules`.
fn is_node_modules_location(location: &str) -> bool {
    let mut parts = location.split('/').peekable();
    let mut seen = false;
    while let Some(part) = parts.next() {
        if part != "node_modules" {
            return false;
        }
        let ok_name = |n: &str| {
            !n.is_empty()
                && n != "."
                && n != ".."
                && n != "node_modules"
                && !n.contains('\\')
                && !n.contains(':')
        };
        match parts.next() {
            Some(scope) if scope.starts_with('@') => match parts.next() {
                Some(name) if ok_name(&scope[1..]) && ok_name(name) => {}
                _ => return false,
            },
            Some(name) if ok_name(name) => {}
            _ => return false,
        }
        seen = true;
    }
    seen
}

fn check_package_entry(
    sources: &TrustedSources,
    file: &str,
    location: &str,
    entry: &Value,
    workspaces: &[String],
) -> Result<(), Untrusted> {
    let shown = || format!("packages > {location:?}");
    let folder = |kind: &'static str, spec: &str| Untrusted::Kind {
        file: file.to_string(),
        at: shown(),
        kind,
        spec: spec.to_string(),
    };
    if location.is_empty() {
        // The root mirrors package.json.
        if entry.get("workspaces").is_some() && workspaces.is_empty() {
            return Err(Untrusted::Setting {
                file: file.to_string(),
                at: shown(),
                reason: "workspaces are linked from folders the request did not send".to_string(),
            });
        }
        return check_dep_maps(sources, file, &shown(), entry, DEP_FIELDS);
    }
    // A workspace folder itself: its manifest came with the request; only
    // its dependencies can name sources.
    if workspaces.iter().any(|w| w == location) {
        if entry.get("resolved").is_some() || entry.get("link").is_some() {
            return Err(folder("folder", location));
        }
        return check_dep_maps(sources, file, &shown(), entry, DEP_FIELDS);
    }
    // Dependencies npm nests in a workspace's own node_modules.
    let in_tree = workspaces
        .iter()
        .find_map(|w| location.strip_prefix(w.as_str())?.strip_prefix('/'))
        .unwrap_or(location);
    if !is_node_modules_location(in_tree) {
        return Err(folder("folder", location));
    }
    if entry.get("link").and_then(Value::as_bool) == Some(true) {
        let target = entry.get("resolved").and_then(Value::as_str).unwrap_or("");
        // The one link allowed: to a workspace folder the request carries.
        if workspaces.iter().any(|w| w == target) {
            return Ok(());
        }
        return Err(folder("linked folder", target));
    }
    match entry.get("resolved") {
        Some(resolved) => check_resolved(sources, file, &shown(), resolved)?,
        // Without `resolved` npm fetches `name@version` from the registry,
        // so the version must be a version, not a spec of another kind.
        None if entry.get("inBundle").and_then(Value::as_bool) == Some(true) => {}
        None => check_plain_version(file, &shown(), entry.get("version"))?,
    }
    check_dep_maps(sources, file, &shown(), entry, DEP_FIELDS)
}

fn check_plain_version(file: &str, at: &str, version: Option<&Value>) -> Result<(), Untrusted> {
    match version.and_then(Value::as_str) {
        Some(v) if is_plain_version(v) => Ok(()),
        Some(v) => Err(Untrusted::Kind {
            file: file.to_string(),
            at: at.to_string(),
            kind: classify_kind(v),
            spec: v.to_string(),
        }),
        None => Err(Untrusted::Setting {
            file: file.to_string(),
            at: at.to_string(),
            reason: "the entry has neither \"resolved\" nor \"version\"".to_string(),
        }),
    }
}

fn classify_kind(spec: &str) -> &'static str {
    match classify(spec) {
        Spec::Other(kind) => kind,
        Spec::Remote => "remote tarball",
        Spec::Registry => "non-registry",
    }
}

/// `1.2.3`, `1.2.3-rc.1`, `1.2.3+build`: what a registry package's version is.
fn is_plain_version(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b))
}

/// lockfileVersion 1 (and the mirror section of version 2): `version` is the
/// version for registry packages but the spec itself for the others.
fn check_v1_dependencies(
    sources: &TrustedSources,
    file: &str,
    at: &str,
    deps: &Value,
) -> Result<(), Untrusted> {
    let Some(deps) = deps.as_object() else {
        return Err(Untrusted::Unreadable {
            file: file.to_string(),
            reason: format!("{at} is not an object"),
        });
    };
    for (name, entry) in deps {
        let here = format!("{at} > {name}");
        let Some(fields) = entry.as_object() else {
            return Err(Untrusted::Unreadable {
                file: file.to_string(),
                reason: format!("{here} is not an object"),
            });
        };
        check_v1_version(sources, file, &here, fields)?;
        if let Some(resolved) = fields.get("resolved") {
            check_resolved(sources, file, &here, resolved)?;
        }
        // Version 1 nests whole entries under `dependencies`; specs are in
        // `requires`.
        check_dep_maps(sources, file, &here, entry, &["requires"])?;
        if let Some(nested) = fields.get("dependencies") {
            check_v1_dependencies(sources, file, &here, nested)?;
        }
    }
    Ok(())
}

fn check_v1_version(
    sources: &TrustedSources,
    file: &str,
    at: &str,
    fields: &Map<String, Value>,
) -> Result<(), Untrusted> {
    let version = fields.get("version");
    if let Some(v) = version.and_then(Value::as_str)
        && !is_plain_version(v)
    {
        let lower = v.to_ascii_lowercase();
        if let Some(target) = lower.strip_prefix("npm:") {
            let inner = alias_target(target);
            if inner.is_some_and(is_plain_version) {
                return Ok(());
            }
        }
        return check_spec(sources, file, at, v);
    }
    if fields.get("bundled").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    check_plain_version(file, at, version)
}
