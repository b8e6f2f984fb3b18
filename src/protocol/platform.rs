//! The platform string of the key: `os-arch-libc` in Node's naming, because
//! optional native packages (esbuild, swc) are chosen by exactly that.

/// The platform this binary runs on, e.g. `linux-x64-glibc`.
pub fn current_platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        "arm" => "arm",
        other => other,
    };
    if os == "linux" {
        format!("{os}-{arch}-{}", linux_libc())
    } else {
        format!("{os}-{arch}")
    }
}

/// Node's prebuilt binaries split on the C library; a musl loader on the
/// system means musl even when this binary was linked statically.
fn linux_libc() -> &'static str {
    let musl_loader = std::fs::read_dir("/lib")
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("ld-musl-"))
        })
        .unwrap_or(false);
    if musl_loader || cfg!(target_env = "musl") {
        "musl"
    } else {
        "glibc"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn current_platform_is_valid() {
        let p = super::current_platform();
        super::super::check_platform(&p).unwrap();
    }
}
