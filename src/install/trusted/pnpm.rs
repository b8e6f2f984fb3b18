//! pnpm's inputs: package.json dependency specs (classified as npm does)
//! and `pnpm-lock.yaml`, whose `packages` entries say where each package
//! comes from in `resolution`: an `integrity` alone is a registry package
//! (fetched from the configured registry), a `tarball` URL must be on a
//! trusted origin, and git (`type: git`, `repo`, `commit`) or folder
//! (`directory`) resolutions are refused like npm's.

use std::collections::BTreeMap;

use serde_json::Value;

use super::npm::{Spec, classify};
use super::{NPM_DEFAULT_REGISTRY, TrustedSources, Untrusted, check_url};

const DEP_FIELDS: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

pub(super) fn check(
    sources: &TrustedSources,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), Untrusted> {
    let workspaces = !crate::protocol::workspace_folders(files).is_empty();
    let manifests = files
        .iter()
        .filter(|(name, _)| *name == "package.json" || name.ends_with("/package.json"));
    for (file, bytes) in manifests {
        let manifest = super::parse_json(file, bytes)?;
        for field in DEP_FIELDS {
            let Some(deps) = manifest[field].as_object() else {
                continue;
            };
            for (name, spec) in deps {
                let spec = spec.as_str().unwrap_or("");
                let at = || format!("{field}.{name}");
                // Resolved to a workspace folder; its link is checked when
                // the tree is stored.
                if workspaces && spec.starts_with("workspace:") {
                    continue;
                }
                match classify(spec) {
                    Spec::Registry => {}
                    Spec::Remote => {
                        check_url(sources, file, at, spec, &[NPM_DEFAULT_REGISTRY], true)?
                    }
                    Spec::Other(kind) => {
                        return Err(Untrusted::Kind {
                            file: file.clone(),
                            at: at(),
                            kind,
                            spec: spec.to_string(),
                        });
                    }
                }
            }
        }
    }
    let Some(bytes) = files.get("pnpm-lock.yaml") else {
        return Ok(());
    };
    let file = "pnpm-lock.yaml";
    let lock: Value = serde_yaml_ng::from_slice(bytes).map_err(|e| Untrusted::Unreadable {
        file: file.to_string(),
        reason: format!("it is not YAML depcache can read ({e})"),
    })?;
    let Some(packages) = lock["packages"].as_object() else {
        return Ok(());
    };
    for (id, entry) in packages {
        let resolution = &entry["resolution"];
        let at = || format!("packages.{id}.resolution");
        let kind = if resolution["type"].as_str() == Some("git")
            || resolution.get("repo").is_some()
            || resolution.get("commit").is_some()
        {
            Some("git")
        } else if resolution.get("directory").is_some() {
            Some("folder")
        } else if resolution["type"].is_string() {
            Some("non-registry")
        } else {
            None
        };
        if let Some(kind) = kind {
            return Err(Untrusted::Kind {
                file: file.to_string(),
                at: at(),
                kind,
                spec: id.clone(),
            });
        }
        if let Some(url) = resolution.get("tarball") {
            let url = url.as_str().unwrap_or("");
            check_url(sources, file, at, url, &[NPM_DEFAULT_REGISTRY], true)?;
        }
    }
    Ok(())
}
