//! The committed completions and man pages are what the binary generates now;
//! a flag added without regenerating them fails here.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn assert_fresh(subcommand: &str, committed: &str) {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args([subcommand, "--dir"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let committed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(committed);
    let fresh = files_in(out.path());
    let old = files_in(&committed_dir);
    let stale: Vec<&String> = fresh
        .keys()
        .chain(old.keys())
        .filter(|name| fresh.get(*name) != old.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "{committed}/ is stale ({stale:?}); regenerate with: cargo run -- {subcommand} --dir {committed}"
    );
}

#[test]
fn completions_are_fresh() {
    assert_fresh("completions", "completions");
}

#[test]
fn man_pages_are_fresh() {
    assert_fresh("man", "man");
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("depcache {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        !text.contains("unknown commit"),
        "build.rs found no git commit: {text}"
    );
}

#[test]
fn the_fetch_man_page_names_the_variables_and_no_version_flag() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["man", "--dir"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let page = std::fs::read_to_string(out.path().join("depcache-fetch.1")).unwrap();
    for var in [
        "DEPCACHE_SERVER",
        "DEPCACHE_API_KEY",
        "DEPCACHE_DOWNLOAD_TIMEOUT",
    ] {
        assert!(page.contains(&format!("\\fB{var}\\fR")), "{var} missing");
    }
    assert!(page.contains(".SH ENVIRONMENT"), "{page}");
    // fetch rejects -V, so its page must not offer it.
    assert!(!page.contains("\\fB\\-V\\fR"), "{page}");
    let node = page
        .split("\\fB\\-\\-node\\-version\\fR")
        .nth(2)
        .expect("an entry for --node-version");
    assert!(
        node.lines().nth(1).is_some_and(|l| l.contains("version")),
        "--node-version has help text: {node}"
    );
}

#[test]
fn bash_completion_offers_the_managers_after_fetch() {
    let script = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("depcache.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\"; COMP_WORDS=(depcache fetch ''); COMP_CWORD=2; \
             COMP_LINE='depcache fetch '; COMP_POINT=${#COMP_LINE}; \
             _depcache depcache '' fetch; printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .arg("bash")
        .arg(&file)
        .output()
        .expect("bash must be installed to run this test");
    let offered = String::from_utf8_lossy(&out.stdout);
    let offered: Vec<&str> = offered.lines().collect();
    assert!(
        offered.contains(&"npm") && offered.contains(&"composer"),
        "{offered:?}"
    );
}

/// Every `name(1)` a page cites in SEE ALSO / SUBCOMMANDS is a page that is
/// generated (and so installed by install.sh): no `depcache-help(1)`.
#[test]
fn every_cited_man_page_is_generated() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_depcache"))
        .args(["man", "--dir"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let pages = files_in(out.path());
    let mut cited = Vec::new();
    for text in pages.values() {
        let text = String::from_utf8_lossy(text).replace("\\-", "-");
        for line in text.lines() {
            if let Some(name) = line.strip_suffix("(1)")
                && name.starts_with("depcache")
                && !name.contains(' ')
            {
                cited.push(name.to_string());
            }
        }
    }
    assert!(cited.iter().any(|c| c == "depcache-admin-gc"), "{cited:?}");
    for name in &cited {
        assert!(
            pages.contains_key(&format!("{name}.1")),
            "{name}(1) is cited but not generated"
        );
    }
}
