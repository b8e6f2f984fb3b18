//! A real S3-compatible server for the tests: moto's `moto_server` (installed
//! by .ci/run) on 127.0.0.1, started once per test process and killed with
//! it. Each test gets a bucket of its own, with the grace period it needs.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use depcache::store::S3Store;

pub struct Moto {
    pub endpoint: String,
}

/// The running moto server (started on first use).
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Spawned from a thread that lives as long as the process, so that
        // PR_SET_PDEATHSIG (parent *thread* death) kills moto exactly when
        // the test process ends.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut command = Command::new("moto_server");
            command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe and touches no memory of ours.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command.spawn();
            let _ = tx.send(child.map(|_| ()));
            loop {
                std::thread::park();
            }
        });
        rx.recv()
            .unwrap()
            .expect("moto_server runs (.ci/run installs it: pip install 'moto[server]')");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { endpoint }
    })
}

/// An unsigned PUT, which moto accepts: setting up needs no S3 client.
fn raw_put(moto: &Moto, path: &str, body: &[u8]) {
    use std::io::{Read, Write};
    let host = moto.endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "PUT {path}: {answer}");
}

/// A fresh bucket on moto, with `depcache-store.json` naming `grace`.
pub struct Bucket {
    pub name: String,
    pub prefix: String,
}

impl Bucket {
    pub fn new(grace: Duration) -> Bucket {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let moto = moto();
        let name = format!(
            "depcache-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let prefix = "ci/store".to_string();
        raw_put(moto, &format!("/{name}"), b"");
        let config = format!("{{\"format\":1,\"gc_grace_secs\":{}}}", grace.as_secs());
        raw_put(
            moto,
            &format!("/{name}/{prefix}/depcache-store.json"),
            config.as_bytes(),
        );
        Bucket { name, prefix }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.name, self.prefix)
    }

    /// The AWS_* settings a server or `depcache admin` needs for moto.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", moto().endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A store on this bucket, as a server opens it.
    pub fn open(&self) -> S3Store {
        S3Store::open(&self.name, &self.prefix, self.env(), None, true).unwrap()
    }
}
