//! install.sh puts the binary, completions and man pages under a prefix, can
//! run twice, and explains itself when cargo is missing.

use std::path::Path;
use std::process::Command;

fn install_sh() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

#[test]
fn installs_binary_completions_and_man_pages_idempotently() {
    let prefix = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = Command::new("bash")
            .arg(install_sh())
            .arg("--prefix")
            .arg(prefix.path())
            .arg("--binary")
            .arg(env!("CARGO_BIN_EXE_depcache"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("done: depcache "), "{stdout}");
    }
    for file in [
        "bin/depcache",
        "share/bash-completion/completions/depcache",
        "share/zsh/site-functions/_depcache",
        "share/fish/vendor_completions.d/depcache.fish",
        "share/man/man1/depcache.1",
        "share/man/man1/depcache-serve.1",
    ] {
        assert!(prefix.path().join(file).is_file(), "{file} missing");
    }
    let version = Command::new(prefix.path().join("bin/depcache"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
}

#[test]
fn without_cargo_it_fails_with_a_clear_message() {
    let prefix = tempfile::tempdir().unwrap();
    let out = Command::new("/bin/bash")
        .arg(install_sh())
        .arg("--prefix")
        .arg(prefix.path())
        .env("PATH", "/nonexistent:/usr/bin:/bin")
        .env_remove("CARGO")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cargo is not on PATH"), "{stderr}");
    assert!(!prefix.path().join("bin/depcache").exists());
}

#[test]
fn building_from_source_says_so_and_where_the_result_goes() {
    let prefix = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    // A cargo that "builds" by copying this test's binary where asked: the
    // real build takes minutes.
    let fake = tools.path().join("cargo");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nwhile [ \"$1\" != --root ]; do shift; done\nmkdir -p \"$2/bin\"\ncp '{}' \"$2/bin/depcache\"\n",
            env!("CARGO_BIN_EXE_depcache")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("bash")
        .arg(install_sh())
        .arg("--prefix")
        .arg(prefix.path())
        .env("PATH", format!("{}:/usr/bin:/bin", tools.path().display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.lines().next().unwrap_or("");
    assert!(
        first.contains("building depcache from source")
            && first.contains("minutes")
            && first.contains(&format!("{}/bin/depcache", prefix.path().display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("fpath+=("),
        "how to enable completions: {stdout}"
    );
}
