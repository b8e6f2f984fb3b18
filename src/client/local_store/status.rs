//! `depcache store status`: what the local store holds, how much of it trees
//! on disk still link to, when it was used, and what looks wrong, from one
//! `lstat` per object (no content is read).

use std::path::Path;

use serde::Serialize;

use super::scan::{self, Problem};
use crate::client::ClientError;
use crate::units::human_bytes;
use crate::units::human_time;

/// The `--json` schema (docs/client.md).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusReport {
    /// Contents (one per sha256 and mode) and their bytes.
    pub contents: u64,
    pub bytes: u64,
    /// Contents a tree still on disk links to (link count above 1): removing
    /// them from the store frees no disk until those trees go too.
    pub in_use: u64,
    pub in_use_bytes: u64,
    /// Contents no tree links to: what a plain `store prune` removes.
    pub unused: u64,
    pub unused_bytes: u64,
    /// Unix seconds of the least and most recent use (`null` when empty).
    pub oldest_use: Option<u64>,
    pub newest_use: Option<u64>,
    /// Entries that are not sealed objects; `store verify` removes them.
    pub problems: Vec<Problem>,
}

pub fn status(dir: &Path) -> Result<StatusReport, ClientError> {
    super::check_exists(dir)?;
    let scan = scan::scan(dir).map_err(|e| super::upkeep_failed("status", dir, e))?;
    let mut report = StatusReport {
        contents: 0,
        bytes: 0,
        in_use: 0,
        in_use_bytes: 0,
        unused: 0,
        unused_bytes: 0,
        oldest_use: None,
        newest_use: None,
        problems: scan.problems,
    };
    for o in &scan.objects {
        report.contents += 1;
        report.bytes += o.size;
        if o.nlink > 1 {
            report.in_use += 1;
            report.in_use_bytes += o.size;
        } else {
            report.unused += 1;
            report.unused_bytes += o.size;
        }
        let used = scan::secs(o.ctime);
        report.oldest_use = Some(report.oldest_use.map_or(used, |t| t.min(used)));
        report.newest_use = Some(report.newest_use.map_or(used, |t| t.max(used)));
    }
    Ok(report)
}

impl StatusReport {
    pub fn render(&self) -> String {
        let when = |t: Option<u64>| t.map_or("-".to_string(), human_time);
        let mut out = format!(
            "contents      {} ({})\n\
             in use        {} ({}) linked by trees on disk\n\
             unused        {} ({})\n\
             oldest use    {}\n\
             newest use    {}\n\
             problems      {}\n",
            self.contents,
            human_bytes(self.bytes),
            self.in_use,
            human_bytes(self.in_use_bytes),
            self.unused,
            human_bytes(self.unused_bytes),
            when(self.oldest_use),
            when(self.newest_use),
            self.problems.len(),
        );
        for p in &self.problems {
            out.push_str(&format!("  {}: {}\n", p.path, p.problem));
        }
        if !self.problems.is_empty() {
            out.push_str("run `depcache store verify` to remove them\n");
        }
        out
    }
}
