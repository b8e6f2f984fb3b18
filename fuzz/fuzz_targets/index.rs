//! Index JSON (what a client fetches from a possibly hostile server, and what
//! the server reads back from its store): parsing never panics and round-trips;
//! an index the client's check accepts has only paths and links that stay
//! inside the root; the server's bundle layout of any index never panics.
#![no_main]

use depcache::client::fuzzing::check_index;
use depcache::protocol::{Entry, Index};
use libfuzzer_sys::fuzz_target;

/// Where `target`, read from the folder holding `path`, lands, as a stack of
/// components below the root; `None` once it climbs above the root.
fn resolve(path: &str, target: &str) -> Option<Vec<String>> {
    let mut at: Vec<String> = path.split('/').map(str::to_string).collect();
    at.pop();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                at.pop()?;
            }
            name => at.push(name.to_string()),
        }
    }
    Some(at)
}

fuzz_target!(|data: &[u8]| {
    let Ok(index) = serde_json::from_slice::<Index>(data) else {
        return;
    };
    let text = serde_json::to_vec(&index).unwrap();
    let again: Index = serde_json::from_slice(&text).unwrap();
    assert_eq!(again, index);

    if check_index(&index, &index.root).is_ok() {
        for entry in &index.entries {
            let path = entry.path();
            assert!(!path.is_empty() && !path.starts_with('/'));
            assert!(
                path.split('/')
                    .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0'])),
                "{path:?}"
            );
            if let Entry::Symlink { path, target } = entry {
                assert!(
                    resolve(path, target).is_some(),
                    "accepted {path:?} -> {target:?}"
                );
            }
        }
    }
    let plan = depcache::bundle::plan(&index);
    let _ = plan.len();
});
