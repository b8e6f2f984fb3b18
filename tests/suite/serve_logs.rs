//! The server's log as operators keep it: redirected to a file (no colour
//! escapes), or `--log-format json` with every line a JSON object.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::server::http;

/// `depcache serve -v` with stderr into a file; the URL from that file.
fn serve_to_file(
    extra: &[&str],
    log: &std::path::Path,
    store: &std::path::Path,
) -> (Child, String) {
    let mut child = spawn(extra, log, store);
    match url_in(log) {
        Ok(url) => (child, url),
        Err(text) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no start-up line: {text}");
        }
    }
}

fn url_in(log: &std::path::Path) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("serving on ").nth(1) {
            let url = rest.split(['"', '\n']).next().unwrap_or_default();
            return Ok(url.trim().to_string());
        }
        if Instant::now() > deadline {
            return Err(text);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(extra: &[&str], log: &std::path::Path, store: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["serve", "0", "--is-public", "-v", "--cache-dir"])
        .arg(store)
        .args(extra)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("DEPCACHE_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// A few requests, so that request lines are logged too; then the log.
async fn exercise(mut child: Child, url: &str, log: &std::path::Path) -> String {
    let client = http();
    client.get(format!("{url}/health")).send().await.unwrap();
    client
        .post(format!("{url}/v1/cache"))
        .body("not json")
        .send()
        .await
        .unwrap();
    client.get(format!("{url}/metrics")).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::read_to_string(log).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_each_parse_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let (child, url) = serve_to_file(&["--log-format", "json"], &log, &dir.path().join("store"));
    let text = exercise(child, &url, &log).await;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{text}");
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{text}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["timestamp"].is_string(), "{line}");
    }
    assert!(
        text.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("serving on http://"))
        }),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_log_in_a_file_has_no_escape_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let (child, url) = serve_to_file(&[], &log, &dir.path().join("store"));
    let text = exercise(child, &url, &log).await;
    assert!(text.contains(" INFO "), "nothing was logged: {text}");
    assert!(!text.contains('\u{1b}'), "escape bytes in {text:?}");
}

/// `depcache serve` on a pseudo-terminal for 2 s: `script` is bsdutils,
/// an Essential package on Debian, so not in .ci/run.
fn on_a_terminal(no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let line = format!(
        "timeout 2 {} serve 0 --is-public --cache-dir {}",
        env!("CARGO_BIN_EXE_depcache"),
        dir.path().join("store").display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_remove("RUST_LOG")
        .env_remove("DEPCACHE_LOG_FORMAT")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let out = cmd.output().expect("util-linux `script` runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colours_on_a_terminal_unless_no_color_is_set() {
    let coloured = on_a_terminal(None);
    assert!(coloured.contains("INFO"), "{coloured}");
    assert!(
        coloured.contains('\u{1b}'),
        "no colour on a terminal: {coloured}"
    );
    let plain = on_a_terminal(Some("1"));
    assert!(plain.contains("INFO"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR ignored: {plain:?}");
    // An empty NO_COLOR counts as unset (no-color.org).
    assert!(on_a_terminal(Some("")).contains('\u{1b}'));
}
