//! The ZIP format details: local headers, central directory, ZIP64 when sizes,
//! offsets or the entry count need it, Unix modes and symlinks in the external
//! attributes (Info-ZIP convention, which `unzip` honours).

use bytes::{BufMut, Bytes, BytesMut};

use super::{BundlePlan, Segment};
use crate::protocol::{Entry, Index, METHOD_STORED};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// Made by Unix (3), spec 4.5: external attributes carry `st_mode`.
const VERSION_MADE_BY: u16 = (3 << 8) | 45;
/// 1980-01-01 00:00:00, the DOS epoch: bundles must not depend on the clock.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
const FLAG_UTF8: u16 = 1 << 11;
const U32_MAX: u64 = 0xFFFF_FFFF;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const DOS_DIR: u32 = 0x10;

struct Central {
    name: Vec<u8>,
    method: u16,
    crc32: u32,
    packed: u64,
    size: u64,
    external: u32,
    offset: u64,
}

/// Lays out the bundle of `index`: per tree a folder entry for its root, then
/// every entry in index order (sorted by path); then the central directory.
pub fn plan(index: &Index) -> BundlePlan {
    let mut plan = BundlePlan::default();
    let mut central = Vec::with_capacity(index.entries.len() + 1 + index.nested.len());
    let mut add = |plan: &mut BundlePlan, c: Central, data: Option<Segment>| {
        let mut c = c;
        c.offset = plan.len();
        plan.push(Segment::Bytes(local_header(&c)));
        if let Some(data) = data {
            plan.push(data);
        }
        central.push(c);
    };
    // The root tree, then each nested one (npm workspaces), each under its
    // folder in the project.
    for (root, entries) in index.trees() {
        add(&mut plan, dir_entry(format!("{root}/"), 0o755), None);
        for entry in entries {
            match entry {
                Entry::Dir { path, mode } => {
                    add(&mut plan, dir_entry(format!("{root}/{path}/"), *mode), None)
                }
                Entry::Symlink { path, target } => {
                    let data = Bytes::copy_from_slice(target.as_bytes());
                    let c = Central {
                        name: format!("{root}/{path}").into_bytes(),
                        method: METHOD_STORED,
                        crc32: crc32fast::hash(&data),
                        packed: data.len() as u64,
                        size: data.len() as u64,
                        external: (S_IFLNK | 0o777) << 16,
                        offset: 0,
                    };
                    add(&mut plan, c, Some(Segment::Bytes(data)));
                }
                Entry::File(f) => {
                    let c = Central {
                        name: format!("{root}/{}", f.path).into_bytes(),
                        method: f.method,
                        crc32: f.crc32,
                        packed: f.packed_size,
                        size: f.size,
                        external: (S_IFREG | (f.mode & 0o7777)) << 16,
                        offset: 0,
                    };
                    let data = Segment::Blob {
                        sha256: f.sha256,
                        len: f.packed_size,
                    };
                    add(&mut plan, c, Some(data));
                }
            }
        }
    }
    let cd_offset = plan.len();
    let mut cd = BytesMut::new();
    for c in &central {
        central_header(&mut cd, c);
    }
    let cd_size = cd.len() as u64;
    end_of_central_directory(&mut cd, central.len() as u64, cd_size, cd_offset);
    plan.push(Segment::Bytes(cd.freeze()));
    plan
}

fn dir_entry(name: String, mode: u32) -> Central {
    Central {
        name: name.into_bytes(),
        method: METHOD_STORED,
        crc32: 0,
        packed: 0,
        size: 0,
        external: ((S_IFDIR | (mode & 0o7777)) << 16) | DOS_DIR,
        offset: 0,
    }
}

fn flags(name: &[u8]) -> u16 {
    if name.is_ascii() { 0 } else { FLAG_UTF8 }
}

fn needs_zip64_sizes(c: &Central) -> bool {
    c.size >= U32_MAX || c.packed >= U32_MAX
}

fn local_header(c: &Central) -> Bytes {
    let zip64 = needs_zip64_sizes(c);
    let mut b = BytesMut::with_capacity(30 + c.name.len() + 20);
    b.put_u32_le(LOCAL_SIG);
    b.put_u16_le(if zip64 { 45 } else { 20 });
    b.put_u16_le(flags(&c.name));
    b.put_u16_le(c.method);
    b.put_u16_le(DOS_TIME);
    b.put_u16_le(DOS_DATE);
    b.put_u32_le(c.crc32);
    if zip64 {
        b.put_u32_le(U32_MAX as u32);
        b.put_u32_le(U32_MAX as u32);
    } else {
        b.put_u32_le(c.packed as u32);
        b.put_u32_le(c.size as u32);
    }
    b.put_u16_le(c.name.len() as u16);
    b.put_u16_le(if zip64 { 20 } else { 0 });
    b.put_slice(&c.name);
    if zip64 {
        b.put_u16_le(0x0001);
        b.put_u16_le(16);
        b.put_u64_le(c.size);
        b.put_u64_le(c.packed);
    }
    b.freeze()
}

fn central_header(b: &mut BytesMut, c: &Central) {
    // ZIP64 extra holds, in this order, only the fields that overflowed.
    let mut extra = BytesMut::new();
    if c.size >= U32_MAX {
        extra.put_u64_le(c.size);
    }
    if c.packed >= U32_MAX {
        extra.put_u64_le(c.packed);
    }
    if c.offset >= U32_MAX {
        extra.put_u64_le(c.offset);
    }
    let zip64 = !extra.is_empty();
    let clamp = |v: u64| {
        if v >= U32_MAX {
            U32_MAX as u32
        } else {
            v as u32
        }
    };
    b.put_u32_le(CENTRAL_SIG);
    b.put_u16_le(VERSION_MADE_BY);
    b.put_u16_le(if zip64 { 45 } else { 20 });
    b.put_u16_le(flags(&c.name));
    b.put_u16_le(c.method);
    b.put_u16_le(DOS_TIME);
    b.put_u16_le(DOS_DATE);
    b.put_u32_le(c.crc32);
    b.put_u32_le(clamp(c.packed));
    b.put_u32_le(clamp(c.size));
    b.put_u16_le(c.name.len() as u16);
    b.put_u16_le(if zip64 { extra.len() as u16 + 4 } else { 0 });
    b.put_u16_le(0); // comment
    b.put_u16_le(0); // disk
    b.put_u16_le(0); // internal attributes
    b.put_u32_le(c.external);
    b.put_u32_le(clamp(c.offset));
    b.put_slice(&c.name);
    if zip64 {
        b.put_u16_le(0x0001);
        b.put_u16_le(extra.len() as u16);
        b.put_slice(&extra);
    }
}

fn end_of_central_directory(b: &mut BytesMut, entries: u64, cd_size: u64, cd_offset: u64) {
    let zip64 = entries >= 0xFFFF || cd_size >= U32_MAX || cd_offset >= U32_MAX;
    if zip64 {
        let zip64_eocd_offset = cd_offset + cd_size;
        b.put_u32_le(ZIP64_EOCD_SIG);
        b.put_u64_le(44);
        b.put_u16_le(VERSION_MADE_BY);
        b.put_u16_le(45);
        b.put_u32_le(0);
        b.put_u32_le(0);
        b.put_u64_le(entries);
        b.put_u64_le(entries);
        b.put_u64_le(cd_size);
        b.put_u64_le(cd_offset);
        b.put_u32_le(ZIP64_LOCATOR_SIG);
        b.put_u32_le(0);
        b.put_u64_le(zip64_eocd_offset);
        b.put_u32_le(1);
    }
    let clamp16 = |v: u64| if v >= 0xFFFF { 0xFFFF } else { v as u16 };
    let clamp32 = |v: u64| {
        if v >= U32_MAX {
            U32_MAX as u32
        } else {
            v as u32
        }
    };
    b.put_u32_le(EOCD_SIG);
    b.put_u16_le(0);
    b.put_u16_le(0);
    b.put_u16_le(clamp16(entries));
    b.put_u16_le(clamp16(entries));
    b.put_u32_le(clamp32(cd_size));
    b.put_u32_le(clamp32(cd_offset));
    b.put_u16_le(0);
}

#[cfg(test)]
#[path = "zip_layout_tests.rs"]
mod tests;
