//! The local install that stands in when the server cannot answer: the same
//! command the server would run, in the project itself, with the user's own
//! environment (their registry settings and credentials apply here); and
//! saying why, once, before it runs.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::fetch::FetchOptions;
use super::report::{Fallback, FetchReport};
use crate::client::ClientError;
use crate::protocol::{InstallOptions, Manager, ValidRequest, YarnFlavor, yarn_flavor};

/// The program and arguments, as the server runs them (scripts off, and
/// composer's plugins too: they are package code as much as scripts are).
pub fn command_line(request: &ValidRequest) -> Vec<String> {
    let omit_dev = InstallOptions::omits_dev(request.options.as_ref());
    let mut args: Vec<&str> = match request.manager {
        Manager::Npm => {
            let has_lockfile = Manager::Npm
                .lockfiles()
                .iter()
                .any(|name| request.files.contains_key(*name));
            let verb = if has_lockfile { "ci" } else { "install" };
            vec!["npm", verb, "--ignore-scripts", "--no-audit", "--no-fund"]
        }
        // The user's own yarn with its scripts on: the job's usual install,
        // so nothing is left for `scripts::after_install`.
        Manager::Yarn if is_berry(request) => vec!["yarn", "install", "--immutable"],
        Manager::Yarn => vec!["yarn", "install", "--frozen-lockfile", "--non-interactive"],
        Manager::Composer => vec![
            "composer",
            "install",
            "--no-scripts",
            "--no-plugins",
            "--no-interaction",
            "--no-progress",
            "--prefer-dist",
        ],
        // pnpm runs what it would run in the job anyway (pnpm 10 builds
        // only the dependencies the project allows): the job's own install.
        Manager::Pnpm => vec!["pnpm", "install", "--frozen-lockfile"],
    };
    if omit_dev {
        args.push(match request.manager {
            Manager::Npm => "--omit=dev",
            Manager::Composer => "--no-dev",
            Manager::Pnpm => "--prod",
            // Berry has no production install; `load_project` refuses it.
            Manager::Yarn => "--production",
        });
    }
    args.into_iter().map(str::to_string).collect()
}

/// Without a lockfile the tree is whatever the registry resolves to on the
/// day it is installed (here or on the server), not what the project pinned:
/// said, with the fix.
pub fn no_lockfile_warning(request: &ValidRequest) -> Option<String> {
    let lockfiles = request.manager.lockfiles();
    if lockfiles
        .iter()
        .any(|name| request.files.contains_key(*name))
    {
        return None;
    }
    // The lockfile each manager writes by default: the last one it reads.
    let verb = format!("{} install", request.manager);
    let lockfile = lockfiles.last().copied().unwrap_or_default();
    Some(format!(
        "warning: no lockfile ({}), so the tree comes from `{verb}`, which resolves versions \
afresh: it is not reproducible and may differ from run to run; run `{verb}` once and commit \
{lockfile} to get exact, cacheable installs",
        lockfiles.join(" or ")
    ))
}

fn is_berry(request: &ValidRequest) -> bool {
    request
        .files
        .get("yarn.lock")
        .is_some_and(|l| yarn_flavor(l) == YarnFlavor::Berry)
}

/// Runs the install in `dir`. Its output goes to stderr so that stdout stays
/// clean for whatever the CI job pipes it into.
pub fn install_locally(request: &ValidRequest, dir: &Path) -> Result<(), ClientError> {
    unlink_symlinked_root(&dir.join(request.manager.output_dir()))?;
    let argv = command_line(request);
    let shown = argv.join(" ");
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit());
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .status()
        .map_err(|e| ClientError::Install(format!("could not start `{shown}`: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(ClientError::Install(format!(
            "the local fallback `{shown}` failed ({status})"
        )))
    }
}

/// `npm ci` empties `node_modules` through a symlink (and composer writes
/// into `vendor` through one), so a symlinked root goes first, as in a
/// restore: the link only, its target untouched.
fn unlink_symlinked_root(root: &Path) -> Result<(), ClientError> {
    if !std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(());
    }
    super::swap::warn_replacing_link(root);
    std::fs::remove_file(root).map_err(|e| {
        ClientError::Failure(format!(
            "could not remove the symlink {} before installing: {e}",
            root.display()
        ))
    })
}

/// A project the cache cannot reproduce exactly: the local install, said in
/// one sentence even with -q, or a refusal (exit 5) under --no-fallback.
pub(super) fn install_unsupported(
    options: &FetchOptions,
    request: &ValidRequest,
    reason: String,
    started: Instant,
) -> Result<FetchReport, ClientError> {
    if !options.fallback {
        return Err(ClientError::Refused(format!(
            "{reason}; --no-fallback forbids a local install"
        )));
    }
    install_locally_saying(options, request, reason, started)
}

/// Every fallback: one line saying why (even with -q: a silent fallback would
/// hide a slow, uncached build), the local install, then its scripts.
pub(super) fn install_locally_saying(
    options: &FetchOptions,
    request: &ValidRequest,
    reason: String,
    started: Instant,
) -> Result<FetchReport, ClientError> {
    let shown = command_line(request).join(" ");
    eprintln!("depcache: {reason}; installing locally with `{shown}`");
    install_locally(request, &options.project.dir)?;
    if !options.quiet {
        eprintln!(
            "installed {} locally, {}",
            request.manager.output_dir(),
            super::progress::seconds(started.elapsed())
        );
    }
    super::scripts::after_install(
        request,
        &options.project.dir,
        super::fetch::script_options(options),
    )?;
    Ok(FetchReport {
        fallback: Fallback {
            used: true,
            reason: Some(reason),
            command: Some(shown),
        },
        ..FetchReport::new(request, started)
    })
}
