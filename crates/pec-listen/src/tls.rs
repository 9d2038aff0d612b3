//! TLS for every listener, once: the certificates (PEM files loaded into a rustls server
//! configuration, or a self-signed development certificate made with rcgen on first use) and
//! the prologue of a connection (implicit TLS, or a plain session that may upgrade with
//! STARTTLS / STLS), each protocol supplying only its sessions.

use std::fs;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How a listener starts TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text until STARTTLS / STLS (SMTP 587, IMAP 143, POP3 110); no login before it.
    StartTls,
    /// TLS from the first byte (RFC 8314: 465, 993, 995).
    Implicit,
}

/// The client did not finish the TLS handshake in time (the peer's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TLS handshake timed out")]
pub struct HandshakeTimedOut;

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// rustls refused the configuration (bad key, no usable protocol version).
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] rustls::Error),
    /// A PEM file could not be read or parsed.
    #[error("reading PEM {path}: {source}")]
    Pem {
        /// The file that failed.
        path: PathBuf,
        /// What was wrong with it.
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate file held no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// rcgen could not make the development certificate.
    #[error("generating the development certificate: {0}")]
    CertGen(#[from] rcgen::Error),
}

/// What a protocol's plain-text session ended with: done, or STARTTLS accepted with the
/// stream handed back for the handshake (bytes pipelined after the command are gone with the
/// session: no STARTTLS command injection).
pub enum Plain<S> {
    /// The session ended.
    Done,
    /// Upgrade this stream.
    StartTls(S),
}

/// One connection's TLS prologue. Implicit TLS: the handshake (within `handshake`), then
/// `secure(tls, true)`. STARTTLS: `plain(stream)`; if it asks for the upgrade, the handshake
/// and `secure(tls, false)` (no second greeting: RFC 3207 §4.2, RFC 3501 §6.2.1, RFC 2595 §4).
pub async fn prologue<S, E, P, PF, T, TF>(
    stream: S,
    mode: TlsMode,
    tls: &TlsAcceptor,
    handshake: Duration,
    plain: P,
    secure: T,
) -> Result<(), E>
where
    S: AsyncRead + AsyncWrite + Unpin,
    E: From<std::io::Error> + From<HandshakeTimedOut>,
    P: FnOnce(S) -> PF,
    PF: Future<Output = Result<Plain<S>, E>>,
    T: FnOnce(TlsStream<S>, bool) -> TF,
    TF: Future<Output = Result<(), E>>,
{
    let (stream, greet) = match mode {
        TlsMode::Implicit => (stream, true),
        TlsMode::StartTls => match plain(stream).await? {
            Plain::Done => return Ok(()),
            Plain::StartTls(stream) => (stream, false),
        },
    };
    let tls = tokio::time::timeout(handshake, tls.accept(stream))
        .await
        .map_err(|_| HandshakeTimedOut)??;
    secure(tls, greet).await
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_tls_makes_the_certificate_once_and_reuses_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = ["localhost".to_string()];
        dev_tls(dir.path(), &names).expect("first");
        let cert = std::fs::read(dir.path().join("dev-smtp-cert.pem")).expect("cert");
        dev_tls(dir.path(), &names).expect("second");
        let again = std::fs::read(dir.path().join("dev-smtp-cert.pem")).expect("cert");
        assert_eq!(cert, again);
    }

    #[test]
    fn load_tls_reports_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err =
            load_tls(&dir.path().join("no.pem"), &dir.path().join("no.key")).expect_err("missing");
        assert!(matches!(err, Error::Pem { .. }), "{err}");
    }

    #[test]
    fn load_tls_reports_a_file_without_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let err = load_tls(&empty, &empty).expect_err("empty");
        assert!(matches!(err, Error::NoCertificate(_)), "{err}");
    }
}
