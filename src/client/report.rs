//! What one `depcache fetch` did: for `fetch --json`, one document on
//! stdout that scripts can read (schema in docs/client.md); for people, the
//! summary line on stderr.

use std::time::Instant;

use serde::Serialize;

use super::extract::Restored;
use super::progress;
use crate::protocol::{CacheResponse, ValidRequest};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FetchReport {
    pub format: u32,
    /// The cache key of the project.
    pub key: String,
    pub manager: String,
    /// `node_modules` or `vendor`; `.` (the project) for Yarn Plug'n'Play.
    pub output_dir: String,
    /// The server's answer; `null` when it was not asked or did not answer.
    pub cache_hit: Option<bool>,
    /// The folder already held this key (nothing, or only changed entries,
    /// fetched).
    pub up_to_date: bool,
    /// Regular files restored and their bytes; `null` when not counted (a
    /// local install, a tree already up to date).
    pub files: Option<u64>,
    pub bytes: Option<u64>,
    /// Wall time of the whole fetch, scripts included.
    pub seconds: f64,
    pub fallback: Fallback,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Fallback {
    /// A local install ran instead of a restore.
    pub used: bool,
    /// Why, as the line on stderr says it.
    pub reason: Option<String>,
    /// The command that ran, e.g. `npm ci --ignore-scripts --no-audit --no-fund`.
    pub command: Option<String>,
}

impl FetchReport {
    /// Bumped on incompatible changes, as the admin documents' is.
    pub const FORMAT: u32 = 1;

    /// Nothing known yet but the project: filled in by the path taken.
    pub fn new(request: &ValidRequest, started: Instant) -> Self {
        FetchReport {
            format: Self::FORMAT,
            key: request.hash.to_string(),
            manager: request.manager.name().to_string(),
            output_dir: crate::protocol::output_root(request.manager, &request.files).to_string(),
            cache_hit: None,
            up_to_date: false,
            files: None,
            bytes: None,
            seconds: seconds(started),
            fallback: Fallback::default(),
        }
    }
}

/// Milliseconds precision: more would be noise.
fn seconds(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

/// `restored node_modules: 16,248 files, 118 MiB, cache hit, 3.2 s`
pub fn summary(
    root: &str,
    restored: Restored,
    response: &CacheResponse,
    started: Instant,
) -> String {
    format!(
        "restored {root}: {} files, {}, {}, {}",
        indicatif::HumanCount(restored.files),
        crate::units::human_bytes(restored.bytes),
        if response.cache_hit {
            "cache hit"
        } else {
            "cache miss"
        },
        progress::seconds(started.elapsed())
    )
}

/// `..., 16,100 from the local store, 1.2 MiB downloaded, 0.9 s`
pub fn with_store(line: String, from_store: u64, downloaded: u64) -> String {
    let (head, time) = line.rsplit_once(", ").unwrap_or((&line, ""));
    format!(
        "{head}, {} from the local store, {} downloaded, {time}",
        indicatif::HumanCount(from_store),
        crate::units::human_bytes(downloaded)
    )
}
