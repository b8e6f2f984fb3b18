//! Every option of `serve`, `fetch` and `hash` has its `DEPCACHE_*` variable,
//! named after the long flag and shown in `--help`; secrets' values are not.

use std::process::Command;

fn help(sub: &str, envs: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args([sub, "--help"])
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_serve_fetch_and_hash_option_has_its_variable_in_help() {
    let cmd = depcache::cli::command();
    let mut checked = 0;
    for name in depcache::cli::WITH_ENV {
        let sub = cmd.find_subcommand(name).unwrap();
        let text = help(name, &[]);
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if arg.is_global_set() || matches!(long, "help" | "version") {
                continue;
            }
            let expected = depcache::cli::env_name(long);
            let actual = arg.get_env().map(|v| v.to_string_lossy().into_owned());
            assert_eq!(
                actual.as_deref(),
                Some(expected.as_str()),
                "{name} --{long}"
            );
            assert!(
                text.contains(&format!("[env: {expected}")),
                "{name} --help does not show {expected}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} options walked");
}

#[test]
fn api_keys_are_named_in_help_but_their_values_are_hidden() {
    let text = help("serve", &[("DEPCACHE_API_KEYS", "s3cret-server-key")]);
    assert!(text.contains("DEPCACHE_API_KEYS"), "{text}");
    assert!(!text.contains("s3cret-server-key"), "{text}");
    let text = help("fetch", &[("DEPCACHE_API_KEY", "s3cret-client-key")]);
    assert!(text.contains("DEPCACHE_API_KEY"), "{text}");
    assert!(!text.contains("s3cret-client-key"), "{text}");
}

/// `hash npm` asks node and npm their versions and runs nothing else: each
/// other tool asked would be a process start on every fetch, the no-op's
/// included (composer alone costs a tenth of a second).
#[test]
fn hash_npm_runs_only_the_tools_its_key_names() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&marks).unwrap();
    // Stand-ins that record being run; node and npm answer like the tools.
    for (tool, answer) in [
        ("node", "v20.0.0"),
        ("npm", "10.0.0"),
        ("php", "8.2.0"),
        ("composer", "Composer version 2.5.5"),
        ("yarn", "1.22.22"),
        ("pnpm", "10.0.0"),
    ] {
        let path = bin.join(tool);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\ntouch '{}/{tool}'\necho '{answer}'\n",
                marks.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"p","version":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        project.join("package-lock.json"),
        r#"{"name":"p","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"p","version":"1.0.0"}}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["hash", "npm"])
        .current_dir(&project)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ran: Vec<String> = std::fs::read_dir(&marks)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    ran.sort();
    assert_eq!(ran, ["node", "npm"]);
}
