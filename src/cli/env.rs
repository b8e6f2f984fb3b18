//! The `DEPCACHE_*` environment variable of every `serve`, `fetch` and `hash`
//! option, derived from the long flag name (`--max-tree-files` is
//! `DEPCACHE_MAX_TREE_FILES`) when the command is built, so that a new flag
//! cannot be added without one and the names cannot drift from the flags.

use clap::{ArgAction, Command, CommandFactory};

use super::Cli;

/// The subcommands whose every option is also a variable: the ones operators
/// and CI jobs configure rather than type.
pub const WITH_ENV: &[&str] = &["serve", "fetch", "hash"];

/// Options whose values are secrets: `--help` names the variable but never
/// shows its value.
const SECRET: &[&str] = &["api-key", "api-keys"];

/// The variable of a long flag name.
pub fn env_name(long: &str) -> String {
    format!("DEPCACHE_{}", long.replace('-', "_").to_ascii_uppercase())
}

/// The command the binary parses with and documents: `Cli` plus the
/// variables.
pub fn command() -> Command {
    let mut cmd = Cli::command();
    for name in WITH_ENV {
        cmd = cmd.mut_subcommand(*name, with_env);
    }
    cmd
}

fn with_env(sub: Command) -> Command {
    sub.mut_args(|arg| {
        let Some(long) = arg.get_long().map(str::to_string) else {
            return arg;
        };
        if arg.is_global_set() || matches!(long.as_str(), "help" | "version") {
            return arg;
        }
        let mut arg = if arg.get_env().is_none() {
            arg.env(env_name(&long))
        } else {
            arg
        };
        // `DEPCACHE_IS_PUBLIC=1` as well as `=true`, as for every switch.
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            arg = arg.value_parser(clap::builder::BoolishValueParser::new());
        }
        if SECRET.contains(&long.as_str()) {
            arg = arg.hide_env_values(true);
        }
        arg
    })
}
