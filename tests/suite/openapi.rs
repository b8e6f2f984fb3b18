//! docs/openapi.yaml and the router agree, both ways, and cannot drift apart
//! silently: the server's routes are read from every `.route(` call in
//! src/server (the other ways of adding one fail the scan), and a live server
//! must answer every documented operation from the handler of exactly that
//! route template (its `/metrics` names the template axum matched), with a
//! status the spec lists. The spec's example request must carry the right key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use depcache::protocol::{KeyInput, Manager, compute_key};
use serde_json::Value;

use crate::common::server::*;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn spec() -> Value {
    let text = std::fs::read_to_string(root().join("docs/openapi.yaml")).unwrap();
    let spec: Value = serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml parses as YAML");
    assert_eq!(spec["openapi"], "3.1.0");
    spec
}

/// `(METHOD, path template)` of every documented operation.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("the spec has paths");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments, so a commented-out route is no route.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text between the `(` at `open` and its matching `)`.
fn call_args(code: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &code[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced call at byte {open}");
}

/// `(METHOD, path)` of every `.route("path", get(..).post(..))` in src/server.
fn served() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("src/server"), &mut files);
    let mut out = BTreeSet::new();
    for file in files {
        let code = code_of(&file);
        // Routes added any other way would escape this scan: refuse them so
        // whoever adds one extends the scan (and the spec) on purpose. A
        // fallback is fine: it answers paths that are not routes.
        for other in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !code.contains(other),
                "{} calls {other}: tests/suite/openapi.rs only reads .route( calls",
                file.display()
            );
        }
        for (at, _) in code.match_indices(".route(") {
            let args = call_args(&code, at + ".route".len());
            let path = args.split('"').nth(1).expect("a route path literal");
            let handlers = &args[args.find(',').expect("a method router") + 1..];
            let mut methods = 0;
            for method in METHODS.iter().chain(&["any"]) {
                let calls = handlers
                    .match_indices(&format!("{method}("))
                    .filter(|(i, _)| {
                        let before = handlers[..*i].chars().last();
                        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                    })
                    .count();
                assert!(
                    *method != "any" || calls == 0,
                    "route {path} uses any(): document each method instead"
                );
                if calls > 0 {
                    out.insert((method.to_uppercase(), path.to_string()));
                    methods += 1;
                }
            }
            assert!(methods > 0, "no method found for route {path} in {args}");
        }
    }
    out
}

#[test]
fn spec_documents_exactly_the_routes_the_router_serves() {
    let documented = documented(&spec());
    let served = served();
    assert!(
        served.len() >= 6,
        "the scan found too few routes: {served:?}"
    );
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in docs/openapi.yaml: {undocumented:?}; \
documented but not served: {unserved:?}"
    );
}

/// A path with each `{param}` filled by a well-formed value (the spec's
/// example when it has one).
fn concrete(path: &str, operation: &Value) -> String {
    let mut filled = path.to_string();
    for param in operation["parameters"].as_array().into_iter().flatten() {
        if param["in"] != "path" {
            continue;
        }
        let name = param["name"].as_str().unwrap();
        let value = param["examples"]
            .as_object()
            .and_then(|e| e.values().next())
            .and_then(|e| e["value"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| "0".repeat(64));
        filled = filled.replace(&format!("{{{name}}}"), &value);
    }
    assert!(!filled.contains('{'), "unfilled parameter in {filled}");
    filled
}

#[tokio::test]
async fn every_documented_operation_reaches_its_own_handler() {
    let spec = spec();
    let server = TestServer::start(ServerOptions::default()).await;
    let client = http();
    for (method, path) in documented(&spec) {
        let operation = &spec["paths"][&path][method.to_lowercase()];
        let url = format!("{}{}", server.url, concrete(&path, operation));
        let mut request = client
            .request(method.parse().unwrap(), &url)
            .bearer_auth(API_KEY);
        if operation.get("requestBody").is_some() {
            request = request.body("{}");
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16().to_string();
        let body = response.text().await.unwrap();
        let statuses = operation["responses"].as_object().unwrap();
        assert!(
            statuses.contains_key(&status),
            "{method} {path} answered {status}, which the spec does not list: {body}"
        );
        if status.starts_with('4') || status.starts_with('5') {
            let error: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{method} {path}: non-JSON error {body:?}: {e}"));
            assert!(error["error"].is_string() && error["message"].is_string());
        }
    }
    // A path nobody documents must show up as unmatched, or the check below
    // would prove nothing.
    let stray = client
        .get(format!("{}/v1/not-a-route", server.url))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 404);
    let metrics = metrics_text(&server).await;
    assert!(metrics.contains("route=\"unmatched\""), "{metrics}");
    for (method, path) in documented(&spec) {
        assert!(
            metrics.contains(&format!("route=\"{path}\"")),
            "{method} {path} was not matched as that route template:\n{metrics}"
        );
    }
    server.stop().await;
}

/// The spec's example request is what tests/schemathesis.sh seeds the store
/// with; a stale hash would leave the download and index examples unexercised.
#[test]
fn the_spec_example_request_carries_its_own_key() {
    let spec = spec();
    let example = &spec["paths"]["/v1/cache"]["post"]["requestBody"]["content"]["application/json"]
        ["examples"]["npm-empty-project"]["value"];
    let text = |v: &Value| v.as_str().unwrap().to_string();
    let versions: BTreeMap<String, String> = example["versions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    let files: BTreeMap<String, Vec<u8>> = example["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text(v))
                .unwrap();
            (k.clone(), bytes)
        })
        .collect();
    let platform = text(&example["platform"]);
    let key = compute_key(KeyInput {
        manager: Manager::Npm,
        versions: &versions,
        platform: Some(&platform),
        options: None,
        files: &files,
    });
    assert_eq!(text(&example["hash"]), key);
    for (name, value) in [("key", "/v1/index/{key}"), ("file", "/download/{file}")] {
        let operation = &spec["paths"][value]["get"];
        let filled = concrete(value, operation);
        assert!(
            filled.contains(&key),
            "the {name} example of {value} is not the example request's key"
        );
    }
}
