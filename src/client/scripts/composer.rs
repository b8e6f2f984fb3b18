//! composer: the autoloader depends on the root package's own sources
//! (`classmap`, `files`, `psr-4` of the project), which the server never
//! sees, so the client regenerates it with `composer dump-autoload` (which
//! reads the same `optimize-autoloader`/`classmap-authoritative`/`apcu`
//! config as `composer install`), between the root's `pre-install-cmd` and
//! `post-install-cmd`, as `composer install` orders them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::links::{make_private, real_dir};
use super::run::run as run_command;
use super::{Ran, ScriptError, ScriptOptions, parse};
use crate::protocol::{InstallOptions, Manager, ValidRequest};

/// Root script events `composer install` fires around the autoloader dump
/// (`pre-/post-autoload-dump` fire inside `dump-autoload` itself).
const EVENTS: &[&str] = &[
    "pre-install-cmd",
    "pre-autoload-dump",
    "post-autoload-dump",
    "post-install-cmd",
];

pub(super) fn run(
    request: &ValidRequest,
    dir: &Path,
    options: ScriptOptions,
) -> Result<Option<Ran>, ScriptError> {
    let manifest = parse(request, Manager::Composer.manifest())?.unwrap_or(Value::Null);
    let omit_dev = InstallOptions::omits_dev(request.options.as_ref());
    let vendor_dir = Manager::Composer.output_dir();
    let Some(vendor) = real_dir(dir, vendor_dir) else {
        return Ok(None); // nothing installed, nothing to autoload
    };
    let scripts = !options.ignore && EVENTS.iter().any(|e| has_script(&manifest, e));
    let own_autoload =
        non_empty(&manifest, "autoload") || (!omit_dev && non_empty(&manifest, "autoload-dev"));
    let has_autoloader =
        std::fs::symlink_metadata(vendor.join("autoload.php")).is_ok_and(|m| m.is_file());
    // Without root autoload rules and scripts, the server's autoloader is
    // already the one `composer install` writes here: nothing to run.
    if !scripts && !own_autoload && has_autoloader {
        return Ok(None);
    }

    // dump-autoload rewrites vendor/composer/* and vendor/autoload.php in
    // place; scripts and plugins may write anywhere in vendor.
    if options.ignore {
        if let Some(composer) = real_dir(dir, &format!("{vendor_dir}/composer")) {
            make_private(&composer)?;
        }
        if has_autoloader {
            make_private(&vendor.join("autoload.php"))?;
        }
    } else {
        make_private(&vendor)?;
    }

    let show = !options.quiet;
    let dev = if omit_dev { "--no-dev" } else { "--dev" };
    let composer = |args: &[&str]| {
        let mut command = Command::new("composer");
        command
            .args(args)
            .args(["--no-interaction", dev])
            .current_dir(dir);
        command
    };
    if scripts && has_script(&manifest, "pre-install-cmd") {
        let command = composer(&["run-script", "pre-install-cmd"]);
        run_command(command, "composer run-script pre-install-cmd", show)?;
    }
    let mut dump = vec!["dump-autoload"];
    if options.ignore {
        dump.extend(["--no-scripts", "--no-plugins"]);
    }
    run_command(
        composer(&dump),
        &format!("composer {}", dump.join(" ")),
        show,
    )?;
    if scripts && has_script(&manifest, "post-install-cmd") {
        let command = composer(&["run-script", "post-install-cmd"]);
        run_command(command, "composer run-script post-install-cmd", show)?;
    }
    Ok(Some(Ran {
        what: if scripts {
            "composer dump-autoload and the project's install scripts".to_string()
        } else {
            "composer dump-autoload".to_string()
        },
    }))
}

fn has_script(manifest: &Value, event: &str) -> bool {
    match manifest.get("scripts").and_then(|s| s.get(event)) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(list)) => !list.is_empty(),
        _ => false,
    }
}

fn non_empty(manifest: &Value, key: &str) -> bool {
    manifest
        .get(key)
        .and_then(Value::as_object)
        .is_some_and(|rules| {
            rules.values().any(|v| match v {
                Value::Object(o) => !o.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::String(s) => !s.is_empty(),
                _ => false,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn root_autoload_rules_and_scripts_are_recognised() {
        let m = json!({
            "autoload": {"classmap": ["src/"], "psr-4": {}},
            "autoload-dev": {"psr-4": {}},
            "scripts": {"post-install-cmd": ["@php x.php"], "test": "phpunit", "pre-install-cmd": ""},
        });
        assert!(non_empty(&m, "autoload"));
        assert!(!non_empty(&m, "autoload-dev"));
        assert!(has_script(&m, "post-install-cmd"));
        assert!(!has_script(&m, "pre-install-cmd"));
        assert!(!has_script(&m, "post-autoload-dump"));
    }
}
