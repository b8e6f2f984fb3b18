//! A private npm registry for tests on 127.0.0.1:0 that answers only
//! requests carrying its credential (a bearer token, or HTTP basic): it
//! serves `@acme/secret`, and `@acme/leaky`, a 404 whose npm error message
//! echoes the Authorization header back (so npm prints the secret, and the
//! server must scrub it). Runs on its own thread and runtime, like the
//! public test registry, so it outlives the test's runtime.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha512};

pub struct PrivateRegistry {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl PrivateRegistry {
    /// `HOST:PORT`, the credential's and the API key scope's name.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The Authorization headers of every request so far (None as "").
    pub fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

struct Served {
    expected: String,
    packument: Vec<u8>,
    tarball: Vec<u8>,
    seen: Arc<Mutex<Vec<String>>>,
}

/// Starts a registry that wants `Authorization: <expected>` (e.g.
/// `Bearer abc`, `Basic dXNlcjpwdw==`).
pub fn start_private_registry(expected: &str) -> PrivateRegistry {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let manifest = json!({"name": "@acme/secret", "version": "1.0.0", "license": "UNLICENSED",
        "main": "index.js"});
    let tarball = tgz(&[
        ("package/package.json", manifest.to_string().into_bytes()),
        (
            "package/index.js",
            b"module.exports = 'acme internal';\n".to_vec(),
        ),
    ]);
    let integrity = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&tarball));
    let mut version = manifest.clone();
    version["dist"] = json!({
        "tarball": format!("http://{addr}/@acme/secret/-/secret-1.0.0.tgz"),
        "integrity": format!("sha512-{integrity}"),
    });
    let packument = json!({"name": "@acme/secret", "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": version}});
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(Served {
        expected: expected.to_string(),
        packument: serde_json::to_vec(&packument).unwrap(),
        tarball,
        seen: seen.clone(),
    });
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = Router::new().fallback(handle).with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    PrivateRegistry { addr, seen }
}

async fn handle(State(state): State<Arc<Served>>, uri: Uri, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    state.seen.lock().unwrap().push(auth.clone());
    let json_answer = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if auth != state.expected {
        return json_answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "authentication required"}).to_string(),
        );
    }
    let path = uri.path().replace("%2f", "/").replace("%2F", "/");
    match path.as_str() {
        "/@acme/secret" => json_answer(
            StatusCode::OK,
            String::from_utf8(state.packument.clone()).unwrap(),
        ),
        "/@acme/secret/-/secret-1.0.0.tgz" => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            state.tarball.clone(),
        )
            .into_response(),
        // A registry that quotes the request back: npm prints `error`.
        _ => json_answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no package here for {auth}")}).to_string(),
        ),
    }
}

fn tgz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(499162500);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// Whether `needle` (a secret) appears anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// `GET url` with `key` as the bearer: status and body.
pub async fn get(url: &str, key: &str) -> (u16, Vec<u8>) {
    let response = crate::common::server::http()
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}
