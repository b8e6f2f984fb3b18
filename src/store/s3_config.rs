//! The bucket's own settings object, `depcache-store.json`: its format and
//! the gc grace period from which every server and every gc derives the gc
//! protocol's times, so that they agree without talking to each other.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use super::s3::{S3Store, create_mode, io_err, not_found};

const CONFIG_NAME: &str = "depcache-store.json";
const CONFIG_FORMAT: u32 = 1;
/// The grace period written into a new bucket's config.
pub(super) const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The bucket's own settings, shared by every server and every gc so that
/// they agree on the timing the gc protocol depends on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct BucketConfig {
    format: u32,
    pub(super) gc_grace_secs: u64,
}

impl S3Store {
    pub(super) fn read_config(&self, create: bool) -> io::Result<BucketConfig> {
        let path = self.path(CONFIG_NAME);
        let client = self.client.clone();
        let parse = |bytes: Bytes| -> io::Result<BucketConfig> {
            let config: BucketConfig = serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{CONFIG_NAME} is not depcache's: {e}"),
                )
            })?;
            if config.format != CONFIG_FORMAT {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the store has format {}, this depcache knows {CONFIG_FORMAT}",
                        config.format
                    ),
                ));
            }
            Ok(config)
        };
        let fetched = self.block_on(async {
            match client.get(&path).await {
                Ok(got) => got.bytes().await.map(Some),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        });
        if let Some(bytes) = fetched.map_err(io_err)? {
            return parse(bytes);
        }
        if !create {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no depcache store here (no {CONFIG_NAME}); a server creates it"),
            ));
        }
        let config = BucketConfig {
            format: CONFIG_FORMAT,
            gc_grace_secs: DEFAULT_GRACE.as_secs(),
        };
        let body = serde_json::to_vec_pretty(&config)?;
        let put = self.block_on(client.put_opts(&path, body.into(), create_mode()));
        match put {
            Ok(_) => Ok(config),
            // Another server wrote it first: theirs counts.
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => self.read_config(false),
            Err(e) => Err(io_err(e)),
        }
    }
}
