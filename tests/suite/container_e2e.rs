//! The container fallback, end to end on this machine with podman: a request
//! for node/npm versions the host's PATH does not have is installed (1) from
//! a server holding those versions as a `--node-toolchain`, (2) from a server
//! that only has a container image of them, and the two trees must be equal
//! file by file. Needs `tests/container/setup.sh` (run by `.ci/run`); skipped,
//! loudly, only when DEPCACHE_CONTAINER_TESTS is unset and podman is missing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use depcache::install::container::{ContainerConfig, pick_runtime, runtime_answers};
use depcache::install::toolchain::detect_node;
use depcache::protocol::{Manager, current_platform};
use depcache::server::{ApiKeys, ServerConfig, VersionPolicy, serve};
use serde_json::Value;

use crate::common::server::{API_KEY, cache_request_with, host_tools, http};
use crate::container_registry::Registry;

/// What setup.sh built: the versions, the toolchain dir and the image template.
pub(crate) struct Setup {
    pub node: String,
    pub npm: String,
    pub image: String,
    toolchain: PathBuf,
}

pub(crate) fn setup() -> Option<Setup> {
    let asked = std::env::var_os("DEPCACHE_CONTAINER_TESTS").is_some()
        || std::env::var("CI").is_ok_and(|v| v == "true");
    let podman = depcache::install::find_on_path("podman").is_some();
    if !asked && !podman {
        eprintln!(
            "\n*** SKIPPED container e2e tests: podman is not installed and \
DEPCACHE_CONTAINER_TESTS is unset. Run tests/container/setup.sh (as root) to enable them. ***\n"
        );
        return None;
    }
    let dir = std::env::var("DEPCACHE_CONTAINER_DIR").unwrap_or("/var/lib/depcache-test".into());
    let text = std::fs::read_to_string(Path::new(&dir).join("versions")).unwrap_or_else(|e| {
        panic!("{dir}/versions is missing ({e}): run tests/container/setup.sh first")
    });
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{dir}/versions has no {k}="))
            .to_string()
    };
    Some(Setup {
        node: get("node"),
        npm: get("npm"),
        image: get("image"),
        toolchain: PathBuf::from(get("toolchain")),
    })
}

struct Server {
    url: String,
    store: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(policy: VersionPolicy, registry: &str, timeout: Duration) -> Server {
    let store_dir = tempfile::tempdir().unwrap();
    let store = depcache::store::open(store_dir.path()).unwrap();
    let config = ServerConfig {
        work_dir: store.staging_dir().to_path_buf(),
        store,
        public_url: None,
        public: false,
        api_keys: ApiKeys::new(&[API_KEY.to_string()]),
        policy,
        install: depcache::install::InstallSettings {
            npm_registry: Some(registry.to_string()),
            tool_cache: store_dir.path().join("tool-cache"),
            timeout,
            sources: depcache::install::TrustedSources::new(Some(registry), Vec::new(), &[])
                .unwrap(),
        },
        max_body_size: 1 << 20,
        max_concurrent_installs: 2,
        max_queued_installs: 4,
        limits: depcache::server::ServerLimits::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, config, async {
        let _ = rx.await;
    }));
    Server {
        url,
        store: store_dir,
        _stop: tx,
    }
}

pub(crate) fn podman_config(setup: &Setup) -> Arc<ContainerConfig> {
    let runtime = pick_runtime(Some("podman"), |rt| runtime_answers(rt, &[])).unwrap();
    let mut config = ContainerConfig::new(runtime);
    config.node_image = setup.image.clone();
    // The registry listens on the test's 127.0.0.1.
    config.network = Some("host".to_string());
    config.memory = "1g".to_string();
    config.cpus = "1".to_string();
    Arc::new(config)
}

fn container_policy(setup: &Setup) -> VersionPolicy {
    VersionPolicy::new(host_tools(), &[], &[], current_platform(), true)
        .unwrap()
        .with_container(podman_config(setup))
}

/// package.json and a v3 lockfile depending on `deps`, resolved at `registry`.
pub(crate) fn project(registry: &Registry, deps: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let dependencies: serde_json::Map<String, Value> = deps
        .iter()
        .map(|d| (d.to_string(), "^1.0.0".into()))
        .collect();
    let manifest =
        serde_json::json!({"name": "app", "version": "1.0.0", "dependencies": dependencies});
    let mut packages = serde_json::Map::new();
    packages.insert(
        String::new(),
        serde_json::json!({"name": "app", "version": "1.0.0", "dependencies": dependencies}),
    );
    let mut todo: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
    while let Some(name) = todo.pop() {
        let entry = registry.lock_entry(&name);
        if let Some(more) = entry["dependencies"].as_object() {
            todo.extend(more.keys().cloned());
        }
        packages.insert(format!("node_modules/{name}"), entry);
    }
    let lock = serde_json::json!({
        "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
        "packages": packages,
    });
    vec![
        (
            "package.json",
            serde_json::to_vec_pretty(&manifest).unwrap(),
        ),
        (
            "package-lock.json",
            serde_json::to_vec_pretty(&lock).unwrap(),
        ),
    ]
}

async fn post(server: &Server, body: &Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/v1/cache", server.url))
        .bearer_auth(API_KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get_text(url: &str) -> String {
    let response = http().get(url).bearer_auth(API_KEY).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.text().await.unwrap()
}

/// Downloads the bundle and unzips it with Info-ZIP (modes, symlinks).
pub(crate) async fn restore(answer: &Value) -> tempfile::TempDir {
    let url = answer["download_url"].as_str().unwrap();
    let bytes = http()
        .get(url)
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bundle.zip");
    std::fs::write(&zip, &bytes).unwrap();
    let status = std::process::Command::new("unzip")
        .args([
            "-q",
            zip.to_str().unwrap(),
            "-d",
            dir.path().join("out").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

/// Every path under `root` with its type, exec bit and content or target;
/// the client's stat manifest is its own record, not part of the tree.
pub(crate) fn tree(root: &Path) -> Vec<(String, String)> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path() != root.join(crate::common::tree::STATE_FILE))
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let meta = e.path().symlink_metadata().unwrap();
            let what = if meta.file_type().is_symlink() {
                format!(
                    "symlink -> {}",
                    std::fs::read_link(e.path()).unwrap().display()
                )
            } else if meta.is_dir() {
                "dir".to_string()
            } else {
                let exec = meta.permissions().mode() & 0o111 != 0;
                let content = std::fs::read(e.path()).unwrap();
                format!("file exec={exec} {}", String::from_utf8_lossy(&content))
            };
            (rel, what)
        })
        .collect()
}

async fn metric(server: &Server, name: &str) -> u64 {
    let text = get_text(&format!("{}/metrics", server.url)).await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_version_the_host_lacks_installs_in_a_container_identical_to_a_native_install() {
    let Some(setup) = setup() else { return };
    // Honest mismatch: the host's own PATH tools are another npm.
    let host_pair = (host_tools().node.clone(), host_tools().npm.clone());
    assert_ne!(
        host_pair,
        (Some(setup.node.clone()), Some(setup.npm.clone()))
    );
    let registry = Registry::start().await;
    let files = project(&registry, &["greet"]);
    let versions = BTreeMap::from([
        ("node".to_string(), setup.node.clone()),
        ("npm".to_string(), setup.npm.clone()),
    ]);
    let body =
        serde_json::to_value(cache_request_with(Manager::Npm, &files, versions, None)).unwrap();

    // Without a toolchain or containers, the version is refused and listed.
    let plain = VersionPolicy::new(host_tools(), &[], &[], current_platform(), false).unwrap();
    let refusing = start(plain, &registry.url, Duration::from_secs(120)).await;
    let (status, answer) = post(&refusing, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unsupported_version")),
        "{answer}"
    );

    // Native: the same versions as a --node-toolchain directory.
    let toolchain = detect_node(&setup.node, &setup.toolchain).unwrap();
    assert_eq!(toolchain.npm, setup.npm);
    let native_policy = VersionPolicy::new(host_tools(), &[], &[], current_platform(), false)
        .unwrap()
        .with_toolchains(vec![toolchain], vec![]);
    let native = start(native_policy, &registry.url, Duration::from_secs(300)).await;
    let (status, native_answer) = post(&native, &body).await;
    assert_eq!(status, 200, "{native_answer}");
    assert_eq!(
        metric(&native, "depcache_container_installs_total").await,
        0
    );

    // Container: only podman and the image have those versions.
    let contained = start(
        container_policy(&setup),
        &registry.url,
        Duration::from_secs(300),
    )
    .await;
    let table: Value =
        serde_json::from_str(&get_text(&format!("{}/v1/versions", contained.url)).await).unwrap();
    assert_eq!(table["npm"]["container"]["runtime"], "podman", "{table}");
    assert_eq!(table["npm"]["container"]["image"], setup.image.as_str());
    let started = Instant::now();
    let (status, container_answer) = post(&contained, &body).await;
    eprintln!("container install took {:?}", started.elapsed());
    assert_eq!(status, 200, "{container_answer}");
    assert_eq!(container_answer["cache_hit"], false);
    assert_eq!(
        metric(&contained, "depcache_container_installs_total").await,
        1
    );

    // Same key, same index entries, same restored tree.
    assert_eq!(native_answer["key"], container_answer["key"]);
    let index = |a: &Value| {
        let url = a["index_url"].as_str().unwrap().to_string();
        async move {
            let v: Value = serde_json::from_str(&get_text(&url).await).unwrap();
            (v["versions"].clone(), v["entries"].clone())
        }
    };
    let (native_versions, native_entries) = index(&native_answer).await;
    let (container_versions, container_entries) = index(&container_answer).await;
    assert_eq!(native_versions, container_versions);
    assert_eq!(container_versions["npm"], setup.npm.as_str());
    assert_eq!(native_entries, container_entries);
    let a = restore(&native_answer).await;
    let b = restore(&container_answer).await;
    let (ta, tb) = (tree(&a.path().join("out")), tree(&b.path().join("out")));
    assert_eq!(ta, tb);
    let find = |p: &str| ta.iter().find(|(rel, _)| rel == p).map(|(_, w)| w.clone());
    assert_eq!(
        find("node_modules/.bin/greet").as_deref(),
        Some("symlink -> ../greet/cli.js")
    );
    assert!(
        find("node_modules/greet/cli.js")
            .unwrap()
            .starts_with("file exec=true")
    );
    assert!(find("node_modules/words/lib/empty.txt").is_some());
    assert!(find("node_modules/.package-lock.json").is_some());

    // A second request is a hit, with no second container.
    let (status, again) = post(&contained, &body).await;
    assert_eq!((status, again["cache_hit"].as_bool()), (200, Some(true)));
    assert_eq!(
        metric(&contained, "depcache_container_installs_total").await,
        1
    );
}

#[tokio::test]
async fn a_timed_out_container_is_removed() {
    let Some(setup) = setup() else { return };
    let registry = Registry::start().await;
    let files = project(&registry, &["stall"]);
    let versions = BTreeMap::from([
        ("node".to_string(), setup.node.clone()),
        ("npm".to_string(), setup.npm.clone()),
    ]);
    let body =
        serde_json::to_value(cache_request_with(Manager::Npm, &files, versions, None)).unwrap();
    let server = start(
        container_policy(&setup),
        &registry.url,
        Duration::from_secs(8),
    )
    .await;
    let (status, answer) = post(&server, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (504, Some("install_timeout")),
        "{answer}"
    );
    // `rm -f <name>` ran before the answer: no container of this server is
    // left. Other tests of this process run containers at the same time, so
    // a container counts as this server's when it mounts from its store.
    let prefix = format!("depcache-{}-", std::process::id());
    let out = std::process::Command::new("podman")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout);
    let ours = server.store.path().display().to_string();
    let left: Vec<&str> = names
        .lines()
        .filter(|n| n.starts_with(&prefix))
        .filter(|n| {
            let mounts = std::process::Command::new("podman")
                .args([
                    "inspect",
                    "--format",
                    "{{range .Mounts}}{{.Source}} {{end}}",
                    n,
                ])
                .output()
                .unwrap();
            // Gone since the listing (another test's, removed): not left.
            mounts.status.success() && String::from_utf8_lossy(&mounts.stdout).contains(&ours)
        })
        .collect();
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

/// setup.sh runs on developer machines too: it must never wipe podman's
/// storage (images and containers it did not create).
#[test]
fn setup_sh_never_resets_podman_storage() {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/container/setup.sh"),
    )
    .unwrap();
    for line in script.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with("echo ") {
            continue;
        }
        assert!(
            !line.contains("system reset") && !line.contains("system prune"),
            "setup.sh destroys podman storage: {line}"
        );
    }
}
