//! The `registries` pnpm records in `node_modules/.modules.yaml`: a
//! restored tree carries the server's (its registry, its scope registries),
//! but the job's next `pnpm install` compares them with its own config and
//! rewrites the file (older pnpm re-created `node_modules`). After a
//! restore the client writes there what its own pnpm would: the effective
//! config of the pnpm in the project (`pnpm config list --json`: its
//! `.npmrc` files, `npm_config_*` variables and pnpm's built-in scopes),
//! `registry` as `default` with the trailing slash pnpm adds, each
//! `@scope:registry` as written. Only the content is pnpm's: the order of
//! the map is the server's keys first (pnpm's own order depends on where
//! each setting came from, which the config listing does not say).

use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// A JSON object's entries in file order (serde_json's maps sort them).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// The registries the pnpm in `dir` is configured for, as it records them
/// (`default` first); `None` when pnpm cannot say.
pub fn client_registries(dir: &Path) -> Option<Vec<(String, String)>> {
    registries_of(&super::pnpm::ask_pnpm(dir, &["config", "list", "--json"])?)
}

/// `registries` from the text of `pnpm config list --json`.
fn registries_of(listing: &str) -> Option<Vec<(String, String)>> {
    let Ordered(config) = serde_json::from_str(listing).ok()?;
    let mut default = None;
    let mut scopes = Vec::new();
    for (key, value) in config {
        let Some(value) = value.as_str() else {
            continue;
        };
        if key == "registry" {
            let slash = if value.ends_with('/') { "" } else { "/" };
            default = Some(format!("{value}{slash}"));
        } else if let Some(scope) = key.strip_suffix(":registry")
            && scope.starts_with('@')
        {
            scopes.push((scope.to_string(), value.to_string()));
        }
    }
    let mut registries = vec![("default".to_string(), default?)];
    registries.extend(scopes);
    Some(registries)
}

/// Replaces the `registries` block of the `.modules.yaml` text `state`
/// (pnpm writes it as two-space-indented JSON) with `registries`, keys the
/// state already had keeping their place. `None` when the text is not in
/// that form: the file is then left as it is.
pub fn with_registries(state: &str, registries: &[(String, String)]) -> Option<String> {
    const OPEN: &str = "\n  \"registries\": {";
    let start = state.find(OPEN)? + OPEN.len();
    let end = start + state[start..].find("\n  }")?;
    let Ordered(old) = serde_json::from_str(&format!("{{{}}}", &state[start..end])).ok()?;
    let mut ordered: Vec<&(String, String)> = Vec::new();
    for (key, _) in &old {
        ordered.extend(registries.iter().filter(|(k, _)| k == key));
    }
    for entry in registries {
        if !old.iter().any(|(k, _)| *k == entry.0) {
            ordered.push(entry);
        }
    }
    let lines: Vec<String> = ordered
        .iter()
        .map(|(k, v)| {
            let k = serde_json::to_string(k).ok()?;
            let v = serde_json::to_string(v).ok()?;
            Some(format!("\n    {k}: {v}"))
        })
        .collect::<Option<_>>()?;
    Some(format!(
        "{}{}{}",
        &state[..start],
        lines.join(","),
        &state[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_gets_the_clients_registries_in_the_servers_order() {
        let listing = r#"{"@acme:registry": "http://a.example/x", "@jsr:registry": "https://npm.jsr.io/",
            "registry": "http://r.example", "//r.example/:_authToken": "t", "ca": ["x"]}"#;
        let registries = registries_of(listing).unwrap();
        assert_eq!(
            registries[0],
            ("default".into(), "http://r.example/".into())
        );
        let state = "{\n  \"prunedAt\": \"x\",\n  \"registries\": {\n    \"default\": \
\"https://s.example/\",\n    \"@jsr\": \"https://npm.jsr.io/\",\n    \"@srv\": \"http://s/\"\n  },\n  \
\"skipped\": []\n}";
        let new = with_registries(state, &registries).unwrap();
        assert_eq!(
            new,
            "{\n  \"prunedAt\": \"x\",\n  \"registries\": {\n    \"default\": \
\"http://r.example/\",\n    \"@jsr\": \"https://npm.jsr.io/\",\n    \"@acme\": \
\"http://a.example/x\"\n  },\n  \"skipped\": []\n}"
        );
        assert_eq!(with_registries("registries: {}\n", &registries), None);
        assert_eq!(registries_of("{}"), None);
    }
}
