//! The blob file format: a 32-byte header (magic, ZIP method, CRC-32, sizes)
//! followed by the packed data, raw deflate or stored. Packing once at
//! ingestion lets a bundle be assembled by concatenation.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::digest::{Hashing, copy_hashing};
use crate::protocol::Sha256;
pub use crate::protocol::{METHOD_DEFLATE, METHOD_STORED};

pub const BLOB_HEADER_LEN: u64 = 32;
const MAGIC: &[u8; 4] = b"DCB1";
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: Sha256,
    pub size: u64,
    pub crc32: u32,
    pub method: u16,
    pub packed_size: u64,
}

impl BlobInfo {
    pub fn encode_header(&self) -> [u8; BLOB_HEADER_LEN as usize] {
        let mut h = [0u8; BLOB_HEADER_LEN as usize];
        h[0..4].copy_from_slice(MAGIC);
        h[4..6].copy_from_slice(&self.method.to_le_bytes());
        h[8..12].copy_from_slice(&self.crc32.to_le_bytes());
        h[12..20].copy_from_slice(&self.size.to_le_bytes());
        h[20..28].copy_from_slice(&self.packed_size.to_le_bytes());
        h
    }

    /// Parses a header; the sha256 comes from the blob's name.
    pub fn decode_header(sha256: Sha256, h: &[u8]) -> io::Result<BlobInfo> {
        if h.len() < BLOB_HEADER_LEN as usize || &h[0..4] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "blob header is missing or has the wrong magic",
            ));
        }
        let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap());
        let method = u16_at(4);
        if method != METHOD_STORED && method != METHOD_DEFLATE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob header names unknown method {method}"),
            ));
        }
        Ok(BlobInfo {
            sha256,
            method,
            crc32: u32_at(8),
            size: u64_at(12),
            packed_size: u64_at(20),
        })
    }
}

/// Content identity of a file on disk: the first, cheap pass of ingestion.
#[derive(Debug, Clone, Copy)]
pub struct HashedFile {
    pub sha256: Sha256,
    pub crc32: u32,
    pub size: u64,
}

impl HashedFile {
    pub fn of(path: &Path) -> io::Result<HashedFile> {
        let mut file = File::open(path)?;
        let mut buf = vec![0u8; CHUNK];
        let options = Hashing {
            crc32: true,
            cap: None,
        };
        let hashed = copy_hashing(&mut file, &mut buf, options, &mut |_| Ok(()))?;
        Ok(HashedFile {
            sha256: Sha256::from_bytes(hashed.sha256),
            crc32: hashed.crc32.unwrap_or_default(),
            size: hashed.size,
        })
    }
}

/// Packs `path` into a new temp file in `staging`: deflate when that saves
/// bytes, stored otherwise. The content is re-read and checked against `hashed`
/// so a file changing under us cannot be stored under the wrong name.
///
/// The staged file is not fsynced: ingestion makes all staged blobs durable
/// with one `Store::sync` before publishing them (one fsync per blob cost
/// ~2.5 ms each, most of a 16k-file ingestion).
pub fn pack_file(
    path: &Path,
    hashed: &HashedFile,
    staging: &Path,
) -> io::Result<(BlobInfo, tempfile::TempPath)> {
    let mut staged = tempfile::Builder::new()
        .prefix("blob-")
        .tempfile_in(staging)?;
    let mut info = BlobInfo {
        sha256: hashed.sha256,
        size: hashed.size,
        crc32: hashed.crc32,
        method: METHOD_DEFLATE,
        packed_size: 0,
    };
    let mut source = File::open(path)?;
    let deflated = write_packed(&mut source, staged.as_file_mut(), METHOD_DEFLATE)?;
    let (sha, packed) = if deflated.1 >= hashed.size {
        // Incompressible (images, archives): stored keeps reads cheap.
        info.method = METHOD_STORED;
        source.seek(SeekFrom::Start(0))?;
        let file = staged.as_file_mut();
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write_packed(&mut source, file, METHOD_STORED)?
    } else {
        deflated
    };
    if sha != *hashed.sha256.as_bytes() {
        return Err(io::Error::other(format!(
            "{} changed while it was being stored",
            path.display()
        )));
    }
    info.packed_size = packed;
    let file = staged.as_file_mut();
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&info.encode_header())?;
    Ok((info, staged.into_temp_path()))
}

/// Writes header space and packed data; returns the content's sha256 and the
/// packed size.
fn write_packed(source: &mut File, out: &mut File, method: u16) -> io::Result<([u8; 32], u64)> {
    out.write_all(&[0u8; BLOB_HEADER_LEN as usize])?;
    let mut buf = vec![0u8; CHUNK];
    let counter = CountingWriter {
        inner: BufWriter::with_capacity(CHUNK, &mut *out),
        count: 0,
    };
    let (sha, counter) = if method == METHOD_DEFLATE {
        let mut enc = flate2::write::DeflateEncoder::new(counter, flate2::Compression::default());
        let sha = pump(source, &mut enc, &mut buf)?;
        (sha, enc.finish()?)
    } else {
        let mut w = counter;
        let sha = pump(source, &mut w, &mut buf)?;
        (sha, w)
    };
    let count = counter.count;
    counter.inner.into_inner().map_err(|e| e.into_error())?;
    Ok((sha, count))
}

fn pump(src: &mut File, dst: &mut impl Write, buf: &mut [u8]) -> io::Result<[u8; 32]> {
    let hashed = copy_hashing(src, buf, Hashing::default(), &mut |b| dst.write_all(b))?;
    Ok(hashed.sha256)
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Turns a blob's packed data back into its content, for verification.
pub fn unpack(info: &BlobInfo, packed: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    let limited = packed.take(info.packed_size);
    if info.method == METHOD_DEFLATE {
        Box::new(flate2::read::DeflateDecoder::new(limited))
    } else {
        Box::new(limited)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use sha2::{Digest, Sha256};

    use crate::protocol::Sha256 as Id;

    use super::*;

    fn pack(content: &[u8]) -> (BlobInfo, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("content");
        std::fs::write(&source, content).unwrap();
        let hashed = HashedFile::of(&source).unwrap();
        let (info, staged) = pack_file(&source, &hashed, dir.path()).unwrap();
        (info, std::fs::read(&staged).unwrap())
    }

    fn unpacked(info: &BlobInfo, blob: &[u8]) -> Vec<u8> {
        let data = blob[BLOB_HEADER_LEN as usize..].to_vec();
        let mut out = Vec::new();
        unpack(info, Box::new(io::Cursor::new(data)))
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn compressible_content_is_deflated_and_comes_back() {
        let content = b"node_modules/left-pad/index.js\n".repeat(1000);
        let (info, blob) = pack(&content);
        assert_eq!(info.method, METHOD_DEFLATE);
        assert!(info.packed_size < info.size / 10);
        assert_eq!(blob.len() as u64, BLOB_HEADER_LEN + info.packed_size);
        assert_eq!(info.size, content.len() as u64);
        assert_eq!(info.crc32, crc32fast::hash(&content));
        assert_eq!(
            info.sha256.to_string(),
            hex::encode(Sha256::digest(&content))
        );
        assert_eq!(unpacked(&info, &blob), content);
    }

    #[test]
    fn incompressible_and_empty_content_is_stored() {
        // A linear congruential stream: no repeats deflate could use.
        let mut x: u32 = 12345;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 24) as u8
            })
            .collect();
        for content in [noise.as_slice(), b""] {
            let (info, blob) = pack(content);
            assert_eq!(info.method, METHOD_STORED);
            assert_eq!(info.packed_size, content.len() as u64);
            assert_eq!(&blob[BLOB_HEADER_LEN as usize..], content);
            assert_eq!(unpacked(&info, &blob), content);
        }
    }

    /// The header's byte layout is on disk in every store: it must not move.
    #[test]
    fn header_layout_is_fixed_and_round_trips() {
        let info = BlobInfo {
            sha256: Id::from_bytes([7; 32]),
            size: 0x0102_0304_0506_0708,
            crc32: 0xDEAD_BEEF,
            method: METHOD_DEFLATE,
            packed_size: 0x1_0000_0000,
        };
        let h = info.encode_header();
        assert_eq!(&h[0..4], b"DCB1");
        assert_eq!(&h[4..6], &[8, 0]);
        assert_eq!(&h[6..8], &[0, 0]);
        assert_eq!(&h[8..12], &0xDEAD_BEEFu32.to_le_bytes());
        assert_eq!(&h[12..20], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&h[20..28], &0x1_0000_0000u64.to_le_bytes());
        assert_eq!(&h[28..32], &[0; 4]);
        assert_eq!(
            BlobInfo::decode_header(Id::from_bytes([7; 32]), &h).unwrap(),
            info
        );
    }

    #[test]
    fn damaged_headers_are_refused() {
        let mut h = BlobInfo {
            sha256: Id::from_bytes([0; 32]),
            size: 1,
            crc32: 1,
            method: METHOD_STORED,
            packed_size: 1,
        }
        .encode_header();
        assert!(BlobInfo::decode_header(Id::from_bytes([0; 32]), &h[..31]).is_err());
        h[4] = 12; // bzip2: a ZIP method the bundle must never carry.
        let err = BlobInfo::decode_header(Id::from_bytes([0; 32]), &h).unwrap_err();
        assert!(err.to_string().contains("unknown method 12"), "{err}");
        h[4] = 0;
        h[0] = b'X';
        assert!(BlobInfo::decode_header(Id::from_bytes([0; 32]), &h).is_err());
    }
}
