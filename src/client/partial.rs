//! Fetching only the contents the local store lacks, with no protocol change:
//! the bundle's layout is deterministic (`bundle::plan`), so the client knows
//! where each blob's packed data lies and asks for those byte ranges alone,
//! then inflates, verifies and stores each content.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::http::{Http, ServerError};
use super::local_store::LocalStore;
use super::swap;
use super::tree::{io_pool, local, verify};
use crate::bundle;
use crate::client::ClientError;
use crate::protocol::{FileEntry, Index, METHOD_DEFLATE, METHOD_STORED, Sha256};

/// Neighbouring ranges closer than this are fetched as one: a few wasted
/// bytes cost less than another round trip.
const MERGE_GAP: u64 = 64 * 1024;
/// At most this many range requests; closer ranges are merged until it fits.
const MAX_REQUESTS: usize = 32;
/// Past this share of the bundle, the whole bundle is fetched instead (one
/// streamed request, and the store is filled from the extracted tree).
const MAX_SHARE: (u64, u64) = (3, 4);

/// What to download and where each missing content lies in it.
#[derive(Debug)]
pub(super) struct RangePlan<'a> {
    /// Merged ranges, in bundle order, one request each.
    pub requests: Vec<Range<u64>>,
    /// One per (sha256, mode) the store lacks; `None` for empty contents.
    pub items: Vec<(&'a FileEntry, Option<Range<u64>>)>,
}

impl RangePlan<'_> {
    pub fn bytes(&self) -> u64 {
        self.requests.iter().map(|r| r.end - r.start).sum()
    }
}

/// The files whose content (with their mode) the store lacks, one per
/// (sha256, mode); a content stored under another mode is copied into this
/// one instead (`LocalStore::provide`). Checked on every core.
pub(super) fn missing<'a>(store: &LocalStore, index: &'a Index) -> Vec<&'a FileEntry> {
    let mut unique: BTreeMap<(&Sha256, u32), &FileEntry> = BTreeMap::new();
    for f in index.files() {
        unique.entry((&f.sha256, f.mode & 0o777)).or_insert(f);
    }
    let all: Vec<&FileEntry> = unique.into_values().collect();
    io_pool().install(|| all.into_par_iter().filter(|f| !store.provide(f)).collect())
}

/// Where the missing contents lie in the bundle the server streams, merged
/// into few requests; `Err(reason)` when the whole bundle is the better
/// (or only) choice.
pub(super) fn plan<'a>(
    index: &Index,
    bundle_size: u64,
    missing: &[&'a FileEntry],
) -> Result<RangePlan<'a>, String> {
    let layout = bundle::plan(index);
    if bundle_size != 0 && layout.len() != bundle_size {
        return Err(format!(
            "the server's bundle has {bundle_size} bytes, this client lays out {}",
            layout.len()
        ));
    }
    // Any copy of a blob will do: same sha256, same packed data.
    let mut at: BTreeMap<&Sha256, Range<u64>> = BTreeMap::new();
    for (sha, range) in layout.blob_ranges() {
        at.entry(sha).or_insert(range);
    }
    let mut items = Vec::with_capacity(missing.len());
    let mut ranges = Vec::new();
    for &f in missing {
        if f.packed_size == 0 {
            items.push((f, None));
            continue;
        }
        let Some(range) = at.get(&f.sha256) else {
            return Err(format!("{:?} has no data in the bundle layout", f.path));
        };
        if range.end - range.start != f.packed_size {
            return Err(format!("{:?} has a different packed size", f.path));
        }
        ranges.push(range.clone());
        items.push((f, Some(range.clone())));
    }
    let requests = coalesce(ranges, MERGE_GAP, MAX_REQUESTS);
    let plan = RangePlan { requests, items };
    if plan.bytes() * MAX_SHARE.1 > layout.len() * MAX_SHARE.0 {
        return Err(format!(
            "{} of the bundle's {} bytes are missing",
            plan.bytes(),
            layout.len()
        ));
    }
    Ok(plan)
}

/// Sorts and merges `ranges`: overlapping ones and those less than `gap`
/// apart, then the closest pairs until at most `cap` remain.
pub(super) fn coalesce(mut ranges: Vec<Range<u64>>, gap: u64, cap: usize) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start < last.end + gap => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    if merged.len() > cap.max(1) {
        // Keep the widest gaps as request boundaries, merge across the rest.
        let mut gaps: Vec<(u64, usize)> = merged
            .windows(2)
            .enumerate()
            .map(|(i, w)| (w[1].start - w[0].end, i))
            .collect();
        gaps.sort_unstable_by(|a, b| b.cmp(a));
        let mut cuts: Vec<usize> = gaps[..cap.max(1) - 1].iter().map(|g| g.1).collect();
        cuts.sort_unstable();
        let mut out = Vec::with_capacity(cuts.len() + 1);
        let mut start = merged[0].start;
        for &i in &cuts {
            out.push(start..merged[i].end);
            start = merged[i + 1].start;
        }
        out.push(start..merged[merged.len() - 1].end);
        merged = out;
    }
    merged
}

/// The requested ranges, back to back in one temp file beside the target.
pub(super) struct Ranges {
    file: tempfile::NamedTempFile,
    /// Bundle range and where it starts in `file`.
    spans: Vec<(Range<u64>, u64)>,
}

/// Downloads `plan`'s ranges; `Ok(None)` when the server ignores `Range`.
pub(super) async fn download(
    http: &Http,
    url: &str,
    plan: &RangePlan<'_>,
    dir: &Path,
    root: &str,
    bar: &ProgressBar,
) -> Result<Option<Ranges>, ServerError> {
    let mut file = tempfile::Builder::new()
        .prefix(&swap::download_prefix(root))
        .suffix(".ranges")
        .tempfile_in(dir)
        .map_err(|e| ServerError::Fatal(local(dir, e)))?;
    let mut spans = Vec::with_capacity(plan.requests.len());
    let mut offset = 0;
    for range in &plan.requests {
        if !http
            .download_range(url, range.clone(), file.as_file_mut(), bar)
            .await?
        {
            return Ok(None);
        }
        spans.push((range.clone(), offset));
        offset += range.end - range.start;
    }
    Ok(Some(Ranges { file, spans }))
}

impl Ranges {
    /// The downloaded bytes of `range`, which must lie inside one requested span.
    pub(super) fn open(&self, range: &Range<u64>) -> io::Result<impl Read + use<>> {
        let i = self
            .spans
            .partition_point(|(span, _)| span.end <= range.start);
        let Some((span, offset)) = self
            .spans
            .get(i)
            .filter(|(s, _)| s.start <= range.start && range.end <= s.end)
        else {
            return Err(io::Error::other(format!("{range:?} was not downloaded")));
        };
        let mut file = File::open(self.file.path())?;
        file.seek(SeekFrom::Start(offset + range.start - span.start))?;
        Ok(file.take(range.end - range.start))
    }
}

/// Inflates every missing content from the downloaded ranges, verifies it and
/// puts it in the store, on every core.
pub(super) fn store_all(
    store: &LocalStore,
    plan: &RangePlan<'_>,
    ranges: &Ranges,
) -> Result<(), ClientError> {
    let path = ranges.file.path();
    io_pool().install(|| {
        plan.items.par_iter().try_for_each(|(f, range)| {
            let Some(range) = range else {
                return store.ingest(f, &mut io::empty());
            };
            // The span that holds this range (spans are sorted, disjoint).
            let i = ranges
                .spans
                .partition_point(|(span, _)| span.end <= range.start);
            let (span, offset) = &ranges.spans[i];
            let mut file = File::open(path).map_err(|e| local(path, e))?;
            file.seek(SeekFrom::Start(offset + range.start - span.start))
                .map_err(|e| local(path, e))?;
            let packed = file.take(range.end - range.start);
            match f.method {
                METHOD_STORED => store.ingest(f, &mut { packed }),
                METHOD_DEFLATE => store.ingest(f, &mut flate2::read::DeflateDecoder::new(packed)),
                m => Err(verify(format!(
                    "{:?} is packed with method {m}, which is neither stored nor deflate",
                    f.path
                ))),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::coalesce;

    #[test]
    fn neighbours_merge_and_the_cap_keeps_the_widest_gaps() {
        assert_eq!(coalesce(vec![], 10, 4), vec![]);
        assert_eq!(
            coalesce(vec![20..30, 0..10, 12..15], 5, 4),
            vec![0..15, 20..30]
        );
        assert_eq!(
            coalesce(vec![0..1, 100..101, 150..151, 1000..1001], 5, 2),
            vec![0..151, 1000..1001]
        );
        assert_eq!(coalesce(vec![0..1, 100..101, 300..301], 0, 1), vec![0..301]);
    }
}
