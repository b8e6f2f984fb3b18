//! npm workspaces: what a root `package.json` declares, and the refusal of
//! project shapes depcache cannot reproduce exactly. Client and server share
//! this so that both refuse the same projects: the client before asking (it
//! falls back to a local install), the server before installing or answering
//! from the store (a tree installed without the workspace manifests would be
//! silently wrong).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Manager;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectShapeError {
    #[error(
        "package.json declares npm workspaces ({globs}); depcache cannot cache workspace \
projects yet, so installing them elsewhere would give an incomplete tree"
    )]
    Workspaces { globs: String },
    #[error(
        "package.json has a \"workspaces\" field depcache cannot read ({reason}); it \
cannot tell which folders belong to the install"
    )]
    MalformedWorkspaces { reason: String },
    #[error(
        "package.json is not JSON depcache can read ({reason}); it cannot tell whether \
the project uses workspaces"
    )]
    UnreadableManifest { reason: String },
}

/// The workspace globs of an npm root manifest, in the order written; empty
/// when it declares none. Both of npm's forms are read: an array, or an
/// object whose `packages` is one (yarn's `nohoist` beside it changes nothing
/// for npm).
pub fn declared_workspaces(manifest: &[u8]) -> Result<Vec<String>, ProjectShapeError> {
    // npm strips a byte order mark before parsing; so must we, or a BOM would
    // hide the field from us but not from npm.
    let text = manifest
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(manifest);
    let doc: Value =
        serde_json::from_slice(text).map_err(|e| ProjectShapeError::UnreadableManifest {
            reason: e.to_string(),
        })?;
    let malformed = |reason: &str| ProjectShapeError::MalformedWorkspaces {
        reason: reason.to_string(),
    };
    let list = match doc.get("workspaces") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(Value::Object(map)) => match map.get("packages") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(malformed("\"workspaces.packages\" is not an array")),
        },
        Some(_) => return Err(malformed("it is neither an array nor an object")),
    };
    list.iter()
        .map(|glob| match glob {
            Value::String(s) => Ok(s.clone()),
            _ => Err(malformed("an entry is not a string")),
        })
        .collect()
}

/// Refuses a request depcache would cache wrongly. Only npm projects have a
/// shape to check here.
pub fn check_project_shape(
    manager: Manager,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), ProjectShapeError> {
    if manager != Manager::Npm {
        return Ok(());
    }
    let Some(manifest) = files.get(manager.manifest()) else {
        return Ok(());
    };
    let globs = declared_workspaces(manifest)?;
    if globs.is_empty() {
        return Ok(());
    }
    Err(ProjectShapeError::Workspaces {
        globs: globs
            .iter()
            .map(|g| format!("{:?}", g.chars().take(100).collect::<String>()))
            .take(5)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(manifest: &str) -> Result<(), ProjectShapeError> {
        let files = BTreeMap::from([("package.json".to_string(), manifest.as_bytes().to_vec())]);
        check_project_shape(Manager::Npm, &files)
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
    fn workspaces_are_refused_loudly() {
        assert!(shape(r#"{"name":"x","dependencies":{}}"#).is_ok());
        assert!(shape(r#"{"workspaces":[]}"#).is_ok());
        for refused in [
            r#"{"workspaces":["packages/*"]}"#,
            r#"{"workspaces":{"packages":["packages/*"]}}"#,
            r#"{"workspaces":"packages/*"}"#,
            r#"{"workspaces":[1]}"#,
            "{not json",
        ] {
            assert!(shape(refused).is_err(), "{refused}");
        }
        let message = shape(r#"{"workspaces":["packages/*"]}"#)
            .unwrap_err()
            .to_string();
        assert!(message.contains("\"packages/*\""), "{message}");
        let composer = BTreeMap::from([(
            "composer.json".to_string(),
            br#"{"workspaces":["a"]}"#.to_vec(),
        )]);
        assert!(check_project_shape(Manager::Composer, &composer).is_ok());
    }
}
