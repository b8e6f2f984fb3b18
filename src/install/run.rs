//! Runs an install command: sanitized environment, its own process group so a
//! timeout kills npm and everything npm started, output to a log whose tail is
//! what the caller reports.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use super::CommandSpec;

/// How much of the log a failure carries.
const TAIL_BYTES: u64 = 4000;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}):\n{tail}")]
    Failed {
        program: String,
        status: String,
        tail: String,
    },
    #[error("{program} did not finish within {}s and was killed:\n{tail}", .after.as_secs())]
    TimedOut {
        program: String,
        after: Duration,
        tail: String,
    },
    #[error("could not prepare the install log {path}: {source}")]
    Log {
        path: String,
        source: std::io::Error,
    },
}

/// Kills the whole process group when dropped: on timeout, on success (stray
/// background children) and when the awaiting task is cancelled.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // ESRCH (already gone) is fine; a pgid that is not a valid pid
            // cannot occur (it is the child's own id).
            if let Some(pgid) = rustix::process::Pid::from_raw(pgid) {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
        }
    }
}

pub async fn run_logged(spec: CommandSpec, timeout: Duration, log: &Path) -> Result<(), RunError> {
    let log_err = |source| RunError::Log {
        path: log.display().to_string(),
        source,
    };
    let out = File::create(log).map_err(log_err)?;
    let err = out.try_clone().map_err(log_err)?;
    for dir in [".home", ".tmp"] {
        std::fs::create_dir_all(spec.cwd.join(dir)).map_err(log_err)?;
    }
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| RunError::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    let guard = GroupGuard(child.id().map(|id| id as i32));
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(RunError::Failed {
            program: spec.program,
            status: status.to_string(),
            tail: tail_of(log),
        }),
        Ok(Err(source)) => Err(RunError::Spawn {
            program: spec.program,
            source,
        }),
        Err(_) => {
            drop(guard);
            let _ = child.wait().await;
            Err(RunError::TimedOut {
                program: spec.program,
                after: timeout,
                tail: tail_of(log),
            })
        }
    }
}

/// The last few KB of the log, from a line start when possible.
pub fn tail_of(log: &Path) -> String {
    let Ok(mut file) = File::open(log) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let text = match (start > 0, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].to_string(),
        _ => text,
    };
    text.trim_end().to_string()
}
