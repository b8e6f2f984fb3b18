//! An in-process `depcache serve` on 127.0.0.1:0 with its own store, and small
//! HTTP helpers to talk to it.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use depcache::install::{HostTools, InstallSettings, TrustedSources, detect_host_tools};
use depcache::protocol::{
    CacheRequest, KeyInput, Manager, compute_key, current_platform, encode_file,
};
use depcache::server::{ApiKeys, ServerConfig, ServerLimits, VersionPolicy, serve};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const API_KEY: &str = "test-key-1";

pub struct ServerOptions {
    pub public: bool,
    pub api_keys: Vec<String>,
    pub install_timeout: Duration,
    pub max_body_size: usize,
    pub npm_registry: Option<String>,
    pub max_concurrent_installs: usize,
    pub public_url: Option<String>,
    /// `--allow-registry-host`.
    pub allow_registry_hosts: Vec<String>,
    /// `--allow-composer-path`: the composer fixtures' package folders.
    pub composer_paths: Vec<std::path::PathBuf>,
    pub limits: ServerLimits,
    /// `--npm-scope-registry` and `--registry-credentials`.
    pub private: depcache::install::PrivateRegistries,
    /// Keys with a `registries=` list, beside `api_keys`.
    pub scoped_keys: Vec<(String, depcache::server::KeyScopes)>,
    /// `--yarn-release` files.
    pub yarn_releases: Vec<std::path::PathBuf>,
    /// A server with no node on its PATH, installing every node project in
    /// this container runtime (`--use-docker-on-version-mismatch`).
    pub node_container: Option<std::sync::Arc<depcache::install::ContainerConfig>>,
    /// `--node-toolchain` directories, checked as at start-up.
    pub node_toolchains: Vec<depcache::install::NodeToolchain>,
}

impl ServerOptions {
    /// Defaults, installing npm packages from the test registry.
    pub fn npm() -> Self {
        ServerOptions {
            npm_registry: Some(crate::common::registry().url()),
            ..ServerOptions::default()
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            public: false,
            api_keys: vec![API_KEY.to_string()],
            install_timeout: Duration::from_secs(300),
            max_body_size: 1 << 20,
            npm_registry: None,
            max_concurrent_installs: 2,
            public_url: None,
            allow_registry_hosts: Vec::new(),
            composer_paths: Vec::new(),
            limits: ServerLimits::default(),
            private: Default::default(),
            scoped_keys: Vec::new(),
            yarn_releases: Vec::new(),
            node_container: None,
            node_toolchains: Vec::new(),
        }
    }
}

pub struct TestServer {
    pub url: String,
    pub store: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Tool detection runs node, npm, php and composer: once per test process.
pub fn host_tools() -> &'static HostTools {
    static TOOLS: OnceLock<HostTools> = OnceLock::new();
    TOOLS.get_or_init(detect_host_tools)
}

impl TestServer {
    pub async fn start(options: ServerOptions) -> TestServer {
        let store_dir = tempfile::tempdir().unwrap();
        let store = depcache::store::open(store_dir.path()).unwrap();
        let work_dir = store.staging_dir().to_path_buf();
        Self::start_on(options, store, work_dir, store_dir).await
    }

    /// A server over `store` (any backend), installing in `work_dir`; `dir`
    /// holds its tool cache and lives as long as the server.
    pub async fn start_on(
        options: ServerOptions,
        store: std::sync::Arc<dyn depcache::store::Store>,
        work_dir: std::path::PathBuf,
        store_dir: TempDir,
    ) -> TestServer {
        let releases = options
            .yarn_releases
            .iter()
            .map(|f| depcache::install::yarn::YarnRelease::detect(f).unwrap())
            .collect();
        let mut host = host_tools().clone();
        if options.node_container.is_some() {
            (host.node, host.npm, host.yarn) = (None, None, None);
        }
        let containers = options.node_container.is_some();
        let mut policy = VersionPolicy::new(&host, &[], &[], current_platform(), containers)
            .unwrap()
            .with_yarn_releases(releases)
            .with_toolchains(options.node_toolchains, Vec::new());
        if let Some(config) = options.node_container {
            policy = policy.with_container(config);
        }
        let hosts = options
            .allow_registry_hosts
            .iter()
            .map(|h| h.parse().unwrap())
            .collect();
        let sources = TrustedSources::new(
            options.npm_registry.as_deref(),
            hosts,
            &options.composer_paths,
        )
        .unwrap()
        .with_private(options.private)
        .unwrap();
        let mut api_keys = ApiKeys::new(&options.api_keys);
        for (key, scopes) in options.scoped_keys {
            api_keys.add(&key, scopes);
        }
        let config = ServerConfig {
            work_dir,
            store,
            public_url: options.public_url,
            public: options.public,
            api_keys,
            policy,
            install: InstallSettings {
                npm_registry: options.npm_registry,
                tool_cache: store_dir.path().join("tool-cache"),
                timeout: options.install_timeout,
                sources,
            },
            max_body_size: options.max_body_size,
            max_concurrent_installs: options.max_concurrent_installs,
            max_queued_installs: 16,
            limits: options.limits,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            store: store_dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Number of files under `objects/` (blobs), counted on disk.
    pub fn blob_count(&self) -> usize {
        count_files(&self.store.path().join("objects"))
    }

    pub fn index_count(&self) -> usize {
        count_files(&self.store.path().join("indexes"))
    }
}

pub fn count_files(dir: &std::path::Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

pub fn http() -> reqwest::Client {
    static INSTALL: OnceLock<()> = OnceLock::new();
    INSTALL.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// The host's versions for `manager`, as a client on this machine sends them.
pub fn host_versions(manager: Manager) -> BTreeMap<String, String> {
    let tools = host_tools();
    let names: &[&str] = match manager {
        Manager::Npm => &["node", "npm"],
        Manager::Composer => &["php", "composer"],
        // Tests name the pnpm version themselves: host tools do not detect it.
        Manager::Pnpm => &["node"],
        Manager::Yarn => &["node", "yarn"],
    };
    names
        .iter()
        .filter_map(|n| tools.get(n).map(|v| (n.to_string(), v.to_string())))
        .collect()
}

/// A well-formed request for `files`, keyed correctly.
pub fn cache_request(manager: Manager, files: &[(&str, Vec<u8>)]) -> CacheRequest {
    cache_request_with(manager, files, host_versions(manager), None)
}

pub fn cache_request_with(
    manager: Manager,
    files: &[(&str, Vec<u8>)],
    versions: BTreeMap<String, String>,
    options: Option<depcache::protocol::InstallOptions>,
) -> CacheRequest {
    let decoded: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(n, b)| (n.to_string(), b.clone()))
        .collect();
    let platform = current_platform();
    let hash = compute_key(KeyInput {
        manager,
        versions: &versions,
        platform: Some(&platform),
        options: options.as_ref(),
        files: &decoded,
    });
    CacheRequest {
        manager: manager.name().to_string(),
        hash,
        files: decoded
            .iter()
            .map(|(n, b)| (n.clone(), encode_file(b)))
            .collect(),
        versions,
        platform: Some(platform),
        options,
        private_scopes: Vec::new(),
    }
}

/// POSTs a JSON value to /v1/cache; returns status and parsed body.
pub async fn post_cache(server: &TestServer, key: Option<&str>, body: &Value) -> (u16, Value) {
    post_raw(server, key, serde_json::to_vec(body).unwrap()).await
}

pub async fn post_raw(server: &TestServer, key: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut request = http()
        .post(format!("{}/v1/cache", server.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("non-JSON answer ({status}): {e}: {text}"));
    (status, value)
}

/// Downloads `url` into `dest`.
pub async fn download(url: &str, key: Option<&str>, dest: &std::path::Path) -> reqwest::StatusCode {
    let mut request = http().get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    std::fs::write(dest, &bytes).unwrap();
    status
}

/// The server's `/metrics` page.
pub async fn metrics_text(server: &TestServer) -> String {
    http()
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample line starting with `series` (name plus labels).
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

/// One unlabelled counter or gauge from `/metrics`.
pub async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = metrics_text(server).await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
        .parse()
        .unwrap()
}

/// Starts the real `depcache serve 0 --bind 127.0.0.1 <args>` and waits until
/// it listens. `Err` carries its stderr when it exits instead (refusals).
pub fn spawn_binary_server(
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<(std::process::Child, String), (Option<i32>, String)> {
    let mut all = vec!["0", "--bind", "127.0.0.1"];
    all.extend_from_slice(args);
    spawn_serve(&all, envs)
}

/// `depcache serve <args>` exactly as given (no port, no --bind added);
/// returns the child, and the URL after "serving on " in its start-up line.
pub fn spawn_serve(
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<(std::process::Child, String), (Option<i32>, String)> {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .arg("serve")
        .args(args)
        .env_remove("DEPCACHE_API_KEYS")
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                // Text, or a JSON line (`--log-format json`) closing the quote.
                if let Some(url) = line.split("serving on ").nth(1) {
                    break url.split('"').next().unwrap_or(url).trim().to_string();
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            _ => {
                let status = child.wait().unwrap();
                return Err((status.code(), seen));
            }
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, url))
}

/// Runs the real `depcache fetch <manager> --no-fallback` in `project` against
/// `server` with `extra` arguments; asserts success and returns stderr.
pub async fn run_fetch(
    server: &TestServer,
    project: &std::path::Path,
    manager: &str,
    extra: &[&std::ffi::OsStr],
) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", manager, "--no-fallback", "--server", &server.url])
        .arg("--dir")
        .arg(project)
        .args(extra)
        .env("DEPCACHE_API_KEY", API_KEY)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "fetch failed: {stderr}");
    stderr
}
