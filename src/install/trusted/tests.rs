//! The trust check on many spec, lockfile and composer forms.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::npm::{Spec, classify};
use super::*;

fn sources() -> TrustedSources {
    TrustedSources::new(
        Some("http://127.0.0.1:4873/"),
        vec![
            "npm.corp.example".parse().unwrap(),
            "10.0.0.5:8081".parse().unwrap(),
        ],
        &[std::env::temp_dir()],
    )
    .unwrap()
}

fn npm(files: &[(&str, Value)]) -> Result<(), Untrusted> {
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(n, v)| (n.to_string(), serde_json::to_vec(v).unwrap()))
        .collect();
    sources().check(Manager::Npm, &files)
}

fn lock_with(location: &str, entry: Value) -> Result<(), Untrusted> {
    let lock = json!({"lockfileVersion": 3, "packages": {"": {}, location: entry}});
    npm(&[("package-lock.json", lock)])
}

fn composer(json_doc: Value, lock: Option<Value>) -> Result<(), Untrusted> {
    let mut files = BTreeMap::from([(
        "composer.json".to_string(),
        serde_json::to_vec(&json_doc).unwrap(),
    )]);
    if let Some(lock) = lock {
        files.insert("composer.lock".into(), serde_json::to_vec(&lock).unwrap());
    }
    sources().check(Manager::Composer, &files)
}

fn locked(package: Value) -> Result<(), Untrusted> {
    composer(json!({}), Some(json!({"packages": [package]})))
}

#[test]
fn registry_specs_are_registry() {
    for spec in [
        "1.2.3",
        "^1.2.3",
        "~1.2",
        ">=1.0.0 <2 || 3.x",
        "*",
        "",
        "latest",
        "next-1",
        "npm:other@^1.0.0",
        "npm:@scope/pkg@2",
        "npm:plain",
        "  ^4.0.0 ",
    ] {
        assert_eq!(classify(spec), Spec::Registry, "{spec:?}");
    }
}

#[test]
fn other_specs_are_not() {
    for spec in [
        "file:../x",
        "FILE:/etc",
        "link:../x",
        "workspace:*",
        "git+ssh://git@github.com/a/b.git",
        "git+file:///srv/repo",
        "git://github.com/a/b",
        "github:a/b",
        "gist:123",
        "gitlab:a/b",
        "bitbucket:a/b",
        "a/b",
        "a/b#v1",
        "./dir",
        "../dir",
        "/abs/dir",
        "~/dir",
        "c:\\dir",
        "x.tgz",
        "pkg.tar.gz",
        "ftp://host/x.tgz",
        "npm:x@file:../y",
        "npm:x@github:a/b",
        "npm:x@https://evil/x.tgz",
        "npm:../x@1",
    ] {
        assert!(matches!(classify(spec), Spec::Other(_)), "{spec:?}");
    }
    assert_eq!(classify("https://h/x.tgz"), Spec::Remote);
}

#[test]
fn lockfile_resolved_urls_must_be_on_a_trusted_origin() {
    let ok = |url: &str| {
        lock_with(
            "node_modules/a",
            json!({"version": "1.0.0", "resolved": url}),
        )
    };
    ok("http://127.0.0.1:4873/a/-/a-1.0.0.tgz").unwrap();
    ok("https://registry.npmjs.org/a/-/a-1.0.0.tgz").unwrap();
    ok("https://npm.corp.example/a.tgz").unwrap();
    ok("http://npm.corp.example/a.tgz").unwrap();
    ok("http://10.0.0.5:8081/a.tgz").unwrap();
    for bad in [
        "http://127.0.0.1:4874/a.tgz",
        "https://127.0.0.1:4873/a.tgz",
        "http://169.254.169.254/latest/meta-data/",
        "http://registry.npmjs.org/a.tgz",
        "https://registry.npmjs.org.evil.example/a.tgz",
        "https://evil.example/registry.npmjs.org/a.tgz",
        "https://registry.npmjs.org@evil.example/a.tgz",
        "https://sub.npm.corp.example/a.tgz",
        "https://npm.corp.example:8443/a.tgz",
        "http://10.0.0.5/a.tgz",
    ] {
        let e = ok(bad).unwrap_err();
        assert!(
            matches!(e, Untrusted::Host { .. } | Untrusted::Setting { .. }),
            "{bad}: {e}"
        );
    }
    for bad in [
        "file:/srv/secret",
        "file:../../..",
        "git+file:///srv/repo",
        "git+ssh://git@host/r.git",
        "git+https://github.com/a/b.git#abc",
        "github:a/b",
        "/etc",
    ] {
        let e = ok(bad).unwrap_err();
        assert!(matches!(e, Untrusted::Kind { .. }), "{bad}: {e}");
    }
}

#[test]
fn the_refusal_names_the_dependency_and_the_flag() {
    let e = lock_with(
        "node_modules/evil",
        json!({"version": "1.0.0", "resolved": "http://127.0.0.1:9/x.tgz"}),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("node_modules/evil"), "{e}");
    assert!(e.contains("--allow-registry-host 127.0.0.1:9"), "{e}");
    let e = lock_with("node_modules/x", json!({"resolved": "file:/srv/x"}))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("package-lock.json") && e.contains("file:/srv/x"),
        "{e}"
    );
}

#[test]
fn lockfile_entries_of_other_shapes_are_refused() {
    // Links (workspaces, file: folders) and folders outside node_modules.
    lock_with(
        "node_modules/a",
        json!({"link": true, "resolved": "packages/a"}),
    )
    .unwrap_err();
    lock_with("packages/a", json!({"version": "1.0.0"})).unwrap_err();
    lock_with("node_modules/../../etc", json!({"version": "1.0.0"})).unwrap_err();
    lock_with("node_modules/@s/../x", json!({"version": "1.0.0"})).unwrap_err();
    lock_with("node_modules/a/sub", json!({"version": "1.0.0"})).unwrap_err();
    // Without `resolved` the version is fetched by name: it must be one.
    lock_with("node_modules/a", json!({"version": "1.0.0"})).unwrap();
    lock_with(
        "node_modules/@s/a/node_modules/b",
        json!({"version": "1.0.0"}),
    )
    .unwrap();
    lock_with("node_modules/a", json!({"version": "file:/etc"})).unwrap_err();
    lock_with("node_modules/a", json!({})).unwrap_err();
    lock_with(
        "node_modules/a",
        json!({"version": "1.0.0", "inBundle": true}),
    )
    .unwrap();
    // Nested specs are edges npm may re-resolve.
    lock_with(
        "node_modules/a",
        json!({"version": "1.0.0", "dependencies": {"b": "file:/srv"}}),
    )
    .unwrap_err();
    let root = json!({"lockfileVersion": 3, "packages": {"": {"workspaces": ["p/*"]}}});
    npm(&[("package-lock.json", root)]).unwrap_err();
    npm(&[(
        "npm-shrinkwrap.json",
        json!({"packages": {"node_modules/a": {"resolved": "file:x"}}}),
    )])
    .unwrap_err();
    npm(&[("package-lock.json", json!("not an object"))]).unwrap_err();
    let e = sources()
        .check(
            Manager::Npm,
            &BTreeMap::from([("package-lock.json".into(), b"{nope".to_vec())]),
        )
        .unwrap_err();
    assert!(matches!(e, Untrusted::Unreadable { .. }), "{e}");
}

#[test]
fn version_1_lockfiles_are_checked_recursively() {
    let v1 = |entry: Value| {
        npm(&[(
            "package-lock.json",
            json!({"lockfileVersion": 1, "requires": true, "dependencies": {"a": {
                "version": "1.0.0",
                "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz",
                "requires": {"b": "^1"},
                "dependencies": {"b": entry}}}}),
        )])
    };
    v1(json!({"version": "1.1.0", "resolved": "http://127.0.0.1:4873/b.tgz"})).unwrap();
    v1(json!({"version": "npm:c@1.0.0"})).unwrap();
    v1(json!({"version": "1.0.0", "bundled": true})).unwrap();
    v1(json!({"version": "file:../b"})).unwrap_err();
    v1(json!({"version": "github:a/b#abc"})).unwrap_err();
    v1(json!({"version": "git+ssh://git@h/b.git#abc"})).unwrap_err();
    v1(json!({"version": "https://evil.example/b.tgz"})).unwrap_err();
    v1(json!({"version": "1.0.0", "resolved": "http://169.254.169.254/"})).unwrap_err();
    v1(json!({"version": "1.0.0", "requires": {"c": "file:/"}})).unwrap_err();
}

#[test]
fn package_json_specs_are_checked_like_the_lockfile() {
    let manifest =
        |deps: Value| npm(&[("package.json", json!({"name": "x", "dependencies": deps}))]);
    manifest(json!({"a": "^1", "b": "npm:c@2", "d": "latest"})).unwrap();
    manifest(json!({"a": "http://127.0.0.1:4873/a.tgz"})).unwrap();
    for bad in [
        "file:/srv",
        "../x",
        "a/b",
        "git+file:///r",
        "https://evil.example/a.tgz",
    ] {
        manifest(json!({ "a": bad })).unwrap_err();
    }
    for field in [
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        npm(&[("package.json", json!({ field: {"a": "link:../a"} }))]).unwrap_err();
    }
    npm(&[(
        "package.json",
        json!({"overrides": {"a": {".": "1", "b": "file:/x"}}}),
    )])
    .unwrap_err();
    npm(&[(
        "package.json",
        json!({"overrides": {"a": "$a", "b": {"c": "2"}}}),
    )])
    .unwrap();
    npm(&[("package.json", json!({"workspaces": ["packages/*"]}))]).unwrap_err();
    npm(&[("package.json", json!({"dependencies": {"a": 1}}))]).unwrap_err();
}

#[test]
fn allowed_hosts_are_exact() {
    for good in [
        "npm.corp.example",
        "10.0.0.5:8081",
        "[::1]:4873",
        "localhost:80",
    ] {
        good.parse::<AllowedHost>().unwrap();
    }
    for bad in [
        "",
        "*.corp.example",
        "http://h",
        "h/x",
        "user@h",
        "h:99999",
        "h:",
        "h k",
    ] {
        assert!(bad.parse::<AllowedHost>().is_err(), "{bad:?}");
    }
    assert!(TrustedSources::new(Some("file:///srv"), vec![], &[]).is_err());
    assert!(TrustedSources::new(None, vec![], &["/no/such/dir".into()]).is_err());
}

#[test]
fn composer_repositories_must_be_trusted_composer_ones() {
    let with = |repos: Value| composer(json!({ "repositories": repos }), None);
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap();
    with(json!([{"packagist.org": false}])).unwrap();
    with(json!({"packagist.org": false})).unwrap();
    with(json!([{"type": "composer", "url": "https://repo.packagist.org"}])).unwrap();
    with(json!([{"type": "composer", "url": "http://npm.corp.example/satis"}])).unwrap();
    let path =
        |url: String| with(json!([{"type": "path", "url": url, "options": {"symlink": false}}]));
    path(format!("{}/pkgs/*", tmp.display())).unwrap();
    path("/srv/secret".into()).unwrap_err();
    path(format!("{}/../etc", tmp.display())).unwrap_err();
    path("relative/dir".into()).unwrap_err();
    for bad in [
        json!([{"type": "vcs", "url": "https://github.com/a/b"}]),
        json!([{"type": "git", "url": "file:///srv/repo"}]),
        json!([{"type": "artifact", "url": "/srv/zips"}]),
        json!([{"type": "package", "package": {"name": "a/b", "version": "1.0.0",
                "dist": {"type": "zip", "url": "http://169.254.169.254/x.zip"}}}]),
        json!([{"type": "composer", "url": "http://169.254.169.254"}]),
        json!([{"type": "composer", "url": "https://repo.packagist.org",
                "options": {"http": {"proxy": "tcp://10.1.1.1:80"}}}]),
        json!({"packagist.org": {"type": "composer", "url": "http://127.0.0.1:9"}}),
        json!([{"packagist.org": false, "type": "path", "url": "/srv"}]),
        json!([{"packagist.org": true}]),
        json!("https://repo.packagist.org"),
    ] {
        with(bad.clone()).expect_err(&bad.to_string());
    }
}

#[test]
fn composer_config_and_autoload_paths() {
    composer(
        json!({"config": {"autoloader-suffix": "x", "sort-packages": true}}),
        None,
    )
    .unwrap();
    composer(
        json!({"config": {"vendor-dir": "vendor", "bin-dir": "vendor/bin"}}),
        None,
    )
    .unwrap();
    for key in [
        "cafile",
        "cache-dir",
        "secure-http",
        "disable-tls",
        "github-domains",
        "bearer",
    ] {
        composer(json!({"config": { key: "x" }}), None).expect_err(key);
    }
    composer(json!({"config": {"vendor-dir": "/srv"}}), None).unwrap_err();
    composer(json!({"config": {"bin-dir": "bin"}}), None).unwrap_err();
    composer(
        json!({"autoload": {"psr-4": {"A\\": "src/"}, "files": ["x.php"]}}),
        None,
    )
    .unwrap();
    composer(json!({"autoload": {"classmap": ["/etc"]}}), None).unwrap_err();
    composer(
        json!({"autoload-dev": {"psr-4": {"A\\": ["src", "../../x"]}}}),
        None,
    )
    .unwrap_err();
}

#[test]
fn composer_lock_packages_come_from_trusted_archives() {
    let pkg = |dist: Value| json!({"name": "a/b", "version": "1.0.0", "dist": dist});
    let zip = |url: &str| pkg(json!({"type": "zip", "url": url, "reference": "abc"}));
    locked(zip("https://api.github.com/repos/a/b/zipball/abc")).unwrap();
    locked(zip("http://10.0.0.5:8081/dist/a-b.zip")).unwrap();
    let e = locked(zip("http://127.0.0.1:9/a.zip"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("packages > a/b") && e.contains("--allow-registry-host 127.0.0.1:9"),
        "{e}"
    );
    locked(zip("file:///srv/a.zip")).unwrap_err();
    locked(zip("/srv/a.zip")).unwrap_err();
    locked(pkg(json!({"type": "path", "url": "/srv/secret"}))).unwrap_err();
    locked(pkg(json!({"type": "git", "url": "https://github.com/a/b"}))).unwrap_err();
    // No archive: composer would clone the source.
    locked(json!({"name": "a/b", "source": {"type": "git", "url": "https://github.com/a/b.git"}}))
        .unwrap_err();
    locked(json!({"name": "a/meta", "type": "metapackage"})).unwrap();
    let mut with_source = zip("https://api.github.com/repos/a/b/zipball/abc");
    with_source["source"] = json!({"type": "git", "url": "https://github.com/a/b.git"});
    locked(with_source.clone()).unwrap();
    for source in [
        json!({"type": "git", "url": "file:///srv/repo"}),
        json!({"type": "git", "url": "ext::sh -c touch% /tmp/pwned"}),
        json!({"type": "hg", "url": "https://github.com/a/b"}),
        json!({"type": "git", "url": "https://169.254.169.254/r.git"}),
    ] {
        with_source["source"] = source;
        locked(with_source.clone()).unwrap_err();
    }
    let mut extra = zip("https://api.github.com/repos/a/b/zipball/abc");
    extra["notification-url"] = json!("http://169.254.169.254/notify");
    locked(extra.clone()).unwrap_err();
    extra["notification-url"] = json!("https://packagist.org/downloads/");
    locked(extra.clone()).unwrap();
    extra["transport-options"] = json!({"http": {"proxy": "tcp://10.0.0.1:3128"}});
    locked(extra.clone()).unwrap_err();
    extra["transport-options"] = json!({});
    extra["dist"]["mirrors"] =
        json!([{"url": "http://127.0.0.1:9/%package%.zip", "preferred": true}]);
    locked(extra.clone()).unwrap_err();
    extra["dist"]["mirrors"] = json!([]);
    extra["bin"] = json!(["../../../../etc/passwd"]);
    locked(extra).unwrap_err();
}

#[test]
fn workspaces_link_only_to_the_folders_the_request_sent() {
    let root = json!({"name": "root", "workspaces": ["packages/*"]});
    let ws = json!({"name": "a", "version": "1.0.0", "dependencies": {"dc-util": "^1.0.0"}});
    let lock = |link_to: &str| {
        json!({"lockfileVersion": 3, "packages": {
            "": {"workspaces": ["packages/*"]},
            "node_modules/a": {"resolved": link_to, "link": true},
            "packages/a": {"version": "1.0.0", "dependencies": {"dc-util": "^1.0.0"}},
            "packages/a/node_modules/dc-util": {
                "version": "1.0.0",
                "resolved": "http://127.0.0.1:4873/dc-util/-/dc-util-1.0.0.tgz"
            }
        }})
    };
    let sent = |lock: Value| {
        npm(&[
            ("package.json", root.clone()),
            ("packages/a/package.json", ws.clone()),
            ("package-lock.json", lock),
        ])
    };
    sent(lock("packages/a")).unwrap();
    // A link to any folder the request did not carry stays refused.
    assert!(sent(lock("../outside")).is_err());
    assert!(sent(lock("packages/b")).is_err());
    // Without the workspace manifests, workspaces are not accepted at all.
    assert!(
        npm(&[
            ("package.json", root.clone()),
            ("package-lock.json", lock("packages/a"))
        ])
        .is_err()
    );
    // A workspace's own specs are checked like the root's.
    let bad = json!({"name": "a", "dependencies": {"x": "file:/etc"}});
    assert!(
        npm(&[
            ("package.json", root.clone()),
            ("packages/a/package.json", bad)
        ])
        .is_err()
    );
}
