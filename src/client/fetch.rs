//! `depcache fetch` from start to end: load the project, ask the server, fetch
//! the index and the bundle (or, with a local store, only the contents the
//! store lacks), restore; or, when the server cannot help, run the install
//! locally. Decides which failures fall back and which end the run, and asks
//! once more when the key vanished between the answer and the download.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::extract;
use super::fallback;
use super::http::{Http, HttpSettings, ServerError};
use super::linked;
use super::local_store::prune::BackgroundPrune;
use super::local_store::{LocalStore, StoreLock};
use super::partial;
use super::progress;
use super::report::{FetchReport, summary, with_store};
use super::scripts::{self, ScriptOptions};
use super::swap;
use super::{ProjectSpec, load_project};
use crate::client::ClientError;
use crate::install::pnpm;
use crate::protocol::{
    CacheResponse, Index, InstallOptions, Manager, PNP_ROOT, ValidRequest, output_root,
    workspace_folders,
};

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub project: ProjectSpec,
    pub http: HttpSettings,
    /// Run the local install when the server is down.
    pub fallback: bool,
    /// No progress bars, no summary line.
    pub quiet: bool,
    /// Keep verified contents here and hard-link trees to them.
    pub local_store: Option<PathBuf>,
    /// Restore from scratch even when the folder already holds the key.
    pub force: bool,
    /// `--ignore-scripts`: run no lifecycle work after the tree is in place.
    pub ignore_scripts: bool,
    /// After the restore, prune the local store down to this many bytes.
    pub local_store_max_size: Option<u64>,
    /// No server was configured (unset or empty `--server`): why, said when
    /// installing locally instead. `http` is not used then.
    pub no_server: Option<String>,
}

/// Where the restored files come from.
enum Source {
    /// A whole bundle on disk.
    Bundle(tempfile::NamedTempFile),
    /// The local store, which now holds every content of the index.
    Store,
}

/// What the server sent, ready to restore.
struct Downloaded {
    response: CacheResponse,
    index: Index,
    source: Source,
    /// Files whose content the local store held before this run.
    from_store: u64,
    /// Bundle bytes downloaded (whole or in ranges).
    downloaded: u64,
}

pub fn fetch(options: FetchOptions) -> Result<FetchReport, ClientError> {
    let started = Instant::now();
    let request = load_project(&options.project)?;
    // Even with -q: like a fallback, a tree nobody pinned must not go unsaid.
    if let Some(warning) = fallback::no_lockfile_warning(&request) {
        eprintln!("depcache: {warning}");
    }
    let dir = &options.project.dir;
    let root = output_root(request.manager, &request.files);
    let pnp = root == PNP_ROOT;
    // Held until this run ends: a second fetch in the same project waits
    // instead of sweeping this run's temp folders away as leftovers.
    let _project_lock = swap::lock_project(dir)?;
    swap::clean_leftovers(dir, root);
    let mut swept = workspace_folders(&request.files);
    if pnp {
        // Plug'n'Play stages its `.yarn` trees and files in `.yarn`.
        swept.push(".yarn".to_string());
    }
    for workspace in swept {
        // Only in a real folder: a symlink would lead the sweep elsewhere.
        let folder = dir.join(workspace);
        if std::fs::symlink_metadata(&folder).is_ok_and(|m| m.file_type().is_dir()) {
            swap::clean_leftovers(&folder, root);
        }
    }
    // Before asking: a shape the server would refuse (or, if older, cache
    // wrongly) is installed here straight away.
    if let Some(reason) = super::project::refused_before_asking(&request, dir) {
        return fallback::install_unsupported(&options, &request, reason, started);
    }
    // A fork's pull request gets an empty DEPCACHE_SERVER when secrets are
    // withheld: the job must still get its dependencies. Before the no-op
    // check, which may ask the server to repair a tree.
    if let Some(reason) = &options.no_server {
        super::stat_manifest::forget(&dir.join(request.manager.output_dir()));
        return fallback::install_unsupported(&options, &request, reason.clone(), started);
    }
    // Plug'n'Play outputs have no stat manifest (it describes one folder):
    // every fetch restores them.
    if !pnp && super::noop::up_to_date(&options, &request, started)? {
        return Ok(FetchReport {
            up_to_date: true,
            ..FetchReport::new(&request, started)
        });
    }
    tracing::info!(key = %request.hash, server = %options.http.server, "cache request");

    let store = match &options.local_store {
        Some(_) if pnp => {
            eprintln!(
                "depcache: --local-store is not used for Yarn Plug'n'Play projects (yarn rewrites \
.pnp.cjs and .yarn/install-state.gz in place, which would change the store's shared copies); \
restoring from the bundle"
            );
            None
        }
        Some(path) => Some(LocalStore::open(path)?),
        None => None,
    };
    // Shared until the tree is linked and the store filled: no prune or
    // verify removes a content this run counted on.
    let mut store_lock = store.as_ref().map(LocalStore::lock_shared).transpose()?;
    let http = Http::new(options.http.clone())?;
    // One thread is plenty for three sequential requests.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Failure(format!("could not start the async runtime: {e}")))?;
    let downloaded = runtime.block_on(download(
        &http,
        &request,
        dir,
        store.as_ref(),
        options.quiet,
    ));
    drop(runtime);
    if downloaded.is_err() {
        store_lock = None;
    }
    match downloaded {
        Ok(d) => finish(&options, &request, d, store, store_lock, started),
        Err(ServerError::Fatal(e)) => Err(e),
        Err(ServerError::Uncacheable(reason)) => fallback::install_unsupported(
            &options,
            &request,
            format!(
                "the depcache server {} cannot cache this project ({reason})",
                http.server()
            ),
            started,
        ),
        Err(ServerError::Down(reason) | ServerError::Gone(reason)) if !options.fallback => {
            Err(ClientError::Unavailable(format!(
                "the depcache server {} is unavailable ({reason}) and --no-fallback forbids a local install",
                http.server()
            )))
        }
        Err(ServerError::Down(reason) | ServerError::Gone(reason)) => {
            fallback::install_locally_saying(
                &options,
                &request,
                format!(
                    "the depcache server {} is unavailable ({reason})",
                    http.server()
                ),
                started,
            )
        }
    }
}

/// After the download: restore the tree, fill the local store, finish what
/// the manager would (pnpm's paths, scripts), record the no-op manifest.
fn finish(
    options: &FetchOptions,
    request: &ValidRequest,
    d: Downloaded,
    store: Option<LocalStore>,
    store_lock: Option<StoreLock>,
    started: Instant,
) -> Result<FetchReport, ClientError> {
    let dir = &options.project.dir;
    let root = output_root(request.manager, &request.files);
    let pnp = root == PNP_ROOT;
    let t = Instant::now();
    let bar = progress::extract_bar(options.quiet);
    let result = match (&d.source, &store) {
        (Source::Store, Some(store)) => linked::restore(store, &d.index, dir, root, &bar),
        (Source::Bundle(bundle), _) => extract::restore(bundle.path(), &d.index, dir, root, &bar),
        (Source::Store, None) => unreachable!("only a local store yields Source::Store"),
    };
    bar.finish_and_clear();
    let restored = result?;
    let (files, bytes) = (restored.files, restored.bytes);
    tracing::info!(elapsed = ?t.elapsed(), "restored and swapped in");
    if let (Source::Bundle(_), Some(store)) = (&d.source, &store) {
        let t = Instant::now();
        linked::fill(store, &d.index, dir);
        tracing::info!(elapsed = ?t.elapsed(), "local store filled");
    }
    // After the local store is filled: it keeps the contents the index
    // names (with placeholders); the job's files become new ones.
    if request.manager == Manager::Pnpm {
        let version = request.versions.get("pnpm").map_or("", String::as_str);
        let store = pnpm::client_store_path(dir, version);
        let workspaces = workspace_folders(&request.files);
        let registries = crate::install::pnpm_registries::client_registries(dir);
        pnpm::adopt_restored(dir, &store, &workspaces, registries.as_deref()).map_err(|e| {
            ClientError::Failure(format!("could not finish the restored pnpm tree: {e}"))
        })?;
    }
    let restored_stats = if pnp {
        None
    } else {
        super::noop::after_restore(dir, root)
    };
    drop(store_lock);
    // After the restore, so it neither slows it nor misses what this
    // run added; the summary is printed while it runs.
    let budget = match (&options.local_store, options.local_store_max_size) {
        (Some(path), Some(max)) => Some(BackgroundPrune::start(path.clone(), max)),
        _ => None,
    };
    if !options.quiet {
        let shown = if pnp { ".pnp.cjs and .yarn" } else { root };
        let line = summary(shown, restored, &d.response, started);
        eprintln!(
            "{}",
            match store {
                Some(_) => with_store(line, d.from_store, d.downloaded),
                None => line,
            }
        );
    }
    // Scripts may run while the budget's prune goes on: they write
    // only into private copies, never into store objects.
    // Both: the key says the client asked, the index that the server
    // did it. A server that ignored the option leaves the work here.
    let built = InstallOptions::builds_scripts(request.options.as_ref())
        && InstallOptions::builds_scripts(d.index.options.as_ref());
    let scripts = scripts::after_install(
        request,
        dir,
        ScriptOptions {
            built,
            ..script_options(options)
        },
    );
    if let Some(budget) = budget {
        budget.finish();
    }
    // Last, and only for a finished run: the manifest must describe
    // the tree as this run leaves it.
    if scripts.is_ok() && !pnp {
        super::noop::record(options, root, &request.hash, &d.index, restored_stats);
    }
    scripts.map(|()| FetchReport {
        cache_hit: Some(d.response.cache_hit),
        files: Some(files),
        bytes: Some(bytes),
        ..FetchReport::new(request, started)
    })
}

pub(super) fn script_options(options: &FetchOptions) -> ScriptOptions {
    ScriptOptions {
        ignore: options.ignore_scripts,
        quiet: options.quiet,
        built: false,
    }
}

/// POST, index, then the bundle or the contents the local store lacks:
/// everything that needs the server. When the key vanishes before the
/// download is done (gc on the server), asks once more, which re-installs it.
async fn download(
    http: &Http,
    request: &ValidRequest,
    dir: &Path,
    store: Option<&LocalStore>,
    quiet: bool,
) -> Result<Downloaded, ServerError> {
    let mut asked_again = false;
    loop {
        let t = Instant::now();
        // Asking again (the key vanished) must POST: only that re-installs.
        let response = http.ask_cache(request, !asked_again).await?;
        tracing::info!(
            hit = response.cache_hit,
            elapsed = ?t.elapsed(),
            url = %response.download_url,
            "server answered"
        );
        if !response.key.is_empty() && response.key != request.hash.to_string() {
            return Err(fatal_verify(format!(
                "the server answered for key {} but was asked for {}",
                response.key, request.hash
            )));
        }
        let limit = http.download_timeout();
        // Dropping the unfinished download removes its temp files.
        let fetched = tokio::time::timeout(
            limit,
            fetch_answer(http, request, response, dir, store, quiet),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ServerError::Down(format!(
                "the download did not finish within {} (--download-timeout)",
                progress::seconds(limit)
            )))
        });
        match fetched {
            Err(ServerError::Gone(reason)) if !asked_again => {
                tracing::info!("{reason}; asking the server again");
                asked_again = true;
            }
            Err(ServerError::Gone(reason)) => {
                return Err(ServerError::Down(format!("{reason}, twice")));
            }
            other => return other,
        }
    }
}

/// The index and the tree of one cache answer.
async fn fetch_answer(
    http: &Http,
    request: &ValidRequest,
    response: CacheResponse,
    dir: &Path,
    store: Option<&LocalStore>,
    quiet: bool,
) -> Result<Downloaded, ServerError> {
    let index_url = if response.index_url.is_empty() {
        format!("{}/v1/index/{}", http.server(), request.hash)
    } else {
        response.index_url.clone()
    };
    let t = Instant::now();
    let index = http.get_index(&index_url).await?;
    tracing::info!(entries = index.entries.len(), elapsed = ?t.elapsed(), url = %index_url, "index");
    if index.key != request.hash || index.manager != request.manager.name() {
        return Err(fatal_verify(format!(
            "the server sent the index of {} {}, not of {} {}",
            index.manager, index.key, request.manager, request.hash
        )));
    }

    // Workspace links may point only at the folders this request sent.
    if index.workspaces != workspace_folders(&request.files) {
        return Err(fatal_verify(format!(
            "the index names the workspace folders {:?}, but this project sent {:?}",
            index.workspaces,
            workspace_folders(&request.files)
        )));
    }
    let root = output_root(request.manager, &request.files);
    if let Some(store) = store
        && let Some(d) = from_store(http, store, &response, &index, dir, root, quiet).await?
    {
        return Ok(d);
    }

    // Next to the target folder: same file system as the staging tree, and
    // never the whole bundle in memory.
    let mut bundle = tempfile::Builder::new()
        .prefix(&swap::download_prefix(root))
        .suffix(".zip")
        .tempfile_in(dir)
        .map_err(|source| {
            ServerError::Fatal(ClientError::DownloadFile {
                dir: dir.to_path_buf(),
                source,
            })
        })?;
    let t = Instant::now();
    let bar = progress::download_bar(quiet, response.bundle_size);
    let result = http
        .download(
            &response.download_url,
            response.bundle_size,
            bundle.as_file_mut(),
            &bar,
        )
        .await;
    bar.finish_and_clear();
    let bytes = result?;
    tracing::info!(bytes, elapsed = ?t.elapsed(), url = %response.download_url, "bundle downloaded");
    if response.bundle_size != 0 && bytes != response.bundle_size {
        return Err(fatal_verify(format!(
            "the bundle has {bytes} bytes, the server announced {}",
            response.bundle_size
        )));
    }
    Ok(Downloaded {
        response,
        index,
        source: Source::Bundle(bundle),
        from_store: 0,
        downloaded: bytes,
    })
}

/// With a local store: nothing to download when it holds every content, else
/// just the missing ones by `Range`. `None` when the whole bundle is needed
/// after all (too much missing, a layout that differs, `Range` ignored).
async fn from_store(
    http: &Http,
    store: &LocalStore,
    response: &CacheResponse,
    index: &Index,
    dir: &Path,
    root: &str,
    quiet: bool,
) -> Result<Option<Downloaded>, ServerError> {
    let t = Instant::now();
    let missing = partial::missing(store, index);
    let wanted: std::collections::HashSet<(&crate::protocol::Sha256, u32)> = missing
        .iter()
        .map(|f| (&f.sha256, f.mode & 0o777))
        .collect();
    let from_store = index
        .files()
        .filter(|f| !wanted.contains(&(&f.sha256, f.mode & 0o777)))
        .count() as u64;
    tracing::info!(missing = missing.len(), elapsed = ?t.elapsed(), "local store checked");
    let done = |downloaded| {
        Some(Downloaded {
            response: response.clone(),
            index: index.clone(),
            source: Source::Store,
            from_store,
            downloaded,
        })
    };
    if missing.is_empty() {
        return Ok(done(0));
    }
    if from_store == 0 {
        // Ranges would save only headers: one streamed request is simpler,
        // and the store is then filled from the extracted tree.
        tracing::info!("the local store holds none of these contents");
        return Ok(None);
    }
    let plan = match partial::plan(index, response.bundle_size, &missing) {
        Ok(plan) => plan,
        Err(reason) => {
            tracing::info!("downloading the whole bundle: {reason}");
            return Ok(None);
        }
    };
    let t = Instant::now();
    let bar = progress::download_bar(quiet, plan.bytes());
    let result = partial::download(http, &response.download_url, &plan, dir, root, &bar).await;
    bar.finish_and_clear();
    let Some(ranges) = result? else {
        tracing::info!("the server ignored Range; downloading the whole bundle");
        return Ok(None);
    };
    tracing::info!(
        bytes = plan.bytes(),
        requests = plan.requests.len(),
        elapsed = ?t.elapsed(),
        "missing contents downloaded"
    );
    partial::store_all(store, &plan, &ranges).map_err(ServerError::Fatal)?;
    Ok(done(plan.bytes()))
}

fn fatal_verify(message: String) -> ServerError {
    ServerError::Fatal(ClientError::Verification(message))
}
