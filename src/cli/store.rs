//! `depcache store ...`: upkeep of the client's local store (`fetch
//! --local-store DIR`) on persistent runners: what it holds, pruning it to
//! what live trees use or to a budget, and rehashing it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::client::{self, PruneOptions};
use crate::error::CliError;
use crate::units::{parse_duration, parse_size};

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage (e.g. DIR holds no local store), \
6 verify found problems it could not remove."
)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Contents, bytes, how many trees on disk still link to, oldest and
    /// newest use, problems found.
    Status(LocalStoreArgs),
    /// Remove contents no tree links to any more (or only those unused for
    /// --older-than), then the least recently used down to --max-size.
    /// Safe beside fetches using the same store.
    Prune(PruneArgs),
    /// Rehash every content and remove those that no longer match their
    /// name, and anything else that is no content.
    Verify(LocalStoreArgs),
}

#[derive(Debug, Args)]
pub struct LocalStoreArgs {
    /// The store folder, as given to `fetch --local-store`.
    #[arg(long, value_name = "DIR", env = "DEPCACHE_LOCAL_STORE")]
    pub local_store: PathBuf,
    /// Machine-readable output (schema in docs/client.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: LocalStoreArgs,
    /// Remove only unlinked contents not used for this long (30d, 12h, ...)
    /// instead of every unlinked one.
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Option<Duration>,
    /// Then remove the least recently used contents, unlinked ones first,
    /// until the store is this small (20GiB, 500MB, ...). Without
    /// --older-than only what the budget needs goes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Report what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: StoreArgs) -> Result<(), CliError> {
    match args.command {
        StoreCommand::Status(a) => {
            let report = client::status(&a.local_store)?;
            print(a.json, &report, || report.render())
        }
        StoreCommand::Prune(a) => {
            let options = PruneOptions {
                older_than: a.older_than,
                max_size: a.max_size,
                dry_run: a.dry_run,
            };
            let report = client::prune(&a.store.local_store, &options)?;
            print(a.store.json, &report, || report.render())
        }
        StoreCommand::Verify(a) => {
            let report = client::verify_store(&a.local_store)?;
            print(a.json, &report, || report.render())?;
            if report.left.is_empty() {
                Ok(())
            } else {
                Err(CliError::Verify(format!(
                    "the local store has problems verify could not remove ({} left)",
                    report.left.len()
                )))
            }
        }
    }
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
