//! Benchmark of `depcache admin` on a large synthetic store (see
//! bench/README.md). Not a test: `bench/admin.sh` runs it in release mode.
//!
//! `admin_bench build DIR [BLOBS] [KEYS]` writes BLOBS small blobs in the
//! store format and KEYS indexes (each key: BLOBS/KEYS unique blobs plus 20
//! from a shared pool of 1000), with last uses spread one minute apart.
//! `admin_bench stats DIR` and `admin_bench gc DIR` time one run each and
//! print the process's peak RSS (VmHWM), so every phase is measured alone.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use depcache::admin::gc::{GcOptions, gc};
use depcache::admin::stats::stats;
use depcache::protocol::{Entry, FileEntry, INDEX_FORMAT, Index, Key};
use depcache::store::{BlobInfo, DirStore, METHOD_STORED};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

const SHARED_POOL: u64 = 1000;
const SHARED_PER_KEY: u64 = 20;

fn content(n: u64) -> Vec<u8> {
    format!("module.exports = {n};\n").into_bytes()
}

/// Writes one blob straight into `objects/` (no fsync: a benchmark fixture).
fn write_blob(root: &Path, n: u64) -> FileEntry {
    let data = content(n);
    let sha = depcache::protocol::Sha256::from_bytes(Sha256::digest(&data).into());
    let info = BlobInfo {
        sha256: sha,
        size: data.len() as u64,
        crc32: crc32fast::hash(&data),
        method: METHOD_STORED,
        packed_size: data.len() as u64,
    };
    let hex = sha.to_string();
    let dir = root.join("objects").join(&hex[..2]).join(&hex[2..4]);
    let path = dir.join(&hex);
    let mut file = fs::File::create(&path)
        .or_else(|_| {
            fs::create_dir_all(&dir)?;
            fs::File::create(&path)
        })
        .unwrap();
    file.write_all(&info.encode_header()).unwrap();
    file.write_all(&data).unwrap();
    FileEntry {
        path: format!("pkg/f{n}.js"),
        sha256: sha,
        size: info.size,
        mode: 0o644,
        crc32: info.crc32,
        method: METHOD_STORED,
        packed_size: info.packed_size,
    }
}

fn build(root: &Path, blobs: u64, keys: u64) {
    DirStore::open(root).unwrap();
    let per_key = blobs / keys;
    let started = Instant::now();
    let shared: Vec<FileEntry> = (0..SHARED_POOL)
        .into_par_iter()
        .map(|i| write_blob(root, blobs + i))
        .collect();
    let now = SystemTime::now();
    (0..keys).into_par_iter().for_each(|k| {
        let mut entries: Vec<Entry> = (k * per_key..(k + 1) * per_key)
            .map(|n| Entry::File(write_blob(root, n)))
            .collect();
        for j in 0..SHARED_PER_KEY {
            let mut f = shared[((k * 7 + j * 13) % SHARED_POOL) as usize].clone();
            f.path = format!("shared/s{j}.js");
            entries.push(Entry::File(f));
        }
        entries.sort_by(|a, b| a.path().cmp(b.path()));
        let key = hex::encode(Sha256::digest(format!("key {k}")));
        let versions: BTreeMap<String, String> = [("node", "20.20.2"), ("npm", "11.19.1")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let index = Index {
            format: INDEX_FORMAT,
            key: Key::parse(&key).unwrap(),
            manager: "npm".to_string(),
            versions,
            platform: Some("linux-x64-glibc".to_string()),
            options: None,
            root: "node_modules".to_string(),
            created: 1_700_000_000 + k,
            entries,
            workspaces: Vec::new(),
            nested: Vec::new(),
            registries: Vec::new(),
        };
        let dir = root.join("indexes").join(&key[..2]);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{key}.npm.node-20.20.2_npm-11.19.1.index"));
        fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
        // Key k was last used k minutes ago: a clean LRU order.
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(now - Duration::from_secs(60 * k))
            .unwrap();
    });
    println!(
        "build: {} blobs, {keys} keys in {:.1}s",
        per_key * keys + SHARED_POOL,
        started.elapsed().as_secs_f64()
    );
}

fn peak_rss_mib() -> f64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: admin_bench build|stats|gc|gc-dry DIR [BLOBS] [KEYS]";
    let (Some(cmd), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let root = Path::new(dir);
    let started = Instant::now();
    match cmd.as_str() {
        "build" => {
            let blobs = args.get(3).map_or(1_000_000, |v| v.parse().unwrap());
            let keys = args.get(4).map_or(10_000, |v| v.parse().unwrap());
            build(root, blobs, keys);
        }
        "stats" => {
            let store = DirStore::open_existing(root).unwrap();
            let s = stats(&store).unwrap();
            println!(
                "stats: {} keys, {} blobs, {} blob bytes, {} logical bytes, ratio {}",
                s.keys, s.blobs, s.blob_bytes, s.logical_bytes, s.dedup_ratio
            );
        }
        "gc" | "gc-dry" => {
            let store = DirStore::open_existing(root).unwrap();
            let s = stats(&store).unwrap();
            // A budget 10% under the current size: evicts the LRU tenth.
            let total = s.blob_bytes + s.index_bytes;
            let options = GcOptions {
                older_than: None,
                max_size: Some(total - total / 10),
                grace: Duration::ZERO,
                dry_run: cmd == "gc-dry",
            };
            let t = Instant::now();
            let r = gc(&store, &options).unwrap();
            println!(
                "{cmd}: evicted {} keys, removed {} blobs, freed {} bytes in {:.1}s \
(stats pass before it excluded)",
                r.evicted.len(),
                r.blobs_removed,
                r.bytes_freed,
                t.elapsed().as_secs_f64()
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
    println!(
        "{cmd}: {:.1}s wall, peak RSS {:.0} MiB",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}
