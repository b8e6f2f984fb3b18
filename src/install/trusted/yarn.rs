//! yarn's inputs: package.json (as npm's, plus yarn's `resolutions`), the
//! classic lockfile (its entry specs and `resolved` URLs, which yarn fetches
//! as written) and Berry's YAML lockfile (each `resolution`, which must be an
//! `npm:` registry version: Berry fetches those from the registry the server
//! sets, and anything else — git, `patch:`, `file:`, `exec:`, URLs — is
//! refused, but for the compat patches built into Yarn itself).

use std::collections::BTreeMap;

use serde_json::Value;

use super::npm::{Spec, check_manifest, check_spec, classify};
use super::{NPM_DEFAULT_REGISTRY, TrustedSources, Untrusted, check_url, parse_json};
use crate::protocol::{YarnFlavor, workspace_folders, yarn_flavor};

/// The hosts yarn classic lockfiles name by default.
const YARN_DEFAULT_HOSTS: &[&str] = &[NPM_DEFAULT_REGISTRY, "registry.yarnpkg.com"];

pub(super) fn check(
    sources: &TrustedSources,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), Untrusted> {
    // Their shape (globs, count, depth, Berry's record of them) was checked
    // before this: here they are what `workspace:` may point at.
    let workspaces = workspace_folders(files);
    for folder in &workspaces {
        let file = format!("{folder}/package.json");
        if let Some(bytes) = files.get(&file) {
            let doc = without_workspace_specs(parse_json(&file, bytes)?);
            check_manifest(sources, &file, &doc, false)?;
        }
    }
    if let Some(bytes) = files.get("package.json") {
        let doc = parse_json("package.json", bytes)?;
        let doc = if workspaces.is_empty() {
            doc
        } else {
            without_workspace_specs(doc)
        };
        check_manifest(sources, "package.json", &doc, !workspaces.is_empty())?;
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
            YarnFlavor::Berry => check_berry(lock, &workspaces)?,
        }
    }
    Ok(())
}

/// Berry's `workspace:` specs (`workspace:^`, `workspace:packages/a`) left
/// out: they name the request's own workspaces, which Berry links, and the
/// lockfile check holds their resolutions to the folders sent.
fn without_workspace_specs(mut doc: Value) -> Value {
    for field in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        if let Some(map) = doc.get_mut(field).and_then(Value::as_object_mut) {
            map.retain(|_, spec| !spec.as_str().is_some_and(|s| s.starts_with("workspace:")));
        }
    }
    doc
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
fn check_berry(lock: &[u8], workspaces: &[String]) -> Result<(), Untrusted> {
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
        let workspace = protocol_part.strip_prefix("workspace:");
        if workspace.is_some_and(|f| f == "." || workspaces.iter().any(|w| w == f)) {
            continue;
        }
        let plain = protocol_part
            .strip_prefix("npm:")
            .is_some_and(plain_version);
        if !plain && !builtin_compat_patch(protocol_part) {
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

fn plain_version(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}

/// `patch:NAME@npm%3AVERSION#optional!builtin<compat/X>::version=V&hash=H`:
/// a registry version with one of the patches compiled into Yarn itself
/// (fsevents, resolve, typescript), which Berry adds to every lockfile that
/// has those packages. The patch text is the yarn version's own (in the
/// key), the package comes from the registry: nothing the request names.
/// Any other patch (a file in the project, a patch of a non-registry
/// source, an unknown parameter) stays refused.
fn builtin_compat_patch(protocol_part: &str) -> bool {
    let Some((source, rest)) = protocol_part
        .strip_prefix("patch:")
        .and_then(|r| r.split_once('#'))
    else {
        return false;
    };
    let inner = match source[1.min(source.len())..].find('@') {
        Some(j) => &source[j + 2..],
        None => return false,
    };
    let registry = inner.strip_prefix("npm%3A").is_some_and(plain_version);
    let (patches, params) = rest.split_once("::").unwrap_or((rest, ""));
    let builtin = patches.split('&').all(|p| {
        p.strip_prefix("optional!")
            .unwrap_or(p)
            .strip_prefix("builtin<compat/")
            .and_then(|n| n.strip_suffix('>'))
            .is_some_and(|n| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    });
    let known_params =
        params
            .split('&')
            .filter(|p| !p.is_empty())
            .all(|p| match p.split_once('=') {
                Some(("version", v)) => plain_version(v),
                Some(("hash", h)) => !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric()),
                _ => false,
            });
    registry && builtin && known_params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_files(pairs: &[(&str, &str)]) -> Result<(), Untrusted> {
        let sources = TrustedSources::new(Some("http://127.0.0.1:4873/"), vec![], &[]).unwrap();
        let files = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        check(&sources, &files)
    }

    #[test]
    fn workspaces_may_be_linked_and_nothing_else() {
        let lock = "__metadata:\n  version: 8\n\n\"a@workspace:packages/a\":\n  resolution: \"a@workspace:packages/a\"\n";
        let root = r#"{"workspaces":["packages/*"],"dependencies":{"a":"workspace:^"}}"#;
        let member = r#"{"name":"a","dependencies":{"b":"workspace:*"}}"#;
        assert!(
            check_files(&[
                ("package.json", root),
                ("packages/a/package.json", member),
                ("yarn.lock", lock),
            ])
            .is_ok()
        );
        // Without the workspace sent, its link is a folder like any other.
        assert!(check_files(&[("yarn.lock", lock)]).is_err());
        assert!(check_files(&[("package.json", root)]).is_err());
    }

    const CLASSIC_OK: &str = "# yarn lockfile v1\n\n\n\"@dc/a@^1.0.0\", \"@dc/a@~1.0\":\n  version \"1.0.0\"\n  resolved \"http://127.0.0.1:4873/@dc/a/-/a-1.0.0.tgz#abc\"\n\nb@1.0.0:\n  version \"1.0.0\"\n  resolved \"https://registry.yarnpkg.com/b/-/b-1.0.0.tgz#def\"\n";

    #[test]
    fn classic_lockfiles() {
        assert!(check_files(&[("yarn.lock", CLASSIC_OK)]).is_ok());
        let evil = CLASSIC_OK.replace("127.0.0.1:4873", "evil.example");
        let err = check_files(&[("yarn.lock", &evil)]).unwrap_err();
        assert!(
            matches!(err, Untrusted::Host { ref at, .. } if at == "line 6"),
            "{err}"
        );
        let git = "# yarn lockfile v1\n\nx@git+https://github.com/a/b.git:\n  version \"1.0.0\"\n";
        assert!(matches!(
            check_files(&[("yarn.lock", git)]).unwrap_err(),
            Untrusted::Kind { kind: "git", .. }
        ));
        let file = "# yarn lockfile v1\n\nx@1.0.0:\n  resolved \"file:../x.tgz\"\n";
        assert!(check_files(&[("yarn.lock", file)]).is_err());
    }

    #[test]
    fn berry_lockfiles() {
        let ok = "__metadata:\n  version: 8\n\n\"a@npm:^1.0.0, a@npm:1.0.0\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n\n\"@s/b@npm:2\":\n  resolution: \"@s/b@npm:2.0.0\"\n\n\"root@workspace:.\":\n  resolution: \"root@workspace:.\"\n";
        assert!(check_files(&[("yarn.lock", ok)]).is_ok());
        // Yarn's own compat patches, as Berry 4 writes them.
        let builtin = "__metadata:\n  version: 8\n\n\"fsevents@patch:fsevents@npm%3A^2.3.2#optional!builtin<compat/fsevents>\":\n  resolution: \"fsevents@patch:fsevents@npm%3A2.3.3#optional!builtin<compat/fsevents>::version=2.3.3&hash=df0bf1\"\n\n\"@s/typescript@patch:@s/typescript@npm%3A5#builtin<compat/typescript>\":\n  resolution: \"@s/typescript@patch:@s/typescript@npm%3A5.9.3#builtin<compat/typescript>::version=5.9.3&hash=5786d5\"\n";
        assert!(
            check_files(&[("yarn.lock", builtin)]).is_ok(),
            "{:?}",
            check_files(&[("yarn.lock", builtin)])
        );
        for (resolution, kind) in [
            ("x@https://evil.example/x.tgz", "remote tarball"),
            ("x@patch:x@npm%3A1.0.0#./p.patch::version=1.0.0", "patch"),
            (
                "x@patch:x@file%3A../x#optional!builtin<compat/x>::version=1.0.0&hash=a1",
                "patch",
            ),
            (
                "x@patch:x@npm%3A1.0.0#optional!builtin<compat/x>&./p.patch::version=1.0.0",
                "patch",
            ),
            (
                "x@patch:x@npm%3A1.0.0#optional!builtin<compat/x>::locator=evil%40file%3A..",
                "patch",
            ),
            ("x@file:../x", "file"),
            ("x@exec:./gen.js", "exec"),
            ("x@workspace:packages/x", "linked folder"),
        ] {
            let lock = format!(
                "__metadata:\n  version: 8\n\n\"x@any\":\n  resolution: \"{resolution}\"\n"
            );
            let err = check_files(&[("yarn.lock", &lock)]).unwrap_err();
            assert!(
                matches!(err, Untrusted::Kind { kind: k, .. } if k == kind),
                "{resolution}: {err}"
            );
        }
    }

    #[test]
    fn manifest_resolutions() {
        let manifest = r#"{"resolutions":{"a":"git+https://github.com/a/a.git"}}"#;
        assert!(check_files(&[("package.json", manifest)]).is_err());
        let fine = r#"{"dependencies":{"a":"^1"},"resolutions":{"a":"1.0.0"}}"#;
        assert!(check_files(&[("package.json", fine)]).is_ok());
    }
}
