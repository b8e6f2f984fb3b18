//! The command line: one file per subcommand, each turning its arguments into
//! a call on the library.

mod admin;
mod client_error;
mod config;
mod env;
mod fetch;
mod generate;
mod hash;
mod logging;
mod serve;
mod serve_containers;
mod store;

use std::process::ExitCode;

use clap::{ArgAction, FromArgMatches, Parser, Subcommand};

use crate::error::CliError;

pub use env::{WITH_ENV, command, env_name};

/// The version with the commit it was built from.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("DEPCACHE_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "depcache",
    version = LONG_VERSION,
    about = "Caches installed dependency trees (node_modules, vendor) and restores them in seconds",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage, 3 server unreachable, 4 auth refused, \
5 request refused, 6 bundle failed verification or admin/store verify found problems it left, \
7 install failed."
)]
pub struct Cli {
    /// More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log lines as text or as one JSON object per line (for log pipelines).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = logging::LogFormat::Text,
        env = "DEPCACHE_LOG_FORMAT",
        value_name = "FORMAT"
    )]
    pub log_format: logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    // Boxed: its many flags would make every other variant as large.
    /// Run the cache server.
    Serve(Box<serve::ServeArgs>),
    /// Restore node_modules/vendor from the server (CI client).
    Fetch(fetch::FetchArgs),
    /// Print the cache key a client would send for a project.
    Hash(hash::HashArgs),
    /// Print shell completions (or write them all with --dir).
    Completions(generate::CompletionsArgs),
    /// Print the man page (or write one per subcommand with --dir).
    Man(generate::ManArgs),
    /// Operators' tools on a store: stats, list, gc, verify.
    Admin(admin::AdminArgs),
    /// Upkeep of fetch's --local-store: status, prune, verify.
    Store(store::StoreArgs),
}

pub fn main() -> ExitCode {
    let mut matches = env::command().get_matches();
    if let Some(("serve", serve)) = matches.subcommand()
        && let Some(path) = serve.get_one::<std::path::PathBuf>("config")
    {
        match config::apply(path, &env::command(), serve, std::env::args_os().collect()) {
            Ok(argv) => {
                matches = env::command()
                    .try_get_matches_from(argv)
                    .unwrap_or_else(|e| e.exit())
            }
            Err(e) => {
                eprintln!("depcache: {e}");
                return ExitCode::from(crate::error::exit::USAGE);
            }
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // fetch runs in CI logs: only warnings unless -v asks for key, URLs, timings.
    let quiet_by_default = matches!(cli.command, Command::Fetch(_));
    logging::init(cli.log_format, cli.verbose, cli.quiet, quiet_by_default);
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Fetch(args) => fetch::run(args, cli.quiet),
        Command::Hash(args) => hash::run(args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
        Command::Admin(args) => admin::run(args),
        Command::Store(args) => store::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            logging::say("ERROR", &e.to_string());
            e.exit_code()
        }
    }
}

/// A multi-threaded runtime for the subcommands that need one.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failure(format!("could not start the async runtime: {e}")))
}

/// Splits `a,b,c` lists, dropping blanks.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
