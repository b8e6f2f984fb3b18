//! `depcache completions` and `depcache man`: shell completions and man pages
//! generated from the same clap definition the binary parses with, so they
//! cannot drift (a test compares them with the committed `completions/` and
//! `man/`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use clap_complete::Shell;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate for; all of them with --dir.
    #[arg(value_enum, required_unless_present = "dir")]
    pub shell: Option<Shell>,
    /// Write every shell's file into DIR instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write depcache.1 and one page per subcommand into DIR instead of
    /// printing depcache.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The command as documented: the plain package version, so pages do not
/// change with every commit.
fn documented_command() -> clap::Command {
    super::env::command().version(env!("CARGO_PKG_VERSION"))
}

/// The file name each shell looks for.
pub fn completion_file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "depcache.bash",
        Shell::Zsh => "_depcache",
        Shell::Fish => "depcache.fish",
        Shell::Elvish => "depcache.elv",
        Shell::PowerShell => "_depcache.ps1",
        _ => "depcache.completion",
    }
}

pub fn completions(args: CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = documented_command();
    match (args.shell, args.dir) {
        (_, Some(dir)) => {
            std::fs::create_dir_all(&dir)?;
            for &shell in Shell::value_variants() {
                let mut buf = Vec::new();
                clap_complete::generate(shell, &mut cmd, "depcache", &mut buf);
                write_file(&dir.join(completion_file_name(shell)), &buf)?;
            }
        }
        (Some(shell), None) => {
            clap_complete::generate(shell, &mut cmd, "depcache", &mut std::io::stdout());
        }
        (None, None) => unreachable!("clap requires a shell or --dir"),
    }
    Ok(())
}

pub fn man(args: ManArgs) -> Result<(), CliError> {
    let cmd = documented_command();
    match args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd.disable_help_subcommand(true)).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            write_pages(&dir, "depcache", cmd)?;
        }
    }
    Ok(())
}

/// `cmd`'s page and, recursively, one per subcommand: every page cites its
/// subcommands' pages as `<name>-<sub>(1)`, so each must exist. No `help`
/// subcommand: `--help` says the same and `depcache-help(1)` would be cited
/// but never installed.
fn write_pages(dir: &Path, name: &str, cmd: clap::Command) -> Result<(), CliError> {
    let cmd = cmd.disable_help_subcommand(true);
    write_page(dir, name, cmd.clone())?;
    for sub in cmd.get_subcommands() {
        let name = format!("{name}-{}", sub.get_name());
        // The version names the page; no `-V`, which subcommands reject.
        let sub = sub
            .clone()
            .name(name.clone())
            .version(env!("CARGO_PKG_VERSION"))
            .disable_version_flag(true);
        write_pages(dir, &name, sub)?;
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> Result<(), CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    out.extend_from_slice(environment_section(&cmd).as_bytes());
    write_file(&dir.join(format!("{name}.1")), &out)
}

/// clap_mangen leaves out the variables `--help` shows; CI users set those
/// far more often than flags.
fn environment_section(cmd: &clap::Command) -> String {
    let roff = |text: &str| text.replace('\\', "\\e").replace('-', "\\-");
    let mut section = String::new();
    for arg in cmd.get_arguments() {
        let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        section.push_str(&format!(
            ".TP\n\\fB{}\\fR\nThe same as \\fB\\-\\-{}\\fR.\n",
            roff(&var.to_string_lossy()),
            roff(long)
        ));
    }
    if section.is_empty() {
        return section;
    }
    format!(".SH ENVIRONMENT\n{section}")
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .map_err(|e| CliError::Failure(format!("cannot write {}: {e}", path.display())))
}
