//! Scrubbing of auth-looking values that were not configured: what follows
//! npm's auth settings, `Bearer `/`Basic `, and URL user information. The
//! configured secrets themselves are replaced first, in `PrivateRegistries::scrub`.

use super::REDACTED;

/// Blanks the value after npm's auth settings (`_authToken=`, `_auth=`,
/// `_password=`), `Bearer ` and `Basic `, and the user information of
/// URLs: secrets the operator did not configure (a tool's own) included.
pub(super) fn auth_values(text: &str) -> String {
    let mut out = text.to_string();
    for marker in ["_authToken=", "_auth=", "_password=", "Bearer ", "Basic "] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(marker) {
            // A quoted value keeps its quote: `_password="..."`.
            let quote = rest[i + marker.len()..]
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
                .map_or(0, char::len_utf8);
            let after = &rest[i + marker.len() + quote..];
            let end = after
                .find(|c: char| c.is_whitespace() || "\"'<>,;".contains(c))
                .unwrap_or(after.len());
            result.push_str(&rest[..i + marker.len() + quote]);
            if end > 0 && !after[..end].starts_with(REDACTED) {
                result.push_str(REDACTED);
            } else {
                result.push_str(&after[..end]);
            }
            rest = &after[end..];
        }
        result.push_str(rest);
        out = result;
    }
    userinfo(&out)
}

/// `scheme://user:password@host` becomes `scheme://<credential>@host`.
fn userinfo(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        result.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let authority_end = after
            .find(|c: char| c.is_whitespace() || "/?#\"'<>".contains(c))
            .unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(at) => {
                result.push_str(REDACTED);
                rest = &after[at..];
            }
            None => rest = after,
        }
    }
    result.push_str(rest);
    result
}
