//! Redirects, followed by hand. reqwest's own policy rebuilds every hop from
//! the first request's headers, so on a chain A -> B -> B the API key reached
//! B on the second hop; here each hop is a new request and the key goes only
//! where the origin is the server's. A POST follows no redirect off the
//! server's origin: its body carries the project's manifests. Also what to
//! tell a user whose server URL is not the server's origin.

use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode, Url};

/// Hops followed before a chain counts as a loop (curl and reqwest use 10 too).
pub(super) const MAX_HOPS: usize = 10;

/// Where a redirect answer points, resolved against the URL that gave it;
/// `None` when `response` is no redirect. Only http and https targets are
/// followed.
pub(super) fn target(response: &Response) -> Option<Result<Url, String>> {
    let status = response.status();
    if !matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let from = response.url();
    let Some(location) = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(Err(format!(
            "{from} answered {} without a usable Location",
            status.as_u16()
        )));
    };
    Some(match from.join(location) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        Ok(url) => Err(format!(
            "{from} redirected to {url}, which is not an http:// or https:// URL"
        )),
        Err(e) => Err(format!(
            "{from} redirected to {location:?}, which is not a URL: {e}"
        )),
    })
}

/// Whether a POST may follow a redirect: only 307 and 308 resend the body
/// (301, 302 and 303 turn it into a GET without one), and only to the
/// server's own origin.
pub(super) fn post_may_follow(status: StatusCode, same_origin: bool) -> bool {
    same_origin
        && matches!(
            status,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        )
}

/// Scheme, host and port agree (default ports filled in).
pub(super) fn same_origin(a: &str, b: &str) -> bool {
    let origin = |u: &str| {
        Url::parse(u).ok().map(|u| {
            (
                u.scheme().to_string(),
                u.host_str().map(str::to_ascii_lowercase),
                u.port_or_known_default(),
            )
        })
    };
    matches!((origin(a), origin(b)), (Some(x), Some(y)) if x == y)
}

/// A 404 to the cache request: the URL is not a depcache server's base.
/// A path in it is the usual cause (the server's routes are at its root).
pub fn wrong_server_url(server: &str, tried: &str) -> String {
    let parsed = Url::parse(server).ok();
    let path = parsed.as_ref().map(|u| u.path()).unwrap_or("/");
    match parsed.as_ref().filter(|_| path != "/" && !path.is_empty()) {
        Some(url) => {
            let origin = url.origin().ascii_serialization();
            format!(
                "POST {tried} answered 404: the server URL must be the depcache server's origin, \
without a path ({path:?} was added); pass --server {origin} (or set DEPCACHE_SERVER to it)"
            )
        }
        None => format!(
            "POST {tried} answered 404: {server} does not serve the depcache API; check that \
--server (or DEPCACHE_SERVER) names the depcache server, e.g. http://cache:8080"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(same_origin(
            "http://cache:8080",
            "http://cache:8080/download/k.zip"
        ));
        assert!(same_origin(
            "https://Cache.example",
            "https://cache.example:443/v1/index/k"
        ));
        assert!(!same_origin(
            "http://cache:8080",
            "http://evil:8080/download/k.zip"
        ));
        assert!(!same_origin(
            "http://cache:8080",
            "https://cache:8080/download/k.zip"
        ));
        assert!(!same_origin(
            "http://cache:8080",
            "http://cache:8081/download/k.zip"
        ));
        assert!(!same_origin("http://cache:8080", "not a url"));
    }

    #[test]
    fn posts_follow_only_body_keeping_redirects_home() {
        assert!(post_may_follow(StatusCode::TEMPORARY_REDIRECT, true));
        assert!(post_may_follow(StatusCode::PERMANENT_REDIRECT, true));
        assert!(!post_may_follow(StatusCode::TEMPORARY_REDIRECT, false));
        assert!(!post_may_follow(StatusCode::FOUND, true));
        assert!(!post_may_follow(StatusCode::SEE_OTHER, true));
    }
}
