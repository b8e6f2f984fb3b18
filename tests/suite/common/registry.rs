//! A tiny npm registry served in-process over HTTP, so tests need no internet.
//!
//! It runs on its own std::thread with its own tokio runtime: each
//! `#[tokio::test]` gets a runtime that dies with the test, and the registry
//! must outlive all of them. Packages are generated in Rust at start-up as
//! deterministic gzip'd tarballs (`package/` prefix, fixed mtime, uid 0).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use super::real_tools::Served;
use sha2::{Digest, Sha512};

/// Handle to the process-wide registry.
pub struct NpmRegistry {
    addr: SocketAddr,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    tarball_requests: AtomicUsize,
    /// Per package name, because tests run in parallel in one process and
    /// the global count moves under them.
    tarball_requests_by_name: Mutex<HashMap<String, usize>>,
    stall_hits: AtomicUsize,
    stall_open: AtomicUsize,
    /// Every request (packument or tarball, found or not) per package name:
    /// a name that must never reach this registry is asserted on here.
    requests_by_name: Mutex<HashMap<String, usize>>,
}

impl NpmRegistry {
    /// Base URL with trailing slash, as npm's `--registry` wants it.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tarball GETs served so far (any package, including dc-stall).
    pub fn tarball_requests(&self) -> usize {
        self.stats.tarball_requests.load(Ordering::SeqCst)
    }

    /// Tarball GETs served so far for one package (any version).
    pub fn tarball_requests_for(&self, name: &str) -> usize {
        let map = self.stats.tarball_requests_by_name.lock().unwrap();
        map.get(name).copied().unwrap_or(0)
    }

    /// Requests of any kind (packument, tarball, found or not) for one name.
    pub fn requests_for(&self, name: &str) -> usize {
        let map = self.stats.requests_by_name.lock().unwrap();
        map.get(name).copied().unwrap_or(0)
    }

    /// Requests of any kind for any name of npm scope `scope` (`@acme`).
    pub fn requests_for_scope(&self, scope: &str) -> usize {
        let map = self.stats.requests_by_name.lock().unwrap();
        let prefix = format!("{scope}/");
        map.iter()
            .filter(|(name, _)| name.starts_with(&prefix) || name.as_str() == scope)
            .map(|(_, n)| n)
            .sum()
    }

    /// Tarball requests for dc-stall that arrived.
    pub fn stall_hits(&self) -> usize {
        self.stats.stall_hits.load(Ordering::SeqCst)
    }

    /// dc-stall tarball responses whose connection is still open (the body
    /// stream is dropped by hyper when the client goes away).
    pub fn stall_open(&self) -> usize {
        self.stats.stall_open.load(Ordering::SeqCst)
    }
}

/// The registry of this test process, started on first use.
pub fn registry() -> &'static NpmRegistry {
    static REGISTRY: OnceLock<NpmRegistry> = OnceLock::new();
    REGISTRY.get_or_init(start)
}

fn start() -> NpmRegistry {
    // Bind before spawning so the address is known (packuments embed absolute
    // tarball URLs) and connections queue even before the runtime is polling.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind registry");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    let stats = Arc::new(Stats::default());
    let state = Arc::new(RegistryState::build(
        &format!("http://{addr}/"),
        stats.clone(),
    ));
    std::thread::Builder::new()
        .name("npm-registry".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("registry runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("from_std");
                let app = Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app).await.expect("registry serve");
            });
        })
        .expect("spawn registry thread");
    NpmRegistry { addr, stats }
}

struct RegistryState {
    /// Package name → packument JSON.
    packuments: HashMap<String, Bytes>,
    /// URL path (without leading slash) → tarball bytes.
    tarballs: HashMap<String, Bytes>,
    stats: Arc<Stats>,
    base: String,
    /// The installed package managers (`real_tools`), packed on first use,
    /// with their packuments merged into the ones above.
    real: OnceLock<Served>,
}

/// One package version: extra package.json fields and its files.
struct Spec {
    name: &'static str,
    version: &'static str,
    extra: Value,
    files: Vec<(String, Vec<u8>, u32)>,
}

fn text(path: &str, body: &str) -> (String, Vec<u8>, u32) {
    (path.to_string(), body.as_bytes().to_vec(), 0o644)
}

fn specs() -> Vec<Spec> {
    let mut out = Vec::new();
    for version in ["1.0.0", "1.1.0"] {
        out.push(Spec {
            name: "dc-util",
            version,
            extra: json!({"main": "index.js"}),
            files: vec![
                text("index.js", &format!("module.exports = require('./lib/util');\nmodule.exports.version = '{version}';\n")),
                text("lib/util.js", "exports.add = (a, b) => a + b;\n"),
                text("lib/deep/nested/more.js", &format!("exports.more = '{version}';\n")),
                text("README.md", &format!("# dc-util {version}\n")),
            ],
        });
    }
    out.push(Spec {
        name: "dc-cli",
        version: "1.0.0",
        extra: json!({"bin": {"dc-cli": "bin/cli.js"}, "dependencies": {"dc-util": "^1.0.0"}}),
        // Deliberately 0644 in the tarball: npm itself marks bin targets executable.
        files: vec![
            text(
                "bin/cli.js",
                "#!/usr/bin/env node\nconsole.log(require('dc-util').add(1, 2));\n",
            ),
            text("README.md", "# dc-cli\n"),
        ],
    });
    out.push(Spec {
        name: "dc-exec",
        version: "1.0.0",
        extra: json!({}),
        files: vec![
            (
                "scripts/run.sh".into(),
                b"#!/bin/sh\necho run\n".to_vec(),
                0o755,
            ),
            text("index.js", "module.exports = 'exec';\n"),
        ],
    });
    out.push(Spec {
        name: "dc-shared",
        version: "1.0.0",
        extra: json!({}),
        files: vec![text("index.js", "module.exports = 'shared';\n")],
    });
    out.push(Spec {
        name: "dc-other",
        version: "1.0.0",
        extra: json!({"dependencies": {"dc-shared": "^1.0.0"}}),
        files: vec![text(
            "index.js",
            "module.exports = require('dc-shared') + '-other';\n",
        )],
    });
    out.push(Spec {
        name: "dc-dev",
        version: "1.0.0",
        extra: json!({}),
        files: vec![text("index.js", "module.exports = 'dev only';\n")],
    });
    // Many small distinct files so ingesting this tree takes measurable time.
    let big = (0..3000)
        .map(|i| {
            let body = format!("// dc-big file {i}\nmodule.exports = {i};\n");
            text(&format!("lib/d{:02}/f{i:04}.js", i / 100), &body)
        })
        .collect();
    out.push(Spec {
        name: "dc-big",
        version: "1.0.0",
        extra: json!({}),
        files: big,
    });
    out.push(Spec {
        name: "dc-stall",
        version: "1.0.0",
        extra: json!({}),
        // Big enough that the first chunk we send is only a part of it.
        files: vec![text(
            "index.js",
            &(0..2000)
                .map(|i| format!("// stall {i}\n"))
                .collect::<String>(),
        )],
    });
    out.push(Spec {
        name: "@dc/scoped",
        version: "1.0.0",
        extra: json!({}),
        files: vec![text("index.js", "module.exports = 'scoped';\n")],
    });
    out.extend(script_specs());
    out.extend(fake_manager_specs());
    // Pins another dc-util than a root that pins 1.0.0: a nested conflict.
    out.push(Spec {
        name: "dc-pin",
        version: "1.0.0",
        extra: json!({"main": "index.js", "dependencies": {"dc-util": "1.1.0"}}),
        files: vec![text(
            "index.js",
            "module.exports = require('dc-util').version;\n",
        )],
    });
    // A name Yarn Berry patches with its own compat patch (its lockfile
    // then records `resolve@patch:...#optional!builtin<compat/resolve>`).
    out.push(Spec {
        name: "resolve",
        version: "1.22.8",
        extra: json!({"main": "index.js"}),
        files: vec![text("index.js", "module.exports = 'resolve fixture';\n")],
    });
    out
}

/// A stand-in `pnpm` CLI for the tool cache tests: it prints its version.
/// `0.0.2-dc-badsum` is published with a wrong `dist.integrity`.
fn fake_manager_specs() -> Vec<Spec> {
    ["0.0.1-dc", "0.0.2-dc-badsum"]
        .into_iter()
        .map(|version| Spec {
            name: "pnpm",
            version,
            extra: json!({"bin": {"pnpm": "bin/pnpm.cjs", "pnpx": "bin/pnpx.cjs"}}),
            files: vec![
                text(
                    "bin/pnpm.cjs",
                    &format!("#!/usr/bin/env node\nconsole.log('{version}');\n"),
                ),
                text("bin/pnpx.cjs", "#!/usr/bin/env node\n"),
            ],
        })
        .collect()
}

/// Packages with install scripts (for `fetch` running what `npm ci` runs):
/// - `dc-script`: preinstall and postinstall run `install.js`, which rewrites
///   a shipped file in place (as esbuild's postinstall does with its binary)
///   and adds one; it has a bin and depends on dc-util;
/// - `dc-script-fail`: a postinstall that prints a marker and exits 3.
fn script_specs() -> Vec<Spec> {
    let install_js = "const fs = require('fs');\n\
        const event = process.env.npm_lifecycle_event;\n\
        if (event === 'postinstall') {\n\
          fs.writeFileSync('lib/generated.js', 'module.exports = ' + JSON.stringify(event + ' ' + process.env.npm_package_name) + ';\\n');\n\
        }\n\
        fs.writeFileSync(event + '.txt', 'ran ' + event + '\\n');\n";
    vec![
        Spec {
            name: "dc-script",
            version: "1.0.0",
            extra: json!({
                "bin": {"dc-script": "bin/cli.js"},
                "dependencies": {"dc-util": "^1.0.0"},
                "scripts": {"preinstall": "node install.js", "postinstall": "node install.js"},
            }),
            files: vec![
                text("install.js", install_js),
                text("lib/generated.js", "module.exports = 'not built';\n"),
                text(
                    "bin/cli.js",
                    "#!/usr/bin/env node\nconsole.log(require('../lib/generated'));\n",
                ),
            ],
        },
        Spec {
            name: "dc-script-fail",
            version: "1.0.0",
            extra: json!({"scripts": {"postinstall": "node fail.js"}}),
            files: vec![text(
                "fail.js",
                "console.error('dc-script-fail: boom from the postinstall');\nprocess.exit(3);\n",
            )],
        },
    ]
}

/// Deterministic `.tgz` with npm's `package/` prefix. No directory entries:
/// npm creates directories itself, as for real registry tarballs.
fn tarball(spec: &Spec, package_json: &[u8]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(499162500); // npm's own fixed tarball date (1985-10-26)
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("package/{path}"), data)
            .expect("tar append");
    };
    add("package.json", package_json, 0o644);
    for (path, data, mode) in &spec.files {
        add(path, data, *mode);
    }
    tar.into_inner()
        .expect("tar finish")
        .finish()
        .expect("gzip finish")
}

impl RegistryState {
    fn build(base: &str, stats: Arc<Stats>) -> Self {
        let mut versions: HashMap<&str, Vec<(&str, Value)>> = HashMap::new();
        let mut tarballs = HashMap::new();
        for spec in specs() {
            let mut manifest = spec.extra.clone();
            manifest["name"] = json!(spec.name);
            manifest["version"] = json!(spec.version);
            manifest["license"] = json!("MIT");
            let package_json = serde_json::to_vec_pretty(&manifest).unwrap();
            let tgz = tarball(&spec, &package_json);
            // Scoped tarballs live at /@scope/name/-/name-1.0.0.tgz like on npmjs.
            let base_name = spec.name.rsplit('/').next().unwrap();
            let path = format!("{}/-/{base_name}-{}.tgz", spec.name, spec.version);
            let mut integrity =
                base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&tgz));
            if spec.version.ends_with("-badsum") {
                integrity = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(b"x"));
            }
            // No `shasum` (sha1): npm 11 verifies `integrity` and does not need it.
            manifest["dist"] = json!({
                "tarball": format!("{base}{path}"),
                "integrity": format!("sha512-{integrity}"),
            });
            tarballs.insert(path, Bytes::from(tgz));
            versions
                .entry(spec.name)
                .or_default()
                .push((spec.version, manifest));
        }
        let packuments = versions
            .into_iter()
            .map(|(name, list)| {
                let latest = list.last().unwrap().0;
                let versions: serde_json::Map<String, Value> =
                    list.into_iter().map(|(v, m)| (v.to_string(), m)).collect();
                let doc =
                    json!({"name": name, "dist-tags": {"latest": latest}, "versions": versions});
                (
                    name.to_string(),
                    Bytes::from(serde_json::to_vec(&doc).unwrap()),
                )
            })
            .collect();
        RegistryState {
            packuments,
            tarballs,
            stats,
            base: base.to_string(),
            real: OnceLock::new(),
        }
    }

    /// The installed managers, packed once (`real_tools::serve`).
    fn real(&self) -> &Served {
        self.real
            .get_or_init(|| super::real_tools::serve(&self.base, &self.packuments))
    }
}

/// Decrements `stall_open` when hyper drops the response body, i.e. when the
/// client disconnected (hyper notices EOF on the socket mid-response).
struct OpenGuard(Arc<Stats>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.stall_open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(State(state): State<Arc<RegistryState>>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    // npm asks for scoped packuments as /@scope%2fname.
    let name = path.replace("%2f", "/").replace("%2F", "/");
    let package = name.split("/-/").next().unwrap_or_default();
    *state
        .stats
        .requests_by_name
        .lock()
        .unwrap()
        .entry(package.to_string())
        .or_default() += 1;
    let real = if super::real_tools::NAMES.contains(&package) {
        let packing = state.clone();
        // Reading and gzipping the installed managers blocks for a while.
        tokio::task::spawn_blocking(move || {
            packing.real();
        })
        .await
        .expect("packing the installed managers");
        state.real.get()
    } else {
        None
    };
    if path.contains("/-/") {
        return tarball_response(&state, real, path);
    }
    let served = real.and_then(|r| r.packuments.get(&name));
    // dc-fail is simply absent, so its packument is a 404 like any unknown name.
    match served.or_else(|| state.packuments.get(&name)) {
        Some(doc) => ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response(),
        None => not_found(),
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"Not found"}"#,
    )
        .into_response()
}

fn tarball_response(state: &RegistryState, real: Option<&Served>, path: &str) -> Response {
    let found = state.tarballs.get(path);
    let found = found.or_else(|| real.and_then(|r| r.tarballs.get(path)));
    let Some(tgz) = found.cloned() else {
        return not_found();
    };
    state.stats.tarball_requests.fetch_add(1, Ordering::SeqCst);
    let name = path.split("/-/").next().unwrap().to_string();
    *state
        .stats
        .tarball_requests_by_name
        .lock()
        .unwrap()
        .entry(name)
        .or_default() += 1;
    if !path.starts_with("dc-stall/") {
        return ([(header::CONTENT_TYPE, "application/octet-stream")], tgz).into_response();
    }
    state.stats.stall_hits.fetch_add(1, Ordering::SeqCst);
    state.stats.stall_open.fetch_add(1, Ordering::SeqCst);
    let guard = OpenGuard(state.stats.clone());
    let len = tgz.len();
    // Headers promise the full length; we send a first chunk and then hang.
    let first = tgz.slice(..len / 4);
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(futures::stream::pending())
        .map(move |chunk| {
            let _keep = &guard; // the guard lives exactly as long as the body
            chunk
        });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from_stream(body))
        .unwrap()
}
