//! Tests of the test fixtures themselves: if these fail, every other
//! integration test's verdict is meaningless.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn npm_installs_bin_symlink_and_executable_from_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let before = registry().tarball_requests_for("dc-exec");
    npm_project(
        tmp.path(),
        &[("dc-cli", "^1.0.0"), ("dc-exec", "1.0.0")],
        &[],
    );
    let lock = std::fs::read_to_string(tmp.path().join("package-lock.json")).unwrap();
    assert!(
        lock.contains(&registry().url()),
        "lock does not resolve to our registry"
    );

    let reference = npm_ci_reference(tmp.path(), false);
    let nm = reference.path().join("node_modules");
    assert!(
        registry().tarball_requests_for("dc-exec") > before,
        "npm ci fetched no tarball"
    );
    assert!(registry().tarball_requests() >= 3);
    let bin = nm.join(".bin/dc-cli");
    let meta = std::fs::symlink_metadata(&bin).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        ".bin/dc-cli is not a symlink"
    );
    assert_eq!(
        std::fs::read_link(&bin).unwrap().to_str().unwrap(),
        "../dc-cli/bin/cli.js"
    );
    let run = std::fs::metadata(nm.join("dc-exec/scripts/run.sh")).unwrap();
    // Installed modes follow the installer's umask: only the owner x bit is certain.
    assert_ne!(run.permissions().mode() & 0o100, 0, "run.sh lost its x bit");
    // dc-util came in as a dependency of dc-cli, at the newest matching version.
    let util = std::fs::read_to_string(nm.join("dc-util/package.json")).unwrap();
    assert!(util.contains("\"1.1.0\""), "{util}");
    assert!(nm.join("dc-util/lib/deep/nested/more.js").is_file());
}

#[test]
fn npm_reference_installs_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    npm_project(
        tmp.path(),
        &[("dc-cli", "^1.0.0"), ("dc-other", "1.0.0")],
        &[("dc-dev", "1.0.0")],
    );
    let a = npm_ci_reference(tmp.path(), false);
    let b = npm_ci_reference(tmp.path(), false);
    assert_same_tree(
        &a.path().join("node_modules"),
        &b.path().join("node_modules"),
    );

    let prod = npm_ci_reference(tmp.path(), true);
    let prod_nm = prod.path().join("node_modules");
    assert!(
        !prod_nm.join("dc-dev").exists(),
        "--omit=dev still installed dc-dev"
    );
    assert!(prod_nm.join("dc-shared").is_dir());
}

#[test]
#[should_panic(expected = "trees differ")]
fn assert_same_tree_catches_differences() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [a.path(), b.path()] {
        std::fs::create_dir_all(dir.join("x")).unwrap();
        std::fs::write(dir.join("x/same.txt"), "same").unwrap();
    }
    std::fs::write(a.path().join("x/mode.sh"), "#!/bin/sh").unwrap();
    std::fs::write(b.path().join("x/mode.sh"), "#!/bin/sh").unwrap();
    std::fs::set_permissions(
        a.path().join("x/mode.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        b.path().join("x/mode.sh"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert_same_tree(a.path(), b.path());
}

#[test]
fn tree_manifest_sees_modes_symlinks_and_contents() {
    let a = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(a.path().join("d")).unwrap();
    std::fs::write(a.path().join("d/f"), "one").unwrap();
    std::os::unix::fs::symlink("d/f", a.path().join("link")).unwrap();
    let m = tree_manifest(a.path());
    assert_eq!(m["d"], Node::Dir);
    assert_eq!(
        m["link"],
        Node::Symlink {
            target: "d/f".into()
        }
    );
    assert!(matches!(&m["d/f"], Node::File { mode, .. } if mode & 0o600 == 0o600));

    // Each kind of difference is reported.
    let b = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(b.path().join("d")).unwrap();
    std::fs::write(b.path().join("d/f"), "two").unwrap();
    std::fs::write(b.path().join("extra"), "").unwrap();
    let (lines, total) = tree::diff_manifests(&tree_manifest(b.path()), &m, 20);
    assert_eq!(total, 3, "{lines:#?}");
    let text = lines.join("\n");
    assert!(
        text.contains("missing   link") && text.contains("differs   d/f"),
        "{text}"
    );
    assert!(text.contains("extra     extra"), "{text}");
}

#[test]
fn unzip_round_trip_keeps_modes_and_symlinks() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("t/bin")).unwrap();
    std::fs::write(src.path().join("t/bin/x.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        src.path().join("t/bin/x.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("bin/x.sh", src.path().join("t/x")).unwrap();
    // The system zip (-y stores symlinks as links) builds the archive here.
    let zip = src.path().join("t.zip");
    let st = std::process::Command::new("zip")
        .args(["-q", "-r", "-y"])
        .arg(&zip)
        .arg(".")
        .current_dir(src.path().join("t"))
        .status()
        .unwrap();
    assert!(st.success());
    let dest = tempfile::tempdir().unwrap();
    unzip_into(&zip, dest.path());
    assert_same_tree(dest.path(), &src.path().join("t"));
}

#[test]
fn npm_project_with_missing_package_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let err = try_npm_project(tmp.path(), &[("dc-fail", "1.0.0")], &[]).unwrap_err();
    assert!(err.contains("404") || err.contains("E404"), "{err}");
}

#[test]
fn npm_scoped_package_installs() {
    let tmp = tempfile::tempdir().unwrap();
    npm_project(tmp.path(), &[("@dc/scoped", "1.0.0")], &[]);
    let reference = npm_ci_reference(tmp.path(), false);
    assert!(
        reference
            .path()
            .join("node_modules/@dc/scoped/index.js")
            .is_file()
    );
}

#[test]
fn composer_reference_installs_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let project = composer_project(tmp.path());
    let a = composer_install_reference(&project.project, false);
    let b = composer_install_reference(&project.project, false);
    let vendor = a.path().join("vendor");
    assert_same_tree(&vendor, &b.path().join("vendor"));

    assert!(vendor.join("acme/shared/src/Shared.php").is_file());
    assert!(vendor.join("acme/devtool").is_dir());
    assert!(vendor.join("composer/installed.json").is_file());
    let greet = vendor.join("acme/greeter/bin/greet");
    assert_ne!(
        std::fs::metadata(&greet).unwrap().permissions().mode() & 0o100,
        0
    );
    // composer 2.5 writes vendor/bin/greet as an executable PHP proxy, not a link.
    let proxy = std::fs::symlink_metadata(vendor.join("bin/greet")).unwrap();
    assert!(proxy.file_type().is_file() && proxy.permissions().mode() & 0o100 != 0);

    let prod = composer_install_reference(&project.project, true);
    assert!(!prod.path().join("vendor/acme/devtool").exists());
    assert!(prod.path().join("vendor/acme/greeter").is_dir());
}

#[test]
fn npm_big_package_has_thousands_of_files() {
    let tmp = tempfile::tempdir().unwrap();
    npm_project(tmp.path(), &[("dc-big", "1.0.0")], &[]);
    let reference = npm_ci_reference(tmp.path(), false);
    let files = tree_manifest(&reference.path().join("node_modules/dc-big"))
        .values()
        .filter(|n| matches!(n, Node::File { .. }))
        .count();
    assert_eq!(files, 3001); // 3000 + package.json
}

#[test]
fn stalled_tarball_is_seen_open_and_then_closed_when_npm_dies() {
    let tmp = tempfile::tempdir().unwrap();
    // The packument is served normally, so the lockfile can be made.
    npm_project(tmp.path(), &[("dc-stall", "1.0.0")], &[]);
    let scratch = tempfile::tempdir().unwrap();
    let hits = registry().stall_hits();
    let mut child = npm_project::npm_command(tmp.path(), scratch.path())
        .args(["ci", "--ignore-scripts", "--registry", &registry().url()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cond() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for("the stalled tarball request", &|| {
        registry().stall_hits() > hits
    });
    assert!(registry().stall_open() >= 1);
    assert!(
        child.try_wait().unwrap().is_none(),
        "npm finished despite the stall"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for("the stalled connection to close", &|| {
        registry().stall_open() == 0
    });
}
