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
