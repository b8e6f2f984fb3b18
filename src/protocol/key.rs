//! The cache key: sha256 over a length-prefixed encoding of everything that
//! decides the installed tree. `docs/protocol.md` gives the recipe byte for byte.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{InstallOptions, Key, Manager};

/// First field of every encoding; a new recipe gets a new tag, so keys of
/// different recipes can never collide.
pub const KEY_RECIPE_TAG: &str = "depcache-key-v1";

/// Everything the key covers, borrowed from a request or from local files.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    pub manager: Manager,
    pub versions: &'a BTreeMap<String, String>,
    pub platform: Option<&'a str>,
    pub options: Option<&'a InstallOptions>,
    pub files: &'a BTreeMap<String, Vec<u8>>,
}

/// Lowercase hex sha256 of the encoding: the key as the wire spells it.
pub fn compute_key(input: KeyInput<'_>) -> String {
    key_of(input).to_string()
}

/// The key of `input`, as a [`Key`]: what a request carries once built or
/// checked.
pub fn key_of(input: KeyInput<'_>) -> Key {
    let mut enc = Encoder(Sha256::new());
    enc.field(KEY_RECIPE_TAG.as_bytes());
    enc.field(input.manager.name().as_bytes());
    enc.count(input.versions.len());
    for (name, value) in input.versions {
        enc.field(name.as_bytes());
        enc.field(value.as_bytes());
    }
    match input.platform {
        None => enc.0.update([0u8]),
        Some(p) => {
            enc.0.update([1u8]);
            enc.field(p.as_bytes());
        }
    }
    match input.options {
        None => enc.0.update([0u8]),
        Some(options) => {
            enc.0.update([1u8]);
            let pairs = options.canonical_pairs();
            enc.count(pairs.len());
            for (name, value) in pairs {
                enc.field(name.as_bytes());
                enc.field(value.as_bytes());
            }
        }
    }
    enc.count(input.files.len());
    for (name, content) in input.files {
        enc.field(name.as_bytes());
        enc.field(content);
    }
    Key::from_bytes(enc.0.finalize().into())
}

struct Encoder(Sha256);

impl Encoder {
    fn count(&mut self, n: usize) {
        self.0.update((n as u64).to_be_bytes());
    }

    fn field(&mut self, bytes: &[u8]) {
        self.count(bytes.len());
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npm_input<'a>(
        versions: &'a BTreeMap<String, String>,
        files: &'a BTreeMap<String, Vec<u8>>,
    ) -> KeyInput<'a> {
        KeyInput {
            manager: Manager::Npm,
            versions,
            platform: None,
            options: None,
            files,
        }
    }

    fn map(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect()
    }

    fn versions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The test vectors of docs/protocol.md: a change to the recipe breaks them.
    #[test]
    fn documented_vectors() {
        let v = versions(&[("node", "20.20.2"), ("npm", "11.19.1")]);
        let f = map(&[("package.json", b"{}"), ("package-lock.json", b"{}")]);
        assert_eq!(
            compute_key(npm_input(&v, &f)),
            "3c9a259899eed4e4950612898f0ea42265ee634f55fd94bc62cf4aea8a30fb3b"
        );
        let opts = InstallOptions {
            omit_dev: Some(true),
            build_scripts: None,
        };
        let v2 = versions(&[("php", "8.2.36")]);
        let f2 = map(&[("composer.json", b"{\"require\":{}}\n")]);
        let input = KeyInput {
            manager: Manager::Composer,
            versions: &v2,
            platform: Some("linux-x64-glibc"),
            options: Some(&opts),
            files: &f2,
        };
        assert_eq!(
            compute_key(input),
            "1b5299d0cec95752d30ae132d49c4f84c2ef15a25b6960b7c5f813fb79df5dee"
        );
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_key() {
        let v = versions(&[("node", "20"), ("npm", "1")]);
        let a = map(&[("package.json", b"ab")]);
        let b = map(&[("package.jso", b"nab")]);
        assert_ne!(
            compute_key(npm_input(&v, &a)),
            compute_key(npm_input(&v, &b))
        );
        let v2 = versions(&[("node", "2"), ("npm", "01")]);
        assert_ne!(
            compute_key(npm_input(&v, &a)),
            compute_key(npm_input(&v2, &a))
        );
    }

    #[test]
    fn platform_and_options_are_part_of_the_key() {
        let v = versions(&[("node", "20"), ("npm", "1")]);
        let f = map(&[("package.json", b"{}")]);
        let base = compute_key(npm_input(&v, &f));
        let with_platform = compute_key(KeyInput {
            platform: Some("linux-x64-glibc"),
            ..npm_input(&v, &f)
        });
        let omit = InstallOptions {
            omit_dev: Some(true),
            build_scripts: None,
        };
        let with_options = compute_key(KeyInput {
            options: Some(&omit),
            ..npm_input(&v, &f)
        });
        let built = InstallOptions {
            omit_dev: None,
            build_scripts: Some(true),
        };
        let with_built = compute_key(KeyInput {
            options: Some(&built),
            ..npm_input(&v, &f)
        });
        assert_ne!(base, with_platform);
        assert_ne!(base, with_options);
        assert_ne!(with_platform, with_options);
        // The tree built with scripts is never served for the plain one.
        assert_ne!(base, with_built);
        assert_ne!(with_options, with_built);
    }
}
