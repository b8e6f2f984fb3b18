//! The client's side of cheap hits: it asks by key first and uploads its
//! manifests only on a miss; servers without the GET route still work.

use std::path::Path;

use crate::client_support::{Sandbox, stderr};
use crate::common::crafted_server::{CraftedServer, Script, file};
use crate::common::npm_project;
use crate::common::server::{ServerOptions, TestServer, metrics_text, run_fetch};

/// `depcache_http_requests_total` for one route and status.
async fn requests(server: &TestServer, route: &str, status: u16) -> u64 {
    let prefix = format!("depcache_http_requests_total{{route=\"{route}\",status=\"{status}\"}} ");
    metrics_text(server)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|n| n.parse().unwrap()))
        .unwrap_or(0)
}

fn copy_project(from: &Path, to: &Path) {
    for name in ["package.json", "package-lock.json"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_sends_no_manifests() {
    let first = tempfile::tempdir().unwrap();
    npm_project(first.path(), &[("dc-cli", "1.0.0")], &[]);
    let server = TestServer::start(ServerOptions::npm()).await;
    let out = run_fetch(&server, first.path(), "npm", &[]).await;
    assert!(out.contains("cache miss"), "{out}");
    assert_eq!(requests(&server, "/v1/cache/{key}", 404).await, 1);
    assert_eq!(requests(&server, "/v1/cache", 200).await, 1);

    let second = tempfile::tempdir().unwrap();
    copy_project(first.path(), second.path());
    let out = run_fetch(&server, second.path(), "npm", &[]).await;
    assert!(out.contains("cache hit"), "{out}");
    assert!(second.path().join("node_modules/dc-cli").is_dir());
    assert_eq!(requests(&server, "/v1/cache/{key}", 200).await, 1);
    assert_eq!(
        requests(&server, "/v1/cache", 200).await,
        1,
        "the hit POSTed the manifests"
    );
    server.stop().await;
}

#[test]
fn a_server_without_the_get_route_is_asked_by_post() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script::of(&[file("a/index.js", b"x\n", 0o644)]));
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.posts(), 1);
    assert!(sandbox.node_modules().join("a/index.js").is_file());
}

/// Inode, mtime and ctime of every entry: what "not touched" means.
fn stats(root: &Path) -> std::collections::BTreeMap<String, (u64, i64, i64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            (
                rel,
                (
                    m.ino(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                ),
            )
        })
        .collect()
}

/// Every request the server counted, whatever the route.
async fn all_requests(server: &TestServer) -> u64 {
    metrics_text(server)
        .await
        .lines()
        .filter(|l| l.starts_with("depcache_http_requests_total{") && !l.contains("/metrics"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_fetch_touches_nothing_and_asks_nothing() {
    let project = tempfile::tempdir().unwrap();
    npm_project(
        project.path(),
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[],
    );
    let server = TestServer::start(ServerOptions::npm()).await;
    run_fetch(&server, project.path(), "npm", &[]).await;
    let nm = project.path().join("node_modules");
    assert!(nm.join(".depcache-state").is_file());
    let before = stats(&nm);
    let asked = all_requests(&server).await;

    let out = run_fetch(&server, project.path(), "npm", &[]).await;
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(stats(&nm), before, "the no-op touched the tree");
    assert_eq!(
        all_requests(&server).await,
        asked,
        "the no-op asked the server"
    );

    // --force restores from scratch: new inodes.
    let out = run_fetch(&server, project.path(), "npm", &["--force".as_ref()]).await;
    assert!(out.contains("restored node_modules"), "{out}");
    let after = stats(&nm);
    let file = "dc-cli/bin/cli.js";
    assert_ne!(after[file].0, before[file].0, "--force kept the old file");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_deleted_and_added_entries_are_put_right_and_nothing_else_is_touched() {
    use std::os::unix::fs::MetadataExt;
    let project = tempfile::tempdir().unwrap();
    npm_project(
        project.path(),
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[],
    );
    let reference = crate::common::npm_ci_reference(project.path(), false);
    let server = TestServer::start(ServerOptions::npm()).await;
    run_fetch(&server, project.path(), "npm", &[]).await;
    let nm = project.path().join("node_modules");
    let before = stats(&nm);

    // Same size, mtime set back: only the ctime gives it away.
    let changed = nm.join("dc-cli/bin/cli.js");
    let meta = std::fs::symlink_metadata(&changed).unwrap();
    let garbage = vec![b'#'; meta.len() as usize];
    std::fs::write(&changed, &garbage).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&changed)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    assert_eq!(
        std::fs::symlink_metadata(&changed).unwrap().mtime(),
        meta.mtime()
    );
    let deleted = nm.join("dc-exec/package.json");
    std::fs::remove_file(&deleted).unwrap();
    std::fs::remove_file(nm.join(".bin/dc-cli")).unwrap();
    std::fs::write(nm.join("dc-exec/added.js"), b"extra").unwrap();
    std::fs::create_dir(nm.join("added-dir")).unwrap();
    std::fs::write(nm.join("added-dir/x"), b"x").unwrap();

    let out = run_fetch(&server, project.path(), "npm", &[]).await;
    assert!(out.contains("put right"), "{out}");
    crate::common::assert_same_tree(&nm, &reference.path().join("node_modules"));
    let after = stats(&nm);
    let repaired = [
        "dc-cli/bin/cli.js",
        "dc-exec/package.json",
        ".bin/dc-cli",
        // Their folders' entries changed.
        "",
        ".bin",
        "dc-cli/bin",
        "dc-exec",
    ];
    for (path, stat) in &before {
        if !repaired.contains(&path.as_str()) && path != ".depcache-state" {
            assert_eq!(after.get(path), Some(stat), "{path} was touched");
        }
    }

    // The repaired tree is recorded: the next run is a no-op again.
    let out = run_fetch(&server, project.path(), "npm", &[]).await;
    assert!(out.contains("nothing to do"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_restores_normally() {
    let project = tempfile::tempdir().unwrap();
    npm_project(project.path(), &[("dc-cli", "1.0.0")], &[]);
    let server = TestServer::start(ServerOptions::npm()).await;
    run_fetch(&server, project.path(), "npm", &[]).await;
    npm_project(
        project.path(),
        &[("dc-cli", "1.0.0"), ("dc-exec", "1.0.0")],
        &[],
    );
    let reference = crate::common::npm_ci_reference(project.path(), false);
    let out = run_fetch(&server, project.path(), "npm", &[]).await;
    assert!(out.contains("restored node_modules"), "{out}");
    let nm = project.path().join("node_modules");
    crate::common::assert_same_tree(&nm, &reference.path().join("node_modules"));
    let out = run_fetch(&server, project.path(), "npm", &[]).await;
    assert!(out.contains("nothing to do"), "{out}");
    server.stop().await;
}

#[test]
fn a_symlinked_root_is_never_reached_into_for_its_manifest() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let foreign = br#"{"format":1,"key":"another","snapshot":{"root_dev":0,"root_ino":0,"entries":{}},"foreign":[]}"#;
    std::fs::write(elsewhere.join(".depcache-state"), foreign).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sandbox.node_modules()).unwrap();
    let server = CraftedServer::start(Script::of(&[file("a/index.js", b"x\n", 0o644)]));
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(elsewhere.join(".depcache-state")).unwrap(),
        foreign,
        "the manifest behind the link was touched"
    );
}
