//! The job's config lines left out of a request's key, each with its
//! reason: what `hash --explain` prints as `dropped` and `hash --json`
//! lists (docs/client.md). Names only, never values.

use std::collections::BTreeMap;
use std::path::Path;

use crate::protocol::Manager;

/// The settings of the project's `.npmrc` (for yarn, its config files)
/// that are not in the key, one
/// sentence each with its line (for `hash --explain`), as
/// `protocol::check_npmrc` sorts them: for pnpm the lines it did not keep
/// (credentials and registries stay in the job, other non-layout settings
/// do not change the tree, a path or `${ENV}` line makes `fetch` install
/// locally); for npm every line, since npm requests carry no `.npmrc`; for
/// yarn the registry and credential lines `load_project` takes out.
/// Values are never shown: one may be a secret.
pub fn config_not_in_key(manager: Manager, dir: &Path) -> Vec<NotInKey> {
    use crate::protocol::RefusedKind;
    if manager == Manager::Yarn {
        return yarn_config_not_in_key(dir);
    }
    if !matches!(manager, Manager::Npm | Manager::Pnpm) {
        return Vec::new();
    }
    let path = dir.join(".npmrc");
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return Vec::new();
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<(usize, String, &str)> = Vec::new();
    if manager == Manager::Npm {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let key = line.split_once('=').map_or(line, |(k, _)| k).trim();
            let key = key.chars().take(80).collect();
            lines.push((i + 1, key, "not sent: npm requests carry no .npmrc"));
        }
    } else {
        let check = crate::protocol::check_npmrc(&text);
        for r in &check.refused {
            let why = match r.kind {
                RefusedKind::Credential => "not sent: a credential stays in the job",
                RefusedKind::Registry => {
                    "not sent: the lockfile pins every package whichever registry serves it"
                }
                RefusedKind::Path | RefusedKind::Environment => {
                    "refused by the server: fetch installs in the job instead"
                }
            };
            lines.push((r.line, r.key.clone(), why));
        }
        for d in &check.dropped {
            lines.push((
                d.line,
                d.key.clone(),
                "not sent: not a node_modules layout setting",
            ));
        }
    }
    lines.sort();
    lines
        .into_iter()
        .map(|(line, key, reason)| NotInKey {
            file: ".npmrc",
            line,
            key,
            reason,
        })
        .collect()
}

/// A yarn project's config lines `load_project` takes out
/// (`protocol::strip_yarn_config`).
fn yarn_config_not_in_key(dir: &Path) -> Vec<NotInKey> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for name in [".npmrc", ".yarnrc", ".yarnrc.yml"] {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            && let Ok(bytes) = std::fs::read(&path)
        {
            files.insert(name.to_string(), bytes);
        }
    }
    crate::protocol::strip_yarn_config(&mut files)
        .into_iter()
        .map(|s| NotInKey {
            file: s.file,
            line: s.line,
            key: s.key.chars().take(80).collect(),
            reason: match s.kind {
                crate::protocol::StrippedKind::Credential => {
                    "not sent: a credential stays in the job"
                }
                crate::protocol::StrippedKind::Registry => {
                    "not sent: the lockfile pins every package whichever registry serves it"
                }
            },
        })
        .collect()
}

/// One config line left out of the key: `hash --explain` prints it,
/// `hash --json` lists its fields (`dropped`, docs/client.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotInKey {
    pub file: &'static str,
    /// 1-based.
    pub line: usize,
    /// The setting's name (at most 80 characters), never its value.
    pub key: String,
    pub reason: &'static str,
}

impl std::fmt::Display for NotInKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let NotInKey {
            file,
            line,
            key,
            reason,
        } = self;
        write!(f, "{file} line {line} ({key}): {reason}")
    }
}
