//! yarn's inputs: package.json (as npm's, plus yarn's `resolutions`), the
//! classic lockfile (its entry specs and `resolved` URLs, which yarn fetches
//! as written) and Berry's YAML lockfile (each `resolution`, which must be an
//! `npm:` registry version: Berry fetches those from the registry the server
//! sets, and anything else — git, `patch:`, `file:`, `exec:`, URLs — is
//! refused).

use std::collections::BTreeMap;

use serde_json::Value;

use super::npm::{Spec, check_manifest, check_spec, classify};
use super::{NPM_DEFAULT_REGISTRY, TrustedSources, Untrusted, check_url, parse_json};
use crate::protocol::{YarnFlavor, yarn_flavor};

/// The hosts yarn classic lockfiles name by default.
const YARN_DEFAULT_HOSTS: &[&str] = &[NPM_DEFAULT_REGISTRY, "registry.yarnpkg.com"];

pub(super) fn check(
    sources: &TrustedSources,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), Untrusted> {
    if let Some(bytes) = files.get("package.json") {
        let doc = parse_json("package.json", bytes)?;
        check_manifest(sources, "package.json", &doc, false)?;
        if let Some(map) = doc.get("resolutions").and_then(Value::as_object) {
            for (name, spec) in map {
                let at = format!("resolutions > {name}");
                match spec.as_str() {
                    Some(spec) => check_spec(sources, "package.json", &at, spec)?,
                    None => {
                        return Err(Untrusted::Setting {
                            file: "package.json".to_string(),
                            at,
                            reason: "a resolution must be a string".to_string(),
                        });
                    }
                }
            }
        }
    }
    if let Some(lock) = files.get("yarn.lock") {
        match yarn_flavor(lock) {
            YarnFlavor::Classic => check_classic(sources, lock)?,
            YarnFlavor::Berry => check_berry(lock)?,
        }
    }
    Ok(())
}

/// Entry headers (`"a@^1", a@~1.2:`) and `resolved "URL#sha"` lines.
fn check_classic(sources: &TrustedSources, lock: &[u8]) -> Result<(), Untrusted> {
    const FILE: &str = "yarn.lock";
    let text = String::from_utf8_lossy(lock);
    for (i, line) in text.lines().enumerate() {
        let at = || format!("line {}", i + 1);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let header = line.trim_end().trim_end_matches(':');
            for descriptor in header.split(", ") {
                let descriptor = descriptor.trim_matches('"');
                // The name's own `@` (a scope) is at 0.
                let spec = match descriptor[1.min(descriptor.len())..].find('@') {
                    Some(j) => &descriptor[j + 2..],
                    None => "",
                };
                check_spec(sources, FILE, &at(), spec)?;
            }
            continue;
        }
        if let Some(rest) = line.trim_start().strip_prefix("resolved ") {
            let url = rest.trim().trim_matches('"');
            let url = url.split('#').next().unwrap_or(url);
            if let Spec::Other(kind) = classify(url) {
                return Err(Untrusted::Kind {
                    file: FILE.to_string(),
                    at: at(),
                    kind,
                    spec: url.to_string(),
                });
            }
            check_url(sources, FILE, at, url, YARN_DEFAULT_HOSTS, true)?;
        }
    }
    Ok(())
}

/// Every entry's `resolution` is `name@npm:VERSION`, or the project itself
/// (`name@workspace:.`).
fn check_berry(lock: &[u8]) -> Result<(), Untrusted> {
    const FILE: &str = "yarn.lock";
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(lock).map_err(|e| Untrusted::Unreadable {
            file: FILE.to_string(),
            reason: format!("it is not YAML depcache can read ({e})"),
        })?;
    let Some(entries) = doc.as_mapping() else {
        return Err(Untrusted::Unreadable {
            file: FILE.to_string(),
            reason: "it is not a YAML mapping".to_string(),
        });
    };
    for (key, entry) in entries {
        let key = key.as_str().unwrap_or_default();
        if key == "__metadata" {
            continue;
        }
        let resolution = entry
            .get("resolution")
            .and_then(|r| r.as_str())
            .unwrap_or_default();
        let at = format!("{key:?}");
        let protocol_part = match resolution[1.min(resolution.len())..].find('@') {
            Some(j) => &resolution[j + 2..],
            None => "",
        };
        if protocol_part == "workspace:." {
            continue;
        }
        let plain = protocol_part.strip_prefix("npm:").is_some_and(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
        });
        if !plain {
            let kind = match protocol_part.split(':').next().unwrap_or_default() {
                "patch" => "patch",
                "workspace" | "portal" | "link" => "linked folder",
                "file" => "file",
                "exec" => "exec",
                "git" | "git+ssh" | "git+https" | "github" => "git",
                "http" | "https" => "remote tarball",
                _ => "non-registry",
            };
            return Err(Untrusted::Kind {
                file: FILE.to_string(),
                at,
                kind,
                spec: resolution.to_string(),
            });
        }
    }
    Ok(())
}
