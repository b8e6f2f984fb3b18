//! Bad input gets the right status, a JSON error, and stores nothing.

use depcache::protocol::Manager;
use serde_json::{Value, json};

use crate::common::server::*;

fn npm_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "package.json",
            br#"{"name":"x","version":"1.0.0"}"#.to_vec(),
        ),
        ("package-lock.json", b"{}".to_vec()),
    ]
}

fn valid_body() -> Value {
    serde_json::to_value(cache_request(Manager::Npm, &npm_files())).unwrap()
}

/// Asserts status and error code, and that the store is still empty.
async fn expect_error(
    server: &TestServer,
    key: Option<&str>,
    body: &Value,
    status: u16,
    code: &str,
) -> String {
    let (got, answer) = post_cache(server, key, body).await;
    assert_eq!(got, status, "answer: {answer}");
    assert_eq!(answer["error"], code, "answer: {answer}");
    let message = answer["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    assert_eq!(server.index_count(), 0);
    assert_eq!(server.blob_count(), 0);
    message
}

#[tokio::test]
async fn missing_or_wrong_api_key_is_401_on_cache_and_download() {
    let server = TestServer::start(ServerOptions::default()).await;
    let body = valid_body();
    expect_error(&server, None, &body, 401, "missing_api_key").await;
    expect_error(&server, Some("wrong"), &body, 401, "invalid_api_key").await;
    expect_error(&server, Some(""), &body, 401, "invalid_api_key").await;
    let key = "a".repeat(64);
    for auth in [None, Some("wrong")] {
        let mut request = http().get(format!("{}/download/{key}.zip", server.url));
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().ends_with("api_key"));
    }
    // Health needs no key.
    let health: Value = http()
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "healthy"}));
    server.stop().await;
}

#[tokio::test]
async fn a_key_that_does_not_match_the_contents_is_refused_naming_both() {
    let server = TestServer::start(ServerOptions::default()).await;
    let mut body = valid_body();
    let honest = body["hash"].as_str().unwrap().to_string();
    let planted = "f".repeat(64);
    body["hash"] = json!(planted);
    let message = expect_error(&server, Some(API_KEY), &body, 400, "key_mismatch").await;
    assert!(
        message.contains(&planted) && message.contains(&honest),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn file_names_outside_the_managers_list_are_refused() {
    let server = TestServer::start(ServerOptions::default()).await;
    for name in [
        ".npmrc",
        "../package.json",
        "sub/package.json",
        "package.json\0",
        "..",
        "composer.json",
    ] {
        let mut body = valid_body();
        body["files"][name] = json!("e30=");
        expect_error(&server, Some(API_KEY), &body, 400, "invalid_request").await;
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_managers_and_bad_versions_are_refused() {
    let server = TestServer::start(ServerOptions::default()).await;
    let mut body = valid_body();
    body["manager"] = json!("yarn");
    let message = expect_error(&server, Some(API_KEY), &body, 400, "invalid_request").await;
    assert!(message.contains("yarn"), "{message}");

    for bad in ["20.1; rm -rf /", "v20", "", "$(id)"] {
        let mut body = valid_body();
        body["versions"]["node"] = json!(bad);
        expect_error(&server, Some(API_KEY), &body, 400, "invalid_request").await;
    }
    let mut body = valid_body();
    body["versions"]["ruby"] = json!("3.3.0");
    expect_error(&server, Some(API_KEY), &body, 400, "invalid_request").await;

    // Well-formed but not what this host can install: refused, naming what is.
    let mut versions = host_versions(Manager::Npm);
    versions.insert("node".into(), "1.2.3".into());
    let request = cache_request_with(Manager::Npm, &npm_files(), versions, None);
    let body = serde_json::to_value(request).unwrap();
    let message = expect_error(&server, Some(API_KEY), &body, 400, "unsupported_version").await;
    let node = host_tools().node.clone().unwrap();
    assert!(
        message.contains("1.2.3") && message.contains(&node),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_base64_json_and_unknown_fields_are_400() {
    let server = TestServer::start(ServerOptions::default()).await;
    let mut body = valid_body();
    body["files"]["package.json"] = json!("not base64!!");
    expect_error(&server, Some(API_KEY), &body, 400, "invalid_request").await;

    let (status, answer) = post_raw(&server, Some(API_KEY), b"{not json".to_vec()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_json"))
    );
    let mut body = valid_body();
    body["surprise"] = json!(1);
    expect_error(&server, Some(API_KEY), &body, 400, "invalid_json").await;
    let mut body = valid_body();
    body.as_object_mut().unwrap().remove("files");
    expect_error(&server, Some(API_KEY), &body, 400, "invalid_json").await;
    assert_eq!(server.index_count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let server = TestServer::start(ServerOptions {
        max_body_size: 4096,
        ..ServerOptions::default()
    })
    .await;
    let big = vec![(
        "package.json",
        format!(r#"{{"name":"x","description":"{}"}}"#, "x".repeat(10_000)).into_bytes(),
    )];
    let body = serde_json::to_value(cache_request(Manager::Npm, &big)).unwrap();
    let message = expect_error(&server, Some(API_KEY), &body, 413, "body_too_large").await;
    assert!(message.contains("4096"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn downloads_of_malformed_or_unknown_keys() {
    let server = TestServer::start(ServerOptions::default()).await;
    for (path, status, code) in [
        ("/download/not-hex.zip", 400, "invalid_key"),
        ("/download/..%2F..%2Fetc%2Fpasswd.zip", 400, "invalid_key"),
        (&format!("/download/{}", "a".repeat(64)), 400, "invalid_key"),
        (
            &format!("/download/{}.zip", "a".repeat(64)),
            404,
            "unknown_key",
        ),
        (&format!("/v1/index/{}", "b".repeat(64)), 404, "unknown_key"),
        ("/v1/index/XYZ", 400, "invalid_key"),
        // Not UTF-8 once decoded: still the JSON shape, not a text rejection.
        ("/v1/index/%FF", 400, "invalid_key"),
        ("/download/%FF%FE.zip", 400, "invalid_key"),
        ("/v1/cache/%C3%28", 400, "invalid_key"),
    ] {
        let response = http()
            .get(format!("{}{path}", server.url))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{path}");
    }
    server.stop().await;
}

/// The router's own 404 and 405 use the one JSON error shape, so a client
/// given a server URL with a stray path gets a sentence, not an empty body.
#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let server = TestServer::start(ServerOptions::default()).await;
    for (method, path, status, code) in [
        (
            reqwest::Method::POST,
            "/depcache/v1/cache",
            404,
            "not_found",
        ),
        (reqwest::Method::GET, "/nope", 404, "not_found"),
        (
            reqwest::Method::DELETE,
            "/v1/cache",
            405,
            "method_not_allowed",
        ),
        (reqwest::Method::PUT, "/health", 405, "method_not_allowed"),
    ] {
        let response = http()
            .request(method.clone(), format!("{}{path}", server.url))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{method} {path}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    server.stop().await;
}
