//! The crate's two error types: [`Error`] for our own side (keys, certificates, files,
//! signing) and [`VerifyError`] for messages that cannot be checked at all.
//!
//! A signature that does not match its content is **not** an error: it is a
//! [`Verification`](crate::Verification) with `intact: false`, because PEC must answer it
//! (a *busta di anomalia*, PEC-SPEC §4.2) rather than reject it as garbage.

use std::path::PathBuf;

/// Failures on our side: loading keys and certificates, signing, creating the dev PKI.
/// These are configuration or dependency faults (→ 4xx and retry, never a PEC notice).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file that `pki::init` would create already exists and `force` was not given.
    #[error("{0} already exists (use force to overwrite)")]
    Exists(PathBuf),
    /// A certificate or key could not be parsed.
    #[error("cannot read {what}: {detail}")]
    Parse {
        /// Which input (`certificate`, `private key`, a path, …).
        what: String,
        /// openssl's reason.
        detail: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    /// The key signs with a digest other than SHA-256 (PEC-SPEC §3.1: a signer should use SHA-256).
    #[error("the key signs with {0}, not sha256 (use an RSA key)")]
    UnexpectedDigest(String),
    /// A header of the message to sign is malformed or reserved to the signer.
    #[error("header {name:?}: {reason}")]
    Header {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The content to sign is not in canonical CRLF form (a bare LF would break verification).
    #[error("signed content has {0} bare LF line end(s); it must be CRLF throughout")]
    NotCanonical(usize),
    /// The signing certificate lacks what the PEC profile requires (PEC-SPEC §7.4).
    #[error("signing certificate: {0}")]
    Profile(&'static str),
    /// Invalid options for the dev PKI.
    #[error("invalid PKI option: {0}")]
    Options(&'static str),
    /// openssl failed.
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(what: impl Into<String>, err: openssl::error::ErrorStack) -> Self {
        Error::Parse {
            what: what.into(),
            detail: one_line(&err),
        }
    }
}

/// Why a message could not be checked at all. Messages are one line and carry no input bytes.
/// Both variants are the sender's fault (for PEC: a *busta di anomalia*, PEC-SPEC §4.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The message has no S/MIME signature structure at its top level.
    #[error("message is not S/MIME signed")]
    Unsigned,
    /// The message claims a signature but its MIME or CMS structure is broken.
    #[error("unreadable signed message: {0}")]
    Unreadable(String),
}

/// openssl's error stack as one short line.
pub(crate) fn one_line(err: &openssl::error::ErrorStack) -> String {
    let reasons: Vec<String> = err
        .errors()
        .iter()
        .map(|e| e.reason().unwrap_or("unknown error").to_string())
        .collect();
    if reasons.is_empty() {
        "unknown openssl error".into()
    } else {
        reasons.join("; ")
    }
}
