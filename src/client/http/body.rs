//! What a server may send: the index is read into a bounded buffer, a bundle
//! body may not run past the size the cache answer (or its own
//! `Content-Length`) announced, and a resumed body must start where asked.

use futures::StreamExt;
use reqwest::Response;
use reqwest::header::CONTENT_RANGE;

/// Far above any real index (16,000 files make about 4 MiB of JSON), far
/// below what would hurt a CI runner's memory.
pub(super) const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

pub(super) enum Capped {
    /// The connection broke: worth a retry.
    Transport(reqwest::Error),
    /// The body is longer than the cap: a sentence saying so.
    TooLong(String),
}

/// The whole body, refused as soon as it (or its `Content-Length`) passes `cap`.
pub(super) async fn read_capped(
    response: Response,
    cap: u64,
    url: &str,
) -> Result<Vec<u8>, Capped> {
    let too_long = || Capped::TooLong(format!("{url} is longer than the {cap} bytes allowed"));
    let announced = response.content_length();
    if announced.is_some_and(|len| len > cap) {
        return Err(too_long());
    }
    let mut bytes = Vec::with_capacity(announced.unwrap_or(0) as usize);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Capped::Transport)?;
        if (bytes.len() + chunk.len()) as u64 > cap {
            return Err(too_long());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The most bytes the bundle may have once this response is written from
/// offset `written`: the announced bundle size when there is one, else what
/// this response's `Content-Length` promises. Refused up front when the
/// response already announces more.
pub(super) fn bundle_limit(
    announced: u64,
    written: u64,
    content_length: Option<u64>,
    url: &str,
) -> Result<u64, String> {
    let promised = content_length.map(|len| written.saturating_add(len));
    match (announced, promised) {
        (0, Some(end)) => Ok(end),
        (0, None) => Ok(u64::MAX),
        (total, Some(end)) if end > total => Err(format!(
            "{url} announces {end} bytes, more than the {total} of the bundle"
        )),
        (total, _) => Ok(total),
    }
}

/// A 206 must hold exactly the rest asked for: `bytes <written>-<end>/<total>`
/// with the announced total when there is one.
pub(super) fn check_resume(
    response: &Response,
    written: u64,
    announced: u64,
    url: &str,
) -> Result<(), String> {
    let answered = response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parsed = answered
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('-'))
        .and_then(|(start, rest)| Some((start.parse::<u64>().ok()?, rest.split_once('/')?.1)));
    match parsed {
        Some((start, total))
            if start == written
                && (announced == 0 || total.parse::<u64>().ok() == Some(announced)) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{url} answered the resume from byte {written} with the range {answered:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::bundle_limit;

    #[test]
    fn limits_come_from_the_announced_size_first() {
        assert_eq!(bundle_limit(100, 0, Some(100), "u"), Ok(100));
        assert_eq!(bundle_limit(100, 40, Some(60), "u"), Ok(100));
        assert_eq!(bundle_limit(100, 0, None, "u"), Ok(100));
        assert!(bundle_limit(100, 0, Some(101), "u").is_err());
        assert!(bundle_limit(100, 50, Some(51), "u").is_err());
        assert_eq!(bundle_limit(0, 10, Some(5), "u"), Ok(15));
        assert_eq!(bundle_limit(0, 0, None, "u"), Ok(u64::MAX));
        assert_eq!(bundle_limit(0, 1, Some(u64::MAX), "u"), Ok(u64::MAX));
    }
}
