//! The server image (Containerfile's `prebuilt` stage) built with podman
//! from the base tests/container/setup.sh makes locally, started with its
//! store on a named volume: it runs as uid 10001, answers `/ready`, and what
//! it writes on the volume belongs to that user. Skipped like the other
//! container tests when podman is missing and CI is unset.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::server::http;

fn podman(args: &[&str]) -> String {
    let out = Command::new("podman").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "podman {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Removes what the test made, whatever happens to it.
struct Cleanup {
    container: Option<String>,
    image: String,
    volume: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(id) = &self.container {
            let _ = Command::new("podman").args(["rm", "-f", id]).output();
        }
        let _ = Command::new("podman")
            .args(["volume", "rm", "-f", &self.volume])
            .output();
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

#[tokio::test]
async fn the_server_image_runs_unprivileged_with_its_store_on_a_volume_and_is_ready() {
    let Some(setup) = crate::container_e2e::setup() else {
        return;
    };
    let base = setup.image.replace("{version}", &setup.node);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The context is the binary alone; stripped, since the debug build's
    // symbols are most of its size and the image copy is per run.
    let context = tempfile::tempdir().unwrap();
    let status = Command::new("strip")
        .arg("-o")
        .arg(context.path().join("depcache"))
        .arg(env!("CARGO_BIN_EXE_depcache"))
        .status()
        .unwrap_or_else(|e| panic!("could not run strip ({e}); install binutils"));
    assert!(status.success());
    let tag = format!("localhost/depcache-server-test:{}", std::process::id());
    let mut cleanup = Cleanup {
        container: None,
        image: tag.clone(),
        volume: format!("depcache-server-test-{}", std::process::id()),
    };
    podman(&[
        "build",
        "-q",
        "--target",
        "prebuilt",
        "--build-arg",
        &format!("RUNTIME_BASE={base}"),
        "-t",
        &tag,
        "-f",
        root.join("Containerfile").to_str().unwrap(),
        context.path().to_str().unwrap(),
    ]);
    assert_eq!(
        podman(&["image", "inspect", "--format", "{{.Config.User}}", &tag]),
        "10001:10001"
    );
    podman(&["volume", "create", &cleanup.volume]);
    // Host networking: no port forwarding to depend on in nested sandboxes;
    // port 0 and loopback, so parallel runs cannot collide.
    let id = podman(&[
        "run",
        "-d",
        "--network",
        "host",
        "-v",
        &format!("{}:/var/lib/depcache", cleanup.volume),
        &tag,
        "0",
        "--bind",
        "127.0.0.1",
        "--cache-dir",
        "/var/lib/depcache",
        "--is-public",
    ]);
    cleanup.container = Some(id.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let logs = Command::new("podman").args(["logs", &id]).output().unwrap();
        let text = String::from_utf8_lossy(&logs.stderr).to_string();
        if let Some(url) = text.lines().find_map(|l| l.split("serving on ").nth(1)) {
            break url.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the container did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let ready = http().get(format!("{url}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    let mount = podman(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        &cleanup.volume,
    ]);
    use std::os::unix::fs::MetadataExt;
    let store = std::fs::metadata(Path::new(&mount).join("objects")).unwrap();
    assert_eq!(
        store.uid(),
        10001,
        "the store is written by the image's user"
    );
}
