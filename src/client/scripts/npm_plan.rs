//! What `npm ci` would have run on this tree, read from the lockfile: which
//! installed packages have install scripts (`hasInstallScript`, which npm
//! records for preinstall/install/postinstall and for node-gyp packages),
//! which workspace links npm rebuilds on every install, and whether the root
//! project has lifecycle scripts of its own. Nothing runs here.

use serde_json::Value;

/// Root events `npm ci` runs after the dependencies are built, in its order
/// (npm's lib/commands/ci.js), preceded by reify's `dependencies` trio.
pub const ROOT_EVENTS: &[&str] = &[
    "predependencies",
    "dependencies",
    "postdependencies",
    "preinstall",
    "install",
    "postinstall",
    "prepublish",
    "preprepare",
    "prepare",
    "postprepare",
];

/// Scripts that make npm build a workspace link on every install.
const LINK_EVENTS: &[&str] = &["preinstall", "install", "postinstall", "prepare"];

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Lockfile locations (`node_modules/a/node_modules/b`) of installed
    /// packages whose scripts run, as `npm rebuild` selects them.
    pub packages: Vec<String>,
    /// Locations of workspace links (`node_modules/a`) to rebuild.
    pub links: Vec<String>,
    /// The root package.json has a script `npm ci` runs.
    pub root: bool,
    /// The tree holds any package (reify's `dependencies` events need that).
    pub has_packages: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.links.is_empty() && !self.root
    }
}

/// What the planner may ask about the project folder.
pub trait Folder {
    /// `rel` is a real directory of the restored tree (no symlink on the way).
    fn has_dir(&self, rel: &str) -> bool;
    /// `rel` is a symlink (a workspace link npm made).
    fn has_link(&self, rel: &str) -> bool;
    /// `rel` is a regular file of the project.
    fn has_file(&self, rel: &str) -> bool;
    /// The parsed package.json in folder `rel` of the project, if any.
    fn manifest(&self, rel: &str) -> Option<Value>;
}

/// `None` when the lockfile has no `packages` map (lockfile v1, or none):
/// the caller then needs another source of truth.
pub fn plan(manifest: &Value, lockfile: &Value, folder: &dyn Folder) -> Option<Plan> {
    let packages = lockfile.get("packages")?.as_object()?;
    let mut plan = Plan {
        root: root_has_scripts(manifest, folder),
        ..Plan::default()
    };
    for (location, entry) in packages {
        if location.is_empty() || !location.starts_with("node_modules/") {
            continue; // the root, or a workspace folder (reached by its link)
        }
        let flag = |name: &str| entry.get(name).and_then(Value::as_bool) == Some(true);
        if flag("link") {
            if folder.has_link(location)
                && let Some(target) = entry.get("resolved").and_then(Value::as_str)
                && link_needs_build(target, folder)
            {
                plan.links.push(location.clone());
            }
            continue;
        }
        if !folder.has_dir(location) {
            continue; // omitted (dev, another platform's optional dependency)
        }
        plan.has_packages = true;
        // Bundled dependencies never run their scripts under npm either.
        if flag("hasInstallScript") && !flag("inBundle") {
            plan.packages.push(location.clone());
        }
    }
    plan.has_packages |= !plan.links.is_empty();
    Some(plan)
}

/// For a tree no lockfile describes (v1 lockfile and no hidden lockfile):
/// `installed` lists each package folder of the tree with its package.json,
/// and its scripts decide, as npm decides for old lockfiles.
pub fn plan_from_manifests(
    manifest: &Value,
    installed: &[(String, Value)],
    folder: &dyn Folder,
) -> Plan {
    let packages = installed
        .iter()
        .filter(|(location, package)| {
            ["preinstall", "install", "postinstall"]
                .iter()
                .any(|e| has_script(package, e))
                || default_gyp(package, location, folder)
        })
        .map(|(location, _)| location.clone())
        .collect();
    Plan {
        packages,
        links: Vec::new(),
        root: root_has_scripts(manifest, folder),
        has_packages: !installed.is_empty(),
    }
}

fn scripts(manifest: &Value) -> Option<&serde_json::Map<String, Value>> {
    manifest.get("scripts").and_then(Value::as_object)
}

fn has_script(manifest: &Value, event: &str) -> bool {
    scripts(manifest)
        .and_then(|s| s.get(event))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// npm's own rule: a package with binding.gyp and neither install nor
/// preinstall gets `node-gyp rebuild` as its install script.
fn default_gyp(manifest: &Value, rel: &str, folder: &dyn Folder) -> bool {
    manifest.get("gypfile").and_then(Value::as_bool) != Some(false)
        && !has_script(manifest, "install")
        && !has_script(manifest, "preinstall")
        && folder.has_file(&join(rel, "binding.gyp"))
}

fn root_has_scripts(manifest: &Value, folder: &dyn Folder) -> bool {
    ROOT_EVENTS.iter().any(|e| has_script(manifest, e)) || default_gyp(manifest, "", folder)
}

/// A workspace target must be a plain relative folder of the project.
fn link_needs_build(target: &str, folder: &dyn Folder) -> bool {
    let safe = !target.is_empty()
        && !target.starts_with('/')
        && target
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !safe {
        return false;
    }
    let Some(manifest) = folder.manifest(target) else {
        return false;
    };
    LINK_EVENTS.iter().any(|e| has_script(&manifest, e)) || default_gyp(&manifest, target, folder)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Default)]
    struct Fake {
        dirs: BTreeSet<&'static str>,
        links: BTreeSet<&'static str>,
        files: BTreeSet<&'static str>,
        manifests: BTreeMap<&'static str, Value>,
    }

    impl Folder for Fake {
        fn has_dir(&self, rel: &str) -> bool {
            self.dirs.contains(rel)
        }
        fn has_link(&self, rel: &str) -> bool {
            self.links.contains(rel)
        }
        fn has_file(&self, rel: &str) -> bool {
            self.files.contains(rel)
        }
        fn manifest(&self, rel: &str) -> Option<Value> {
            self.manifests.get(rel).cloned()
        }
    }

    fn lock(packages: Value) -> Value {
        json!({"lockfileVersion": 3, "packages": packages})
    }

    #[test]
    fn only_installed_packages_with_install_scripts_are_planned() {
        let folder = Fake {
            dirs: [
                "node_modules/a",
                "node_modules/b",
                "node_modules/b/node_modules/c",
            ]
            .into(),
            ..Fake::default()
        };
        let lockfile = lock(json!({
            "": {"name": "root", "hasInstallScript": true},
            "node_modules/a": {"version": "1.0.0"},
            "node_modules/b": {"version": "1.0.0", "hasInstallScript": true},
            "node_modules/b/node_modules/c": {"hasInstallScript": true, "inBundle": true},
            "node_modules/dev": {"hasInstallScript": true, "dev": true},
        }));
        let plan = plan(&json!({"name": "root"}), &lockfile, &folder).unwrap();
        assert_eq!(plan.packages, vec!["node_modules/b"]);
        assert!(plan.has_packages);
        assert!(!plan.root, "hasInstallScript on the root is not a script");
    }

    #[test]
    fn a_plain_project_plans_nothing() {
        let folder = Fake {
            dirs: ["node_modules/a"].into(),
            ..Fake::default()
        };
        let manifest = json!({"scripts": {"test": "jest", "build": "tsc"}});
        let lockfile = lock(json!({"node_modules/a": {"version": "1.0.0"}}));
        assert!(plan(&manifest, &lockfile, &folder).unwrap().is_empty());
    }

    #[test]
    fn root_scripts_and_root_binding_gyp_are_seen() {
        let folder = Fake::default();
        let lockfile = lock(json!({}));
        let prepare = json!({"scripts": {"prepare": "husky"}});
        assert!(plan(&prepare, &lockfile, &folder).unwrap().root);
        let gyp = Fake {
            files: ["binding.gyp"].into(),
            ..Fake::default()
        };
        assert!(plan(&json!({}), &lockfile, &gyp).unwrap().root);
        let off = json!({"gypfile": false});
        assert!(!plan(&off, &lockfile, &gyp).unwrap().root);
    }

    #[test]
    fn workspace_links_with_scripts_are_planned_and_odd_targets_ignored() {
        let folder = Fake {
            links: ["node_modules/a", "node_modules/b", "node_modules/evil"].into(),
            manifests: [
                ("packages/a", json!({"scripts": {"prepare": "tsc"}})),
                ("packages/b", json!({"scripts": {"test": "x"}})),
                ("../outside", json!({"scripts": {"prepare": "x"}})),
            ]
            .into(),
            ..Fake::default()
        };
        let lockfile = lock(json!({
            "node_modules/a": {"resolved": "packages/a", "link": true},
            "node_modules/b": {"resolved": "packages/b", "link": true},
            "node_modules/evil": {"resolved": "../outside", "link": true},
            "packages/a": {"version": "1.0.0"},
        }));
        let plan = plan(&json!({}), &lockfile, &folder).unwrap();
        assert_eq!(plan.links, vec!["node_modules/a"]);
        assert!(plan.packages.is_empty());
    }

    #[test]
    fn without_a_lockfile_the_installed_manifests_decide() {
        let folder = Fake {
            files: ["node_modules/native/binding.gyp"].into(),
            ..Fake::default()
        };
        let installed = vec![
            (
                "node_modules/a".to_string(),
                json!({"scripts": {"postinstall": "x"}}),
            ),
            (
                "node_modules/b".to_string(),
                json!({"scripts": {"prepare": "x"}}),
            ),
            ("node_modules/native".to_string(), json!({})),
        ];
        let plan = plan_from_manifests(&json!({}), &installed, &folder);
        assert_eq!(plan.packages, vec!["node_modules/a", "node_modules/native"]);
        assert!(plan.has_packages && !plan.root);
    }

    #[test]
    fn a_lockfile_without_packages_is_not_planned() {
        let v1 = json!({"lockfileVersion": 1, "dependencies": {}});
        assert_eq!(plan(&json!({}), &v1, &Fake::default()), None);
    }
}
