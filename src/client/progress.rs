//! What the user sees on stderr: progress bars while it runs (only on a
//! terminal), lines while the server installs a miss, and one summary line at
//! the end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bars are drawn only on a terminal: CI logs would fill with redraws.
fn target(quiet: bool) -> ProgressDrawTarget {
    if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

pub fn download_bar(quiet: bool, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target(quiet));
    bar.set_style(
        ProgressStyle::with_template(
            "downloading {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .expect("valid template"),
    );
    bar
}

pub fn extract_bar(quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), target(quiet));
    bar.set_style(
        ProgressStyle::with_template("extracting  {bar:30} {human_pos}/{human_len} files")
            .expect("valid template"),
    );
    bar
}

/// How often a log without a terminal hears that the miss is still being
/// installed: often enough that nobody cancels a job that looks hung.
pub const WAITING_EVERY: Duration = Duration::from_secs(15);
/// Answers quicker than this (a refusal, a hit raced in) are not announced.
const WAITING_GRACE: Duration = Duration::from_secs(2);

/// Awaits `answer` (one POST, during which the server installs a miss) and,
/// unless quiet, shows that it is waiting once it takes longer than
/// [`WAITING_GRACE`]: a spinner with the elapsed time on a terminal, else a
/// line then and one every [`WAITING_EVERY`] of the wait.
pub async fn while_installing<F: Future>(quiet: bool, manager: &str, answer: F) -> F::Output {
    if quiet {
        return answer.await;
    }
    let started = Instant::now();
    let mut answer = std::pin::pin!(answer);
    tokio::select! {
        out = &mut answer => return out,
        () = tokio::time::sleep(WAITING_GRACE) => {}
    }
    let what = format!("server is installing {manager} dependencies (miss)");
    if std::io::stderr().is_terminal() {
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_elapsed(started.elapsed());
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg}, {elapsed}").expect("valid template"),
        );
        spinner.set_message(what);
        spinner.enable_steady_tick(Duration::from_millis(120));
        let out = answer.await;
        spinner.finish_and_clear();
        return out;
    }
    eprintln!("depcache: {what} ...");
    let first = tokio::time::Instant::from_std(started) + WAITING_EVERY;
    let mut ticks = tokio::time::interval_at(first, WAITING_EVERY);
    loop {
        tokio::select! {
            out = &mut answer => return out,
            _ = ticks.tick() => eprintln!(
                "depcache: {what}, {} s ...",
                started.elapsed().as_secs()
            ),
        }
    }
}

/// `3.2 s`
pub fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary lines print counts through indicatif's `HumanCount`;
    /// scripts read them, so a change in its format must show here.
    #[test]
    fn units() {
        use indicatif::HumanCount;
        assert_eq!(HumanCount(16248).to_string(), "16,248");
        assert_eq!(HumanCount(999).to_string(), "999");
        assert_eq!(HumanCount(1_000_000).to_string(), "1,000,000");
        assert_eq!(seconds(Duration::from_millis(3200)), "3.2 s");
    }
}
