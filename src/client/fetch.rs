//! `depcache fetch` from start to end: load the project, ask the server, fetch
//! the index and the bundle, restore; or, when the server cannot help, run the
//! install locally. Decides which failures fall back and which end the run.

use std::path::Path;
use std::time::Instant;

use super::extract::{self, Restored};
use super::fallback;
use super::http::{Http, HttpSettings, ServerError};
use super::progress;
use super::swap;
use super::{ProjectSpec, load_project};
use crate::error::CliError;
use crate::protocol::{CacheResponse, Index, ValidRequest};

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub project: ProjectSpec,
    pub http: HttpSettings,
    /// Run the local install when the server is down.
    pub fallback: bool,
    /// No progress bars, no summary line.
    pub quiet: bool,
}

/// A bundle on disk with the index it must match.
struct Downloaded {
    response: CacheResponse,
    index: Index,
    bundle: tempfile::NamedTempFile,
}

pub fn fetch(options: FetchOptions) -> Result<(), CliError> {
    let started = Instant::now();
    let request = load_project(&options.project)?;
    let dir = &options.project.dir;
    let root = request.manager.output_dir();
    swap::clean_leftovers(dir, root);
    tracing::info!(key = %request.hash, server = %options.http.server, "cache request");

    let http = Http::new(options.http.clone())?;
    // One thread is plenty for three sequential requests.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failure(format!("could not start the async runtime: {e}")))?;
    let downloaded = runtime.block_on(download(&http, &request, dir, options.quiet));
    drop(runtime);
    match downloaded {
        Ok(d) => {
            let t = Instant::now();
            let bar = progress::extract_bar(options.quiet);
            let result = extract::restore(d.bundle.path(), &d.index, dir, root, &bar);
            bar.finish_and_clear();
            let restored = result?;
            tracing::info!(elapsed = ?t.elapsed(), "extracted and swapped in");
            if !options.quiet {
                eprintln!("{}", summary(root, restored, &d.response, started));
            }
            Ok(())
        }
        Err(ServerError::Fatal(e)) => Err(e),
        Err(ServerError::Down(reason)) if !options.fallback => Err(CliError::Unreachable(format!(
            "the depcache server {} is unavailable ({reason}) and --no-fallback forbids a local install",
            http.server()
        ))),
        Err(ServerError::Down(reason)) => {
            let shown = fallback::command_line(&request).join(" ");
            // Said even with -q: a silent fallback would hide a slow, uncached build.
            eprintln!(
                "depcache: the depcache server {} is unavailable ({reason}); installing locally with `{shown}`",
                http.server()
            );
            fallback::install_locally(&request, dir)?;
            if !options.quiet {
                eprintln!(
                    "installed {root} locally, {}",
                    progress::seconds(started.elapsed())
                );
            }
            Ok(())
        }
    }
}

/// POST, index, bundle: everything that needs the server.
async fn download(
    http: &Http,
    request: &ValidRequest,
    dir: &Path,
    quiet: bool,
) -> Result<Downloaded, ServerError> {
    let t = Instant::now();
    let response = http.post_cache(&request.to_wire()).await?;
    tracing::info!(
        hit = response.cache_hit,
        elapsed = ?t.elapsed(),
        url = %response.download_url,
        "server answered"
    );
    if !response.key.is_empty() && response.key != request.hash {
        return Err(fatal_verify(format!(
            "the server answered for key {} but was asked for {}",
            response.key, request.hash
        )));
    }
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

    // Next to the target folder: same file system as the staging tree, and
    // never the whole bundle in memory.
    let root = request.manager.output_dir();
    let mut bundle = tempfile::Builder::new()
        .prefix(&swap::download_prefix(root))
        .suffix(".zip")
        .tempfile_in(dir)
        .map_err(|e| {
            ServerError::Fatal(CliError::Failure(format!(
                "could not create a download file in {}: {e}",
                dir.display()
            )))
        })?;
    let t = Instant::now();
    let bar = progress::download_bar(quiet, response.bundle_size);
    let result = http
        .download(&response.download_url, bundle.as_file_mut(), &bar)
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
        bundle,
    })
}

fn fatal_verify(message: String) -> ServerError {
    ServerError::Fatal(CliError::Verify(message))
}

/// `restored node_modules: 16,248 files, 118 MiB, cache hit, 3.2 s`
fn summary(root: &str, restored: Restored, response: &CacheResponse, started: Instant) -> String {
    format!(
        "restored {root}: {} files, {}, {}, {}",
        progress::thousands(restored.files),
        crate::units::human_bytes(restored.bytes),
        if response.cache_hit {
            "cache hit"
        } else {
            "cache miss"
        },
        progress::seconds(started.elapsed())
    )
}
