//! An https front for the in-process test registry: TLS on 127.0.0.1:0 with
//! a certificate of its own CA (made by `openssl`, as an intercepting proxy
//! or an internal mirror's would be), each request passed to the plain-http
//! upstream as HTTP/1.0 and the answer relayed unchanged. One request per
//! connection, a thread per connection, like the composer repository.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TlsProxy {
    pub port: u16,
    /// The CA (self-signed certificate) to trust.
    pub ca: PathBuf,
    relayed: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl TlsProxy {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    /// Requests answered after a completed handshake.
    pub fn relayed(&self) -> usize {
        self.relayed.load(Ordering::SeqCst)
    }
}

pub fn start_tls_proxy(upstream: SocketAddr) -> TlsProxy {
    let dir = tempfile::tempdir().unwrap();
    let config = super::private_composer::self_signed_tls(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let relayed = Arc::new(AtomicUsize::new(0));
    let count = relayed.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (config, count) = (config.clone(), count.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                if relay(&mut tls, upstream).is_ok() {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    TlsProxy {
        port,
        ca: dir.path().join("cert.pem"),
        relayed,
        _dir: dir,
    }
}

fn relay(tls: &mut (impl Read + Write), upstream: SocketAddr) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    let mut plain = TcpStream::connect(upstream)?;
    write!(
        plain,
        "{method} {path} HTTP/1.0\r\nhost: {upstream}\r\nconnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    plain.read_to_end(&mut answer)?;
    tls.write_all(&answer)?;
    tls.flush()
}
