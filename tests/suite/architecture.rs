//! The room rules of docs/architecture.md that a grep can check: server and
//! client never import each other, and the rooms everyone uses import no room.

use std::path::Path;

/// `crate::<room>` paths named anywhere in the files under `src/<dir>`
/// (and `src/<dir>.rs`).
fn imports(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = walkdir::WalkDir::new(root.join(dir))
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .chain(std::iter::once(root.join(format!("{dir}.rs"))))
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && p.is_file())
        .collect();
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let room: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((file.display().to_string(), room));
        }
    }
    found
}

fn assert_no_imports(dir: &str, forbidden: &[&str]) {
    let bad: Vec<_> = imports(dir)
        .into_iter()
        .filter(|(_, room)| forbidden.contains(&room.as_str()))
        .collect();
    assert!(bad.is_empty(), "{dir} imports rooms it must not: {bad:?}");
}

#[test]
fn server_and_client_never_import_each_other() {
    assert_no_imports("server", &["client", "cli", "admin"]);
    // `error` is the command line's exit-code type: the client has its own
    // (`ClientError`), mapped to exit codes only in `cli`.
    assert_no_imports("client", &["server", "cli", "admin", "store", "error"]);
}

#[test]
fn the_shared_rooms_import_no_room() {
    let rooms = [
        "admin", "bundle", "cli", "client", "install", "server", "store", "error",
    ];
    for shared in ["protocol", "digest", "units"] {
        assert_no_imports(shared, &rooms);
    }
}

/// The library's public surface is what `main`, the tests, the fuzzers and
/// the benchmarks use; the rest is `pub(crate)`, so a room's internals are
/// not an API anyone outside may start to lean on.
#[test]
fn the_public_rooms_are_the_ones_used_from_outside() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let public: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert_eq!(
        public,
        [
            "admin", "bundle", "cli", "client", "install", "protocol", "server", "store"
        ]
    );
}
