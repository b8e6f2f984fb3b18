//! `admin gc` in a loop beside ingestions on one bucket, for a bounded time:
//! blobs age past a short grace period, become unreferenced, are reused by
//! new ingestions and swept by gc, and no index ever names a missing blob.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use depcache::admin::gc::{GcOptions, gc};
use depcache::protocol::Index;
use depcache::store::Store;

use crate::admin_support::{ingest, noise};
use crate::common::s3::Bucket;

fn missing_blobs(store: &dyn Store, index: &Index) -> Vec<String> {
    index
        .files()
        .filter(|f| store.blob_info(&f.sha256).unwrap().is_none())
        .map(|f| format!("{} ({})", f.path, f.sha256))
        .collect()
}

#[test]
fn gc_hammered_beside_ingestions_never_breaks_a_key() {
    let bucket = Bucket::new(Duration::from_secs(6));
    let ingesting = bucket.open();
    let collecting = bucket.open();
    let stop = AtomicBool::new(false);
    let removed = AtomicU64::new(0);
    let end = Instant::now() + Duration::from_secs(30);
    std::thread::scope(|s| {
        s.spawn(|| {
            let options = GcOptions {
                older_than: None,
                max_size: None,
                grace: Duration::ZERO,
                dry_run: false,
            };
            while !stop.load(Ordering::Relaxed) {
                let report = gc(&collecting, &options).expect("gc runs");
                removed.fetch_add(report.blobs_removed, Ordering::Relaxed);
            }
        });
        // Stops gc however this thread ends, a failed assertion included,
        // so that the scope can end.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        let mut round = 0u64;
        let mut live: std::collections::VecDeque<Index> = Default::default();
        while Instant::now() < end {
            // Contents come back one round after the last index naming them
            // went: unreferenced (and, once past the grace period, old) just
            // as an ingestion relies on them again, while gc may be sweeping.
            let files = [
                ("pool/a.js", noise(round % 3, 2000)),
                ("pool/b.js", noise(100 + round % 5, 3000)),
                ("own.js", noise(1000 + round, 500)),
            ];
            let (index, _) = ingest(&ingesting, &format!("hammer-{round}"), &files);
            live.push_back(index);
            for index in &live {
                let gone = missing_blobs(&ingesting, index);
                assert!(
                    gone.is_empty(),
                    "round {round}: {} names {gone:?}",
                    index.key
                );
            }
            if live.len() > 2 {
                let old = live.pop_front().unwrap();
                ingesting
                    .delete_index(&crate::common::key(&old.key))
                    .unwrap();
            }
            round += 1;
        }
        drop(_stop);
        assert!(round > 5, "only {round} ingestions ran");
    });
    assert!(
        removed.load(Ordering::Relaxed) > 0,
        "gc never deleted anything: the race was not exercised"
    );
}
