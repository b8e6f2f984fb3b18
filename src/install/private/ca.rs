//! `--registry-ca`: CA certificates for registries behind an internal CA
//! (Artifactory, Nexus, a Verdaccio), trusted in addition to the system's.
//! npm gets them through `NODE_EXTRA_CA_CERTS` (which adds); composer's
//! `cafile` replaces its bundle, so it gets the system bundle plus them.

use std::path::{Path, PathBuf};

use super::InstallConfig;

/// Where distributions keep the system's CA bundle, first found wins (the
/// paths Go and composer's ca-bundle look at).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, Clone)]
pub struct RegistryCa {
    pem: String,
    source: PathBuf,
}

impl RegistryCa {
    /// Reads `path` at start-up: it must hold PEM certificates.
    pub fn load(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --registry-ca {}: {e}", path.display()))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!(
                "--registry-ca {} holds no PEM certificate",
                path.display()
            ));
        }
        Ok(RegistryCa {
            pem,
            source: path.to_path_buf(),
        })
    }

    /// The file it was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Writes both forms and composer's `config.json` naming the bundle.
    pub(super) fn write(&self, paths: &InstallConfig) -> std::io::Result<()> {
        super::write_private(&paths.extra_ca, self.pem.as_bytes())?;
        let system = SYSTEM_BUNDLES
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let bundle = format!("{}\n{}", system.trim_end(), self.pem);
        super::write_private(&paths.ca_bundle, bundle.as_bytes())?;
        let config = serde_json::json!({"config": {"cafile": paths.ca_bundle}});
        super::write_private(
            &paths.composer_home.join("config.json"),
            config.to_string().as_bytes(),
        )
    }
}
