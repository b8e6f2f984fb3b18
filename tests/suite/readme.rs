//! The README cannot rot: every `depcache` command in its code blocks parses
//! with the real command line, and the walk-through block runs as written
//! (against the local registry, on a free port).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use depcache::cli::Cli;

use crate::common::{npm_project, registry};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// Fenced blocks as (marker line before the fence, language, body).
fn code_blocks(text: &str) -> Vec<(String, String, String)> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    let mut previous = String::new();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let mut body = String::new();
            for inner in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            blocks.push((previous.clone(), lang.trim().to_string(), body));
        }
        previous = line.to_string();
    }
    blocks
}

/// Shell-ish commands: continuation lines joined, comments dropped, split on
/// `&&`, `;` and `|`, keeping those that run depcache.
fn depcache_commands(body: &str) -> Vec<Vec<String>> {
    let joined = body.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap().trim();
        let line = line.trim_start_matches("- ").trim_start_matches("run: ");
        let line = line.strip_prefix("ExecStart=").unwrap_or(line);
        for part in line
            .split("&&")
            .flat_map(|p| p.split(';'))
            .flat_map(|p| p.split('|'))
        {
            let words: Vec<String> = part
                .split_whitespace()
                // A redirection ends the arguments.
                .take_while(|w| !w.starts_with('>') && !w.starts_with("2>"))
                .map(|w| w.trim_matches('"').trim_matches('\'').to_string())
                .filter(|w| w != "&")
                .collect();
            if words
                .first()
                .is_some_and(|w| w == "depcache" || w.ends_with("/depcache"))
            {
                commands.push(words);
            }
        }
    }
    commands
}

#[test]
fn every_depcache_command_in_the_readme_parses() {
    let mut checked = 0;
    // Output samples (```text) are not commands.
    let runnable = ["sh", "bash", "yaml", "ini", ""];
    for (_, lang, body) in code_blocks(&readme()) {
        if !runnable.contains(&lang.as_str()) {
            continue;
        }
        for words in depcache_commands(&body) {
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("README command `{}` does not parse:\n{e}", words.join(" "));
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 12,
        "only {checked} depcache commands found in README"
    );
}

#[test]
fn the_walkthrough_runs_as_written() {
    let (_, _, block) = code_blocks(&readme())
        .into_iter()
        .find(|(marker, _, _)| marker.contains("readme-test: walkthrough"))
        .expect("README has a block marked <!-- readme-test: walkthrough -->");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "set -euo pipefail\n{}",
        block.replace("8080", &port.to_string())
    );
    let work = tempfile::tempdir().unwrap();
    let app = work.path().join("my-app");
    std::fs::create_dir(&app).unwrap();
    npm_project(&app, &[("dc-cli", "1.0.0")], &[]);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_depcache")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());

    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("DEPCACHE_NPM_REGISTRY", registry().url())
        .env("npm_config_cache", work.path().join("npm-cache"))
        .env_remove("DEPCACHE_SERVER")
        .env_remove("DEPCACHE_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The block leaves its server running in the background: stop the group.
    // SAFETY: kill has no memory effects.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
    let (out, err) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    let status =
        status.unwrap_or_else(|| panic!("walk-through hung\nstdout:\n{out}\nstderr:\n{err}"));
    assert!(
        status.success(),
        "walk-through failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    let miss = err
        .find("cache miss")
        .unwrap_or_else(|| panic!("no miss reported:\n{err}"));
    let hit = err
        .find("cache hit")
        .unwrap_or_else(|| panic!("no hit reported:\n{err}"));
    assert!(miss < hit, "{err}");
    assert!(
        !err.contains("installing locally"),
        "fell back instead of using the server:\n{err}"
    );
    assert!(
        !err.contains("serving on"),
        "the server's log is mixed into the fetch output:\n{err}"
    );
    assert!(app.join("node_modules/.bin/dc-cli").is_symlink());
    assert!(
        out.lines()
            .any(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())),
        "no key printed:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("keys") && l.trim_end().ends_with(" 1")),
        "stats missing:\n{out}"
    );
}
