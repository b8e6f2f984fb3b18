//! `depcache fetch` against a hostile or unlucky server, at the HTTP level:
//! the API key never follows a redirect off the server's origin, a POST never
//! follows one at all off it, downloads have a deadline and a size cap, a key
//! removed mid-download is asked for once more, and the composer fallback
//! runs without plugins.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::client_support::{Sandbox, assert_one_line_failure, stderr};
use crate::common::crafted_server::{CraftedServer, Misbehave, Script, file};

fn items() -> Vec<crate::common::crafted_server::Item> {
    (0..40)
        .map(|i| {
            file(
                &format!("p/f{i}.js"),
                format!("{i}\n").repeat(500).as_bytes(),
                0o644,
            )
        })
        .collect()
}

/// Runs `cmd`, failing the test (instead of hanging the suite) when it is
/// still running after `limit`.
fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "fetch still running after {limit:?}; stderr: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_api_key_never_follows_a_redirect_to_another_origin() {
    let sandbox = Sandbox::new();
    // B redirects once more to itself: reqwest's own policy sent the key on
    // that second hop.
    let b = CraftedServer::start(Script {
        self_redirect: true,
        ..Script::of(&items())
    });
    let a = CraftedServer::start(Script {
        api_key: Some("s3cret".to_string()),
        redirect_gets_to: Some(b.url.clone()),
        ..Script::of(&items())
    });
    let out = sandbox
        .command(&a.url, &["--no-fallback"])
        .env("DEPCACHE_API_KEY", "s3cret")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("WARN"),
        "a redirect is no misconfiguration: {err}"
    );
    assert!(sandbox.node_modules().join("p/f39.js").is_file());
    let seen = b.authorizations();
    assert_eq!(seen.len(), 4, "index and bundle, two hops each: {seen:?}");
    assert!(seen.iter().all(Option::is_none), "B saw the key: {seen:?}");
    assert!(
        a.authorizations()
            .iter()
            .all(|k| k.as_deref() == Some("Bearer s3cret")),
        "A gets the key on every request"
    );
}

#[test]
fn the_api_key_follows_a_redirect_within_the_origin() {
    let sandbox = Sandbox::new();
    let a = CraftedServer::start(Script {
        api_key: Some("s3cret".to_string()),
        self_redirect: true,
        ..Script::of(&items())
    });
    let out = sandbox
        .command(&a.url, &["--no-fallback"])
        .env("DEPCACHE_API_KEY", "s3cret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(a.posts(), 1, "a same-origin 307 resends the POST there");
    assert_eq!(a.requests(), 6, "POST, index and bundle, two hops each");
}

#[test]
fn a_post_redirected_to_another_origin_is_not_followed() {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let b = CraftedServer::start(Script::of(&items()));
    let a = CraftedServer::start(Script {
        api_key: Some("s3cret".to_string()),
        redirect_posts_to: Some(b.url.clone()),
        ..Script::of(&items())
    });
    let out = sandbox
        .command(&a.url, &[])
        .env("DEPCACHE_API_KEY", "s3cret")
        .output()
        .unwrap();
    let err = assert_one_line_failure(&out, 1);
    assert!(
        err.contains("redirect") && err.contains(&b.url) && err.contains("--server"),
        "{err}"
    );
    assert_eq!(b.requests(), 0, "the manifests went to {}", b.url);
    assert_eq!(sandbox.manifest(), before);
}

#[test]
fn a_trickling_download_ends_at_the_deadline_and_leaves_nothing() {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let server = CraftedServer::start(Script {
        misbehave: Misbehave::TrickleBundle,
        ..Script::of(&items())
    });
    let mut cmd = sandbox.command(&server.url, &["--no-fallback"]);
    cmd.env("DEPCACHE_DOWNLOAD_TIMEOUT", "2");
    let out = output_within(&mut cmd, Duration::from_secs(30));
    let err = assert_one_line_failure(&out, 3);
    assert!(
        err.contains("did not finish within 2.0 s") && err.contains("--download-timeout"),
        "{err}"
    );
    assert_eq!(sandbox.manifest(), before, "nothing left behind");
}

#[test]
fn a_trickling_download_falls_back_to_the_local_install() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        misbehave: Misbehave::TrickleBundle,
        ..Script::of(&items())
    });
    let fake = FakeTool::new("npm");
    let mut cmd = sandbox.command(&server.url, &["--download-timeout", "1s"]);
    cmd.env("PATH", fake.path());
    let out = output_within(&mut cmd, Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("did not finish within 1.0 s") && err.contains("installing locally"),
        "{err}"
    );
    assert_eq!(fake.argv(), "ci --ignore-scripts --no-audit --no-fund");
}

#[test]
fn a_bundle_longer_than_announced_is_refused_before_it_is_written() {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let server = CraftedServer::start(Script {
        misbehave: Misbehave::EndlessBundle,
        ..Script::of(&items())
    });
    let mut cmd = sandbox.command(&server.url, &["--no-fallback"]);
    let out = output_within(&mut cmd, Duration::from_secs(60));
    let err = assert_one_line_failure(&out, 6);
    assert!(err.contains("sent more than the"), "{err}");
    assert_eq!(sandbox.manifest(), before);
}

#[test]
fn a_content_length_past_the_announced_size_is_refused_up_front() {
    let sandbox = Sandbox::new();
    let script = Script::of(&items());
    let short = script.bundle.len() as u64 - 10;
    let server = CraftedServer::start(Script {
        announce_bundle_size: Some(short),
        ..script
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = assert_one_line_failure(&out, 6);
    assert!(err.contains(&format!("more than the {short}")), "{err}");
}

#[test]
fn an_endless_index_is_refused_at_the_cap() {
    let sandbox = Sandbox::new();
    let server = CraftedServer::start(Script {
        misbehave: Misbehave::EndlessIndex,
        ..Script::of(&items())
    });
    let mut cmd = sandbox.command(&server.url, &["--no-fallback"]);
    let out = output_within(&mut cmd, Duration::from_secs(120));
    let err = assert_one_line_failure(&out, 6);
    assert!(
        err.contains("longer than the 268435456 bytes allowed"),
        "{err}"
    );
}

#[test]
fn a_key_removed_mid_download_is_asked_for_again() {
    let sandbox = Sandbox::new();
    let script = Script::of(&items());
    let cut = script.bundle.len() / 2;
    let server = CraftedServer::start(Script {
        cut_first_download_at: Some(cut),
        gone_after_cut: true,
        ..script
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.posts(), 2, "asked once more after the 404");
    assert!(sandbox.node_modules().join("p/f39.js").is_file());
}

#[test]
fn a_key_that_stays_gone_counts_as_unavailable() {
    let sandbox = Sandbox::new().with_old_tree();
    let before = sandbox.manifest();
    let script = Script::of(&items());
    let cut = script.bundle.len() / 2;
    let server = CraftedServer::start(Script {
        cut_first_download_at: Some(cut),
        gone_after_cut: true,
        gone_forever: true,
        ..script
    });
    let out = sandbox.fetch(&server.url, &["--no-fallback"]);
    let err = assert_one_line_failure(&out, 3);
    assert!(err.contains("404") && err.contains("twice"), "{err}");
    assert_eq!(server.posts(), 2, "asked again once, not more");
    assert_eq!(sandbox.manifest(), before);
}

#[test]
fn the_composer_fallback_runs_without_plugins() {
    let sandbox = Sandbox::new();
    let project = sandbox.project();
    std::fs::write(project.join("composer.json"), "{\"name\":\"t/t\"}\n").unwrap();
    std::fs::write(
        project.join("composer.lock"),
        "{\"packages\":[],\"packages-dev\":[]}\n",
    )
    .unwrap();
    let fake = FakeTool::new("composer");
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["fetch", "composer", "--retries", "0", "--dir"])
        .arg(&project)
        .args(["--php-version", "8.3.0", "--composer-version", "2.8.0"])
        .args(["--server", &crate::client_support::closed_port_url()])
        .env("PATH", fake.path())
        .env_remove("DEPCACHE_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        fake.argv(),
        "install --no-scripts --no-plugins --no-interaction --no-progress --prefer-dist"
    );
}

/// A stand-in `npm` or `composer` first on `PATH` that records its
/// arguments and succeeds.
struct FakeTool {
    dir: tempfile::TempDir,
}

impl FakeTool {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join(name);
        let record = dir.path().join("argv");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$*\" > '{}'\n", record.display()),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeTool { dir }
    }

    /// The fake first, then the usual `PATH` for `sh` and friends.
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn argv(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("argv"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}
