//! Yarn Berry settings the job's own install would read that the request
//! does not carry: `YARN_*` environment variables and the `.yarnrc.yml` of
//! the home folder and of every folder above the project (Berry merges them
//! all, the project's own last but the environment over everything). One
//! that changes the layout (`nodeLinker`, the cache, the PnP and
//! node-modules knobs) would make the job's tree differ from the cached
//! one without changing the key, so the job installs itself.

use std::path::Path;

/// Settings that shape a Berry `node_modules` (and which linker is used).
const LAYOUT: &[&str] = &[
    "nodeLinker",
    "nmMode",
    "nmHoistingLimits",
    "nmSelfReferences",
];

/// Settings that shape what a Plug'n'Play install writes besides: where the
/// cache is (its path is in `.pnp.cjs`) and how the zips and the map are made.
const PNP_LAYOUT: &[&str] = &[
    "enableGlobalCache",
    "cacheFolder",
    "compressionLevel",
    "installStatePath",
    "virtualFolder",
    "pnpMode",
    "pnpFallbackMode",
    "pnpEnableEsmLoader",
    "pnpEnableInlining",
    "pnpIgnorePatterns",
    "pnpUnpluggedFolder",
    "pnpDataPath",
];

/// `YARN_NODE_LINKER` for `nodeLinker`: Berry's spelling of a setting in the
/// environment.
fn env_name(setting: &str) -> String {
    let mut out = String::from("YARN_");
    for c in setting.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Why a Berry project in `dir` is installed in the job: the first layout
/// setting from outside the project, named with where it comes from. The
/// cache's settings count only for Plug'n'Play (`pnp`): a `node_modules`
/// tree is the same wherever the zips were kept.
pub fn berry_refusal(dir: &Path, pnp: bool) -> Option<String> {
    let extra = if pnp { PNP_LAYOUT } else { &[] };
    let settings: Vec<&str> = LAYOUT.iter().chain(extra).copied().collect();
    for setting in &settings {
        let name = env_name(setting);
        if std::env::var_os(&name).is_some() {
            return Some(format!(
                "the environment sets {name}, a Yarn layout setting that is not part of the key"
            ));
        }
    }
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        files.push(Path::new(&home).join(".yarnrc.yml"));
    }
    if let Ok(project) = std::fs::canonicalize(dir) {
        files.extend(project.ancestors().skip(1).map(|a| a.join(".yarnrc.yml")));
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let key = line
                .split(':')
                .next()
                .unwrap_or_default()
                .trim_matches(['"', '\'']);
            if settings.contains(&key) {
                return Some(format!(
                    "{} line {} sets {key}, a Yarn layout setting that is not part of the key \
(only the project's .yarnrc.yml is)",
                    file.display(),
                    i + 1
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_spelled_as_berry_reads_them_from_the_environment() {
        assert_eq!(env_name("nodeLinker"), "YARN_NODE_LINKER");
        assert_eq!(env_name("enableGlobalCache"), "YARN_ENABLE_GLOBAL_CACHE");
        assert_eq!(env_name("pnpEnableEsmLoader"), "YARN_PNP_ENABLE_ESM_LOADER");
    }
}
