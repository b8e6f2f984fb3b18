//! contrib/depcache.service passes `systemd-analyze verify` (unknown keys,
//! bad values and a missing binary all fail it) with the settings operators
//! look for; skipped, with the reason printed, where systemd-analyze is not
//! installed.

use std::path::Path;
use std::process::Command;

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("contrib/depcache.service")).unwrap();
    for setting in [
        "EnvironmentFile=",
        "TimeoutStopSec=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/depcache",
        "--cache-dir /var/lib/depcache",
        "DynamicUser=yes",
    ] {
        assert!(
            unit.lines().any(|l| l.contains(setting)),
            "the unit lacks {setting}"
        );
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "\n*** SKIPPED systemd unit check: systemd-analyze is not installed (Debian: apt-get install systemd). ***\n"
        );
        return;
    }
    // verify checks that ExecStart's binary exists: point it at this build.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("depcache.service");
    let exe = env!("CARGO_BIN_EXE_depcache");
    std::fs::write(&copy, unit.replace("/usr/local/bin/depcache", exe)).unwrap();
    // --man=no: the man page named in Documentation= is not installed here.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze warned:\n{stderr}"
    );
}
