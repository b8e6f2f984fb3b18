//! `depcache admin ...`: arguments of the operators' subcommands and how their
//! reports are printed (aligned text, or JSON with `--json`).

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::admin;
use crate::error::CliError;
use crate::store::{OpenMode, Store, StoreLocation, open_location};
use crate::units::{parse_duration, parse_size};

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Keys, blobs, bytes on disk, logical size and deduplication ratio.
    Stats(StoreArgs),
    /// Every cached key with manager, versions, platform, size and last use.
    List(StoreArgs),
    /// Evict unused or least recently used keys, then delete unreferenced blobs.
    /// Safe while a server runs on the same directory.
    Gc(GcArgs),
    /// Rehash every blob and check every index (exit 6 when problems remain).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Store: a directory or s3://BUCKET[/PREFIX] (the server's --cache-dir).
    #[arg(long, alias = "cache_dir", env = "DEPCACHE_CACHE_DIR", value_parser = StoreLocation::parse_arg)]
    pub cache_dir: StoreLocation,
    /// Machine-readable output (schema in docs/admin.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Evict keys not used (hit or downloaded) for this long, e.g. 30d.
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Option<Duration>,
    /// Evict least recently used keys until the store fits, e.g. 20GiB.
    #[arg(long, value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Keep unreferenced blobs younger than this (ingestions in progress).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub grace: Duration,
    /// Report what would be removed; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Remove corrupt blobs and the indexes that use them or miss blobs, so
    /// those keys are installed afresh on their next request.
    #[arg(long)]
    pub repair: bool,
}

pub fn run(args: AdminArgs) -> Result<(), CliError> {
    match args.command {
        AdminCommand::Stats(a) => {
            let store = open(&a.cache_dir)?;
            let stats = admin::stats::stats(&*store).map_err(failure("stats"))?;
            print(a.json, &stats, || stats.render())
        }
        AdminCommand::List(a) => {
            let store = open(&a.cache_dir)?;
            let keys = admin::list::list(&*store).map_err(failure("list"))?;
            print(a.json, &keys, || admin::list::render(&keys))
        }
        AdminCommand::Gc(a) => {
            let store = open(&a.store.cache_dir)?;
            let options = admin::gc::GcOptions {
                older_than: a.older_than,
                max_size: a.max_size,
                grace: a.grace,
                dry_run: a.dry_run,
            };
            let report = admin::gc::gc(&*store, &options).map_err(failure("gc"))?;
            print(a.store.json, &report, || report.render())
        }
        AdminCommand::Verify(a) => {
            let store = open(&a.store.cache_dir)?;
            let report = admin::verify::verify(&*store, a.repair).map_err(failure("verify"))?;
            print(a.store.json, &report, || report.render())?;
            if report.is_clean() || report.repaired {
                Ok(())
            } else {
                Err(CliError::Verify(format!(
                    "{} corrupt blobs and {} bad indexes found; run with --repair to remove them",
                    report.corrupt_blobs.len(),
                    report.bad_indexes.len()
                )))
            }
        }
    }
}

/// In admin mode: a live server's staging area is left alone.
fn open(location: &StoreLocation) -> Result<Arc<dyn Store>, CliError> {
    open_location(location, &OpenMode::Admin).map_err(|e| CliError::Usage(e.to_string()))
}

fn failure(what: &'static str) -> impl Fn(std::io::Error) -> CliError {
    move |e| CliError::Failure(format!("admin {what} failed: {e}"))
}

fn print<T: Serialize>(json: bool, value: &T, human: impl Fn() -> String) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::Failure(format!("could not encode JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", human());
    }
    Ok(())
}
