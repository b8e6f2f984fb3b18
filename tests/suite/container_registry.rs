//! A minimal npm registry for the container tests, on 127.0.0.1:0: two real
//! packages (`greet`, with a bin, depending on `words`), `stall`, whose
//! tarball never arrives (for the timeout test), and `built` / `spy` with
//! install scripts (for `--build-scripts container`). Kept here rather than in
//! common/ so this branch does not wait for the shared registry fixture.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha512};

pub struct Registry {
    pub url: String,
    tarballs: BTreeMap<String, Vec<u8>>,
}

struct Package {
    name: &'static str,
    version: &'static str,
    files: Vec<(&'static str, &'static str, u32)>,
    deps: &'static [(&'static str, &'static str)],
    bin: Option<(&'static str, &'static str)>,
}

fn packages() -> Vec<Package> {
    vec![
        Package {
            name: "greet",
            version: "1.0.0",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"greet","version":"1.0.0","bin":{"greet":"cli.js"},"dependencies":{"words":"^2.0.0"}}"#,
                    0o644,
                ),
                (
                    "cli.js",
                    "#!/usr/bin/env node\nconsole.log(require('words').hello);\n",
                    0o755,
                ),
                ("README.md", "# greet\n", 0o644),
            ],
            deps: &[("words", "^2.0.0")],
            bin: Some(("greet", "cli.js")),
        },
        Package {
            name: "words",
            version: "2.0.0",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"words","version":"2.0.0","main":"index.js"}"#,
                    0o644,
                ),
                ("index.js", "exports.hello = 'hello';\n", 0o644),
                ("lib/empty.txt", "", 0o644),
            ],
            deps: &[],
            bin: None,
        },
        // Install scripts, for --build-scripts container: `built` writes a
        // file into its own folder and rewrites a shipped one; `spy` writes
        // what its script can see of the environment and of $STORE_DIR.
        Package {
            name: "built",
            version: "1.0.0",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"built","version":"1.0.0","scripts":{"postinstall":"node build.js"}}"#,
                    0o644,
                ),
                (
                    "build.js",
                    "const fs = require('fs');\nfs.writeFileSync('built.txt', 'built by ' + process.env.npm_lifecycle_event + '\\n');\nfs.writeFileSync('lib.js', 'module.exports = \"native\";\\n');\n",
                    0o644,
                ),
                ("lib.js", "module.exports = 'not built';\n", 0o644),
            ],
            deps: &[],
            bin: None,
        },
        Package {
            name: "spy",
            version: "1.0.0",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"spy","version":"1.0.0","scripts":{"postinstall":"node spy.js"}}"#,
                    0o644,
                ),
                (
                    "spy.js",
                    "const fs = require('fs');\n\
                     const list = (dir) => { try { return fs.readdirSync(dir).join('\\n'); } catch (e) { return e.code; } };\n\
                     fs.writeFileSync('env.txt', Object.entries(process.env).map(([k, v]) => k + '=' + v).join('\\n') + '\\n');\n\
                     fs.writeFileSync('store.txt', list(process.env.STORE_DIR || '') + '\\n');\n\
                     fs.writeFileSync('root.txt', list('/') + '\\n');\n",
                    0o644,
                ),
            ],
            deps: &[],
            bin: None,
        },
        Package {
            name: "stall",
            version: "1.0.0",
            files: vec![(
                "package.json",
                r#"{"name":"stall","version":"1.0.0"}"#,
                0o644,
            )],
            deps: &[],
            bin: None,
        },
    ]
}

/// A gzipped tarball as `npm pack` lays it out (everything under `package/`).
fn tarball(p: &Package) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, content, mode) in &p.files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(499162500);
        header.set_cksum();
        tar.append_data(&mut header, format!("package/{path}"), content.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

pub fn integrity(bytes: &[u8]) -> String {
    let digest = Sha512::digest(bytes);
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

impl Registry {
    pub async fn start() -> Arc<Registry> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tarballs = packages()
            .iter()
            .map(|p| (p.name.to_string(), tarball(p)))
            .collect();
        let registry = Arc::new(Registry { url, tarballs });
        let app = Router::new()
            .route("/{name}", get(packument))
            .route("/{name}/-/{file}", get(download))
            .with_state(registry.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        registry
    }

    pub fn tarball_url(&self, name: &str, version: &str) -> String {
        format!("{}/{name}/-/{name}-{version}.tgz", self.url)
    }

    /// A v3 lockfile entry for `name`, pointing at this registry.
    pub fn lock_entry(&self, name: &str) -> serde_json::Value {
        let p = packages().into_iter().find(|p| p.name == name).unwrap();
        let mut entry = serde_json::json!({
            "version": p.version,
            "resolved": self.tarball_url(p.name, p.version),
            "integrity": integrity(&self.tarballs[name]),
        });
        if !p.deps.is_empty() {
            entry["dependencies"] = p
                .deps
                .iter()
                .map(|(n, r)| (n.to_string(), Value::from(*r)))
                .collect();
        }
        // As npm records it: without it `npm ci` runs no scripts of the entry.
        if p.files[0].1.contains("\"scripts\"") {
            entry["hasInstallScript"] = true.into();
        }
        if let Some((bin, path)) = p.bin {
            entry["bin"] = serde_json::json!({ bin: path });
        }
        entry
    }
}

async fn packument(State(r): State<Arc<Registry>>, Path(name): Path<String>) -> Response {
    let Some(p) = packages().into_iter().find(|p| p.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut version = r.lock_entry(&name);
    version["name"] = p.name.into();
    version["dist"] = serde_json::json!({
        "tarball": r.tarball_url(p.name, p.version),
        "integrity": integrity(&r.tarballs[&name]),
    });
    axum::Json(serde_json::json!({
        "name": p.name,
        "dist-tags": {"latest": p.version},
        "versions": { p.version: version },
    }))
    .into_response()
}

async fn download(
    State(r): State<Arc<Registry>>,
    Path((name, _file)): Path<(String, String)>,
) -> Response {
    if name == "stall" {
        // Never answers: the install must hit the server's timeout.
        std::future::pending::<()>().await;
    }
    match r.tarballs.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
