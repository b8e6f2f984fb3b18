//! `depcache fetch`: restores `node_modules`/`vendor` from the server, or
//! installs locally when the server cannot help.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::hash::ProjectArgs;
use crate::client::{FetchOptions, HttpSettings, fetch};
use crate::error::CliError;
use crate::protocol::Manager;
use crate::units::{parse_duration, parse_size};

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 restored (or installed locally), 2 usage, \
3 server unreachable and --no-fallback, 4 API key refused, 5 request refused, \
6 bundle failed verification, 7 install failed (on the server, locally, or in the \
lifecycle scripts run after restoring), 1 anything else."
)]
pub struct FetchArgs {
    /// npm, composer or pnpm. The seed form `fetch <SERVER_URL> <MANAGER>` works too.
    #[arg(
        value_name = "MANAGER",
        num_args = 1..=2,
        required = true,
        value_parser = ManagerOrUrl
    )]
    pub positional: Vec<String>,
    /// The depcache server, e.g. http://cache:8080. Unset or empty: install
    /// locally and say so (exit 0), unless --no-fallback.
    #[arg(long, env = "DEPCACHE_SERVER")]
    pub server: Option<String>,
    /// API key sent as a Bearer token; prefer the environment over argv.
    #[arg(
        long,
        alias = "apikey",
        env = "DEPCACHE_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// File holding the API key (first line).
    #[arg(long, conflicts_with = "api_key")]
    pub api_key_file: Option<PathBuf>,
    /// Retries after a connection error or a 5xx (not after a 504), with
    /// jittered backoff of about 0.5 s, 1 s, 2 s, ...; a 503's Retry-After is
    /// waited out (more than 60 s ends the retries).
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Limit for the cache request, which installs on a miss (90s, 15m, ...).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Limit for downloading the index and bundle after the server answered,
    /// retries and resumes included (90s, 10m, ...); past it the server counts
    /// as unavailable. A transfer that receives nothing for 60 s fails sooner.
    #[arg(
        long,
        default_value = "10m",
        value_parser = parse_duration,
        env = "DEPCACHE_DOWNLOAD_TIMEOUT"
    )]
    pub download_timeout: Duration,
    /// Fail (exit 3) instead of installing locally when the server is
    /// unavailable (exit 2 when no server is configured at all).
    #[arg(long)]
    pub no_fallback: bool,
    /// Keep verified file contents in DIR (e.g. ~/.cache/depcache) and
    /// hard-link restored files to them: later fetches download only contents
    /// the store lacks. Off unless given.
    #[arg(long, value_name = "DIR", env = "DEPCACHE_LOCAL_STORE")]
    pub local_store: Option<PathBuf>,
    /// Restore from scratch even when the folder's stat manifest
    /// (.depcache-state) says it already holds this key.
    #[arg(long)]
    pub force: bool,
    /// Run no lifecycle scripts after restoring (or installing locally): npm
    /// gets the `npm ci --ignore-scripts` tree; composer still rebuilds its
    /// autoloader, with scripts and plugins off. By default the scripts the
    /// job's own `npm ci` / `composer install` would run, run here.
    #[arg(
        long,
        visible_alias = "no-scripts",
        env = "DEPCACHE_IGNORE_SCRIPTS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub ignore_scripts: bool,
    /// After each restore, prune the local store down to this size (20GiB,
    /// 500MB, ...) while the fetch finishes, least recently used contents
    /// first; see `depcache store prune --max-size`.
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = parse_size,
        env = "DEPCACHE_LOCAL_STORE_MAX_SIZE"
    )]
    pub local_store_max_size: Option<u64>,
    /// Print one JSON document on stdout when done: key, cache_hit, files,
    /// bytes, seconds, and whether a local install stood in and why (schema
    /// in docs/client.md); on failure, the error.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub fn run(args: FetchArgs, quiet: bool) -> Result<(), CliError> {
    let (server_arg, manager) = match args.positional.as_slice() {
        [manager] => (None, manager),
        [server, manager] if looks_like_url(server) => (Some(server.clone()), manager),
        [first, _] => {
            return Err(CliError::Usage(format!(
                "with two arguments the first must be the server URL, not {first:?}"
            )));
        }
        _ => unreachable!("clap allows one or two"),
    };
    let manager: Manager = manager.parse().map_err(CliError::Usage)?;
    // Empty counts as unset: CI systems expand a withheld secret to "".
    let server = server_arg
        .or(args.server)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let no_server = match &server {
        Some(_) => None,
        None if args.no_fallback => {
            return Err(CliError::Usage(
                "no server given: pass --server URL or set DEPCACHE_SERVER (--no-fallback forbids \
a local install)"
                    .to_string(),
            ));
        }
        None => Some(
            "no depcache server is configured (--server and DEPCACHE_SERVER are unset or empty)"
                .to_string(),
        ),
    };
    let server = server.unwrap_or_default();
    if no_server.is_none() && !looks_like_url(&server) {
        return Err(CliError::Usage(format!(
            "the server {server:?} is not an http:// or https:// URL"
        )));
    }
    let api_key = match (&args.api_key, &args.api_key_file) {
        (_, Some(path)) => Some(read_key_file(path)?),
        (Some(key), None) => Some(key.trim().to_string()),
        (None, None) => None,
    }
    .filter(|k| !k.is_empty());
    if args.ignore_scripts && args.project.server_scripts {
        return Err(CliError::Usage(
            "--server-scripts asks for the tree built with scripts and --ignore-scripts for the \
one without; pass one of them"
                .to_string(),
        ));
    }
    let local_store = args.local_store.filter(|p| !p.as_os_str().is_empty());
    if args.local_store_max_size.is_some() && local_store.is_none() {
        return Err(CliError::Usage(
            "--local-store-max-size needs --local-store (or DEPCACHE_LOCAL_STORE)".to_string(),
        ));
    }
    let json = args.json;
    let result = fetch(FetchOptions {
        project: args.project.spec(manager),
        http: HttpSettings {
            server: server.trim_end_matches('/').to_string(),
            api_key,
            retries: args.retries,
            post_timeout: args.timeout,
            download_timeout: args.download_timeout,
            quiet,
        },
        fallback: !args.no_fallback,
        quiet,
        force: args.force,
        local_store,
        local_store_max_size: args.local_store_max_size,
        ignore_scripts: args.ignore_scripts,
        no_server,
    });
    if json {
        let document = match &result {
            Ok(report) => serde_json::to_value(report),
            Err(e) => Ok(serde_json::json!({
                "format": crate::client::FetchReport::FORMAT,
                "error": e.to_string(),
            })),
        }
        .map_err(|e| CliError::Failure(format!("could not encode JSON: {e}")))?;
        println!("{document}");
    }
    result.map(drop).map_err(CliError::from)
}

/// Accepts any text (the seed form puts a URL first; `run` checks both) but
/// names the managers, so shell completions offer them.
#[derive(Clone)]
struct ManagerOrUrl;

impl clap::builder::TypedValueParser for ManagerOrUrl {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Manager::ALL
                .into_iter()
                .map(|m| clap::builder::PossibleValue::new(m.name())),
        ))
    }
}

fn looks_like_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

fn read_key_file(path: &PathBuf) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the API key file {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}
