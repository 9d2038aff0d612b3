//! The crate's error type: what can go wrong outside the SMTP dialogue itself.
//!
//! Protocol mistakes by the client are not errors here: they are answered on the wire (see
//! [`crate::codes`]) and the session goes on or closes.

use std::path::PathBuf;

/// Failures of a listener, a connection or the TLS setup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the socket or a file failed (ours or the network's fault).
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
    /// The client did not finish the TLS handshake in time (the peer's fault).
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
}
