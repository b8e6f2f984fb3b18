//! A private composer repository for tests: https on 127.0.0.1:0 with a
//! certificate made by the `openssl` tool (its own CA, as an internal CA
//! would be), answering only requests with its HTTP basic credential. It
//! serves `packages.json` and the dist zip of `acme/private-lib` 1.0.0.
//! HTTP/1.0-style, one request per connection, a thread per connection: all
//! composer needs, and no TLS server crate to add.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

pub struct ComposerRepo {
    pub port: u16,
    /// The CA (self-signed certificate) to trust.
    pub ca: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl ComposerRepo {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Authorization headers received so far ("" when none).
    pub fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The lock entry of acme/private-lib.
    pub fn locked_package(&self) -> Value {
        locked_package(&self.url())
    }
}

fn locked_package(url: &str) -> Value {
    json!({
            "name": "acme/private-lib", "version": "1.0.0", "type": "library",
            "dist": {"type": "zip", "url": format!("{url}/dists/acme-private-lib-1.0.0.zip"),
                     "reference": "1.0.0", "shasum": ""},
            "autoload": {"psr-4": {"Acme\\PrivateLib\\": "src/"}},
            "license": ["proprietary"],
    })
}

pub(crate) fn openssl(dir: &Path) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dist_zip(dir: &Path) -> Vec<u8> {
    let src = dir.join("pkg");
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::write(
        src.join("composer.json"),
        json!({"name": "acme/private-lib", "version": "1.0.0",
               "autoload": {"psr-4": {"Acme\\PrivateLib\\": "src/"}}})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        src.join("src/Lib.php"),
        "<?php\nnamespace Acme\\PrivateLib;\n\nclass Lib\n{\n}\n",
    )
    .unwrap();
    let out = Command::new("zip")
        .current_dir(&src)
        .args(["-q", "-r", "-X", "../dist.zip", "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::read(dir.join("dist.zip")).unwrap()
}

/// A TLS server config for 127.0.0.1 whose self-signed certificate (also
/// the CA a client must trust) `openssl` writes into `dir` as `cert.pem`.
pub fn self_signed_tls(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    openssl(dir);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// Starts the repository; `expected` is the whole Authorization value.
pub fn start_composer_repo(expected: &str) -> ComposerRepo {
    let dir = tempfile::tempdir().unwrap();
    let config = self_signed_tls(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let zip = Arc::new(dist_zip(dir.path()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let expected = expected.to_string();
    let log = seen.clone();
    let url = format!("https://127.0.0.1:{port}");
    let packages =
        json!({"packages": {"acme/private-lib": {"1.0.0": locked_package(&url)}}}).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (config, zip, log, expected, packages) = (
                config.clone(),
                zip.clone(),
                log.clone(),
                expected.clone(),
                packages.clone(),
            );
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let _ = serve_one(&mut tls, &zip, &log, &expected, &packages);
            });
        }
    });
    ComposerRepo {
        port,
        ca: dir.path().join("cert.pem"),
        seen,
        _dir: dir,
    }
}

fn serve_one(
    tls: &mut (impl Read + Write),
    zip: &[u8],
    log: &Mutex<Vec<String>>,
    expected: &str,
    packages: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            auth = value.trim().to_string();
        }
    }
    log.lock().unwrap().push(auth.clone());
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, kind, body): (&str, &str, Vec<u8>) = if auth != expected {
        ("401 Unauthorized", "application/json", b"{}".to_vec())
    } else if path == "/packages.json" {
        ("200 OK", "application/json", packages.as_bytes().to_vec())
    } else if path == "/dists/acme-private-lib-1.0.0.zip" {
        ("200 OK", "application/zip", zip.to_vec())
    } else {
        ("404 Not Found", "application/json", b"{}".to_vec())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
www-authenticate: Basic realm=\"acme\"\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())?;
    tls.write_all(&body)?;
    tls.flush()
}
