//! The exact container command lines: image, pinned npm, mounts, user,
//! limits, cleanup name; and that request data cannot add arguments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

fn config() -> ContainerConfig {
    let mut c = ContainerConfig::new("podman".to_string());
    c.user = "1000:1000".to_string();
    c.composer_phar = Some((PathBuf::from("/opt/composer.phar"), "2.7.1".to_string()));
    c
}

fn plan(image: &str, versions: &[(&str, &str)]) -> ContainerPlan {
    ContainerPlan {
        image: image.to_string(),
        versions: versions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const PREFIX: &[&str] = &[
    "run",
    "--rm",
    "--name=depcache-1",
    "--user=1000:1000",
    "--memory=2g",
    "--cpus=2",
    "--pids-limit=4096",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
];

fn npm_expected(tail: &[&str], network: bool) -> Vec<String> {
    let mut want = strings(PREFIX);
    if network {
        want.push("--network=host".to_string());
    }
    want.extend(strings(&[
        "--mount=type=bind,source=/srv/w/p,target=/work",
        "--mount=type=bind,source=/srv/tc/npm,target=/depcache-cache/npm",
        "--workdir=/work",
        "--env=HOME=/work/.home",
        "--env=TMPDIR=/work/.tmp",
        "--env=LANG=C.UTF-8",
        "--env=CI=true",
        "--env=npm_config_cache=/depcache-cache/npm",
        "--env=NO_UPDATE_NOTIFIER=1",
    ]));
    want.extend(strings(tail));
    want
}

const NPM_ARGS: &[&str] = &["ci", "--ignore-scripts", "--no-audit", "--no-fund"];

#[test]
fn npm_with_the_images_own_npm() {
    let c = config();
    let p = plan("node:18.19.0", &[("node", "18.19.0"), ("npm", "10.2.3")]);
    let spec = c
        .npm_command(
            "depcache-1",
            &p,
            "10.2.3",
            &strings(NPM_ARGS),
            None,
            Path::new("/srv/w/p"),
            Path::new("/srv/tc"),
        )
        .unwrap();
    assert_eq!(spec.program, "podman");
    let mut tail = vec!["node:18.19.0", "npm"];
    tail.extend(NPM_ARGS);
    assert_eq!(spec.args, npm_expected(&tail, false));
    assert_eq!(spec.cwd, PathBuf::from("/srv/w/p"));
}

#[test]
fn npm_pinned_with_npx_when_the_image_ships_another() {
    let mut c = config();
    c.network = Some("host".to_string());
    c.global_args = strings(&["--cgroup-manager=cgroupfs"]);
    c.run_args = strings(&["--ulimit=nofile=4096:4096"]);
    let p = plan("node:18.19.0", &[("node", "18.19.0"), ("npm", "9.9.9")]);
    let spec = c
        .npm_command(
            "depcache-1",
            &p,
            "10.2.3",
            &strings(NPM_ARGS),
            Some("http://127.0.0.1:4873/"),
            Path::new("/srv/w/p"),
            Path::new("/srv/tc"),
        )
        .unwrap();
    let mut want = vec!["--cgroup-manager=cgroupfs".to_string()];
    want.extend(npm_expected(&[], true));
    want.push("--env=npm_config_registry=http://127.0.0.1:4873/".to_string());
    want.push("--ulimit=nofile=4096:4096".to_string());
    want.extend(strings(&["node:18.19.0", "npx", "--yes", "npm@9.9.9"]));
    want.extend(strings(NPM_ARGS));
    assert_eq!(spec.args, want);
}

#[test]
fn composer_runs_the_mounted_phar_with_the_images_php() {
    let c = config();
    let p = plan("php:7.4.33-cli", &[("php", "7.4.33")]);
    let args = strings(&["install", "--no-scripts", "--no-plugins"]);
    let spec = c
        .composer_command(
            "depcache-1",
            &p,
            &args,
            Path::new("/srv/w/p"),
            Path::new("/srv/tc"),
        )
        .unwrap();
    let mut want = strings(PREFIX);
    want.extend(strings(&[
        "--mount=type=bind,source=/srv/w/p,target=/work",
        "--mount=type=bind,source=/srv/tc/composer,target=/depcache-cache/composer",
        "--workdir=/work",
        "--env=HOME=/work/.home",
        "--env=TMPDIR=/work/.tmp",
        "--env=LANG=C.UTF-8",
        "--env=CI=true",
        "--mount=type=bind,source=/opt/composer.phar,target=/opt/depcache/composer.phar,readonly",
        "--env=COMPOSER_HOME=/depcache-cache/composer",
        "--env=COMPOSER_CACHE_DIR=/depcache-cache/composer/cache",
        "--env=COMPOSER_ALLOW_SUPERUSER=1",
        "php:7.4.33-cli",
        "php",
        "/opt/depcache/composer.phar",
        "install",
        "--no-scripts",
        "--no-plugins",
    ]));
    assert_eq!(spec.args, want);
    let mut no_phar = config();
    no_phar.composer_phar = None;
    assert!(
        no_phar
            .composer_command("n", &p, &args, Path::new("/w"), Path::new("/t"))
            .is_err()
    );
}

#[test]
fn request_data_cannot_add_arguments() {
    let c = config();
    // A pinned npm version is checked again where it becomes `npm@<v>`.
    for bad in ["9 --privileged", "--privileged", "1;id"] {
        let p = plan("node:18", &[("node", "18.0.0"), ("npm", bad)]);
        let r = c.npm_command(
            "n",
            &p,
            "10.0.0",
            &[],
            None,
            Path::new("/w"),
            Path::new("/t"),
        );
        assert!(r.is_err(), "{bad}");
    }
    // Uploaded files reach the container only through the /work mount: the
    // real install command, built from a package.json full of flags, has
    // none of its bytes in argv.
    let project = tempfile::tempdir().unwrap();
    let evil = br#"{"name":"x","scripts":{"--privileged":"--volume=/:/host"}}"#.to_vec();
    let files = BTreeMap::from([("package.json".to_string(), evil)]);
    let settings = crate::install::InstallSettings {
        npm_registry: None,
        tool_cache: PathBuf::from("/srv/tc"),
        timeout: Duration::from_secs(1),
        sources: Default::default(),
    };
    let native =
        crate::install::npm::command(project.path(), &files, false, false, None, &settings);
    let p = plan("node:18.0.0", &[("node", "18.0.0"), ("npm", "10.0.0")]);
    let spec = c
        .npm_command(
            "n",
            &p,
            "10.0.0",
            &native.args,
            None,
            project.path(),
            Path::new("/srv/tc"),
        )
        .unwrap();
    for arg in &spec.args {
        assert!(
            !arg.contains("privileged") && !arg.contains("/host"),
            "{arg}"
        );
    }
}

#[test]
fn mount_sources_with_commas_are_refused() {
    let c = config();
    let p = plan("node:18", &[("node", "18.0.0"), ("npm", "10.0.0")]);
    let r = c.npm_command(
        "n",
        &p,
        "10.0.0",
        &[],
        None,
        Path::new("/w,readonly=false"),
        Path::new("/t"),
    );
    assert!(r.is_err());
    assert!(
        c.npm_command(
            "n",
            &p,
            "10.0.0",
            &[],
            None,
            Path::new("rel"),
            Path::new("/t")
        )
        .is_err()
    );
}

#[test]
fn probe_asks_the_image_for_its_npm_without_network() {
    let c = config();
    let spec = c.probe_command("depcache-1", "node:18", Path::new("/w"));
    let mut want = strings(PREFIX);
    want.extend(strings(&["--network=none", "node:18", "npm", "--version"]));
    assert_eq!(spec.args, want);
}

#[test]
fn runtime_choice() {
    assert_eq!(pick_runtime(None, |rt| rt == "podman").unwrap(), "podman");
    assert_eq!(pick_runtime(None, |_| true).unwrap(), "docker");
    assert_eq!(pick_runtime(Some("podman"), |_| true).unwrap(), "podman");
    let e = pick_runtime(Some("docker"), |rt| rt == "podman").unwrap_err();
    assert!(e.contains("\"docker\" does not answer"), "{e}");
    assert!(pick_runtime(None, |_| false).is_err());
}

#[test]
fn operator_settings_are_checked() {
    let mut c = config();
    assert!(c.validate().is_ok());
    c.node_image = "node:latest".to_string();
    assert!(c.validate().unwrap_err().contains("{version}"));
    c.node_image = "--privileged node:{version}".to_string();
    assert!(c.validate().is_err());
    let mut c = config();
    c.memory = "2g --privileged".to_string();
    assert!(c.validate().is_err());
}

#[test]
fn names_are_unique() {
    assert_ne!(unique_name(), unique_name());
    assert!(unique_name().starts_with("depcache-"));
}

#[tokio::test]
async fn built_installs_never_run_outside_a_container() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    // Were npm started natively, this root script would leave its mark.
    let manifest = br#"{"name":"x","version":"1.0.0","scripts":{"postinstall":"node -e \"require('fs').writeFileSync('ran','')\""}}"#;
    std::fs::write(project.join("package.json"), manifest).unwrap();
    let request = crate::protocol::ValidRequest {
        manager: crate::protocol::Manager::Npm,
        hash: crate::protocol::Key::from_bytes([0; 32]),
        files: BTreeMap::from([("package.json".to_string(), manifest.to_vec())]),
        versions: BTreeMap::new(),
        platform: None,
        options: Some(crate::protocol::InstallOptions {
            omit_dev: None,
            build_scripts: Some(true),
        }),
        private_scopes: Vec::new(),
    };
    let settings = crate::install::InstallSettings {
        npm_registry: None,
        tool_cache: dir.path().join("tc"),
        timeout: Duration::from_secs(30),
        sources: Default::default(),
    };
    let log = dir.path().join("log");
    let result = crate::install::install_with(
        &crate::install::Runner::Native,
        &request,
        &project,
        &settings,
        &log,
        None,
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("only inside the container sandbox"),
        "{message}"
    );
    assert!(!project.join("ran").exists());
    assert!(!log.exists(), "nothing was started");
}

#[test]
fn node_run_managers_keep_their_host_paths_and_a_read_only_package() {
    let c = config();
    let p = plan("node:22.1.0", &[("node", "22.1.0"), ("pnpm", "10.34.9")]);
    let command = CommandSpec {
        program: "node".to_string(),
        args: strings(&[
            "/srv/tc/pnpm@10.34.9/bin/pnpm.cjs",
            "install",
            "--frozen-lockfile",
            "--store-dir=/srv/tc/pnpm-store",
        ]),
        cwd: PathBuf::from("/srv/w/p"),
        env: vec![
            ("HOME".to_string(), "/srv/w/p/.home".to_string()),
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("CI".to_string(), "true".to_string()),
        ],
    };
    let tool = Path::new("/srv/tc/pnpm@10.34.9");
    let writable = [PathBuf::from("/srv/tc/pnpm-store")];
    let spec = c
        .node_manager_command("depcache-1", &p, &command, tool, &writable)
        .unwrap();
    assert_eq!(spec.program, "podman");
    let mut want = strings(PREFIX);
    want.extend(strings(&[
        "--mount=type=bind,source=/srv/w/p,target=/srv/w/p",
        "--mount=type=bind,source=/srv/tc/pnpm-store,target=/srv/tc/pnpm-store",
        "--mount=type=bind,source=/srv/tc/pnpm@10.34.9,target=/srv/tc/pnpm@10.34.9,readonly",
        "--workdir=/srv/w/p",
        // The host's PATH stays out: the image's finds its node.
        "--env=HOME=/srv/w/p/.home",
        "--env=CI=true",
        "node:22.1.0",
        "node",
        "/srv/tc/pnpm@10.34.9/bin/pnpm.cjs",
        "install",
        "--frozen-lockfile",
        "--store-dir=/srv/tc/pnpm-store",
    ]));
    assert_eq!(spec.args, want);

    // A PATH bin is not something the image's node can run.
    let mut on_path = command.clone();
    on_path.program = "/usr/bin/pnpm".to_string();
    let err = c
        .node_manager_command("depcache-1", &p, &on_path, tool, &writable)
        .unwrap_err();
    assert!(err.contains("/usr/bin/pnpm is not run by node"), "{err}");
    // A path that would split the --mount value is refused.
    let err = c
        .node_manager_command("depcache-1", &p, &command, Path::new("/srv/a,b"), &writable)
        .unwrap_err();
    assert!(err.contains("cannot mount"), "{err}");
}
