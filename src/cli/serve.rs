//! `depcache serve`: resolves flags, keys and tool versions into a
//! `ServerConfig`, binds, and serves until SIGINT/SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::error::CliError;
use crate::install::{
    AllowedHost, InstallSettings, PrivateRegistries, RegistryCa, ScopeRegistry, TrustedSources,
    detect_host_tools, parse_credentials,
};
use crate::protocol::current_platform;
use crate::server::{
    ApiKeys, KeyScopes, ServerConfig, ServerLimits, VersionPolicy, check_public_url,
    parse_node_pairs, serve,
};
use crate::store::TreeLimits;
use crate::units::{parse_duration, parse_size};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(default_value_t = 8080, env = "DEPCACHE_LISTEN_PORT")]
    pub port: u16,
    /// TOML file of settings whose keys are these long flag names, e.g.
    /// `max-tree-files = 500000`; flags and variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store: a directory (created when missing) or s3://BUCKET[/PREFIX]
    /// (credentials, region and endpoint from the AWS_* environment).
    #[arg(
        long,
        alias = "cache_dir",
        env = "DEPCACHE_CACHE_DIR",
        default_value = "depcache-store",
        value_parser = crate::store::StoreLocation::parse_arg
    )]
    pub cache_dir: crate::store::StoreLocation,
    /// Local scratch for installs (default: the store's tmp/ for a directory,
    /// a temporary folder for S3).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Address to bind (default: 0.0.0.0 with API keys; 127.0.0.1 for an
    /// --is-public server, which anyone who reaches it can make run installs).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// Base of the download URLs handed out, an absolute http(s) URL (default:
    /// the Host the client used; required behind a proxy).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Supported node:npm pairs, e.g. 20.20.2:11.19.1 (default: the host's).
    #[arg(long, value_name = "NODE:NPM,...")]
    pub supported_versions_node: Option<String>,
    /// Supported PHP versions (default: the host's).
    #[arg(long, value_name = "PHP,...")]
    pub supported_versions_php: Option<String>,
    /// Install versions the host lacks in a container of exactly those versions
    /// (see docs/containers.md; a start-up error when no runtime answers).
    #[arg(long, alias = "use_docker_on_version_mismatch")]
    pub use_docker_on_version_mismatch: bool,
    #[command(flatten)]
    pub containers: super::serve_containers::ContainerArgs,
    /// No API key needed.
    #[arg(long, alias = "is_public")]
    pub is_public: bool,
    /// Comma-separated API keys (prefer --api-keys-file or DEPCACHE_API_KEYS: argv shows in ps).
    #[arg(long, value_name = "K1,K2")]
    pub api_keys: Option<String>,
    /// File with one API key per line (# comments); `KEY registries=HOST,...`
    /// limits the key to those private registries' trees.
    #[arg(long, value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Registry npm installs from (default: npm's own configuration).
    #[arg(long, value_name = "URL", env = "DEPCACHE_NPM_REGISTRY")]
    pub npm_registry: Option<String>,
    /// Also trust this registry host (HOST or HOST:PORT, exact match) for npm
    /// tarballs and composer repositories and archives; repeatable.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub allow_registry_host: Vec<AllowedHost>,
    /// Let composer `path` repositories read packages from under this
    /// operator-managed folder; repeatable.
    #[arg(long, value_name = "DIR")]
    pub allow_composer_path: Vec<PathBuf>,
    /// npm, pnpm and yarn install `@scope/*` packages from URL (trusted like
    /// --npm-registry); repeatable.
    #[arg(long, value_name = "@SCOPE=URL")]
    pub npm_scope_registry: Vec<ScopeRegistry>,
    /// File of registry credentials, one `HOST[:PORT] token TOKEN` or
    /// `HOST[:PORT] basic USER:PASSWORD` per line (see docs/private-registries.md).
    #[arg(long, value_name = "FILE", env = "DEPCACHE_REGISTRY_CREDENTIALS")]
    pub registry_credentials: Option<PathBuf>,
    /// PEM CA certificates registries' TLS is also verified against (an
    /// internal CA), in addition to the system's.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Largest accepted request body.
    #[arg(long, default_value = "32MiB", value_parser = parse_size)]
    pub max_body_size: u64,
    /// Kill an install (and all it started) after this long.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub install_timeout: Duration,
    /// Installs running at once.
    #[arg(long, default_value_t = 2)]
    pub max_concurrent_installs: usize,
    /// Distinct misses allowed to wait for an install slot before 503.
    #[arg(long, default_value_t = 32)]
    pub max_queued_installs: usize,
    /// Close a connection whose request head is not complete after this long
    /// (idle kept-alive connections included).
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: Duration,
    /// Answer 408 to a request whose body is not complete this long after its head.
    #[arg(long, default_value = "60s", value_parser = positive_duration)]
    pub body_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog until one closes.
    #[arg(long, default_value = "1024", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// On SIGINT/SIGTERM, let running requests finish for this long, then drop them.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Refuse (422 tree_too_large) an installed tree whose files add up to more.
    #[arg(long, default_value = "8GiB", value_parser = parse_size)]
    pub max_tree_size: u64,
    /// Refuse (422 tree_too_large) an installed tree with more files, folders and symlinks.
    #[arg(long, default_value = "1000000", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tree_files: u64,
    /// Keep assembled bundles of keys downloaded more than once, up to this
    /// many bytes in all, so their downloads are plain file reads (0 keeps
    /// none; gc deletes them with their keys).
    #[arg(long, default_value = "2GiB", value_parser = parse_size)]
    pub bundle_cache_size: u64,
    /// A yarn release file run with the PATH node for yarn requests of its
    /// version (Berry: @yarnpkg/cli-dist's bin/yarn.js) (repeatable).
    #[arg(long, value_name = "FILE")]
    pub yarn_release: Vec<PathBuf>,
}

/// A request timeout: zero would cut every request, more than a day is a typo.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("{text:?} is no time at all; give at least 1s")),
        d if d > Duration::from_secs(86400) => {
            Err(format!("{text:?} is longer than a day; give at most 1d"))
        }
        d => Ok(d),
    }
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let keys = collect_keys(&args)?;
    if !args.is_public && keys.is_empty() {
        return Err(CliError::Usage(
            "refusing to start without API keys: pass --api-keys-file, set DEPCACHE_API_KEYS, \
or run an open server with --is-public"
                .to_string(),
        ));
    }
    let host = detect_host_tools();
    let node_pairs = parse_node_pairs(&split(&args.supported_versions_node))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let php = split(&args.supported_versions_php);
    for v in &php {
        crate::protocol::check_version("php", v).map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let policy = VersionPolicy::new(
        &host,
        &node_pairs,
        &php,
        current_platform(),
        args.use_docker_on_version_mismatch,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let extra =
        super::serve_containers::resolve(&args.containers, args.use_docker_on_version_mismatch)?;
    let mut policy = policy
        .with_toolchains(extra.node, extra.php)
        .with_build_scripts(
            args.containers.build_scripts == super::serve_containers::BuildScripts::Container,
        );
    if let Some(container) = extra.container {
        policy = policy.with_container(container);
    }
    let releases = args
        .yarn_release
        .iter()
        .map(|file| crate::install::yarn::YarnRelease::detect(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let policy = policy.with_yarn_releases(releases);
    tracing::info!(npm = %policy.describe_npm(), composer = %policy.describe_php(), yarn = %policy.describe(crate::protocol::Manager::Yarn), "supported versions");

    let sources = TrustedSources::new(
        args.npm_registry.as_deref(),
        args.allow_registry_host.clone(),
        &args.allow_composer_path,
    )
    .map_err(CliError::Usage)?
    .with_private(private_registries(&args)?)
    .map_err(CliError::Usage)?;
    // A misspelt scope would refuse that key every private tree, quietly.
    let known: Vec<String> = sources
        .private()
        .credentials()
        .iter()
        .map(|c| c.registry())
        .collect();
    if let Some(unknown) = keys.scope_names().into_iter().find(|n| !known.contains(n)) {
        return Err(CliError::Usage(format!(
            "an API key's registries= names {unknown}, which has no registry credential (known: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }

    let public_url = args
        .public_url
        .as_deref()
        .map(check_public_url)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mode = crate::store::OpenMode::Serve {
        work_dir: args.work_dir.clone(),
    };
    let store = crate::store::open_location(&args.cache_dir, &mode)
        .map_err(|e| CliError::Failure(e.to_string()))?;
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| store.staging_dir().to_path_buf());
    // Toolchains are local files: beside a directory store, else in the work
    // dir, so that nothing but the store's own objects goes to a bucket.
    let tool_cache = match &args.cache_dir {
        crate::store::StoreLocation::Dir(dir) => dir.join("tool-cache"),
        _ => work_dir.join("tool-cache"),
    };
    let config = ServerConfig {
        work_dir,
        store,
        public_url,
        public: args.is_public,
        api_keys: keys,
        policy,
        install: InstallSettings {
            npm_registry: args.npm_registry.clone(),
            tool_cache,
            timeout: args.install_timeout,
            sources,
        },
        max_body_size: args.max_body_size as usize,
        max_concurrent_installs: args.max_concurrent_installs,
        max_queued_installs: args.max_queued_installs,
        limits: ServerLimits {
            header_timeout: args.header_timeout,
            body_timeout: args.body_timeout,
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            shutdown_timeout: args.shutdown_timeout,
            tree: TreeLimits {
                max_bytes: args.max_tree_size,
                max_entries: args.max_tree_files,
            },
            bundle_cache_bytes: args.bundle_cache_size,
        },
    };
    let addr = SocketAddr::new(default_bind(args.bind, args.is_public), args.port);
    let open_on_loopback = args.is_public && args.bind.is_none();
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::Failure(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr()?;
        if open_on_loopback {
            super::logging::say(
                "WARN",
                &format!(
                    "open (no API key), so on this machine only (serve others with \
--api-keys-file FILE, or open to the network with --bind 0.0.0.0); serving on http://{local}"
                ),
            );
        } else {
            // Tests and scripts read the URL after "serving on ", at the end.
            super::logging::say("INFO", &format!("serving on http://{local}"));
        }
        serve(listener, config, shutdown_signal())
            .await
            .map_err(|e| CliError::Failure(format!("server failed: {e}")))
    })
}

/// An open server on every interface lets anyone on the network make this
/// host run installs: it must be asked for by name with `--bind`.
fn default_bind(bind: Option<IpAddr>, is_public: bool) -> IpAddr {
    match (bind, is_public) {
        (Some(addr), _) => addr,
        (None, true) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        (None, false) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

fn split(list: &Option<String>) -> Vec<String> {
    list.as_deref().map(super::split_list).unwrap_or_default()
}

/// `--npm-scope-registry` and the credentials file. The file's errors name
/// a line, never its content.
fn private_registries(args: &ServeArgs) -> Result<PrivateRegistries, CliError> {
    let credentials = match &args.registry_credentials {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Usage(format!(
                    "cannot read registry credentials from {}: {e}",
                    path.display()
                ))
            })?;
            parse_credentials(&text, &path.display().to_string()).map_err(CliError::Usage)?
        }
    };
    let private = PrivateRegistries::new(args.npm_scope_registry.clone(), credentials)
        .map_err(CliError::Usage)?;
    match &args.registry_ca {
        None => Ok(private),
        Some(path) => Ok(private.with_ca(RegistryCa::load(path).map_err(CliError::Usage)?)),
    }
}

/// Keys from the flag (or `DEPCACHE_API_KEYS`) and the file, all accepted; only
/// the file's lines can carry `registries=` (default: every registry).
fn collect_keys(args: &ServeArgs) -> Result<ApiKeys, CliError> {
    let mut keys = ApiKeys::new(&split(&args.api_keys));
    if let Some(path) = &args.api_keys_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!("cannot read API keys from {}: {e}", path.display()))
        })?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let key = parts.next().unwrap_or_default();
            let scopes = match (parts.next(), parts.next()) {
                (None, _) => KeyScopes::All,
                (Some(list), None) if list.starts_with("registries=") => KeyScopes::Only(
                    super::split_list(&list["registries=".len()..])
                        .into_iter()
                        .collect(),
                ),
                _ => {
                    return Err(CliError::Usage(format!(
                        "{} line {}: expected `KEY` or `KEY registries=HOST[:PORT],...`",
                        path.display(),
                        number + 1
                    )));
                }
            };
            keys.add(key, scopes);
        }
    }
    Ok(keys)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
