//! The readiness probe of a store (`GET /ready`): one cheap read and one
//! write+remove in the staging area, so that a store that cannot be read
//! or that cannot take a new install answers "not ready" before an install
//! fails halfway.

use std::io::{self, Write};

use super::Store;
use crate::protocol::Sha256;

/// A hash no blob has: the read asks for it and must hear "absent".
pub(super) const PROBE_SHA: Sha256 = Sha256::from_bytes([0; 32]);

/// What failed, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the store cannot be read: {0}")]
    Read(io::Error),
    #[error("the staging area {path} is not writable: {source}")]
    Staging { path: String, source: io::Error },
}

/// Reads (`Store::check_read`: a stat for a directory, the bucket's small
/// settings object for S3) and writes, syncs and removes a small file in the
/// staging area.
pub fn check_ready(store: &dyn Store) -> Result<(), NotReady> {
    store.check_read().map_err(NotReady::Read)?;
    let staging = store.staging_dir();
    let staging_error = |source| NotReady::Staging {
        path: staging.display().to_string(),
        source,
    };
    // tempfile creates with O_EXCL and a random name: nothing that exists,
    // a symlink included, is opened, and the file is removed on drop.
    let mut probe = tempfile::Builder::new()
        .prefix(".ready-")
        .tempfile_in(staging)
        .map_err(staging_error)?;
    probe
        .write_all(b"ready\n")
        .and_then(|()| probe.as_file().sync_data())
        .map_err(staging_error)?;
    probe.close().map_err(staging_error)
}
