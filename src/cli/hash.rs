//! `depcache hash`: prints the key `fetch` would send, to debug misses.

use std::path::PathBuf;

use clap::Args;

use crate::client::{ProjectSpec, load_project};
use crate::error::CliError;
use crate::protocol::Manager;

#[derive(Debug, Args)]
pub struct HashArgs {
    /// npm, composer, pnpm or yarn.
    pub manager: Manager,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Also print what went into the key.
    #[arg(long)]
    pub explain: bool,
    /// Print one JSON document instead: the key and what went into it
    /// (schema in docs/client.md).
    #[arg(long)]
    pub json: bool,
}

/// The project options `hash` and `fetch` share.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// Project root (default: the current folder).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Comma-separated manifest/lockfile names (default: manifest + the lockfile present).
    #[arg(long)]
    pub files: Option<String>,
    /// npm: the node version the key is for (default: the one on PATH).
    #[arg(long, value_name = "VERSION")]
    pub node_version: Option<String>,
    /// npm: the npm version the key is for (default: the one on PATH).
    #[arg(long, value_name = "VERSION")]
    pub npm_version: Option<String>,
    /// composer: the php version the key is for (default: the one on PATH).
    #[arg(long, value_name = "VERSION")]
    pub php_version: Option<String>,
    /// composer: the composer version the key is for (default: the one on PATH).
    #[arg(long, value_name = "VERSION")]
    pub composer_version: Option<String>,
    /// pnpm: the pnpm version the key is for (default: the manifest's
    /// packageManager, else the one on PATH).
    #[arg(long, value_name = "VERSION")]
    pub pnpm_version: Option<String>,
    /// yarn: the yarn version the key is for (default: package.json's
    /// packageManager, else the one on PATH).
    #[arg(long, value_name = "VERSION")]
    pub yarn_version: Option<String>,
    /// os-arch-libc, e.g. linux-x64-glibc (default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Leave devDependencies out (npm --omit=dev, composer --no-dev).
    #[arg(long, alias = "no-dev")]
    pub omit_dev: bool,
    /// npm: ask for the tree the server built with its install scripts, in
    /// its container sandbox (a server started with --build-scripts
    /// container); nothing runs here afterwards. See docs/scripts.md.
    #[arg(
        long,
        env = "DEPCACHE_SERVER_SCRIPTS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub server_scripts: bool,
}

impl ProjectArgs {
    pub fn spec(&self, manager: Manager) -> ProjectSpec {
        let versions = [
            ("node", &self.node_version),
            ("npm", &self.npm_version),
            ("php", &self.php_version),
            ("composer", &self.composer_version),
            ("pnpm", &self.pnpm_version),
            ("yarn", &self.yarn_version),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| (name.to_string(), v.clone())))
        .collect();
        ProjectSpec {
            manager,
            dir: self.dir.clone(),
            files: self.files.as_deref().map(super::split_list),
            versions,
            platform: self.platform.clone(),
            omit_dev: self.omit_dev,
            build_scripts: self.server_scripts,
        }
    }
}

pub fn run(args: HashArgs) -> Result<(), CliError> {
    let request = load_project(&args.project.spec(args.manager))?;
    let dropped = crate::client::config_not_in_key(request.manager, &args.project.dir);
    if args.json {
        let files: Vec<_> = request
            .files
            .iter()
            .map(|(name, bytes)| serde_json::json!({"name": name, "bytes": bytes.len()}))
            .collect();
        let options: serde_json::Map<String, serde_json::Value> = request
            .options
            .as_ref()
            .map(|o| o.canonical_pairs())
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_string().into()))
            .collect();
        let document = serde_json::json!({
            "format": 1,
            "key": request.hash,
            "manager": request.manager.name(),
            "versions": request.versions,
            "platform": request.platform,
            "options": options,
            "files": files,
            "dropped": dropped,
            "private_scopes": request.private_scopes,
        });
        println!("{document}");
        return Ok(());
    }
    if args.explain {
        println!("manager  {}", request.manager);
        for (name, value) in &request.versions {
            println!("version  {name}={value}");
        }
        if let Some(p) = &request.platform {
            println!("platform {p}");
        }
        if let Some(o) = &request.options {
            for (name, value) in o.canonical_pairs() {
                println!("option   {name}={value}");
            }
        }
        for (name, bytes) in &request.files {
            println!("file     {name} ({} bytes)", bytes.len());
        }
        for line in &dropped {
            println!("dropped  {line}");
        }
        for scope in &request.private_scopes {
            println!("scope    {scope} (from the job's own registry; sent, not in the key)");
        }
    }
    println!("{}", request.hash);
    Ok(())
}
