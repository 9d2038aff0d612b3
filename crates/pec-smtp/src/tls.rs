//! Certificates: load PEM files into a rustls server configuration, or make a self-signed
//! development certificate with rcgen on first use.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// File names used by [`dev_tls`] inside its directory.
const DEV_CERT: &str = "dev-smtp-cert.pem";
const DEV_KEY: &str = "dev-smtp-key.pem";

/// Builds a rustls server configuration (ring provider, TLS 1.2 and 1.3) from a PEM chain
/// (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_tls(cert_pem: &Path, key_pem: &Path) -> Result<Arc<ServerConfig>, Error> {
    let pem_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Pem { path, source }
    };
    let certs = CertificateDer::pem_file_iter(cert_pem)
        .map_err(pem_err(cert_pem))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(cert_pem))?;
    if certs.is_empty() {
        return Err(Error::NoCertificate(cert_pem.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(pem_err(key_pem))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// A TLS configuration for development and tests: loads `dev-smtp-cert.pem` and
/// `dev-smtp-key.pem` from `dir`, making them first (self-signed, for `hostnames`) if missing.
///
/// WARNING: clients cannot verify this certificate; never use it for a real provider.
pub fn dev_tls(dir: &Path, hostnames: &[String]) -> Result<Arc<ServerConfig>, Error> {
    let cert_path = dir.join(DEV_CERT);
    let key_path = dir.join(DEV_KEY);
    if !(cert_path.exists() && key_path.exists()) {
        fs::create_dir_all(dir)?;
        let certified = rcgen::generate_simple_self_signed(hostnames.to_vec())?;
        // Key first, cert last: a reader that sees the cert also sees the key.
        write_atomically(
            &key_path,
            certified.signing_key.serialize_pem().as_bytes(),
            true,
        )?;
        write_atomically(&cert_path, certified.cert.pem().as_bytes(), false)?;
    }
    load_tls(&cert_path, &key_path)
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Error> {
    let mut tmp = PathBuf::from(path);
    tmp.set_extension(format!("tmp{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}
