//! The npm scopes a job fetches from its own registries (`private_scopes`
//! of a cache request): the client finds them in the registry lines it
//! strips from the job's config (`.npmrc` `@acme:registry=`, `.yarnrc`,
//! Berry `npmScopes`), the server validates them and, on a miss, refuses a
//! scope it has no registry for, so that the private names never reach its
//! default registry (docs/decisions.md, "Private scopes the server does not
//! have"). Names only: never a URL or a token.

use std::collections::{BTreeMap, BTreeSet};

/// More would be a request nobody writes by hand; the bound keeps the field
/// from being a way to make the server do work.
pub const MAX_PRIVATE_SCOPES: usize = 64;

/// Why a `private_scopes` list is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeListError {
    #[error(
        "private_scopes entry {shown:?} is not an npm scope: expected @ and a lower-case name \
such as @acme"
    )]
    NotAScope { shown: String },
    #[error("private_scopes names {scope} twice")]
    Duplicate { scope: String },
    #[error("private_scopes has {count} entries; at most {MAX_PRIVATE_SCOPES} are accepted")]
    TooMany { count: usize },
    #[error("private_scopes applies to npm, pnpm and yarn requests only")]
    NotNpmFamily,
}

/// `@` and an npm scope name: lower-case letters, digits and `-._~`, not
/// starting with `.` or `_`, at most 214 characters (npm's name limit).
pub fn is_scope(value: &str) -> bool {
    let Some(name) = value.strip_prefix('@') else {
        return false;
    };
    !name.is_empty()
        && value.len() <= 214
        && !name.starts_with(['.', '_'])
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
}

/// Checks a request's list; the sorted list on success.
pub fn check_private_scopes(scopes: &[String]) -> Result<Vec<String>, ScopeListError> {
    if scopes.len() > MAX_PRIVATE_SCOPES {
        return Err(ScopeListError::TooMany {
            count: scopes.len(),
        });
    }
    let mut seen = BTreeSet::new();
    for scope in scopes {
        if !is_scope(scope) {
            return Err(ScopeListError::NotAScope {
                shown: scope.chars().take(80).collect(),
            });
        }
        if !seen.insert(scope.clone()) {
            return Err(ScopeListError::Duplicate {
                scope: scope.clone(),
            });
        }
    }
    Ok(seen.into_iter().collect())
}

/// The scopes the job's config files (as read from the project, before
/// anything is stripped) map to a registry of their own.
pub fn job_scopes(files: &BTreeMap<String, Vec<u8>>) -> BTreeSet<String> {
    let mut scopes = BTreeSet::new();
    for (name, bytes) in files {
        let text = String::from_utf8_lossy(bytes);
        match name.as_str() {
            ".npmrc" | ".yarnrc" => {
                for line in text.lines() {
                    let line = line.trim();
                    // `.npmrc` is `key=value`; `.yarnrc` is `key value`,
                    // either side possibly quoted.
                    let key = line
                        .split(['=', ' ', '\t'])
                        .next()
                        .unwrap_or_default()
                        .trim_matches(['"', '\'']);
                    if let Some(scope) = key.strip_suffix(":registry")
                        && scope.starts_with('@')
                    {
                        scopes.insert(scope.to_string());
                    }
                }
            }
            ".yarnrc.yml" => {
                let doc: serde_yaml_ng::Value =
                    serde_yaml_ng::from_str(&text).unwrap_or(serde_yaml_ng::Value::Null);
                if let Some(map) = doc.get("npmScopes").and_then(|v| v.as_mapping()) {
                    for key in map.keys().filter_map(|k| k.as_str()) {
                        scopes.insert(format!("@{}", key.trim_start_matches('@')));
                    }
                }
            }
            _ => {}
        }
    }
    scopes
}

/// Of `scopes`, those a request's `files` fetch from: a package name
/// `@scope/...` appears in one of them (a lockfile, a manifest). A scope the
/// job maps but does not use is no one's business. Names that are not npm
/// scopes are left out (npm refuses to publish them).
pub fn used_scopes(scopes: &BTreeSet<String>, files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    scopes
        .iter()
        .filter(|s| is_scope(s))
        .filter(|s| {
            let needle = format!("{s}/");
            files
                .values()
                .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn scopes_come_from_registry_lines_only() {
        let found = job_scopes(&files(&[
            (
                ".npmrc",
                "@acme:registry=https://npm.acme.example/\n//npm.acme.example/:_authToken=x\n\
registry=https://mirror.example/\n",
            ),
            (".yarnrc", "\"@corp:registry\" \"https://corp.example/\"\n"),
            (
                ".yarnrc.yml",
                "npmScopes:\n  team:\n    npmRegistryServer: \"https://t.example\"\n",
            ),
            ("package.json", "{\"@fake:registry\": 1}"),
        ]));
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["@acme", "@corp", "@team"]
        );
    }

    #[test]
    fn only_scopes_the_files_use_are_sent() {
        let scopes = BTreeSet::from(["@acme".to_string(), "@elsewhere".to_string()]);
        let sent = files(&[("pnpm-lock.yaml", "  '@acme/secret@1.0.0':\n")]);
        assert_eq!(used_scopes(&scopes, &sent), ["@acme"]);
    }

    #[test]
    fn garbage_lists_are_refused() {
        let bad = |list: &[&str]| {
            check_private_scopes(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap_err()
        };
        assert!(matches!(bad(&["acme"]), ScopeListError::NotAScope { .. }));
        assert!(matches!(bad(&["@"]), ScopeListError::NotAScope { .. }));
        assert!(matches!(bad(&["@Acme"]), ScopeListError::NotAScope { .. }));
        assert!(matches!(bad(&["@a/b"]), ScopeListError::NotAScope { .. }));
        assert!(matches!(
            bad(&["@a", "@a"]),
            ScopeListError::Duplicate { .. }
        ));
        let many: Vec<String> = (0..=MAX_PRIVATE_SCOPES).map(|i| format!("@s{i}")).collect();
        assert!(matches!(
            check_private_scopes(&many),
            Err(ScopeListError::TooMany { .. })
        ));
        assert_eq!(
            check_private_scopes(&["@b".into(), "@a".into()]).unwrap(),
            ["@a", "@b"]
        );
    }
}
