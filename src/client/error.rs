//! The client's one error type: what went wrong on the CI side and where
//! (which file, which folder, which server), in the sentences users read. The
//! command line alone turns each variant into an exit code
//! (`cli/client_error.rs`); nothing in the client knows the numbers.

use std::io;
use std::path::PathBuf;

use super::scripts::ScriptError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The project cannot become a request: a file the manager does not
    /// read, a bad platform or version pin, a missing manifest or lockfile.
    #[error("{0}")]
    BadProject(String),
    /// A manifest or lockfile named on the command line cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadProject { path: PathBuf, source: io::Error },
    /// The project or local store folder cannot be used as given (busy,
    /// missing, not ours).
    #[error("{0}")]
    BadFolder(String),
    /// The server refused our credentials (401).
    #[error("{0}")]
    AuthRefused(String),
    /// The server refused the request (another 4xx), or the answer asks for
    /// something this client will not do.
    #[error("{0}")]
    Refused(String),
    /// The server is down or kept failing, and no local install may stand in.
    #[error("{0}")]
    Unavailable(String),
    /// What arrived or what is on disk does not match the index: a hash, a
    /// size, an unsafe path, a truncated bundle.
    #[error("{0}")]
    Verification(String),
    /// The package manager failed, on the server or in the local fallback.
    #[error("{0}")]
    Install(String),
    /// Running the tree's install scripts failed (or could not read a file).
    #[error(transparent)]
    Scripts(#[from] ScriptError),
    /// Our own disk failed while writing what the server sent; the server
    /// is not at fault, so this is never retried nor reported as its error.
    #[error("could not write the downloaded bundle: {source}")]
    WriteBundle { source: io::Error },
    /// The download's temporary file could not be made beside the target.
    #[error("could not create a download file in {}: {source}", dir.display())]
    DownloadFile { dir: PathBuf, source: io::Error },
    /// A local file operation on this path failed.
    #[error("{}: {source}", path.display())]
    Local { path: PathBuf, source: io::Error },
    /// The HTTP client could not be set up (TLS, proxy settings).
    #[error("could not build the HTTP client: {source}")]
    HttpClient { source: reqwest::Error },
    /// The server's answer is not a depcache reply at all.
    #[error("{server} answered the {asked} with something that is not a depcache reply: {reason}")]
    NotDepcache {
        server: String,
        asked: &'static str,
        reason: String,
    },
    /// A status no rule sorts (not 2xx, 4xx or 5xx).
    #[error("{server} answered an unexpected {code}")]
    UnexpectedStatus { server: String, code: u16 },
    /// The index the server sent does not parse: a server that answers
    /// garbage for the index is not trusted with the bundle either.
    #[error("the index at {url} is not valid: {reason}")]
    BadIndex { url: String, reason: String },
    /// The project folder cannot be opened to lock it.
    #[error("cannot open the project folder {}: {source}", project.display())]
    OpenProject { project: PathBuf, source: io::Error },
    /// The project folder cannot be locked against a concurrent fetch.
    #[error("cannot lock the project folder {}: {source}", project.display())]
    LockProject { project: PathBuf, source: io::Error },
    /// The restored tree could not be moved into place.
    #[error("could not move the restored tree into {}: {source}", target.display())]
    SwapIn { target: PathBuf, source: io::Error },
    /// Any other failure on this side, said in a sentence.
    #[error("{0}")]
    Failure(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}
