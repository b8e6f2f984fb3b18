use std::collections::BTreeMap;

use reqwest::Url;

use super::*;

fn registries() -> PrivateRegistries {
    let creds = parse_credentials(
        "# comment\n\n127.0.0.1:4873 token s3cr3t-t0ken\nrepo.acme.example basic alice:pa55w0rd\n",
        "creds",
    )
    .unwrap();
    let scopes = vec!["@acme=http://127.0.0.1:4873".parse().unwrap()];
    PrivateRegistries::new(scopes, creds).unwrap()
}

#[test]
fn credential_lines_are_checked_without_echoing_them() {
    for bad in [
        "h token",
        "h token a b",
        "https://h/ token abc",
        "h bearer abc",
        "h basic nocolon",
        "h basic :pw",
    ] {
        let e = parse_credentials(bad, "creds").unwrap_err();
        assert!(e.starts_with("creds line 1:"), "{e}");
        for secret in ["abc", "nocolon", ":pw"] {
            assert!(!e.contains(secret), "{e}");
        }
    }
    let twice = parse_credentials("h token a\nh token b\n", "c").unwrap();
    assert!(PrivateRegistries::new(vec![], twice).is_err());
    assert!(format!("{:?}", registries()).contains(REDACTED));
    assert!(!format!("{:?}", registries()).contains("s3cr3t"));
}

#[test]
fn scope_registries_parse_strictly() {
    let s: ScopeRegistry = "@acme=https://npm.acme.example/npm".parse().unwrap();
    assert_eq!(s.url.as_str(), "https://npm.acme.example/npm/");
    for bad in [
        "acme=https://h/",
        "@=https://h/",
        "@Acme=https://h/",
        "@acme",
        "@acme=file:///srv",
        "@acme=https://u:p@h/",
    ] {
        assert!(bad.parse::<ScopeRegistry>().is_err(), "{bad}");
    }
    let twice = vec![s.clone(), s];
    assert!(PrivateRegistries::new(twice, vec![]).is_err());
}

#[test]
fn configs_carry_scopes_and_credentials_by_origin() {
    let r = registries();
    let npmrc = r.npmrc();
    assert!(
        npmrc.contains("@acme:registry=http://127.0.0.1:4873/\n"),
        "{npmrc}"
    );
    assert!(
        npmrc.contains("//127.0.0.1:4873/:_authToken=s3cr3t-t0ken\n"),
        "{npmrc}"
    );
    assert!(
        npmrc.contains("//repo.acme.example/:_auth=YWxpY2U6cGE1NXcwcmQ=\n"),
        "{npmrc}"
    );
    let auth: Value = serde_json::from_str(&r.composer_auth()).unwrap();
    assert_eq!(auth["bearer"]["127.0.0.1:4873"], "s3cr3t-t0ken");
    assert_eq!(
        auth["http-basic"]["repo.acme.example"]["password"],
        "pa55w0rd"
    );
}

#[test]
fn the_install_config_is_private_and_beside_the_project() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    registries().write_install_config(&project).unwrap();
    let paths = InstallConfig::beside(&project);
    assert!(!paths.npmrc.starts_with(&project));
    let mode = std::fs::metadata(&paths.npmrc)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let auth = paths.composer_home.join("auth.json");
    assert_eq!(
        std::fs::metadata(auth).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Written once: a second write (or a planted file) is an error.
    assert!(registries().write_install_config(&project).is_err());
}

#[test]
fn scrubbing_removes_every_form() {
    let r = registries();
    let text = "token s3cr3t-t0ken, pw pa55w0rd, pair alice:pa55w0rd, b64 YWxpY2U6cGE1NXcwcmQ= \
//h/:_authToken=other-token _auth=xyz _password=\"abc\" Authorization: Bearer zzz \
https://bob:hunter2@h.example/x";
    let out = r.scrub(text);
    for secret in [
        "s3cr3t",
        "pa55w0rd",
        "YWxpY2U6",
        "other-token",
        "xyz",
        "abc",
        "zzz",
        "hunter2",
        "bob",
    ] {
        assert!(!out.contains(secret), "{secret}: {out}");
    }
    assert!(out.contains("https://<credential>@h.example/x"), "{out}");
    assert_eq!(r.scrub("nothing here"), "nothing here");
}

#[test]
fn needed_registries_follow_urls_and_scopes() {
    let r = registries();
    let files = |name: &str, doc: serde_json::Value| {
        BTreeMap::from([(name.to_string(), serde_json::to_vec(&doc).unwrap())])
    };
    let npm = |doc| r.needed(Manager::Npm, None, &files("package.json", doc));
    assert!(npm(json!({"dependencies": {"dc-util": "^1"}})).is_empty());
    let want = BTreeSet::from(["127.0.0.1:4873".to_string()]);
    assert_eq!(npm(json!({"dependencies": {"@acme/x": "^1"}})), want);
    assert_eq!(npm(json!({"dependencies": {"y": "npm:@acme/x@1"}})), want);
    assert_eq!(
        npm(json!({"packages": {"node_modules/@acme/x": {"version": "1.0.0"}}})),
        want
    );
    assert_eq!(
        npm(json!({"x": {"resolved": "http://127.0.0.1:4873/x/-/x-1.0.0.tgz"}})),
        want
    );
    let default = Url::parse("https://repo.acme.example/npm/").unwrap();
    let all = r.needed(Manager::Npm, Some(&default), &BTreeMap::new());
    assert_eq!(all, BTreeSet::from(["repo.acme.example".to_string()]));
    let composer = r.needed(
        Manager::Composer,
        Some(&default),
        &files(
            "composer.lock",
            json!({"packages": [{"dist": {"url": "https://repo.acme.example/dists/a.zip"}}]}),
        ),
    );
    assert_eq!(composer, BTreeSet::from(["repo.acme.example".to_string()]));
    // Scopes name npm packages only.
    let composer = r.needed(
        Manager::Composer,
        None,
        &files("composer.json", json!({"require": {"@acme/x": "1"}})),
    );
    assert!(composer.is_empty());
}

/// pnpm's and Berry's lockfiles name a registry package by name alone, in
/// YAML: a private package only a public one depends on still counts.
#[test]
fn needed_registries_read_pnpm_and_yarn_lockfiles() {
    let r = registries();
    let want = BTreeSet::from(["127.0.0.1:4873".to_string()]);
    let with_lock = |manager, name: &str, lock: &str| {
        let files = BTreeMap::from([
            (
                "package.json".to_string(),
                br#"{"dependencies":{"pub":"1"}}"#.to_vec(),
            ),
            (name.to_string(), lock.as_bytes().to_vec()),
        ]);
        r.needed(manager, None, &files)
    };
    let pnpm = "packages:\n  '@acme/inner@1.0.0':\n    resolution: {integrity: sha512-x}\n";
    assert_eq!(with_lock(Manager::Pnpm, "pnpm-lock.yaml", pnpm), want);
    let berry = "\"@acme/inner@npm:^1.0.0\":\n  resolution: \"@acme/inner@npm:1.0.0\"\n";
    assert_eq!(with_lock(Manager::Yarn, "yarn.lock", berry), want);
    let classic = "pub@1:\n  resolved \"http://127.0.0.1:4873/pub/-/pub-1.tgz#abc\"\n";
    assert_eq!(with_lock(Manager::Yarn, "yarn.lock", classic), want);
    let public = "packages:\n  pub@1.0.0:\n    resolution: {integrity: sha512-x}\n";
    assert!(with_lock(Manager::Pnpm, "pnpm-lock.yaml", public).is_empty());
    // Everything a pnpm or yarn project installs comes through a
    // credentialed default registry.
    let default = Url::parse("https://repo.acme.example/npm/").unwrap();
    for manager in [Manager::Pnpm, Manager::Yarn] {
        let all = r.needed(manager, Some(&default), &BTreeMap::new());
        assert_eq!(all, BTreeSet::from(["repo.acme.example".to_string()]));
    }
}

#[test]
fn berry_gets_scopes_and_credentials_in_its_home_rc() {
    let r = registries();
    let default = Url::parse("https://repo.acme.example/npm/").unwrap();
    let rc = r.berry_rc(Some(&default));
    assert_eq!(
        rc,
        "npmScopes:\n  \"acme\":\n    npmRegistryServer: \"http://127.0.0.1:4873\"\n\
npmRegistries:\n  \"//127.0.0.1:4873\":\n    npmAuthToken: \"s3cr3t-t0ken\"\n    \
npmAlwaysAuth: true\n  \"//repo.acme.example/npm\":\n    npmAuthIdent: \"alice:pa55w0rd\"\n    \
npmAlwaysAuth: true\n"
    );
    let parsed: serde_json::Value = serde_yaml_ng::from_str(&rc).unwrap();
    assert_eq!(
        parsed["npmScopes"]["acme"]["npmRegistryServer"],
        "http://127.0.0.1:4873"
    );
    assert_eq!(
        r.berry_http_hosts(Some(&default)).as_deref(),
        Some("127.0.0.1")
    );
    let plain = Url::parse("http://10.0.0.5:4873/").unwrap();
    assert_eq!(
        PrivateRegistries::default()
            .berry_http_hosts(Some(&plain))
            .as_deref(),
        Some("10.0.0.5")
    );
    assert_eq!(
        PrivateRegistries::default().berry_http_hosts(Some(&default)),
        None
    );
}

#[test]
fn a_registry_ca_must_hold_a_certificate_and_joins_the_system_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    assert!(
        RegistryCa::load(&junk)
            .unwrap_err()
            .contains("no PEM certificate")
    );
    assert!(RegistryCa::load(&dir.path().join("missing.pem")).is_err());
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pem).unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let private = PrivateRegistries::default().with_ca(RegistryCa::load(&ca_file).unwrap());
    assert!(!private.is_empty());
    private.write_install_config(&project).unwrap();
    let paths = InstallConfig::beside(&project);
    assert_eq!(std::fs::read_to_string(&paths.extra_ca).unwrap(), pem);
    assert!(
        std::fs::read_to_string(&paths.ca_bundle)
            .unwrap()
            .ends_with(pem)
    );
    let config: Value =
        serde_json::from_slice(&std::fs::read(paths.composer_home.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["config"]["cafile"],
        paths.ca_bundle.display().to_string()
    );
}
