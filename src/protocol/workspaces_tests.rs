//! Unit tests of `workspaces.rs`: globs, declared workspaces, shapes.

use super::*;

const LOCK: &str = r#"{"lockfileVersion":3,"packages":{
    "":{"workspaces":["packages/*"]},
    "node_modules/a":{"resolved":"packages/a","link":true},
    "node_modules/b":{"resolved":"packages/b","link":true},
    "packages/a":{"version":"1.0.0"}}}"#;

fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
        .collect()
}

fn shape(pairs: &[(&str, &str)]) -> Result<(), ProjectShapeError> {
    check_project_shape(Manager::Npm, &files(pairs))
}

#[test]
fn both_forms_are_read() {
    assert_eq!(
        declared_workspaces(br#"{"workspaces":["packages/*","tools/x"]}"#).unwrap(),
        ["packages/*", "tools/x"]
    );
    assert_eq!(
        declared_workspaces(br#"{"workspaces":{"packages":["a"],"nohoist":["x"]}}"#).unwrap(),
        ["a"]
    );
    assert!(declared_workspaces(br#"{"name":"x"}"#).unwrap().is_empty());
    assert!(declared_workspaces(b"\xEF\xBB\xBF{\"workspaces\":[\"a\"]}").unwrap() == ["a"]);
}

#[test]
fn globs() {
    let g = WorkspaceGlob::parse("./packages/*/").unwrap();
    assert!(g.matches("packages/a") && g.matches("packages/@x"));
    assert!(!g.matches("packages/.hidden") && !g.matches("packages") && !g.matches("packages/a/b"));
    assert!(
        WorkspaceGlob::parse("apps/web")
            .unwrap()
            .matches("apps/web")
    );
    assert!(WorkspaceGlob::parse("pkg-*-x").unwrap().matches("pkg-1-x"));
    assert!(!WorkspaceGlob::parse("pkg-*-x").unwrap().matches("pkg-x"));
    for bad in [
        "../other/*",
        "/abs/*",
        "a/../b",
        ".hidden/*",
        "**",
        "packages/**",
        "a/{b,c}",
        "!a",
        "a?",
        "",
        "node_modules/*",
        "a/b/c/d/e",
    ] {
        assert!(WorkspaceGlob::parse(bad).is_err(), "{bad}");
    }
    let message = WorkspaceGlob::parse("../other/*").unwrap_err().to_string();
    assert!(message.contains("outside the project"), "{message}");
}

#[test]
fn workspace_projects_must_be_consistent() {
    let root = r#"{"workspaces":["packages/*"]}"#;
    let ok = [
        ("package.json", root),
        ("package-lock.json", LOCK),
        ("packages/a/package.json", "{}"),
        ("packages/b/package.json", "{}"),
    ];
    assert!(shape(&ok).is_ok());
    assert!(shape(&[("package.json", r#"{"name":"x"}"#)]).is_ok());
    assert!(shape(&[("package.json", r#"{"workspaces":[]}"#)]).is_ok());
    // A workspace left out, one too many, one no glob matches, no lockfile.
    assert!(matches!(
        shape(&ok[..3]),
        Err(ProjectShapeError::MissingWorkspace { .. })
    ));
    let mut extra = ok.to_vec();
    extra.push(("packages/c/package.json", "{}"));
    assert!(matches!(
        shape(&extra),
        Err(ProjectShapeError::UnlinkedWorkspace { .. })
    ));
    let mut with_bin = ok.to_vec();
    with_bin[2] = ("packages/a/package.json", r#"{"bin":{"x":"cli.js"}}"#);
    assert!(matches!(
        shape(&with_bin),
        Err(ProjectShapeError::WorkspaceBin { .. })
    ));
    let nested = [
        (
            "package.json",
            r#"{"workspaces":["packages/*","packages/a/*"]}"#,
        ),
        ("packages/a/package.json", "{}"),
        ("packages/a/x/package.json", "{}"),
    ];
    assert!(matches!(
        shape(&nested),
        Err(ProjectShapeError::NestedWorkspace { .. })
    ));
    let mut stray = ok.to_vec();
    stray.push(("tools/c/package.json", "{}"));
    assert!(matches!(
        shape(&stray),
        Err(ProjectShapeError::NotAWorkspace { .. })
    ));
    assert!(matches!(
        shape(&[("package.json", root)]),
        Err(ProjectShapeError::NoLockfile)
    ));
    for refused in [
        r#"{"workspaces":"packages/*"}"#,
        r#"{"workspaces":[1]}"#,
        r#"{"workspaces":["../x/*"]}"#,
        "{not json",
    ] {
        assert!(shape(&[("package.json", refused)]).is_err(), "{refused}");
    }
    let composer = BTreeMap::from([(
        "composer.json".to_string(),
        br#"{"workspaces":["a"]}"#.to_vec(),
    )]);
    assert!(check_project_shape(Manager::Composer, &composer).is_ok());
}

#[test]
fn manifest_names() {
    assert!(is_workspace_manifest_name("packages/a/package.json"));
    for bad in [
        "package.json",
        "../a/package.json",
        "/a/package.json",
        "a/../package.json",
        ".git/package.json",
        "a//package.json",
        "node_modules/x/package.json",
        "a/b/c/d/e/package.json",
        "a/package-lock.json",
    ] {
        assert!(!is_workspace_manifest_name(bad), "{bad}");
    }
}

/// pnpm's globs live in pnpm-workspace.yaml: its refusals name that file.
#[test]
fn refusals_name_the_file_that_declares_the_globs() {
    let pnpm = |yaml: &str, extra: &str| {
        let pairs = [
            ("package.json", "{}"),
            ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
            ("pnpm-workspace.yaml", yaml),
            (extra, "{}"),
        ];
        check_project_shape(Manager::Pnpm, &files(&pairs))
            .unwrap_err()
            .to_string()
    };
    let stray = pnpm("packages:\n  - packages/*\n", "tools/c/package.json");
    assert!(
        stray.contains("no glob in pnpm-workspace.yaml's \"packages\" matches"),
        "{stray}"
    );
    let glob = pnpm("packages:\n  - '**'\n", "packages/a/package.json");
    assert!(
        glob.contains("\"**\" in pnpm-workspace.yaml's \"packages\" uses '**'"),
        "{glob}"
    );
    let npm = shape(&[
        ("package.json", r#"{"workspaces":["packages/*"]}"#),
        ("tools/c/package.json", "{}"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        npm.contains("no glob in package.json's \"workspaces\" matches"),
        "{npm}"
    );
}
