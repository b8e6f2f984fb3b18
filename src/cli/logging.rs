//! Where and how logs are written: stderr, as text (coloured only on a
//! terminal without `NO_COLOR`) or as one JSON object per line
//! (`--log-format json`) for log pipelines; and the few lines depcache says
//! outside tracing (the server's start-up line, a fatal error) in the same
//! format.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message, target, fields.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Logs go to stderr; `-v` picks the level unless `RUST_LOG` says otherwise.
pub fn init(format: LogFormat, verbose: u8, quiet: bool, quiet_by_default: bool) {
    let _ = FORMAT.set(format);
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if quiet_by_default => "warn",
        (false, 0) => "warn,depcache=info",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // Escape codes in a file or the journal are noise; NO_COLOR is the
        // user's word that they are noise on a terminal too.
        LogFormat::Text => builder.with_ansi(colours()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .try_init(),
    };
}

fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A line said whatever the log level (the URL a server serves on, the
/// error that ends a command): `depcache: ...` as text, or a JSON object
/// shaped like the log's own lines.
pub fn say(level: &str, message: &str) {
    match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Text => eprintln!("depcache: {message}"),
        LogFormat::Json => {
            let mut timestamp = String::new();
            let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
            // In the order of tracing's own JSON lines.
            let quote = |text: &str| serde_json::Value::from(text).to_string();
            let line = format!(
                "{{\"timestamp\":{},\"level\":{},\"message\":{},\"target\":\"depcache\"}}",
                quote(&timestamp),
                quote(level),
                quote(message)
            );
            eprintln!("{line}");
        }
    }
}
