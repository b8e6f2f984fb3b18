//! Where download URLs point: the `Host` header a request arrived with (only
//! when no `--public-url` is set), checked to be a plain `host[:port]`, and
//! `--public-url` itself, checked once at start-up.
//!
//! Both end up verbatim in URLs the client follows with its API key, so
//! anything that could change their meaning (userinfo, a path, a second
//! port, spaces) is refused rather than cleaned up.

use std::net::Ipv6Addr;

/// Why `--public-url` was refused; each variant names the URL as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    #[error("--public-url {url:?} is not an absolute URL ({reason})")]
    Unparsable { url: String, reason: String },
    #[error("--public-url {url:?} must use http or https, not {scheme}")]
    Scheme { url: String, scheme: String },
    #[error("--public-url {url:?} must not carry a user name or password")]
    Userinfo { url: String },
    #[error("--public-url {url:?} must not carry a query or a fragment")]
    QueryOrFragment { url: String },
}

/// `--public-url` as the base of handed-out URLs: an absolute http(s) URL
/// with a host and no userinfo, query or fragment. Returned normalized and
/// without a trailing slash, so `{base}/download/...` is well-formed.
pub fn check_public_url(text: &str) -> Result<String, PublicUrlError> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| PublicUrlError::Unparsable {
        url: text.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PublicUrlError::Scheme {
            url: text.to_string(),
            scheme: url.scheme().to_string(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(PublicUrlError::Unparsable {
            url: text.to_string(),
            reason: "no host".to_string(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PublicUrlError::Userinfo {
            url: text.to_string(),
        });
    }
    // `Url` drops an empty `?` or `#`; the text still had one.
    if url.query().is_some() || url.fragment().is_some() || text.contains(['?', '#']) {
        return Err(PublicUrlError::QueryOrFragment {
            url: text.to_string(),
        });
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A `Host` header value fit to be pasted after `http://`: a DNS name or
/// IPv4 address (letters, digits, `-`, `_`, dot-separated labels of 1 to 63
/// characters), or an IPv6 literal in brackets, optionally followed by
/// `:port`. Underscores are allowed because container and compose service
/// names use them.
pub fn is_valid_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return false;
        };
        if literal.parse::<Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => return is_port(port),
                None => return false,
            },
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if port.is_some_and(|p| !is_port(p)) {
        return false;
    }
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn is_port(text: &str) -> bool {
    (1..=5).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u32>().is_ok_and(|p| p <= 65535)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            "localhost",
            "localhost:8080",
            "127.0.0.1",
            "127.0.0.1:1",
            "depcache.example.com",
            "depcache.example.com:65535",
            "depcache_server:8080",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::7]:443",
            "a",
        ] {
            assert!(is_valid_host(good), "{good}");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = vec!["a".repeat(60); 5].join(".");
        for bad in [
            "",
            ":8080",
            "evil.example/path",
            "user@evil.example",
            "user:pass@evil.example",
            "evil.example:80:90",
            "evil.example:",
            "evil.example:65536",
            "evil.example:123456",
            "evil.example:+80",
            "evil example",
            "evil.example ",
            "evil..example",
            ".evil.example",
            "evil.example.",
            "evil.example#x",
            "evil.example?x",
            "evil.example\\x",
            "évil.example",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[not-ipv6]",
            "[fe80::1%eth0]",
            "::1",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(!is_valid_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            check_public_url("https://cache.example.com/").unwrap(),
            "https://cache.example.com"
        );
        assert_eq!(
            check_public_url("http://Cache.Example.com:8080/depcache/").unwrap(),
            "http://cache.example.com:8080/depcache"
        );
        assert_eq!(
            check_public_url("http://[::1]:9000").unwrap(),
            "http://[::1]:9000"
        );
        for (bad, variant) in [
            ("cache.example.com", "Unparsable"),
            ("/depcache", "Unparsable"),
            ("ftp://cache.example.com", "Scheme"),
            ("file:///srv/depcache", "Scheme"),
            ("https://user:pw@cache.example.com", "Userinfo"),
            ("https://user@cache.example.com", "Userinfo"),
            ("https://cache.example.com/?x=1", "QueryOrFragment"),
            ("https://cache.example.com/?", "QueryOrFragment"),
            ("https://cache.example.com/#top", "QueryOrFragment"),
        ] {
            let err = check_public_url(bad).unwrap_err();
            assert!(format!("{err:?}").starts_with(variant), "{bad}: {err:?}");
            assert!(err.to_string().contains("--public-url"), "{err}");
        }
    }
}
