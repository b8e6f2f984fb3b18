//! `depcache serve --config FILE`: the file's keys are the long flag names,
//! and flags > environment > file > defaults, seen in the address the real
//! binary says it serves on.

use crate::common::server::spawn_serve;

fn config(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("depcache.toml");
    let store = dir.path().join("store");
    std::fs::write(
        &path,
        format!(
            "cache-dir = {:?}\nport = 0\n{text}",
            store.to_str().unwrap()
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

fn serving_on(args: &[&str], envs: &[(&str, &str)]) -> String {
    let (mut child, url) = spawn_serve(args, envs).unwrap_or_else(|e| panic!("{e:?}"));
    child.kill().unwrap();
    child.wait().unwrap();
    url
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_defaults() {
    let (_dir, file) = config("is-public = true\nbind = \"127.0.0.2\"\n");
    let from_file = serving_on(&["--config", &file], &[]);
    assert!(from_file.starts_with("http://127.0.0.2:"), "{from_file}");

    let env = [("DEPCACHE_BIND", "127.0.0.3")];
    let from_env = serving_on(&["--config", &file], &env);
    assert!(from_env.starts_with("http://127.0.0.3:"), "{from_env}");

    let from_flag = serving_on(&["--config", &file, "--bind", "127.0.0.4"], &env);
    assert!(from_flag.starts_with("http://127.0.0.4:"), "{from_flag}");

    // DEPCACHE_CONFIG names the file as well; without `bind` the default holds.
    let (_dir, file) = config("is-public = true\n");
    let default = serving_on(&[], &[("DEPCACHE_CONFIG", &file)]);
    assert!(default.starts_with("http://127.0.0.1:"), "{default}");
}

fn refused(text: &str) -> String {
    let (_dir, file) = config(text);
    let (code, stderr) =
        spawn_serve(&["--config", &file], &[]).expect_err("the server should refuse to start");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&file), "the file is not named: {stderr}");
    stderr
}

#[test]
fn unknown_keys_and_wrong_types_name_the_file_and_the_key() {
    let stderr = refused("is-public = true\nmax-tree-file = 10\n");
    assert!(stderr.contains("unknown key `max-tree-file`"), "{stderr}");

    let stderr = refused("is-public = \"yes\"\n");
    assert!(
        stderr.contains("`is-public` must be true or false"),
        "{stderr}"
    );

    let stderr = refused("is-public = true\nmax-tree-files = \"many\"\n");
    assert!(
        stderr.contains("`max-tree-files` = \"many\" is not valid"),
        "{stderr}"
    );

    let stderr = refused("is-public = true\nallow-registry-host = [true]\n");
    assert!(
        stderr.contains("`allow-registry-host` must be a list of strings"),
        "{stderr}"
    );

    let stderr = refused("is-public = true\n[server]\nbind = \"0.0.0.0\"\n");
    assert!(stderr.contains("unknown key `server`"), "{stderr}");
}

#[test]
fn the_readme_example_config_starts_a_server() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a TOML example");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("depcache.toml");
    std::fs::write(&file, example).unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "k1\n").unwrap();
    // Flags in place of the example's system paths and port.
    let url = serving_on(
        &[
            "0",
            "--bind",
            "127.0.0.1",
            "--config",
            file.to_str().unwrap(),
            "--cache-dir",
            dir.path().join("store").to_str().unwrap(),
            "--api-keys-file",
            keys.to_str().unwrap(),
        ],
        &[],
    );
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}

#[test]
fn a_kubernetes_service_variable_does_not_set_the_port() {
    // Kubernetes sets this in every pod beside a Service named `depcache`.
    let (_dir, file) = config("is-public = true\n");
    let env = [
        ("DEPCACHE_PORT", "tcp://10.0.0.1:8080"),
        ("DEPCACHE_SERVICE_HOST", "10.0.0.1"),
    ];
    let url = serving_on(&["--config", &file], &env);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let url = serving_on(
        &[],
        &[("DEPCACHE_CONFIG", &file), ("DEPCACHE_LISTEN_PORT", "0")],
    );
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}
