//! Property tests (proptest) for the path and symlink rules every index entry
//! passes (src/protocol/paths.rs): an accepted path never leaves the root when
//! joined, paths with `..`, `.`, empty components, a leading `/`, a backslash
//! or NUL are refused, the symlink rule accepts exactly the targets that climb
//! first and then only descend without going above the root, and a whole tree
//! of accepted links, made on disk, resolves inside its root however the links
//! chain.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use depcache::client::fuzzing::check_index;
use depcache::protocol::{Entry, INDEX_FORMAT, Index, check_entry_path, check_symlink_target};
use proptest::prelude::*;

/// Names as npm trees have them, plus the odd but legal.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just(".bin".to_string()),
        Just("@scope".to_string()),
        Just("...".to_string()),
        Just("..a".to_string()),
        "[a-z0-9_.@-]{1,6}".prop_filter("not . or ..", |s| s != "." && s != ".."),
    ]
}

fn valid_path() -> impl Strategy<Value = String> {
    prop::collection::vec(name(), 1..6).prop_map(|parts| parts.join("/"))
}

/// One piece that makes any path unsafe, wherever it goes.
fn poison() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(".."),
        Just("."),
        Just(""),
        Just("a\\b"),
        Just("a\0"),
        Just("\\"),
        Just("\0")
    ]
}

/// Symlink target components: climbs, names, and what the rule skips.
fn target() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => Just("..".to_string()),
            3 => name(),
            1 => Just(".".to_string()),
            1 => Just(String::new()),
        ],
        1..7,
    )
    .prop_map(|parts| parts.join("/"))
}

/// Few names, so links land on each other's paths and chain.
fn small_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string)
}

fn small_path() -> impl Strategy<Value = String> {
    prop::collection::vec(small_name(), 1..4).prop_map(|parts| parts.join("/"))
}

fn small_target() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![2 => Just("..".to_string()), 1 => small_name()],
        1..7,
    )
    .prop_map(|parts| parts.join("/"))
}

/// The rule in its own words: after dropping empty and `.` components, the
/// target is some `..` then only names, and climbs no higher than the root.
fn rule_accepts(path: &str, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let parts: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let climbs = parts.iter().take_while(|c| **c == "..").count();
    let depth = path.split('/').count() - 1;
    parts[climbs..].iter().all(|c| *c != "..") && climbs <= depth
}

/// Components below the root that `target`, read from `path`'s folder,
/// reaches; `None` if it passes above the root on the way.
fn resolve_lexically(path: &str, target: &str) -> Option<Vec<String>> {
    let mut at: Vec<String> = path.split('/').map(str::to_string).collect();
    at.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                at.pop()?;
            }
            name => at.push(name.to_string()),
        }
    }
    Some(at)
}

proptest! {
    #[test]
    fn accepted_paths_stay_under_the_root(path in valid_path()) {
        prop_assert!(check_entry_path(&path).is_ok(), "{:?} refused", path);
        let root = Path::new("/srv/project/node_modules");
        let joined = root.join(&path);
        prop_assert!(joined.starts_with(root));
        let below: Vec<Component> = joined.strip_prefix(root).unwrap().components().collect();
        prop_assert_eq!(below.len(), path.split('/').count());
        prop_assert!(below.iter().all(|c| matches!(c, Component::Normal(_))));
    }

    #[test]
    fn paths_with_an_unsafe_piece_are_refused(
        parts in prop::collection::vec(name(), 0..5),
        bad in poison(),
        at in any::<prop::sample::Index>(),
    ) {
        let mut parts = parts;
        parts.insert(at.index(parts.len() + 1), bad.to_string());
        let path = parts.join("/");
        prop_assert!(check_entry_path(&path).is_err(), "{:?} accepted", path);
        let absolute = format!("/{path}");
        prop_assert!(check_entry_path(&absolute).is_err(), "{:?} accepted", absolute);
    }

    #[test]
    fn the_symlink_rule_is_climb_then_descend_within_the_root(
        path in valid_path(),
        target in target(),
    ) {
        let accepted = check_symlink_target(&path, &target).is_ok();
        prop_assert_eq!(accepted, rule_accepts(&path, &target), "{:?} -> {:?}", path, target);
        if accepted {
            prop_assert!(resolve_lexically(&path, &target).is_some());
        }
        for bad in [format!("/{target}"), format!("{target}\0"), String::new()] {
            prop_assert!(check_symlink_target(&path, &bad).is_err(), "{:?} accepted", bad);
        }
    }
}

proptest! {
    // Each case makes a small tree on disk.
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Links may point through other links: made for real, every link the
    /// rules accept resolves inside the root, whichever links it crosses.
    #[test]
    fn chained_accepted_links_resolve_inside_the_root(
        dirs in prop::collection::vec(small_path(), 0..5),
        links in prop::collection::vec((small_path(), small_target()), 1..8),
    ) {
        let mut entries = Vec::new();
        let mut taken = BTreeSet::new();
        for dir in &dirs {
            // Every prefix of a folder is a folder.
            let parts: Vec<&str> = dir.split('/').collect();
            for n in 1..=parts.len() {
                let prefix = parts[..n].join("/");
                if taken.insert(prefix.clone()) {
                    entries.push(Entry::Dir { path: prefix, mode: 0o755 });
                }
            }
        }
        for (i, (path, target)) in links.iter().enumerate() {
            // A link goes directly into a folder of the tree (or the root).
            let name = path.rsplit('/').next().unwrap();
            let parent = dirs.get(i % dirs.len().max(1)).filter(|_| path.contains('/'));
            let path = match parent {
                Some(dir) => format!("{dir}/{name}"),
                None => name.to_string(),
            };
            if check_symlink_target(&path, target).is_ok() && taken.insert(path.clone()) {
                entries.push(Entry::Symlink { path, target: target.clone() });
            }
        }
        entries.sort_by(|a, b| a.path().cmp(b.path()));
        let index = Index {
            format: INDEX_FORMAT,
            key: depcache::protocol::Key::from_bytes([0; 32]),
            manager: "npm".to_string(),
            versions: Default::default(),
            platform: None,
            options: None,
            root: "node_modules".to_string(),
            created: 0,
            entries,
            workspaces: Vec::new(),
            nested: Vec::new(),
            registries: Vec::new(),
        };
        prop_assert!(check_index(&index, "node_modules").is_ok());

        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("node_modules");
        std::fs::create_dir(&root).unwrap();
        for entry in &index.entries {
            match entry {
                Entry::Dir { path, .. } => std::fs::create_dir_all(root.join(path)).unwrap(),
                Entry::Symlink { path, target } => {
                    std::os::unix::fs::symlink(target, root.join(path)).unwrap()
                }
                Entry::File(_) => unreachable!(),
            }
        }
        let real_root = std::fs::canonicalize(&root).unwrap();
        for entry in &index.entries {
            if let Entry::Symlink { path, target } = entry {
                // Dangling links resolve nowhere, which is harmless.
                if let Ok(to) = std::fs::canonicalize(root.join(path)) {
                    prop_assert!(
                        to.starts_with(&real_root),
                        "{:?} -> {:?} resolves to {:?}", path, target, to
                    );
                }
            }
        }
    }
}
