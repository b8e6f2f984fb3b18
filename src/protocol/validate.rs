//! Strict patterns for everything user-given: nothing outside these shapes ever
//! reaches a file name, a command line or the store.

use std::collections::BTreeMap;

use super::Manager;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("file name {name:?} is not accepted for {manager}; allowed: {allowed}")]
    FileName {
        manager: Manager,
        name: String,
        allowed: String,
    },
    #[error("{manager} requests must include {name}")]
    MissingFile { manager: Manager, name: String },
    #[error("version {name}={value:?} is malformed; expected digits and dots such as 20.11.1")]
    Version { name: String, value: String },
    #[error("{manager} requests must name the {name} version")]
    MissingVersion { manager: Manager, name: String },
    #[error("version name {name:?} does not apply to {manager}; expected {expected}")]
    UnknownVersion {
        manager: Manager,
        name: String,
        expected: String,
    },
    #[error("key {0:?} is malformed; expected 64 lowercase hex characters")]
    Key(String),
    #[error("sha256 {0:?} is malformed; expected 64 lowercase hex characters")]
    Sha256(String),
    #[error("platform {0:?} is malformed; expected os-arch[-libc] such as linux-x64-glibc")]
    Platform(String),
}

/// A file name must be one of the manager's manifest or lockfile names exactly;
/// this alone rules out `/`, `..` and NUL.
pub fn check_file_name(manager: Manager, name: &str) -> Result<(), ValidationError> {
    if manager.allowed_files().contains(&name) {
        Ok(())
    } else {
        Err(ValidationError::FileName {
            manager,
            name: name.to_string(),
            allowed: manager.allowed_files().join(", "),
        })
    }
}

/// `MAJOR[.MINOR[.PATCH[.BUILD]]]` with an optional `-pre`/`+build` suffix of
/// `[0-9A-Za-z.-]`; at most 64 bytes.
pub fn check_version(name: &str, value: &str) -> Result<(), ValidationError> {
    let bad = || ValidationError::Version {
        name: name.to_string(),
        value: value.to_string(),
    };
    if value.is_empty() || value.len() > 64 {
        return Err(bad());
    }
    let (core, suffix) = match value.find(['-', '+']) {
        Some(i) => (&value[..i], Some(&value[i + 1..])),
        None => (value, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 4
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    if let Some(s) = suffix {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+');
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// Checks names and values of a request's versions against what the manager
/// needs.
pub fn check_versions(
    manager: Manager,
    versions: &BTreeMap<String, String>,
) -> Result<(), ValidationError> {
    for (name, value) in versions {
        let known = manager.required_versions().contains(&name.as_str())
            || manager.optional_versions().contains(&name.as_str());
        if !known {
            let mut expected: Vec<&str> = manager.required_versions().to_vec();
            expected.extend(manager.optional_versions());
            return Err(ValidationError::UnknownVersion {
                manager,
                name: name.chars().take(64).collect(),
                expected: expected.join(", "),
            });
        }
        check_version(name, value)?;
    }
    for required in manager.required_versions() {
        if !versions.contains_key(*required) {
            return Err(ValidationError::MissingVersion {
                manager,
                name: required.to_string(),
            });
        }
    }
    Ok(())
}

/// `os-arch` or `os-arch-libc`, lowercase alphanumerics and `_`.
pub fn check_platform(platform: &str) -> Result<(), ValidationError> {
    let parts: Vec<&str> = platform.split('-').collect();
    let ok = platform.len() <= 64
        && (2..=3).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Platform(
            platform.chars().take(80).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for good in [
            "20",
            "20.11.1",
            "8.2.36",
            "1.2.3-rc.1",
            "2.5.5+build1",
            "1.2.3.4",
        ] {
            assert!(check_version("node", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "v20",
            "20..1",
            "1.2.3.4.5",
            "1;rm -rf",
            "1.2-",
            "$(x)",
            "1 2",
        ] {
            assert!(check_version("node", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names() {
        assert!(check_file_name(Manager::Npm, "package.json").is_ok());
        for bad in [
            "../package.json",
            "a/package.json",
            ".npmrc",
            "package.json\0",
            "composer.json",
        ] {
            assert!(check_file_name(Manager::Npm, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_and_platforms() {
        assert!(super::super::Key::parse(&"a".repeat(64)).is_ok());
        assert!(super::super::Key::parse(&"A".repeat(64)).is_err());
        assert!(super::super::Key::parse("../x").is_err());
        assert!(check_platform("linux-x64-glibc").is_ok());
        assert!(check_platform("darwin-arm64").is_ok());
        assert!(check_platform("linux").is_err());
        assert!(check_platform("linux-x64-../").is_err());
    }
}
