//! `fetch --json` and `hash --json`: one JSON document on stdout that a
//! script can parse, whatever path the fetch took.

use std::process::Output;

use serde_json::Value;

use crate::client_support::{Sandbox, closed_port_url, stderr};
use crate::common::crafted_server::{CraftedServer, Script, file};

fn document(out: &Output) -> Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text} / {}", stderr(out)))
}

fn hash_json(sandbox: &Sandbox) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["hash", "npm", "--json", "--dir"])
        .arg(sandbox.project())
        .args(["--node-version", "20.20.2", "--npm-version", "11.19.1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    document(&out)
}

#[test]
fn a_restore_reports_key_hit_files_bytes_and_time() {
    let server = CraftedServer::start(Script::of(&[
        file("a/index.js", b"1\n", 0o644),
        file("a/package.json", b"{}\n", 0o644),
    ]));
    let sandbox = Sandbox::new();
    let out = sandbox.fetch(&server.url, &["--no-fallback", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = document(&out);
    let hash = hash_json(&sandbox);
    assert_eq!(report["format"], 1);
    assert_eq!(report["key"], hash["key"]);
    assert_eq!(report["manager"], "npm");
    assert_eq!(report["cache_hit"], true);
    assert_eq!(report["up_to_date"], false);
    assert_eq!(report["files"], 2);
    assert_eq!(report["bytes"], 5);
    assert!(report["seconds"].as_f64().unwrap() >= 0.0, "{report}");
    assert_eq!(report["fallback"]["used"], false);
    assert_eq!(report["fallback"]["reason"], Value::Null);

    // Again: the folder already holds the key.
    let out = sandbox.fetch(&server.url, &["--no-fallback", "--json"]);
    let report = document(&out);
    assert_eq!(report["up_to_date"], true, "{report}");
    assert_eq!(report["key"], hash["key"]);
}

#[test]
fn a_local_install_reports_the_fallback_and_why() {
    let sandbox = Sandbox::new();
    std::fs::remove_file(sandbox.project().join("package-lock.json")).unwrap();
    let out = sandbox.fetch("", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = document(&out);
    assert_eq!(report["fallback"]["used"], true, "{report}");
    assert!(
        report["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("no depcache server is configured"),
        "{report}"
    );
    assert!(
        report["fallback"]["command"]
            .as_str()
            .unwrap()
            .starts_with("npm install"),
        "{report}"
    );
    assert_eq!(report["cache_hit"], Value::Null);
}

#[test]
fn a_failure_is_a_document_with_the_error() {
    let sandbox = Sandbox::new();
    let out = sandbox.fetch(
        &closed_port_url(),
        &["--no-fallback", "--retries", "0", "--json"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report = document(&out);
    assert!(
        report["error"].as_str().unwrap().contains("unavailable"),
        "{report}"
    );
}

#[test]
fn hash_json_names_the_key_and_what_went_into_it() {
    let sandbox = Sandbox::new();
    let hash = hash_json(&sandbox);
    let plain = std::process::Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["hash", "npm", "--dir"])
        .arg(sandbox.project())
        .args(["--node-version", "20.20.2", "--npm-version", "11.19.1"])
        .output()
        .unwrap();
    assert_eq!(
        hash["key"].as_str().unwrap(),
        String::from_utf8(plain.stdout).unwrap().trim()
    );
    assert_eq!(hash["manager"], "npm");
    assert_eq!(hash["versions"]["node"], "20.20.2");
    assert_eq!(hash["versions"]["npm"], "11.19.1");
    let names: Vec<&str> = hash["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["package-lock.json", "package.json"]);
}
