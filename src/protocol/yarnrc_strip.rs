//! The job's own registry and credential lines in a yarn project's config
//! files, taken out by the client before a request is made, as pnpm's
//! `.npmrc` ones are (docs/decisions.md, "Yarn projects' own registry
//! lines"). They say where the job fetches from and with what secret, which
//! the server decides for itself; the lockfile pins what is fetched (classic
//! `resolved` URLs with their hashes, whose hosts the server's trust check
//! still holds to its registries; Berry checksums). Everything else in the
//! files is sent byte for byte, and the server still refuses these lines
//! when a raw request carries them (`check_yarn_config`).

use std::collections::BTreeMap;

use super::yarn::YarnConfigError;
use super::yarnrc::{BERRY_CREDENTIALS, BERRY_SOURCES, check_classic_line, strip_comment};

// Taken out with their whole block: the secrets and the sources `yarnrc`
// refuses in a request. Not among them, so still refused: the settings that
// change what is installed (`packageExtensions`, `plugins`, `enableNetwork`,
// offline mode) and paths.

/// What a stripped line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrippedKind {
    Credential,
    Registry,
}

/// One line (for Berry, one top-level setting with its block) taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrippedLine {
    pub file: &'static str,
    /// 1-based; a Berry block's first line.
    pub line: usize,
    /// The setting's name, never its value.
    pub key: String,
    pub kind: StrippedKind,
}

/// Takes the job's registry and credential lines out of the yarn config
/// files in `files`, in place; returns what was taken, in file and line
/// order. A file is only rewritten when something was taken (so a project
/// without such lines keeps its key), and left out altogether when nothing
/// but blank lines and comments remains.
pub fn strip_yarn_config(files: &mut BTreeMap<String, Vec<u8>>) -> Vec<StrippedLine> {
    let mut taken = Vec::new();
    for file in [".npmrc", ".yarnrc", ".yarnrc.yml"] {
        let Some(bytes) = files.get(file) else {
            continue;
        };
        let (kept, stripped) = if file == ".yarnrc.yml" {
            strip_berry(bytes)
        } else {
            strip_classic(file, bytes)
        };
        if stripped.is_empty() {
            continue;
        }
        taken.extend(stripped);
        if has_settings(&kept, file) {
            files.insert(file.to_string(), kept);
        } else {
            files.remove(file);
        }
    }
    taken
}

/// `.yarnrc` / `.npmrc`, line by line as `check_yarn_config` reads them
/// (bytes kept as they are: only whole lines go).
fn strip_classic(file: &'static str, bytes: &[u8]) -> (Vec<u8>, Vec<StrippedLine>) {
    let mut kept = Vec::with_capacity(bytes.len());
    let mut stripped = Vec::new();
    for (i, raw) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches(['\n', '\r']);
        let (kind, key) = match check_classic_line(file, i + 1, text) {
            Err(YarnConfigError::Credential { key, .. }) => (StrippedKind::Credential, key),
            Err(YarnConfigError::Registry { key, .. }) => (StrippedKind::Registry, key),
            _ => {
                kept.extend_from_slice(raw);
                continue;
            }
        };
        stripped.push(StrippedLine {
            file,
            line: i + 1,
            key,
            kind,
        });
    }
    (kept, stripped)
}

/// `.yarnrc.yml`: a top-level key of the two lists goes with everything
/// below it up to the next top-level setting (nested lines, block scalars,
/// and the blank lines and comments in between). A file that is not UTF-8
/// is left as it is, for `check_yarn_config` to refuse.
fn strip_berry(bytes: &[u8]) -> (Vec<u8>, Vec<StrippedLine>) {
    const FILE: &str = ".yarnrc.yml";
    let Ok(text) = std::str::from_utf8(bytes) else {
        return (bytes.to_vec(), Vec::new());
    };
    let mut kept = String::with_capacity(text.len());
    let mut stripped = Vec::new();
    let mut skipping = false;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line = raw.trim_end_matches(['\n', '\r']);
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        let content = strip_comment(line);
        let top_level = !content.trim().is_empty()
            && !content.starts_with([' ', '\t', '-'])
            && line.trim() != "---";
        if top_level {
            let key = content
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .trim_matches(['"', '\'']);
            let kind = if BERRY_CREDENTIALS.contains(&key) {
                Some(StrippedKind::Credential)
            } else if BERRY_SOURCES.contains(&key) {
                Some(StrippedKind::Registry)
            } else {
                None
            };
            skipping = kind.is_some();
            if let Some(kind) = kind {
                stripped.push(StrippedLine {
                    file: FILE,
                    line: i + 1,
                    key: key.to_string(),
                    kind,
                });
            }
        }
        if !skipping {
            kept.push_str(raw);
        }
    }
    (kept.into_bytes(), stripped)
}

/// Whether anything but blank lines and comments is left.
fn has_settings(bytes: &[u8], file: &str) -> bool {
    String::from_utf8_lossy(bytes).lines().any(|l| {
        let l = l.trim().trim_start_matches('\u{feff}');
        let comment = if file == ".yarnrc.yml" {
            l.starts_with('#') || l == "---"
        } else {
            l.starts_with('#') || l.starts_with(';')
        };
        !l.is_empty() && !comment
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::check_yarn_config;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    fn text(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Option<String> {
        files
            .get(name)
            .map(|b| String::from_utf8(b.clone()).unwrap())
    }

    #[test]
    fn berry_loses_its_registry_and_credential_blocks_and_keeps_the_rest_byte_for_byte() {
        let rc = concat!(
            "# the job's settings\n",
            "nodeLinker: node-modules\n",
            "npmRegistryServer: \"https://npm.corp.example\"\n",
            "npmScopes:\n",
            "  corp:\n",
            "    npmRegistryServer: \"https://npm.corp.example\"\n",
            "\n",
            "    npmAuthToken: \"${NPM_TOKEN}\"\n",
            "\"npmAuthToken\": >\n",
            "  s3cret\n",
            "enableTelemetry: false  # quiet\n",
            "unsafeHttpWhitelist:\n",
            "  - npm.corp.example\n",
            "compressionLevel: 0\n",
        );
        let mut f = files(&[(".yarnrc.yml", rc), ("yarn.lock", "__metadata:\n")]);
        let taken = strip_yarn_config(&mut f);
        let seen: Vec<(usize, &str, StrippedKind)> = taken
            .iter()
            .map(|t| (t.line, t.key.as_str(), t.kind))
            .collect();
        assert_eq!(
            seen,
            [
                (3, "npmRegistryServer", StrippedKind::Registry),
                (4, "npmScopes", StrippedKind::Registry),
                (9, "npmAuthToken", StrippedKind::Credential),
                (12, "unsafeHttpWhitelist", StrippedKind::Registry),
            ]
        );
        assert_eq!(
            text(&f, ".yarnrc.yml").unwrap(),
            concat!(
                "# the job's settings\n",
                "nodeLinker: node-modules\n",
                "enableTelemetry: false  # quiet\n",
                "compressionLevel: 0\n",
            )
        );
        // What is left is what the server accepts.
        let settings = check_yarn_config(&f, Some("4.1.0")).unwrap();
        assert_eq!(settings.node_linker.as_deref(), Some("node-modules"));
    }

    #[test]
    fn what_changes_the_install_stays_and_is_still_refused() {
        let rc = "npmAuthToken: x\npackageExtensions:\n  a@*:\n    dependencies: {b: 1}\n";
        let mut f = files(&[(".yarnrc.yml", rc), ("yarn.lock", "__metadata:\n")]);
        strip_yarn_config(&mut f);
        assert_eq!(
            text(&f, ".yarnrc.yml").unwrap(),
            "packageExtensions:\n  a@*:\n    dependencies: {b: 1}\n"
        );
        assert!(matches!(
            check_yarn_config(&f, Some("4.1.0")).unwrap_err(),
            YarnConfigError::Registry { line: 1, .. }
        ));
    }

    #[test]
    fn classic_files_lose_whole_lines_and_go_when_nothing_is_left() {
        let npmrc = "registry=https://npm.corp.example/\r\n# c\n@corp:registry=https://x/\n\
//npm.corp.example/:_authToken=${NPM_TOKEN}\nsave-exact=true\nhttps-proxy=http://p:3128\n";
        let yarnrc = "registry \"https://npm.corp.example/\"\n; only that\n";
        let mut f = files(&[
            (".npmrc", npmrc),
            (".yarnrc", yarnrc),
            ("yarn.lock", "# yarn lockfile v1\n"),
        ]);
        let taken = strip_yarn_config(&mut f);
        let seen: Vec<(&str, usize, &str)> = taken
            .iter()
            .map(|t| (t.file, t.line, t.key.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (".npmrc", 1, "registry"),
                (".npmrc", 3, "@corp:registry"),
                (".npmrc", 4, "//npm.corp.example/:_authToken"),
                (".npmrc", 6, "https-proxy"),
                (".yarnrc", 1, "registry"),
            ]
        );
        assert_eq!(text(&f, ".npmrc").unwrap(), "# c\nsave-exact=true\n");
        assert!(!f.contains_key(".yarnrc"), "only a comment was left");
        assert!(check_yarn_config(&f, Some("1.22.22")).is_ok());
    }

    #[test]
    fn files_without_such_lines_are_not_touched() {
        let originals = files(&[
            (
                ".npmrc",
                "save-exact=true\n# registry=https://commented.out/\n",
            ),
            (
                ".yarnrc.yml",
                "\u{feff}nodeLinker: pnp\r\ncacheFolder: ../x\n",
            ),
            (".yarnrc", "# only a comment\n"),
        ]);
        let mut f = originals.clone();
        assert!(strip_yarn_config(&mut f).is_empty());
        assert_eq!(f, originals);
    }
}
