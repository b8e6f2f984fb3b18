//! The blob file format: a 32-byte header (magic, ZIP method, CRC-32, sizes)
//! followed by the packed data, raw deflate or stored. Packing once at
//! ingestion lets a bundle be assembled by concatenation.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

pub use crate::protocol::{METHOD_DEFLATE, METHOD_STORED};

pub const BLOB_HEADER_LEN: u64 = 32;
const MAGIC: &[u8; 4] = b"DCB1";
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: [u8; 32],
    pub size: u64,
    pub crc32: u32,
    pub method: u16,
    pub packed_size: u64,
}

impl BlobInfo {
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

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
    pub fn decode_header(sha256: [u8; 32], h: &[u8]) -> io::Result<BlobInfo> {
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
    pub sha256: [u8; 32],
    pub crc32: u32,
    pub size: u64,
}

impl HashedFile {
    pub fn of(path: &Path) -> io::Result<HashedFile> {
        let mut file = File::open(path)?;
        let mut sha = Sha256::new();
        let mut crc = crc32fast::Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            crc.update(&buf[..n]);
            size += n as u64;
        }
        Ok(HashedFile {
            sha256: sha.finalize().into(),
            crc32: crc.finalize(),
            size,
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
    if sha != hashed.sha256 {
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
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let counter = CountingWriter {
        inner: BufWriter::with_capacity(CHUNK, &mut *out),
        count: 0,
    };
    let counter = if method == METHOD_DEFLATE {
        let mut enc = flate2::write::DeflateEncoder::new(counter, flate2::Compression::default());
        pump(source, &mut enc, &mut sha, &mut buf)?;
        enc.finish()?
    } else {
        let mut w = counter;
        pump(source, &mut w, &mut sha, &mut buf)?;
        w
    };
    let count = counter.count;
    counter.inner.into_inner().map_err(|e| e.into_error())?;
    Ok((sha.finalize().into(), count))
}

fn pump(src: &mut File, dst: &mut impl Write, sha: &mut Sha256, buf: &mut [u8]) -> io::Result<()> {
    loop {
        let n = src.read(buf)?;
        if n == 0 {
            return Ok(());
        }
        sha.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
    }
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
