//! npm settings from outside the request that change what `npm ci` makes.
//! An npm request carries no `.npmrc`, so a setting in the project's
//! `.npmrc`, the user's `~/.npmrc`, an `npm_config_*` variable or
//! `NODE_ENV=production` would make the job's own `npm ci` build another
//! tree than the cached one (`omit=dev` leaves devDependencies out,
//! `install-strategy`, `install-links`, `os`/`cpu`/`libc` change folders) or
//! fail where the server's succeeded (`legacy-peer-deps` accepts a lockfile
//! strict peers reject). Such a project is installed in the job, saying
//! which line; `omit=dev` is served when fetch was given `--omit-dev`.
//! Yarn classic has the same trap in `NODE_ENV=production` (and its own
//! `production` setting from the environment or `~/.yarnrc`): `yarn install`
//! then leaves devDependencies out.

use std::path::{Path, PathBuf};

/// Settings that change the tree `npm ci` makes, or whether it succeeds,
/// with the value npm uses when unset (a line restating it is harmless).
const TREE_SETTINGS: &[(&str, Option<&str>)] = &[
    ("include", None),
    ("only", None),
    ("also", None),
    ("dev", Some("false")),
    ("optional", None),
    ("legacy-peer-deps", Some("false")),
    ("strict-peer-deps", Some("false")),
    ("install-strategy", Some("hoisted")),
    ("legacy-bundling", Some("false")),
    ("global-style", Some("false")),
    ("install-links", Some("false")),
    ("bin-links", Some("true")),
    ("os", None),
    ("cpu", None),
    ("libc", None),
    ("force", Some("false")),
    ("engine-strict", Some("false")),
    ("package-lock", Some("true")),
    ("workspaces", None),
    ("workspace", None),
    ("include-workspace-root", Some("false")),
];

/// One `key=value` npm reads, and where it came from (for the sentence).
struct Setting {
    key: String,
    value: String,
    origin: String,
}

/// Why this npm project is installed in the job, or None when npm's own
/// settings make the tree the cache holds. `omit_dev` is fetch's
/// `--omit-dev`.
pub(super) fn npm_refusal(dir: &Path, omit_dev: bool) -> Option<String> {
    let mut settings = file_settings(&dir.join(".npmrc"), ".npmrc");
    if let Some(user) = user_config() {
        let shown = user.display().to_string();
        settings.extend(file_settings(&user, &shown));
    }
    for (name, value) in std::env::vars() {
        if let Some(key) = name.to_ascii_lowercase().strip_prefix("npm_config_") {
            settings.push(Setting {
                key: key.replace('_', "-"),
                value,
                origin: format!("the environment ({name})"),
            });
        }
    }
    let mut omits_dev = None;
    if std::env::var("NODE_ENV").is_ok_and(|v| v == "production") {
        omits_dev = Some("the environment sets NODE_ENV=production".to_string());
    }
    for s in &settings {
        let key = s.key.trim_end_matches("[]");
        let value = s.value.trim().trim_matches('"').trim_matches('\'');
        let is_default = |default: Option<&str>| default.is_some_and(|d| value == d);
        match key {
            "omit" if value == "dev" => omits_dev = Some(format!("{} sets omit=dev", s.origin)),
            "production" if value == "true" => {
                omits_dev = Some(format!("{} sets production=true", s.origin))
            }
            "production" if value == "false" => {}
            "omit" | "production" => return Some(changes(s, key, value)),
            _ => {
                if let Some((_, default)) = TREE_SETTINGS.iter().find(|(k, _)| *k == key)
                    && !is_default(*default)
                {
                    return Some(changes(s, key, value));
                }
            }
        }
    }
    match omits_dev {
        Some(why) if !omit_dev => Some(format!(
            "{why}, so npm ci leaves devDependencies out; fetch --omit-dev (DEPCACHE_OMIT_DEV) \
asks for that tree"
        )),
        _ => None,
    }
}

/// Why a yarn classic project is installed in the job: the job's yarn
/// would leave devDependencies out while fetch asks for them.
pub(super) fn yarn_classic_refusal(omit_dev: bool) -> Option<String> {
    if omit_dev {
        return None;
    }
    let why = if std::env::var("NODE_ENV").is_ok_and(|v| v == "production") {
        Some("the environment sets NODE_ENV=production".to_string())
    } else if let Some((name, _)) = std::env::vars().find(|(name, value)| {
        ["yarn_production", "npm_config_production"].contains(&name.to_ascii_lowercase().as_str())
            && value.trim() == "true"
    }) {
        Some(format!("the environment sets {name}=true"))
    } else {
        let home = std::env::var_os("HOME").map(PathBuf::from)?;
        let rc = home.join(".yarnrc");
        let text = std::fs::read_to_string(&rc).ok()?;
        text.lines().enumerate().find_map(|(i, line)| {
            let mut words = line.split_whitespace();
            (words.next() == Some("production")
                && words.next().map(|v| v.trim_matches('"')) == Some("true"))
            .then(|| format!("{} line {} sets production true", rc.display(), i + 1))
        })
    }?;
    Some(format!(
        "{why}, so yarn install leaves devDependencies out; fetch --omit-dev (DEPCACHE_OMIT_DEV) \
asks for that tree"
    ))
}

fn changes(s: &Setting, key: &str, value: &str) -> String {
    format!(
        "{} sets {key}={value}, which changes what npm ci installs and is not part of the key",
        s.origin
    )
}

/// npm's user config: `npm_config_userconfig`, else `~/.npmrc`.
fn user_config() -> Option<PathBuf> {
    std::env::var_os("npm_config_userconfig")
        .or_else(|| std::env::var_os("NPM_CONFIG_USERCONFIG"))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".npmrc")))
}

/// `key=value` lines of an npmrc file, as npm's ini reader takes them
/// (`;` and `#` comments, keys case-insensitive).
fn file_settings(path: &Path, shown: &str) -> Vec<Setting> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.starts_with(';') || line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=').unwrap_or((line, "true"));
            let key = key.trim().to_ascii_lowercase();
            (!key.is_empty()).then(|| Setting {
                key,
                value: value.trim().to_string(),
                origin: format!("{shown} line {}", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(npmrc: &str, omit_dev: bool) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".npmrc"), npmrc).unwrap();
        npm_refusal(dir.path(), omit_dev)
    }

    #[test]
    fn tree_settings_refuse_naming_the_line() {
        let why = refusal("fund=false\nlegacy-peer-deps=true\n", false).unwrap();
        assert!(
            why.starts_with(".npmrc line 2 sets legacy-peer-deps=true"),
            "{why}"
        );
        assert!(refusal("install-strategy=nested\n", false).is_some());
        assert!(refusal("os[]=darwin\n", false).is_some());
        // Restating npm's own default changes nothing.
        assert_eq!(
            refusal("legacy-peer-deps=false\nbin-links=true\n", false),
            None
        );
        assert_eq!(
            refusal("; omit=dev\nfund=false\naudit=false\n", false),
            None
        );
    }

    #[test]
    fn omit_dev_is_served_with_the_flag() {
        let why = refusal("omit=dev\n", false).unwrap();
        assert!(why.contains("fetch --omit-dev"), "{why}");
        assert_eq!(refusal("omit=dev\n", true), None);
        assert!(refusal("omit=optional\n", true).is_some());
    }
}
