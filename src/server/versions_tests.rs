//! The version decision, case by case: PATH tools, another toolchain, a
//! container, or a refusal that says what is supported.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;

use super::{ApiError, VersionPolicy};
use crate::install::{ContainerConfig, HostTools, NodeToolchain, PhpToolchain, Runner};
use crate::protocol::{CacheRequest, Manager, ValidRequest};

const PLATFORM: &str = "linux-x64-glibc";

fn host() -> HostTools {
    HostTools {
        node: Some("20.20.2".into()),
        npm: Some("11.19.1".into()),
        php: Some("8.2.36".into()),
        composer: Some("2.5.5".into()),
        yarn: None,
    }
}

fn container() -> Arc<ContainerConfig> {
    let mut c = ContainerConfig::new("podman".to_string());
    c.user = "1000:1000".to_string();
    c.composer_phar = Some((PathBuf::from("/opt/composer.phar"), "2.7.1".to_string()));
    Arc::new(c)
}

fn policy(use_containers: bool, runtime: bool) -> VersionPolicy {
    let p = VersionPolicy::new(&host(), &[], &[], PLATFORM.to_string(), use_containers)
        .unwrap()
        .with_toolchains(
            vec![NodeToolchain {
                node: "18.19.0".into(),
                npm: "10.2.3".into(),
                dir: PathBuf::from("/opt/node-18"),
            }],
            vec![PhpToolchain {
                php: "8.1.2".into(),
                composer: Some("2.5.5".into()),
                dir: PathBuf::from("/opt/php-8.1"),
                composer_script: Some(PathBuf::from("/usr/bin/composer")),
            }],
        );
    if runtime {
        p.with_container(container())
    } else {
        p
    }
}

fn request(manager: Manager, versions: &[(&str, &str)]) -> ValidRequest {
    let manifest = manager.manifest().to_string();
    ValidRequest {
        manager,
        hash: crate::protocol::Key::from_bytes([0; 32]),
        files: BTreeMap::from([(manifest, b"{}".to_vec())]),
        versions: versions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        platform: Some(PLATFORM.to_string()),
        options: None,
        private_scopes: Vec::new(),
    }
}

fn npm(node: &str, npm: &str) -> ValidRequest {
    request(Manager::Npm, &[("node", node), ("npm", npm)])
}

#[test]
fn host_versions_run_natively() {
    for p in [policy(false, false), policy(true, true)] {
        assert!(matches!(
            p.decide(&npm("20.20.2", "11.19.1")),
            Ok(Runner::Native)
        ));
        let php = request(
            Manager::Composer,
            &[("php", "8.2.36"), ("composer", "2.5.5")],
        );
        assert!(matches!(p.decide(&php), Ok(Runner::Native)));
        let php_only = request(Manager::Composer, &[("php", "8.2.36")]);
        assert!(matches!(p.decide(&php_only), Ok(Runner::Native)));
    }
}

#[test]
fn other_local_toolchains_come_before_containers() {
    let p = policy(true, true);
    match p.decide(&npm("18.19.0", "10.2.3")) {
        Ok(Runner::Toolchain(run)) => assert_eq!(run.bin, PathBuf::from("/opt/node-18/bin")),
        other => panic!("{other:?}"),
    }
    // pnpm and yarn run on a toolchain's node too, with any version of
    // themselves (the tool cache's), with containers on or off.
    for manager in [Manager::Pnpm, Manager::Yarn] {
        let name = if manager == Manager::Pnpm {
            "pnpm"
        } else {
            "yarn"
        };
        for p in [policy(true, true), policy(false, false)] {
            let r = request(manager, &[("node", "18.19.0"), (name, "4.18.1")]);
            match p.decide(&r) {
                Ok(Runner::Toolchain(run)) => {
                    assert_eq!(run.bin, PathBuf::from("/opt/node-18/bin"), "{manager}")
                }
                other => panic!("{manager}: {other:?}"),
            }
        }
        let said = p.describe(manager);
        assert_eq!(
            said.matches("node 18.19.0 (toolchain)").count(),
            1,
            "{manager}: {said}"
        );
    }
    let php = request(Manager::Composer, &[("php", "8.1.2")]);
    match p.decide(&php) {
        Ok(Runner::Toolchain(run)) => {
            assert_eq!(run.bin, PathBuf::from("/opt/php-8.1/bin"));
            assert_eq!(
                run.composer_script,
                Some(PathBuf::from("/usr/bin/composer"))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mismatch_without_the_flag_is_a_400_listing_what_is_supported() {
    let p = policy(false, false);
    let err = p
        .decide(&npm("18.19.0", "9.9.9"))
        .map_err(ApiError::from)
        .unwrap_err();
    assert_eq!(
        (err.status, err.code),
        (StatusCode::BAD_REQUEST, "unsupported_version")
    );
    assert_eq!(
        err.message,
        "node 18.19.0 / npm 9.9.9 is not supported here (other versions would need a server \
started with --use-docker-on-version-mismatch); supported: node 20.20.2 / npm 11.19.1 (PATH), \
node 18.19.0 / npm 10.2.3 (toolchain)"
    );
    let err = p
        .decide(&request(
            Manager::Composer,
            &[("php", "8.2.36"), ("composer", "2.7.1")],
        ))
        .map_err(ApiError::from)
        .unwrap_err();
    assert_eq!(err.code, "unsupported_version");
    assert!(
        err.message.contains("composer 2.5.5 / php 8.2.36 (PATH)"),
        "{}",
        err.message
    );
}

#[test]
fn mismatch_with_the_flag_runs_in_a_container_of_exactly_that_version() {
    let p = policy(true, true);
    match p.decide(&npm("18.0.0", "9.9.9")) {
        Ok(Runner::Container(_, plan)) => {
            assert_eq!(plan.image, "node:18.0.0");
            assert_eq!(plan.versions.get("npm").map(String::as_str), Some("9.9.9"));
        }
        other => panic!("{other:?}"),
    }
    let php = request(
        Manager::Composer,
        &[("php", "7.4.33"), ("composer", "2.7.1")],
    );
    match p.decide(&php) {
        Ok(Runner::Container(_, plan)) => assert_eq!(plan.image, "php:7.4.33-cli"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_templates_are_the_operators() {
    let mut c = ContainerConfig::new("docker".to_string());
    c.node_image = "registry.example/node:{version}-bookworm".to_string();
    let p = VersionPolicy::new(&host(), &[], &[], PLATFORM.to_string(), true)
        .unwrap()
        .with_container(Arc::new(c));
    match p.decide(&npm("22.1.0", "10.7.0")) {
        Ok(Runner::Container(_, plan)) => {
            assert_eq!(plan.image, "registry.example/node:22.1.0-bookworm")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn flag_without_a_runtime_is_a_503_sentence_not_a_500() {
    let p = policy(true, false);
    let err = p
        .decide(&npm("18.0.0", "9.9.9"))
        .map_err(ApiError::from)
        .unwrap_err();
    assert_eq!(
        (err.status, err.code),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "container_runtime_unavailable"
        )
    );
    assert!(
        err.message.contains("no working container runtime"),
        "{}",
        err.message
    );
    // `depcache serve` never gets here: no runtime is a start-up error.
    let e = crate::install::container::pick_runtime(None, |_| false).unwrap_err();
    assert!(e.contains("neither docker nor podman answers"), "{e}");
}

#[test]
fn php_containers_need_the_composer_they_are_asked_for() {
    let p = policy(true, true);
    let err = p
        .decide(&request(
            Manager::Composer,
            &[("php", "7.4.33"), ("composer", "2.2.0")],
        ))
        .map_err(ApiError::from)
        .unwrap_err();
    assert_eq!(err.code, "unsupported_version");
    assert!(
        err.message
            .contains("containers run composer 2.7.1, not 2.2.0"),
        "{}",
        err.message
    );
    let mut no_phar = ContainerConfig::new("podman".to_string());
    no_phar.composer_phar = None;
    let p = VersionPolicy::new(&host(), &[], &[], PLATFORM.to_string(), true)
        .unwrap()
        .with_container(Arc::new(no_phar));
    let err = p
        .decide(&request(Manager::Composer, &[("php", "7.4.33")]))
        .map_err(ApiError::from)
        .unwrap_err();
    assert!(
        err.message.contains("need the server's --composer-phar"),
        "{}",
        err.message
    );
}

#[test]
fn other_platforms_are_refused_whatever_the_versions() {
    let mut r = npm("20.20.2", "11.19.1");
    r.platform = Some("linux-arm64-musl".to_string());
    let refusal = policy(true, true).decide(&r).unwrap_err();
    assert_eq!(
        refusal,
        super::Refusal::Platform {
            server: PLATFORM.to_string(),
            asked: "linux-arm64-musl".to_string()
        }
    );
    let err = ApiError::from(refusal);
    assert_eq!(err.code, "unsupported_platform");
    assert_eq!(
        err.message,
        format!(
            "this server installs for {PLATFORM}, not linux-arm64-musl; trees are platform-specific"
        )
    );
}

#[test]
fn injected_versions_never_reach_an_image_or_argv() {
    // The wire validation refuses them before any decision...
    let body = serde_json::json!({
        "manager": "npm", "hash": "0".repeat(64),
        "files": {"package.json": "e30="},
        "versions": {"node": "20 --privileged", "npm": "10.0.0"}
    });
    let request: CacheRequest = serde_json::from_value(body).unwrap();
    let err = request.validate().unwrap_err().to_string();
    assert!(err.contains("20 --privileged"), "{err}");
    // ...and the image builder checks again, for any other caller.
    let c = container();
    for bad in ["20 --privileged", "--privileged", "20;sh", "$(id)", "../x"] {
        assert!(c.image(&c.node_image, "node", bad).is_err(), "{bad}");
    }
}

#[test]
fn the_supported_table() {
    let table = serde_json::to_value(policy(true, true).supported()).unwrap();
    assert_eq!(
        table,
        serde_json::json!({
            "platform": "linux-x64-glibc",
            "npm": {
                "native": [{"node": "20.20.2", "npm": "11.19.1"}],
                "toolchains": [{"node": "18.19.0", "npm": "10.2.3"}],
                "container": {"runtime": "podman", "image": "node:{version}",
                              "any": ["node", "npm"], "fixed": {}}
            },
            "composer": {
                "native": [{"php": "8.2.36", "composer": "2.5.5"}],
                "toolchains": [{"php": "8.1.2", "composer": "2.5.5"}],
                "container": {"runtime": "podman", "image": "php:{version}-cli",
                              "any": ["php"], "fixed": {"composer": "2.7.1"}}
            },
            // No yarn on this host's PATH and no --yarn-release; the
            // --node-toolchain node runs any yarn, and any yarn the registry
            // publishes runs in the node image.
            "yarn": {"native": [], "toolchains": [{"node": "18.19.0"}],
                     "container": {"runtime": "podman", "image": "node:{version}",
                                   "any": ["node", "yarn"], "fixed": {}}},
            // Where pnpm runs: each node takes any pnpm the registry
            // publishes, so the sets name no pnpm.
            "pnpm": {"native": [{"node": "20.20.2"}], "toolchains": [{"node": "18.19.0"}],
                     "container": {"runtime": "podman", "image": "node:{version}",
                                   "any": ["node", "pnpm"], "fixed": {}}}
        })
    );
    let off = serde_json::to_value(policy(false, true).supported()).unwrap();
    assert_eq!(off["npm"]["container"], serde_json::Value::Null);
    assert_eq!(off["pnpm"]["container"], serde_json::Value::Null);
}

#[test]
fn yarn_versions_come_from_path_releases_or_the_tool_cache() {
    let mut host = host();
    host.yarn = Some("1.22.22".into());
    let release = crate::install::yarn::YarnRelease {
        version: "4.18.1".into(),
        entry: "/opt/yarn.js".into(),
    };
    let p = VersionPolicy::new(&host, &[], &[], PLATFORM.into(), false)
        .unwrap()
        .with_yarn_releases(vec![release]);
    let table = serde_json::to_value(p.supported()).unwrap();
    assert_eq!(
        table["yarn"],
        serde_json::json!({
            "native": [{"node": "20.20.2", "yarn": "1.22.22"}],
            "toolchains": [{"node": "20.20.2", "yarn": "4.18.1"}],
            "container": null
        })
    );
    let mut r = request(Manager::Yarn, &[("node", "20.20.2"), ("yarn", "4.18.1")]);
    assert!(matches!(p.decide(&r), Ok(Runner::YarnRelease(_))));
    // Any other yarn goes to the tool cache, with the PATH node.
    r.versions.insert("yarn".into(), "3.6.4".into());
    assert!(matches!(p.decide(&r), Ok(Runner::Native)));
    r.versions.insert("node".into(), "18.0.0".into());
    let err = ApiError::from(p.decide(&r).unwrap_err());
    assert_eq!(err.code, "unsupported_version");
    assert!(
        err.message
            .contains("node 18.0.0 is not supported here for yarn"),
        "{}",
        err.message
    );
}

fn built(mut request: ValidRequest) -> ValidRequest {
    request.options = Some(crate::protocol::InstallOptions {
        omit_dev: None,
        build_scripts: Some(true),
    });
    request
}

#[test]
fn built_requests_always_go_to_a_container() {
    // Host versions and toolchain versions alike: scripts never run outside.
    for (node, npm_v) in [
        ("20.20.2", "11.19.1"),
        ("18.19.0", "10.2.3"),
        ("22.1.0", "10.7.0"),
    ] {
        for use_containers in [false, true] {
            let p = policy(use_containers, true).with_build_scripts(true);
            let result = p.decide(&built(npm(node, npm_v)));
            if node == "22.1.0" && !use_containers {
                // Versions the server offers in no other way stay refused.
                assert_eq!(
                    ApiError::from(result.unwrap_err()).code,
                    "unsupported_version"
                );
                continue;
            }
            match result {
                Ok(Runner::Container(_, plan)) => {
                    assert_eq!(plan.image, format!("node:{node}"));
                    assert_eq!(plan.versions["npm"], npm_v);
                }
                other => panic!("{node}: {other:?}"),
            }
        }
    }
    let table = policy(false, true).with_build_scripts(true).supported();
    assert_eq!(table.build_scripts.as_deref(), Some("container"));
    assert_eq!(policy(true, true).supported().build_scripts, None);
}

#[test]
fn built_requests_without_the_flag_or_a_runtime_are_refused() {
    let err = policy(true, true)
        .decide(&built(npm("20.20.2", "11.19.1")))
        .map_err(ApiError::from)
        .unwrap_err();
    assert_eq!(
        (err.status, err.code),
        (StatusCode::BAD_REQUEST, "build_scripts_unavailable")
    );
    assert!(
        err.message.contains("--build-scripts container"),
        "{}",
        err.message
    );
    let err = policy(false, false)
        .with_build_scripts(true)
        .decide(&built(npm("20.20.2", "11.19.1")))
        .map_err(ApiError::from)
        .unwrap_err();
    assert_eq!(
        (err.status, err.code),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "container_runtime_unavailable"
        )
    );
}

#[test]
fn pnpm_and_yarn_for_a_node_the_host_lacks_go_to_the_node_image() {
    for (manager, tool) in [
        (Manager::Pnpm, ("pnpm", "10.34.9")),
        (Manager::Yarn, ("yarn", "1.22.22")),
    ] {
        let r = request(manager, &[("node", "22.1.0"), tool]);
        match policy(true, true).decide(&r) {
            Ok(Runner::Container(_, plan)) => assert_eq!(plan.image, "node:22.1.0"),
            other => panic!("{manager}: {other:?}"),
        }
        // Without the flag: refused, saying what the server has.
        let err = ApiError::from(policy(false, true).decide(&r).unwrap_err());
        assert_eq!(err.code, "unsupported_version", "{manager}");
        assert!(
            err.message
                .contains(&format!("node 22.1.0 is not supported here for {manager}")),
            "{}",
            err.message
        );
        // With it but no runtime answering: 503.
        let err = ApiError::from(policy(true, false).decide(&r).unwrap_err());
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE, "{manager}");
    }
    let said = policy(true, true).describe(Manager::Pnpm);
    assert!(
        said.contains("any node in a container (podman image node:{version})"),
        "{said}"
    );
    let said = policy(true, true).describe(Manager::Yarn);
    assert!(
        said.contains("any node / yarn in a container (podman image node:{version})"),
        "{said}"
    );
}
