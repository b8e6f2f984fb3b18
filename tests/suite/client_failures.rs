//! `depcache fetch` when the server fails: unreachable, refusing, erroring;
//! retries, exit codes, and the local fallback.

use crate::client_support::{Sandbox, assert_one_line_failure, closed_port_url, stderr};
use crate::common::crafted_server::{CraftedServer, Script, file};

fn script() -> Script {
    Script::of(&[file("a/index.js", b"1\n", 0o644)])
}

#[test]
fn unreachable_server_without_fallback_exits_3() {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let out = sandbox.fetch(&closed_port_url(), &["--no-fallback", "--retries", "1"]);
    let err = assert_one_line_failure(&out, 3);
    assert!(
        err.contains("unavailable") && err.contains("--no-fallback"),
        "{err}"
    );
    assert_eq!(sandbox.manifest(), before);
}

#[test]
fn unauthorized_exits_4_after_exactly_one_request() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_always: Some(401),
        ..script()
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback", "--api-key", "wrong"]);
    let err = assert_one_line_failure(&out, 4);
    assert!(err.contains(&server.url), "names the server: {err}");
    assert_eq!(server.requests(), 1, "a 401 must not be retried");
}

#[test]
fn api_key_from_the_environment_is_sent_as_bearer() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        api_key: Some("s3cret".to_string()),
        ..script()
    });
    let out = sandbox
        .command(&server.url, &["--no-fallback"])
        .env("DEPCACHE_API_KEY", "s3cret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.requests(), 3, "POST, index, bundle");
}

#[test]
fn broken_download_resumes_with_a_range_request() {
    let sandbox = Sandbox::new();
    let items: Vec<_> = (0..40)
        .map(|i| {
            file(
                &format!("p/f{i}.js"),
                format!("{i}\n").repeat(500).as_bytes(),
                0o644,
            )
        })
        .collect();
    let script = Script::of(&items);
    let cut = script.bundle.len() / 2;
    let server = CraftedServer::start(Script {
        cut_first_download_at: Some(cut),
        ..script
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        server.download_ranges(),
        [None, Some(format!("bytes={cut}-"))]
    );
    assert!(sandbox.node_modules().join("p/f39.js").is_file());
}

#[test]
fn bad_request_exits_5_with_the_server_message() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_always: Some(400),
        ..script()
    });
    let out = sandbox.fetch(&server.url, &[]);
    let err = assert_one_line_failure(&out, 5);
    assert!(err.contains("crafted refusal"), "{err}");
    assert_eq!(server.requests(), 1);
}

#[test]
fn server_errors_are_retried_until_success() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_failures: vec![500, 503],
        ..script()
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.posts(), 3);
    assert!(sandbox.node_modules().join("a/index.js").is_file());
}

#[test]
fn install_timeout_504_is_not_retried() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_always: Some(504),
        ..script()
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_one_line_failure(&out, 3);
    assert_eq!(server.posts(), 1);
}

#[test]
fn persistent_server_errors_end_in_exit_3_without_fallback() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_always: Some(500),
        ..script()
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback", "--retries", "1"]);
    assert_one_line_failure(&out, 3);
    assert_eq!(server.posts(), 2);
}

#[test]
fn unreachable_server_falls_back_to_npm_ci() {
    let sandbox = Sandbox::npm_can_install();
    let out = sandbox.fetch(&closed_port_url(), &["--retries", "0"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("installing locally with `npm ci --ignore-scripts --no-audit --no-fund`"),
        "{err}"
    );
}

#[test]
fn empty_or_unset_server_installs_locally_and_exits_0() {
    for server in [Some(""), Some("  "), None] {
        let sandbox = Sandbox::npm_can_install();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"));
        cmd.args(["fetch", "npm", "--dir"])
            .arg(sandbox.project())
            .args(["--node-version", "20.20.2", "--npm-version", "11.19.1"])
            .env_remove("DEPCACHE_SERVER")
            .env_remove("DEPCACHE_API_KEY")
            .env_remove("RUST_LOG");
        if let Some(value) = server {
            cmd.env("DEPCACHE_SERVER", value);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{server:?}: {err}");
        assert!(
            err.contains("no depcache server is configured") && err.contains("installing locally"),
            "{server:?}: says why in one line: {err}"
        );
        assert!(
            err.contains("installed node_modules locally"),
            "{server:?}: {err}"
        );
    }
}

#[test]
fn empty_server_with_no_fallback_stays_a_usage_error() {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let out = sandbox.fetch("", &["--no-fallback"]);
    let err = assert_one_line_failure(&out, 2);
    assert!(err.contains("no server given"), "{err}");
    assert_eq!(sandbox.manifest(), before);
}

#[test]
fn a_long_miss_is_never_silent_without_a_terminal() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_delay: Some(std::time::Duration::from_secs(17)),
        ..script()
    });
    // stderr is a pipe here, as in a CI log: lines, no spinner.
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let waiting: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("server is installing npm dependencies (miss)"))
        .collect();
    assert!(
        waiting.len() >= 2,
        "a line at the start and one after 15 s: {err}"
    );
    assert!(waiting[1].contains("15 s"), "with the elapsed time: {err}");
}

#[test]
fn quiet_fetch_says_nothing_while_waiting() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        post_delay: Some(std::time::Duration::from_secs(3)),
        ..script()
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}
