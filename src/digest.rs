//! Reading content while hashing it: the one loop every room uses to check
//! bytes against the SHA-256 (and CRC-32) they were promised, whether the
//! bytes come from a bundle entry (client), a blob (admin verify) or a file
//! being packed (store). Shared by all rooms, so it imports none of them.

use std::io::{self, Read};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// What a read through [`copy_hashing`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashed {
    pub sha256: [u8; 32],
    /// Present when asked for: CRC-32 costs a pass the clients do not need.
    pub crc32: Option<u32>,
    /// Bytes read, including a chunk past the cap that was not handed on.
    pub size: u64,
}

/// Which side of the copy failed: a damaged source and a full disk are
/// different problems for every caller.
#[derive(Debug, Error)]
pub enum CopyError {
    #[error("{0}")]
    Read(io::Error),
    #[error("{0}")]
    Write(io::Error),
}

impl From<CopyError> for io::Error {
    fn from(e: CopyError) -> io::Error {
        match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// A content that is not the one an index entry names. The sentences are the
/// ones users see after the entry's path.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Mismatch {
    #[error("has {actual} bytes in the bundle, the index says {expected}")]
    Size { actual: u64, expected: u64 },
    #[error("does not match its index hash (sha256 {actual}, expected {expected})")]
    Sha256 { actual: String, expected: String },
}

/// Options of one [`copy_hashing`] run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hashing {
    pub crc32: bool,
    /// Stop after one byte more than this: enough to know the content is too
    /// long, and the extra bytes are never handed to the sink.
    pub cap: Option<u64>,
}

/// Reads `source` to its end through `buf`, hashing every byte and handing it
/// to `sink` (see [`Hashing::cap`] for the one exception).
pub fn copy_hashing(
    source: &mut dyn Read,
    buf: &mut [u8],
    options: Hashing,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<Hashed, CopyError> {
    let mut source = source.take(options.cap.map_or(u64::MAX, |c| c.saturating_add(1)));
    let mut sha = Sha256::new();
    let mut crc = options.crc32.then(crc32fast::Hasher::new);
    let mut size = 0u64;
    loop {
        let n = match source.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        let chunk = &buf[..n];
        sha.update(chunk);
        if let Some(crc) = &mut crc {
            crc.update(chunk);
        }
        size += n as u64;
        if options.cap.is_some_and(|cap| size > cap) {
            break;
        }
        sink(chunk).map_err(CopyError::Write)?;
    }
    Ok(Hashed {
        sha256: sha.finalize().into(),
        crc32: crc.map(crc32fast::Hasher::finalize),
        size,
    })
}

impl Hashed {
    /// Checks size first (cheaper to explain), then the SHA-256; the hex is
    /// spelled only for the error.
    pub fn check(&self, size: u64, sha256: &[u8; 32]) -> Result<(), Mismatch> {
        if self.size != size {
            return Err(Mismatch::Size {
                actual: self.size,
                expected: size,
            });
        }
        if self.sha256 != *sha256 {
            return Err(Mismatch::Sha256 {
                actual: hex::encode(self.sha256),
                expected: hex::encode(sha256),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8], options: Hashing) -> (Hashed, Vec<u8>) {
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        let hashed = copy_hashing(&mut &data[..], &mut buf, options, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        (hashed, out)
    }

    #[test]
    fn hashes_and_copies_everything_without_a_cap() {
        let (hashed, out) = run(
            b"hello world",
            Hashing {
                crc32: true,
                cap: None,
            },
        );
        assert_eq!(out, b"hello world");
        assert_eq!(hashed.size, 11);
        assert_eq!(hashed.crc32, Some(crc32fast::hash(b"hello world")));
        assert_eq!(
            hex::encode(hashed.sha256),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(hashed.check(11, &hashed.sha256), Ok(()));
    }

    #[test]
    fn a_cap_stops_one_chunk_past_it_without_handing_that_chunk_on() {
        let (hashed, out) = run(
            b"hello world",
            Hashing {
                crc32: false,
                cap: Some(4),
            },
        );
        // Chunks of 3: "hel" is handed on, "lo" (bytes 4 and 5, capped at
        // cap + 1) is counted but not.
        assert_eq!(out, b"hel");
        assert_eq!(hashed.size, 5);
        assert_eq!(hashed.crc32, None);
        assert_eq!(
            hashed.check(4, &[0; 32]),
            Err(Mismatch::Size {
                actual: 5,
                expected: 4
            })
        );
    }

    #[test]
    fn a_wrong_hash_names_both() {
        let (hashed, _) = run(b"abc", Hashing::default());
        let err = hashed.check(3, &[0; 32]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "does not match its index hash (sha256 {}, expected {})",
                hex::encode(hashed.sha256),
                "0".repeat(64)
            )
        );
    }

    #[test]
    fn read_and_write_failures_stay_apart() {
        let mut buf = [0u8; 8];
        let err = copy_hashing(&mut &b"abc"[..], &mut buf, Hashing::default(), &mut |_| {
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(matches!(err, CopyError::Write(_)));
    }
}
