//! `depcache fetch --local-store`: the first fetch fills the store, a repeat
//! downloads nothing and hard-links the tree to the store, another project
//! sharing packages downloads only what is new (by `Range`, from the unchanged
//! server), and a store file changed in place is not trusted.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use depcache::protocol::Manager;

use crate::common::server::{API_KEY, ServerOptions, TestServer, cache_request, metric, run_fetch};
use crate::common::{assert_same_tree, npm_ci_reference, npm_project};

const SERVED: &str = "depcache_bundle_bytes_served_total";

/// Runs `depcache fetch npm --local-store <store>` in `project`; returns stderr.
async fn fetch(server: &TestServer, project: &Path, store: &Path) -> String {
    run_fetch(
        server,
        project,
        "npm",
        &["--local-store".as_ref(), store.as_os_str()],
    )
    .await
}

/// `bundle_size` of the server's answer for `project` (a hit by now).
async fn bundle_size(server: &TestServer, project: &Path) -> u64 {
    let files: Vec<(&str, Vec<u8>)> = ["package.json", "package-lock.json"]
        .into_iter()
        .map(|name| (name, std::fs::read(project.join(name)).unwrap()))
        .collect();
    let body = serde_json::to_value(cache_request(Manager::Npm, &files)).unwrap();
    let (status, answer) = crate::common::server::post_cache(server, Some(API_KEY), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["cache_hit"], true,
        "not the key fetch used: {answer}"
    );
    answer["bundle_size"].as_u64().unwrap()
}

/// Regular files in `tree` and how many of them share their inode.
fn files_and_links(tree: &Path) -> (usize, usize) {
    let mut files = 0;
    let mut linked = 0;
    for entry in walkdir::WalkDir::new(tree).follow_links(false) {
        let entry = entry.unwrap();
        // The client's stat manifest is its own file, never a stored content.
        if entry.file_type().is_file() && entry.file_name() != ".depcache-state" {
            files += 1;
            if entry.metadata().unwrap().nlink() > 1 {
                linked += 1;
            }
        }
    }
    (files, linked)
}

/// The store's object holding `file`'s content (same inode).
fn store_object(store: &Path, file: &Path) -> std::path::PathBuf {
    let inode = std::fs::metadata(file).unwrap().ino();
    walkdir::WalkDir::new(store.join("objects"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| std::fs::metadata(p).unwrap().ino() == inode)
        .unwrap_or_else(|| panic!("{} is not linked to the store", file.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_downloads_only_what_it_lacks() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let first = work.path().join("first");
    npm_project(
        &first,
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[("dc-dev", "1.0.0")],
    );
    let first_reference = npm_ci_reference(&first, false);
    let second = work.path().join("second");
    npm_project(&second, &[("dc-cli", "1.0.0"), ("dc-other", "1.0.0")], &[]);
    let second_reference = npm_ci_reference(&second, false);
    let server = TestServer::start(ServerOptions::npm()).await;
    let nm = first.join("node_modules");

    // (1) Empty store: the whole bundle, and the store filled from the tree.
    let out = fetch(&server, &first, &store).await;
    assert!(out.contains("cache miss"), "{out}");
    assert!(out.contains(" 0 from the local store"), "{out}");
    assert_same_tree(&nm, &first_reference.path().join("node_modules"));
    let full = bundle_size(&server, &first).await;
    assert_eq!(metric(&server, SERVED).await, full, "{out}");
    let (files, linked) = files_and_links(&nm);
    assert!(files > 5);
    assert_eq!(linked, files, "every extracted file is also in the store");

    // (2) Everything in the store: no bundle byte, a tree of hard links.
    std::fs::remove_dir_all(&nm).unwrap();
    let out = fetch(&server, &first, &store).await;
    assert!(out.contains("cache hit"), "{out}");
    assert!(out.contains(", 0 B downloaded"), "{out}");
    assert_eq!(metric(&server, SERVED).await, full, "nothing downloaded");
    assert_same_tree(&nm, &first_reference.path().join("node_modules"));
    assert_eq!(files_and_links(&nm), (files, files));
    let cli = nm.join("dc-cli/bin/cli.js");
    let object = store_object(&store, &cli);
    assert!(object.to_string_lossy().ends_with(".755"), "{object:?}");

    // (3) Another project sharing dc-cli and dc-util: only the rest by Range.
    let before = metric(&server, SERVED).await;
    let out = fetch(&server, &second, &store).await;
    assert!(out.contains("cache miss"), "{out}");
    let served = metric(&server, SERVED).await - before;
    let second_full = bundle_size(&server, &second).await;
    assert!(
        served > 0 && served < second_full,
        "served {served} of a {second_full}-byte bundle: {out}"
    );
    assert_same_tree(
        &second.join("node_modules"),
        &second_reference.path().join("node_modules"),
    );
    assert!(!out.contains(" 0 from the local store"), "{out}");

    // (4) A byte flipped in a store file (so also in the tree linked to it):
    // detected, fetched again, store and tree whole.
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[0] ^= 0x20;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&object)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
        .unwrap();
    let before = metric(&server, SERVED).await;
    let out = fetch(&server, &first, &store).await;
    let served = metric(&server, SERVED).await - before;
    assert!(served > 0 && served < full, "served {served}: {out}");
    assert!(
        out.contains(&format!("{} from the local store", files - 1)),
        "{out}"
    );
    assert_same_tree(&nm, &first_reference.path().join("node_modules"));
    let healed = store_object(&store, &nm.join("dc-cli/bin/cli.js"));
    assert_eq!(
        std::fs::read(&healed).unwrap(),
        std::fs::read(
            first_reference
                .path()
                .join("node_modules/dc-cli/bin/cli.js")
        )
        .unwrap()
    );
    server.stop().await;
}

/// A server whose bundle is not laid out as `bundle::plan` says (another
/// version, another ZIP writer) announces a different `bundle_size`: the
/// client must not ask it for ranges but fetch the whole bundle, as without
/// a store, and still restore exactly.
#[test]
fn a_bundle_laid_out_otherwise_is_fetched_whole() {
    use crate::client_support::{Sandbox, stderr};
    use crate::common::crafted_server::{CraftedServer, Script, dir, file, symlink};
    let tree = |index_js: &[u8]| {
        vec![
            dir(".bin"),
            dir("tool"),
            dir("tool/bin"),
            file("tool/package.json", b"{\"name\":\"tool\"}\n", 0o644),
            file("tool/index.js", index_js, 0o644),
            file("tool/bin/cli.js", b"#!/usr/bin/env node\n", 0o755),
            symlink(".bin/tool", "../tool/bin/cli.js"),
        ]
    };
    let sandbox = Sandbox::new();
    let store = sandbox.project().join("../store");
    let store_arg = store.to_string_lossy().into_owned();
    let extra = ["--no-fallback", "--local-store", &store_arg];

    let first = CraftedServer::start(Script::of(&tree(b"module.exports = 1;\n")));
    let out = sandbox.fetch(&first.url, &extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(first.download_ranges(), vec![None]);

    let second = CraftedServer::start(Script::of(&tree(b"module.exports = 2;\n")));
    // Same key, so without --force the folder already holds it.
    let extra = [&extra[..], &["--force"]].concat();
    let out = sandbox.fetch(&second.url, &extra);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        second.download_ranges(),
        vec![None],
        "no Range asked: {err}"
    );
    let nm = sandbox.node_modules();
    assert_eq!(
        std::fs::read(nm.join("tool/index.js")).unwrap(),
        b"module.exports = 2;\n"
    );
    assert_eq!(
        std::fs::read_link(nm.join(".bin/tool")).unwrap().to_str(),
        Some("../tool/bin/cli.js")
    );
    assert!(
        std::fs::metadata(nm.join("tool/index.js")).unwrap().nlink() > 1,
        "stored"
    );
}

/// Serves on `listener` a proxy that forwards every GET to `upstream`
/// without its `Range` header; returns the `Range` headers it dropped.
async fn range_dropping_proxy(
    listener: tokio::net::TcpListener,
    upstream: String,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    type Dropped = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    let dropped: Dropped = Default::default();
    async fn forward(
        State((upstream, dropped)): State<(String, Dropped)>,
        request: Request,
    ) -> axum::response::Response {
        if let Some(range) = request.headers().get("range") {
            dropped
                .lock()
                .unwrap()
                .push(range.to_str().unwrap().to_string());
        }
        let url = format!("{upstream}{}", request.uri());
        let answer = crate::common::server::http().get(url).send().await.unwrap();
        let status = answer.status().as_u16();
        let body = answer.bytes().await.unwrap();
        (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response()
    }
    let app = axum::Router::new()
        .fallback(axum::routing::get(forward))
        .with_state((upstream, dropped.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    dropped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_ignored_on_the_way_fall_back_to_the_whole_bundle() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let first = work.path().join("first");
    npm_project(&first, &[("dc-cli", "1.0.0")], &[]);
    let second = work.path().join("second");
    npm_project(&second, &[("dc-cli", "1.0.0"), ("dc-other", "1.0.0")], &[]);
    let second_reference = npm_ci_reference(&second, false);
    // The server hands out download URLs on the proxy, which drops Range.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let server = TestServer::start(ServerOptions {
        public: true,
        public_url: Some(proxy),
        ..ServerOptions::npm()
    })
    .await;
    let dropped = range_dropping_proxy(listener, server.url.clone()).await;

    fetch(&server, &first, &store).await;
    assert!(dropped.lock().unwrap().is_empty());
    let out = fetch(&server, &second, &store).await;
    assert!(
        !dropped.lock().unwrap().is_empty(),
        "the client asked for no range, so nothing was tested: {out}"
    );
    assert_same_tree(
        &second.join("node_modules"),
        &second_reference.path().join("node_modules"),
    );
    server.stop().await;
}

/// `cp -p` of a same-size restored file onto another writes into the store
/// object both trees share and copies the sealed mtime too: size, mode and
/// mtime all still look sealed. The next project restored from the store
/// must still get the right bytes (the object is hashed before use), and the
/// store is healed.
#[test]
fn a_cp_p_through_a_restored_tree_never_reaches_another_project() {
    use crate::client_support::{Sandbox, stderr};
    use crate::common::crafted_server::{CraftedServer, Script, dir, file};
    let items = [
        dir("a"),
        dir("b"),
        file("a/x.js", b"module.exports = 'x';\n", 0o644),
        file("b/y.js", b"module.exports = 'y';\n", 0o644),
    ];
    let server = CraftedServer::start(Script::of(&items));
    let first = Sandbox::new();
    let store = first.dir.path().join("store");
    let store_arg = store.to_string_lossy().into_owned();
    let extra = ["--no-fallback", "--local-store", &store_arg];

    let out = first.fetch(&server.url, &extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let nm = first.node_modules();
    let x = nm.join("a/x.js");
    assert!(std::fs::metadata(&x).unwrap().nlink() > 1, "x.js is stored");
    let object = store_object(&store, &x);
    let sealed = std::fs::metadata(&object).unwrap().modified().unwrap();

    let cp = std::process::Command::new("cp")
        .arg("-p")
        .arg(nm.join("b/y.js"))
        .arg(&x)
        .output()
        .unwrap();
    assert!(cp.status.success(), "{}", stderr(&cp));
    // The write went into the store, and nothing but the bytes tells.
    let meta = std::fs::metadata(&object).unwrap();
    assert_eq!(
        std::fs::read_to_string(&object).unwrap(),
        "module.exports = 'y';\n"
    );
    assert_eq!(meta.modified().unwrap(), sealed);
    assert_eq!(meta.len(), 22);

    let second = Sandbox::new();
    let out = second.fetch(&server.url, &extra);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let nm2 = second.node_modules();
    assert_eq!(
        std::fs::read_to_string(nm2.join("a/x.js")).unwrap(),
        "module.exports = 'x';\n",
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(nm2.join("b/y.js")).unwrap(),
        "module.exports = 'y';\n"
    );
    // The store holds the right content again, linked to the new tree.
    let healed = store_object(&store, &nm2.join("a/x.js"));
    assert_eq!(
        std::fs::read_to_string(&healed).unwrap(),
        "module.exports = 'x';\n"
    );
}

/// The `-vv` line a store restore logs: (linked on their seal, hashed).
fn seal_counts(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("objects linked on their seal record"))
        .unwrap_or_else(|| panic!("no seal line in:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let n = numbers.len();
    (numbers[n - 2], numbers[n - 1])
}

/// A warm restore trusts an object on its seal record (one lstat, no hash)
/// only while the inode's ctime is the one this client recorded. A write
/// through a restored tree that puts back size and mtime (`touch -r` of
/// another sealed file) moves the ctime: the next project hashes the object,
/// finds it changed and gets the right bytes. A damaged record table is no
/// table: everything is hashed.
#[test]
fn a_seal_record_is_trusted_only_while_the_object_is_untouched() {
    use crate::client_support::{Sandbox, stderr};
    use crate::common::crafted_server::{CraftedServer, Script, dir, file};
    let items = [
        dir("a"),
        dir("b"),
        file("a/x.js", b"module.exports = 'x';\n", 0o644),
        file("b/y.js", b"module.exports = 'y';\n", 0o644),
    ];
    let server = CraftedServer::start(Script::of(&items));
    let first = Sandbox::new();
    let store = first.dir.path().join("store");
    let store_arg = store.to_string_lossy().into_owned();
    let extra = ["--no-fallback", "--local-store", &store_arg, "-vv"];
    let fetch = |sandbox: &Sandbox| {
        // Seal records need ctimes older than the clock's granularity.
        std::thread::sleep(std::time::Duration::from_millis(120));
        let out = sandbox.fetch(&server.url, &extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        err
    };
    fetch(&first); // from the bundle; fills the store
    let second = Sandbox::new();
    assert_eq!(seal_counts(&fetch(&second)).1, 2, "no records yet: hashed");
    let third = Sandbox::new();
    assert_eq!(
        seal_counts(&fetch(&third)),
        (2, 0),
        "the second restore's records: linked after one lstat each"
    );

    // In place through the third tree, same size, then the sealed mtime back.
    let nm = third.node_modules();
    std::fs::OpenOptions::new()
        .write(true)
        .open(nm.join("a/x.js"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"module.exports = 'X';\n"))
        .unwrap();
    let touch = std::process::Command::new("touch")
        .arg("-r")
        .arg(nm.join("b/y.js"))
        .arg(nm.join("a/x.js"))
        .status()
        .unwrap();
    assert!(touch.success());
    let object = store_object(&store, &nm.join("a/x.js"));
    assert_eq!(
        std::fs::read_to_string(&object).unwrap(),
        "module.exports = 'X';\n",
        "the write went into the store"
    );

    let fourth = Sandbox::new();
    // The changed object is missing now: this crafted server's bundle is
    // then fetched whole, so no store restore (and no seal line).
    let err = fetch(&fourth);
    assert!(
        err.contains("local store checked missing=1") || err.contains("missing"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(fourth.node_modules().join("a/x.js")).unwrap(),
        "module.exports = 'x';\n",
        "{err}"
    );

    // Records a run trusts again, then the table damaged: all hashed.
    let fifth = Sandbox::new();
    // Both hashed: x.js is a new object, and the fourth fetch's own copy of
    // y.js marked a use of the object (a chmod, for prune), moving its ctime.
    assert_eq!(seal_counts(&fetch(&fifth)), (2, 2));
    let table = store.join("seals");
    let mut bytes = std::fs::read(&table).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&table, bytes).unwrap();
    let sixth = Sandbox::new();
    assert_eq!(seal_counts(&fetch(&sixth)).1, 2);
}
