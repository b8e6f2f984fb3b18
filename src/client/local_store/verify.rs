//! `depcache store verify`: every object hashed against its name, and what
//! does not match (or is no object at all) removed, so no later fetch even
//! considers it. A fetch would refuse such an object anyway (it hashes
//! before use); verify frees the space and says what was wrong.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rayon::prelude::*;
use rustix::fs::{Mode, OFlags, openat};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::lock::StoreLock;
use super::scan::{self, Problem};
use crate::client::ClientError;
use crate::client::tree::io_pool;
use crate::units::human_bytes;

/// The `--json` schema (docs/client.md).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Objects hashed and their bytes.
    pub checked: u64,
    pub bytes: u64,
    /// What was wrong and is gone now.
    pub removed: Vec<Problem>,
    /// What is wrong and was left (a folder where a bucket or object should
    /// be, or an unlink that failed).
    pub left: Vec<Problem>,
}

impl VerifyReport {
    pub fn render(&self) -> String {
        let mut out = format!(
            "checked {} contents ({})\n",
            self.checked,
            human_bytes(self.bytes)
        );
        for p in &self.removed {
            out.push_str(&format!("removed {}: {}\n", p.path, p.problem));
        }
        for p in &self.left {
            out.push_str(&format!("left    {}: {}\n", p.path, p.problem));
        }
        if self.removed.is_empty() && self.left.is_empty() {
            out.push_str("no problems\n");
        }
        out
    }
}

/// A name in a bucket (or, with no bucket, in `objects/` itself) to remove
/// if it is still the inode that was checked.
struct Bad {
    bucket: Option<String>,
    name: String,
    ino: Option<u64>,
    problem: String,
}

pub fn verify(dir: &Path) -> Result<VerifyReport, ClientError> {
    super::check_exists(dir)?;
    let failed = |e| super::upkeep_failed("verify", dir, e);
    let scan = scan::scan(dir).map_err(failed)?;
    let objects = scan::open_objects(dir).map_err(failed)?;
    let mut report = VerifyReport::default();
    let mut bad = Vec::new();
    // Unsealed objects are also listed as objects: checked below with the rest.
    let listed: std::collections::HashSet<String> = scan.objects.iter().map(|o| o.path()).collect();
    for p in scan.problems {
        if listed.contains(&p.path) {
            continue;
        }
        let Some(rest) = p.path.strip_prefix("objects/") else {
            report.left.push(p);
            continue;
        };
        let (bucket, name) = match rest.split_once('/') {
            Some((bucket, name)) => (Some(bucket.to_string()), name.to_string()),
            // In `objects/` itself: a file or link is unlinked, a folder
            // (which may hold anything) is left for a human.
            None if is_dir_at(objects.as_fd(), rest) => {
                report.left.push(p);
                continue;
            }
            None => (None, rest.to_string()),
        };
        bad.push(Bad {
            bucket,
            name,
            ino: None,
            problem: p.problem,
        });
    }
    let checked: Vec<(u64, Option<Bad>)> = io_pool().install(|| {
        scan.objects
            .par_iter()
            .map(|o| {
                let problem = match check(objects.as_fd(), o) {
                    Ok(None) => return (o.size, None),
                    Ok(Some(problem)) => problem,
                    Err(e) => format!("cannot be read: {e}"),
                };
                let shared = if o.nlink > 1 {
                    format!(
                        " (trees restored from it hold the same bytes: {} more links)",
                        o.nlink - 1
                    )
                } else {
                    String::new()
                };
                let bad = Bad {
                    bucket: Some(o.bucket.clone()),
                    name: o.name.clone(),
                    ino: Some(o.ino),
                    problem: format!("{problem}{shared}"),
                };
                (o.size, Some(bad))
            })
            .collect()
    });
    for (size, b) in checked {
        report.checked += 1;
        report.bytes += size;
        bad.extend(b);
    }
    remove(dir, objects.as_fd(), bad, &mut report).map_err(failed)?;
    Ok(report)
}

/// `None` when the object is sealed and its bytes hash to its name.
fn check(objects: std::os::fd::BorrowedFd<'_>, o: &scan::Object) -> io::Result<Option<String>> {
    if !o.sealed {
        return Ok(Some(
            "its mode or sealing mtime changed (written through a tree?)".into(),
        ));
    }
    let bucket = scan::open_dir(objects, o.bucket.as_str())?;
    let fd = openat(
        bucket.as_fd(),
        o.name.as_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut file = File::from(fd);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        read += n as u64;
    }
    let actual = hex::encode(hasher.finalize());
    Ok((actual != o.sha256).then(|| format!("its content hashes to {actual}, {read} bytes")))
}

/// Unlinks every `bad` name, in batches under the exclusive lock; one
/// replaced since it was checked (a fetch stored a good copy) stays.
fn remove(
    dir: &Path,
    objects: std::os::fd::BorrowedFd<'_>,
    bad: Vec<Bad>,
    report: &mut VerifyReport,
) -> io::Result<()> {
    for batch in bad.chunks(256) {
        let _lock = StoreLock::exclusive(dir).map_err(|e| io::Error::other(e.to_string()))?;
        let mut buckets: HashMap<&str, OwnedFd> = HashMap::new();
        for b in batch {
            let Some(bucket_name) = b.bucket.as_deref() else {
                let path = format!("objects/{}", b.name);
                match scan::unlink(objects, &b.name) {
                    Ok(()) => report.removed.push(Problem {
                        path,
                        problem: b.problem.clone(),
                    }),
                    Err(e) => report.left.push(Problem {
                        path,
                        problem: format!("{} (not removed: {e})", b.problem),
                    }),
                }
                continue;
            };
            let path = format!("objects/{bucket_name}/{}", b.name);
            if !buckets.contains_key(bucket_name) {
                match scan::open_dir(objects, bucket_name) {
                    Ok(fd) => {
                        buckets.insert(bucket_name, fd);
                    }
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let bucket = buckets[bucket_name].as_fd();
            if let Some(ino) = b.ino {
                match scan::stat_object(bucket, bucket_name, &b.name)? {
                    Some(now) if now.ino == ino => {}
                    _ => continue,
                }
            }
            let problem = match scan::unlink(bucket, &b.name) {
                Ok(()) => {
                    report.removed.push(Problem {
                        path,
                        problem: b.problem.clone(),
                    });
                    continue;
                }
                Err(e) => format!("{} (not removed: {e})", b.problem),
            };
            report.left.push(Problem { path, problem });
        }
    }
    Ok(())
}

/// `name` in `objects/` is a folder itself (not a link to one).
fn is_dir_at(objects: std::os::fd::BorrowedFd<'_>, name: &str) -> bool {
    rustix::fs::statat(objects, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode as _) == rustix::fs::FileType::Directory
    })
}
