//! Running one lifecycle command in the job: its output merged into one pipe,
//! passed on to our stderr (stdout stays clean for whatever the job pipes it
//! into) unless quiet, and the last lines kept for the error when it fails.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::ScriptError;

/// Lines of output kept for the error message.
const TAIL_LINES: usize = 40;

/// After the command exits, how long its output may still take to drain. A
/// script that leaves a background process holding the pipe must not hang
/// the fetch: npm itself waits only for the script's exit.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Runs `command` (program, arguments, folder and environment already set)
/// to its end. `what` names it in errors (`npm rebuild`); `show` passes the
/// output on as it comes.
pub fn run(mut command: Command, what: &str, show: bool) -> Result<(), ScriptError> {
    let (reader, writer) = std::io::pipe().map_err(|source| ScriptError::Spawn {
        what: what.to_string(),
        source,
    })?;
    let second = writer.try_clone().map_err(|source| ScriptError::Spawn {
        what: what.to_string(),
        source,
    })?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(second));
    let mut child = command.spawn().map_err(|source| ScriptError::Spawn {
        what: what.to_string(),
        source,
    })?;
    // The parent's copies of the write end must go, or the pipe never ends.
    drop(command);

    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let kept = tail.clone();
    std::thread::spawn(move || {
        let mut err = std::io::stderr();
        for line in BufReader::new(reader).split(b'\n') {
            let Ok(line) = line else { break };
            if show {
                let _ = err.write_all(&line);
                let _ = err.write_all(b"\n");
            }
            let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
            if kept.len() == TAIL_LINES {
                kept.pop_front();
            }
            kept.push_back(String::from_utf8_lossy(&line).into_owned());
        }
        let _ = done_tx.send(());
    });
    let status = child.wait().map_err(|source| ScriptError::Spawn {
        what: what.to_string(),
        source,
    })?;
    let _ = done_rx.recv_timeout(DRAIN_GRACE);
    if status.success() {
        return Ok(());
    }
    let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
    Err(ScriptError::Failed {
        what: what.to_string(),
        status,
        tail: tail.iter().cloned().collect::<Vec<_>>().join("\n"),
    })
}
