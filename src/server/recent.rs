//! The last hour in memory, for the status page: when misses happened and
//! how recent installs went. Bounded however busy the server is: entries
//! older than an hour are dropped as new ones arrive, and at most `KEEP` of
//! each are kept (the page then says "at least").

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(3600);
const KEEP: usize = 100_000;

/// One finished install.
#[derive(Debug, Clone)]
pub struct InstallRecord {
    pub at: Instant,
    pub key: String,
    pub manager: String,
    pub elapsed: Duration,
    pub ok: bool,
}

#[derive(Debug, Default)]
pub struct Recent {
    misses: Mutex<VecDeque<Instant>>,
    installs: Mutex<VecDeque<InstallRecord>>,
}

/// What the page shows of the last hour.
#[derive(Debug, Clone)]
pub struct LastHour {
    pub misses: usize,
    pub installs: usize,
    pub failed: usize,
    /// Slowest first, at most `n`.
    pub slowest: Vec<InstallRecord>,
}

fn prune<T>(queue: &mut VecDeque<T>, now: Instant, at: impl Fn(&T) -> Instant) {
    while queue
        .front()
        .is_some_and(|e| now.duration_since(at(e)) > WINDOW)
        || queue.len() > KEEP
    {
        queue.pop_front();
    }
}

impl Recent {
    pub fn miss(&self) {
        let now = Instant::now();
        let mut misses = self.misses.lock().unwrap();
        misses.push_back(now);
        prune(&mut misses, now, |t| *t);
    }

    pub fn install(&self, record: InstallRecord) {
        let now = record.at;
        let mut installs = self.installs.lock().unwrap();
        installs.push_back(record);
        prune(&mut installs, now, |r| r.at);
    }

    pub fn last_hour(&self, n: usize) -> LastHour {
        let now = Instant::now();
        let misses = {
            let mut misses = self.misses.lock().unwrap();
            prune(&mut misses, now, |t| *t);
            misses.len()
        };
        let mut installs = self.installs.lock().unwrap();
        prune(&mut installs, now, |r| r.at);
        let mut slowest: Vec<InstallRecord> = installs.iter().cloned().collect();
        slowest.sort_by_key(|r| std::cmp::Reverse(r.elapsed));
        slowest.truncate(n);
        LastHour {
            misses,
            installs: installs.len(),
            failed: installs.iter().filter(|r| !r.ok).count(),
            slowest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_come_first_and_old_entries_drop_out() {
        let recent = Recent::default();
        let now = Instant::now();
        for (secs, ok) in [(3, true), (9, false), (1, true)] {
            recent.install(InstallRecord {
                at: now,
                key: format!("k{secs}"),
                manager: "npm".into(),
                elapsed: Duration::from_secs(secs),
                ok,
            });
        }
        recent.miss();
        let hour = recent.last_hour(2);
        assert_eq!((hour.misses, hour.installs, hour.failed), (1, 3, 1));
        let keys: Vec<_> = hour.slowest.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["k9", "k3"]);
        if let Some(old) = now.checked_sub(WINDOW + Duration::from_secs(1)) {
            let mut queue = VecDeque::from([old, now]);
            prune(&mut queue, now, |t| *t);
            assert_eq!(queue.len(), 1);
        }
    }
}
