//! Where a store lives, as `--cache-dir` names it: `s3://BUCKET[/PREFIX]` is
//! an object store, anything else a directory. Parsed once, at the edge, so
//! no backend ever sees a URL it would have to guess about (a mistyped
//! `s3:/bucket` once became a local folder named `s3:`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Dir(PathBuf),
    /// `prefix` has no leading or trailing `/` and may be empty.
    S3 {
        bucket: String,
        prefix: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("--cache-dir is empty: give a directory or s3://BUCKET[/PREFIX]")]
    Empty,
    #[error(
        "{given:?} names the URL scheme {scheme:?}; a cache location is a directory or s3://BUCKET[/PREFIX]"
    )]
    UnsupportedScheme { given: String, scheme: String },
    #[error("{given:?} is not an S3 location: {reason} (expected s3://BUCKET[/PREFIX])")]
    BadS3 { given: String, reason: String },
}

impl StoreLocation {
    /// For clap's `value_parser`.
    pub fn parse_arg(text: &str) -> Result<StoreLocation, LocationError> {
        text.parse()
    }

    pub fn is_dir(&self) -> bool {
        matches!(self, StoreLocation::Dir(_))
    }
}

impl FromStr for StoreLocation {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<StoreLocation, LocationError> {
        if text.is_empty() {
            return Err(LocationError::Empty);
        }
        let lower = text.to_ascii_lowercase();
        // `s3:` without both slashes is a typo for a URL, never a folder name
        // anyone means: refusing it is what keeps `s3:` folders from appearing.
        if let Some(rest) = lower.strip_prefix("s3:") {
            let Some(_) = rest.strip_prefix("//") else {
                return Err(bad_s3(text, "it lacks the // after s3:"));
            };
            return parse_s3(text, &text["s3://".len()..]);
        }
        if let Some((scheme, _)) = text.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(LocationError::UnsupportedScheme {
                given: text.to_string(),
                scheme: scheme.to_string(),
            });
        }
        Ok(StoreLocation::Dir(PathBuf::from(text)))
    }
}

fn bad_s3(given: &str, reason: &str) -> LocationError {
    LocationError::BadS3 {
        given: given.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_s3(given: &str, rest: &str) -> Result<StoreLocation, LocationError> {
    if rest.contains(['?', '#']) {
        return Err(bad_s3(given, "query strings and fragments are not allowed"));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket(bucket).map_err(|reason| bad_s3(given, &reason))?;
    let prefix = prefix.trim_end_matches('/');
    if !prefix.is_empty() {
        for segment in prefix.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(bad_s3(
                    given,
                    "the prefix has an empty, `.` or `..` segment",
                ));
            }
            if segment.chars().any(|c| c.is_control() || c == '\\') {
                return Err(bad_s3(
                    given,
                    "the prefix holds a control character or a backslash",
                ));
            }
        }
    }
    Ok(StoreLocation::S3 {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    })
}

/// S3's bucket naming rules (3-63 of `a-z 0-9 . -`, starting and ending with
/// a letter or digit), which every S3-compatible store accepts.
fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is missing".to_string());
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!(
            "the bucket name {bucket:?} is not 3 to 63 characters long"
        ));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !bucket.chars().all(ok_char)
        || !ok_end(bucket.chars().next())
        || !ok_end(bucket.chars().last())
    {
        return Err(format!(
            "the bucket name {bucket:?} may hold only lowercase letters, digits, `.` and `-`, \
and must start and end with a letter or digit"
        ));
    }
    Ok(())
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Dir(path) => write!(f, "{}", path.display()),
            StoreLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> StoreLocation {
        StoreLocation::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }
    }

    #[test]
    fn parses_s3_urls() {
        assert_eq!("s3://my-bucket".parse(), Ok(s3("my-bucket", "")));
        assert_eq!("s3://my-bucket/".parse(), Ok(s3("my-bucket", "")));
        assert_eq!("s3://b.c1/ci/cache/".parse(), Ok(s3("b.c1", "ci/cache")));
        assert_eq!("S3://abc/x".parse(), Ok(s3("abc", "x")));
        assert_eq!(s3("abc", "x/y").to_string(), "s3://abc/x/y");
    }

    #[test]
    fn anything_else_is_a_directory() {
        for dir in ["depcache-store", "/var/cache/depcache", "./s3", "a:b", "s3"] {
            assert_eq!(dir.parse(), Ok(StoreLocation::Dir(PathBuf::from(dir))));
        }
    }

    #[test]
    fn refuses_what_would_become_a_strange_folder() {
        for bad in [
            "",
            "s3:/bucket",
            "s3:bucket",
            "s3://",
            "s3://ab",
            "s3://Bucket",
            "s3://bucket_x",
            "s3://-bucket",
            "s3://bucket//x",
            "s3://bucket/../x",
            "s3://bucket/x?y",
            "gs://bucket",
            "https://example.com/x",
        ] {
            assert!(
                bad.parse::<StoreLocation>().is_err(),
                "{bad:?} was accepted"
            );
        }
    }
}
