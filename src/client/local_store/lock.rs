//! The store-wide lock, `DIR/lock`: a fetch holds it shared while it checks,
//! fills and links from the store; prune and verify hold it exclusive only
//! while they unlink one batch. So no fetch ever sees a content it counted
//! as present vanish before it is linked (see docs/client.md).

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::client::ClientError;

/// A held `flock` on `DIR/lock`; released when dropped (or when the process
/// dies, so a killed fetch never leaves the store locked).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Waits until no prune or verify is deleting.
    pub fn shared(dir: &Path) -> Result<Self, ClientError> {
        Self::take(dir, true)
    }

    /// Waits until no fetch is using the store.
    pub fn exclusive(dir: &Path) -> Result<Self, ClientError> {
        Self::take(dir, false)
    }

    fn take(dir: &Path, shared: bool) -> Result<Self, ClientError> {
        let path = dir.join("lock");
        let fail = |e: io::Error| {
            ClientError::Failure(format!(
                "cannot lock the local store ({}): {e}",
                path.display()
            ))
        };
        // Its own open file description each time: two locks taken in one
        // process (a fetch and its background prune) exclude each other too.
        // O_NOFOLLOW: a link planted there must not make us create or lock
        // a file elsewhere.
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(fail)?;
        // std's `File::lock*` is `flock` on Linux, as the server's store
        // lock is; a signal may interrupt the wait.
        loop {
            let locked = if shared {
                file.lock_shared()
            } else {
                file.lock()
            };
            match locked {
                Ok(()) => return Ok(StoreLock { _file: file }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_waits_for_shared_and_a_linked_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let shared = StoreLock::shared(dir.path()).unwrap();
        let other_shared = StoreLock::shared(dir.path()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let _x = StoreLock::exclusive(&path).unwrap();
            tx.send(()).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(rx.try_recv().is_err(), "exclusive beside two shared");
        drop(shared);
        drop(other_shared);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        t.join().unwrap();

        let other = tempfile::tempdir().unwrap();
        std::fs::remove_file(other.path().join("lock")).ok();
        std::os::unix::fs::symlink(dir.path().join("victim"), other.path().join("lock")).unwrap();
        assert!(StoreLock::shared(other.path()).is_err());
        assert!(
            !dir.path().join("victim").exists(),
            "nothing created through the link"
        );
    }
}
