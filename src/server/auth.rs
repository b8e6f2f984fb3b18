//! Bearer-key check for every route but `/health`, in constant time, and the
//! key's registry scopes: which private registries' packages it may receive
//! (`check_scopes`, callable from any handler that hands out a tree).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::{ApiError, AppState};

/// The private registries an API key may receive trees of. Inserted into
/// every authenticated request's extensions by [`require_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScopes {
    /// Every registry: keys without a scope list, and open servers.
    All,
    /// Only these registries (`HOST[:PORT]`); public trees always.
    Only(BTreeSet<String>),
}

/// Refuses (403 `missing_scope`, naming the first registry missing) a tree
/// that needed registries the key is not allowed.
pub fn check_scopes(scopes: &KeyScopes, required: &[String]) -> Result<(), ApiError> {
    let KeyScopes::Only(allowed) = scopes else {
        return Ok(());
    };
    match required.iter().find(|r| !allowed.contains(r.as_str())) {
        None => Ok(()),
        Some(missing) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing_scope",
            format!(
                "this API key may not receive packages from the private registry {missing}: \
the tree needs the scope {missing}, which an operator grants with \
`registries={missing}` on the key's line of --api-keys-file"
            ),
        )),
    }
}

/// Accepted keys, kept as sha256 digests so every comparison takes the same
/// time whatever the candidate's length.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
    scopes: Vec<KeyScopes>,
}

impl ApiKeys {
    /// Keys allowed every registry.
    pub fn new(keys: &[String]) -> Self {
        let mut all = ApiKeys::default();
        for key in keys {
            all.add(key, KeyScopes::All);
        }
        all
    }

    pub fn add(&mut self, key: &str, scopes: KeyScopes) {
        self.digests.push(Sha256::digest(key.as_bytes()).into());
        self.scopes.push(scopes);
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Every registry some key's scope list names.
    pub fn scope_names(&self) -> BTreeSet<String> {
        self.scopes
            .iter()
            .flat_map(|s| match s {
                KeyScopes::All => Vec::new(),
                KeyScopes::Only(names) => names.iter().cloned().collect(),
            })
            .collect()
    }

    pub fn accepts(&self, candidate: &str) -> bool {
        self.find(candidate).is_some()
    }

    /// The scopes of the key `candidate` is, if it is one.
    pub fn find(&self, candidate: &str) -> Option<&KeyScopes> {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        // Check all keys without short-circuit so timing says nothing about
        // which one matched.
        let mut found = subtle::Choice::from(0);
        let mut at = 0u64;
        for (i, k) in self.digests.iter().enumerate() {
            let hit = k.ct_eq(&digest);
            at.conditional_assign(&(i as u64), hit);
            found |= hit;
        }
        bool::from(found).then(|| &self.scopes[at as usize])
    }
}

pub async fn require_key(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.public {
        request.extensions_mut().insert(KeyScopes::All);
        return Ok(next.run(request).await);
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(header) = header else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "this server needs an API key: send Authorization: Bearer <key>",
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .unwrap_or("")
        .trim();
    let scopes = (!token.is_empty())
        .then(|| state.api_keys.find(token))
        .flatten();
    let Some(scopes) = scopes.cloned() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "the API key was not accepted",
        ));
    };
    request.extensions_mut().insert(scopes);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_keys_find_their_scopes() {
        let mut keys = ApiKeys::new(&["all".to_string()]);
        let only = KeyScopes::Only(BTreeSet::from(["npm.acme.example".to_string()]));
        keys.add("team", only.clone());
        assert_eq!(keys.find("all"), Some(&KeyScopes::All));
        assert_eq!(keys.find("team"), Some(&only));
        assert_eq!(keys.find("nope"), None);
        let need = |r: &str| vec![r.to_string()];
        assert!(check_scopes(&only, &need("npm.acme.example")).is_ok());
        assert!(check_scopes(&only, &[]).is_ok());
        let e = check_scopes(&only, &need("127.0.0.1:9")).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("127.0.0.1:9"), "{}", e.message);
        assert!(check_scopes(&KeyScopes::All, &need("x")).is_ok());
    }
}
