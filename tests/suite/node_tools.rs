//! The tool cache of node-run package managers (src/install/node_tools.rs):
//! an exact version fetched from the test's registry, checked against the
//! packument's integrity, unpacked once and reused; versions it cannot get
//! are refused with what it can.

use std::time::Duration;

use depcache::install::TrustedSources;
use depcache::install::node_tools::{NodeTools, ToolError, ToolOrigin};

use crate::common::registry::registry;

fn tools(cache: &std::path::Path) -> NodeTools {
    let url = registry().url();
    let sources = TrustedSources::new(Some(&url), vec![], &[]).unwrap();
    NodeTools::new(cache, Some(&url), sources, Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn fetches_an_exact_version_once_and_runs_it_with_node() {
    let cache = tempfile::tempdir().unwrap();
    let tools = tools(cache.path());
    let cli = tools.get("pnpm", "0.0.1-dc").await.unwrap();
    let dir = cache.path().join("pnpm@0.0.1-dc");
    assert_eq!(cli.origin, ToolOrigin::Cache(dir.clone()));
    assert_eq!(cli.program, "node");
    let out = std::process::Command::new(&cli.program)
        .args(&cli.prefix)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0.0.1-dc");
    // Only the finished folder is left beside it: no staging debris.
    let names: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["pnpm@0.0.1-dc"]);

    let before = registry().tarball_requests_for("pnpm");
    let again = tools.get("pnpm", "0.0.1-dc").await.unwrap();
    assert_eq!(again, cli);
    assert_eq!(registry().tarball_requests_for("pnpm"), before, "refetched");
}

#[tokio::test]
async fn concurrent_fetches_share_one_copy() {
    let cache = tempfile::tempdir().unwrap();
    let tools = tools(cache.path());
    let (a, b) = tokio::join!(tools.get("pnpm", "0.0.1-dc"), tools.get("pnpm", "0.0.1-dc"));
    assert_eq!(a.unwrap(), b.unwrap());
    let names: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[tokio::test]
async fn an_integrity_mismatch_is_refused_and_nothing_is_cached() {
    let cache = tempfile::tempdir().unwrap();
    let err = tools(cache.path())
        .get("pnpm", "0.0.2-dc-badsum")
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Integrity { .. }), "{err}");
    assert!(err.to_string().contains("not the sha512-"), "{err}");
    assert!(!err.is_request_error());
    assert!(!cache.path().join("pnpm@0.0.2-dc-badsum").exists());
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn an_unpublished_version_lists_what_the_server_can_use() {
    let cache = tempfile::tempdir().unwrap();
    let tools = tools(cache.path());
    tools.get("pnpm", "0.0.1-dc").await.unwrap();
    let err = tools.get("pnpm", "0.0.9").await.unwrap_err();
    assert!(err.is_request_error(), "{err}");
    let text = err.to_string();
    assert!(text.contains("pnpm 0.0.9 is not published on"), "{text}");
    assert!(text.contains("pnpm 0.0.1-dc (tool cache)"), "{text}");
    assert!(text.contains("(PATH)"), "{text}");
    // The registry also serves the installed pnpm (a release, listed first).
    assert!(text.contains("newest: "), "{text}");
    assert!(text.contains(", 0.0.2-dc-badsum, 0.0.1-dc)"), "{text}");
    let err = tools.get("left-pad", "1.0.0").await.unwrap_err();
    assert!(
        err.is_request_error() && err.to_string().contains("known: pnpm"),
        "{err}"
    );
}

#[tokio::test]
async fn a_matching_tool_on_path_is_preferred() {
    let Some(pnpm) = depcache::install::find_on_path("pnpm") else {
        panic!("pnpm is not on PATH; .ci/run installs it");
    };
    let out = std::process::Command::new(&pnpm)
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let cache = tempfile::tempdir().unwrap();
    let cli = tools(cache.path()).get("pnpm", &version).await.unwrap();
    assert_eq!(cli.origin, ToolOrigin::Path(pnpm));
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}
