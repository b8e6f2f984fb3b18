//! `depcache serve --config FILE` (or `DEPCACHE_CONFIG`): a TOML file whose
//! keys are serve's long flag names. Each key becomes the flag it names,
//! unless that flag was given on the command line or through its variable,
//! and the arguments are parsed again: flags > environment > file >
//! defaults, with every value checked by the flag's own parser.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Why a config file cannot be used; each names the file, and the key when
/// one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not TOML (line {line}): {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "the config file {path} has the unknown key `{key}` (keys are serve's long flag names, \
e.g. max-tree-files; see `depcache serve --help`)"
    )]
    UnknownKey { path: PathBuf, key: String },
    #[error("the config file {path} cannot set `{key}`; pass it as a flag")]
    NotSettable { path: PathBuf, key: String },
    #[error("in the config file {path}, `{key}` must be {expected}, not a TOML {found}")]
    WrongType {
        path: PathBuf,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("in the config file {path}, `{key}` = {value:?} is not valid: {message}")]
    BadValue {
        path: PathBuf,
        key: String,
        value: String,
        message: String,
    },
}

/// `argv` with the file's settings added after the `serve` token, for the
/// keys the command line and the environment left unset.
pub fn apply(
    path: &Path,
    root: &Command,
    matches: &ArgMatches,
    mut argv: Vec<OsString>,
) -> Result<Vec<OsString>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e
                .span()
                .map_or(0, |s| text[..s.start].matches('\n').count() + 1),
            message: e.message().to_string(),
        })?;
    let serve = root
        .find_subcommand("serve")
        .expect("serve is a subcommand");
    let mut extra: Vec<OsString> = Vec::new();
    for (key, value) in &table {
        let arg = find(root, serve, key).ok_or_else(|| ConfigError::UnknownKey {
            path: path.to_path_buf(),
            key: key.clone(),
        })?;
        if matches!(key.as_str(), "config" | "help" | "version") {
            return Err(ConfigError::NotSettable {
                path: path.to_path_buf(),
                key: key.clone(),
            });
        }
        let values = values_of(path, key, arg, value)?;
        for v in &values {
            check(path, key, serve, arg, v)?;
        }
        let source = matches.value_source(arg.get_id().as_str());
        if matches!(
            source,
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        match arg.get_long() {
            None => extra.extend(values.into_iter().map(OsString::from)),
            Some(long) if matches!(arg.get_action(), ArgAction::SetTrue) => {
                if values.iter().any(|v| v == "true") {
                    extra.push(format!("--{long}").into());
                }
            }
            Some(long) => extra.extend(values.iter().map(|v| format!("--{long}={v}").into())),
        }
    }
    let at = argv
        .iter()
        .skip(1)
        .position(|a| a == OsStr::new("serve"))
        .map_or(argv.len(), |i| i + 2);
    argv.splice(at..at, extra);
    Ok(argv)
}

/// By long name, or the positional `port` by its name; of the global
/// flags only `log-format` (a server's log goes where its settings are).
fn find<'a>(root: &'a Command, serve: &'a Command, key: &str) -> Option<&'a Arg> {
    serve
        .get_arguments()
        .find(|a| match a.get_long() {
            Some(long) => long == key,
            None => a.is_positional() && a.get_id().as_str() == key,
        })
        .or_else(|| {
            (key == "log-format")
                .then(|| root.get_arguments().find(|a| a.get_long() == Some(key)))
                .flatten()
        })
}

/// The TOML value as the flag's text values: a switch takes a boolean, a
/// repeatable flag a list (or one value), any other a string or number.
fn values_of(
    path: &Path,
    key: &str,
    arg: &Arg,
    value: &toml::Value,
) -> Result<Vec<String>, ConfigError> {
    let wrong = |expected| ConfigError::WrongType {
        path: path.to_path_buf(),
        key: key.to_string(),
        expected,
        found: value.type_str(),
    };
    match arg.get_action() {
        ArgAction::SetTrue => match value {
            toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
            _ => Err(wrong("true or false")),
        },
        ArgAction::Append => match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| scalar(item).ok_or_else(|| wrong("a list of strings")))
                .collect(),
            other => scalar(other)
                .map(|v| vec![v])
                .ok_or_else(|| wrong("a list of strings")),
        },
        _ => scalar(value)
            .map(|v| vec![v])
            .ok_or_else(|| wrong("a string or a number")),
    }
}

fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Through the flag's own parser, so a bad value names the file and key
/// rather than a flag the user never typed.
fn check(
    path: &Path,
    key: &str,
    serve: &Command,
    arg: &Arg,
    value: &str,
) -> Result<(), ConfigError> {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return Ok(());
    }
    // Alone in a command of its own: the same parser and possible values,
    // without the other flags' environment or conflicts.
    let given = match arg.get_long() {
        Some(long) => format!("--{long}={value}"),
        None => value.to_string(),
    };
    let alone = Command::new(serve.get_name().to_string())
        .no_binary_name(true)
        .arg(arg.clone().required(false));
    match alone.try_get_matches_from([given]) {
        Ok(_) => Ok(()),
        Err(e) => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first);
            // clap's sentence quotes the value and the flag; keep its reason.
            let mut reason = message
                .rsplit_once("': ")
                .map_or(message, |(_, r)| r)
                .to_string();
            if let Some(possible) = rendered.lines().find(|l| l.contains("[possible values:")) {
                reason.push(' ');
                reason.push_str(possible.trim());
            }
            Err(bad(path, key, value, reason))
        }
    }
}

fn bad(path: &Path, key: &str, value: &str, message: String) -> ConfigError {
    ConfigError::BadValue {
        path: path.to_path_buf(),
        key: key.to_string(),
        value: value.to_string(),
        message,
    }
}
