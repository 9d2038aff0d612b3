//! TLS towards the index's LDAP server: `ldaps://` or StartTLS (RFC 4511 §4.14), with the CAs
//! we trust for the server and, for mutual TLS, our client certificate. The real index admits
//! only licensed providers, authenticated by client certificate (PEC-SPEC §7.2).
//!
//! Invariants:
//! * Verification is never off. The server's certificate must chain to the configured CA
//!   files (or, with none, to the public web roots) and name the URL's host; otherwise the
//!   fetch fails with [`Error::Tls`](super::Error::Tls) and the last good index stays.
//! * Settings that only make sense with TLS (CA files, client certificate) on a plain
//!   `ldap://` URL without StartTLS are an error, not ignored: the operator meant TLS and
//!   would otherwise send the bind password in clear.
//! * The files are read at every fetch, so a renewed client certificate is picked up by the
//!   next sync without a restart; a file that does not load fails that sync only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::Error;

/// How the connection to the LDAP server is protected; [`Default`] is "as the URL says"
/// (`ldaps://` is TLS with the public web roots, `ldap://` is plain).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdapTls {
    /// Upgrade an `ldap://` connection with the StartTLS operation before binding (for servers
    /// that listen on 389 only). Refused on other schemes.
    pub starttls: bool,
    /// PEM files of the CA certificates trusted for the server's certificate, **instead of**
    /// the public web roots: the index's server is usually certified by a CA of its own.
    /// Empty: the public web roots (webpki-roots).
    pub ca: Vec<PathBuf>,
    /// Our certificate, for servers that demand one (mutual TLS).
    pub client: Option<ClientIdentity>,
}

/// A client certificate and its key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate, then any intermediate CA certificates (leaf first).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1). Read at each fetch, never kept or printed.
    pub key: PathBuf,
}

/// What protects one connection, decided from the URL's scheme and [`LdapTls::starttls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `ldap://` or `ldapi://` without StartTLS.
    Plain,
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://`, then StartTLS.
    StartTls,
}

impl LdapTls {
    /// Whether any TLS-only setting is given (a CA file, a client certificate, StartTLS).
    pub fn is_set(&self) -> bool {
        self.starttls || !self.ca.is_empty() || self.client.is_some()
    }

    /// The transport for `url`, refusing combinations that would not do what they say.
    pub(crate) fn transport(&self, url: &str) -> Result<Transport, Error> {
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let refuse = |reason: &'static str| {
            Err(Error::Settings {
                url: url.to_string(),
                reason,
            })
        };
        match (scheme.as_str(), self.starttls) {
            ("ldaps", false) => Ok(Transport::Ldaps),
            ("ldap", true) => Ok(Transport::StartTls),
            ("ldaps", true) => refuse("StartTLS on an ldaps:// URL, which is TLS already"),
            (_, true) => refuse("StartTLS needs an ldap:// URL"),
            (_, false) if self.is_set() => refuse(
                "a CA file or client certificate is set but the URL is not ldaps:// and \
                 StartTLS is off: the connection would not use TLS",
            ),
            (_, false) => Ok(Transport::Plain),
        }
    }

    /// Reads the files and builds the rustls configuration: our roots, our client
    /// certificate if any, rustls's safe defaults (TLS 1.2 and 1.3) on the ring provider.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let mut roots = RootCertStore::empty();
        if self.ca.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for path in &self.ca {
            for cert in certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error(path, e.to_string()))?;
            }
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(Error::TlsSetup)?
                .with_root_certificates(roots);
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some(client) => {
                let chain = certificates(&client.cert)?;
                let key = private_key(&client.key)?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    file_error(
                        &client.key,
                        format!(
                            "unusable with its certificate {}: {e}",
                            client.cert.display()
                        ),
                    )
                })?
            }
        };
        Ok(Arc::new(config))
    }
}

/// The certificates of a PEM file; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = std::fs::read(path).map_err(|e| file_error(path, e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(path, "no CERTIFICATE in it".into()));
    }
    Ok(certs)
}

/// The first private key of a PEM file. The error never quotes the file's content.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = std::fs::read(path).map_err(|e| file_error(path, e.to_string()))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            file_error(path, "no PRIVATE KEY in it".into())
        }
        _ => file_error(path, "not a PEM private key".into()),
    })
}

fn file_error(path: &Path, reason: String) -> Error {
    Error::TlsFile {
        path: path.to_path_buf(),
        reason,
    }
}

/// The TLS error behind an ldap3 error, if there is one: rustls's errors reach us wrapped in
/// `std::io::Error` by tokio-rustls (`io::Error::source` skips the wrapped error itself, so
/// it is taken with `get_ref`).
pub(crate) fn tls_cause(error: &ldap3::LdapError) -> Option<&rustls::Error> {
    match error {
        ldap3::LdapError::Rustls { source } => Some(source),
        ldap3::LdapError::Io { source } => source.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// Whether the connection ended without a word: end of stream or reset, not a TLS alert.
pub(crate) fn closed(error: &ldap3::LdapError) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error,
        ldap3::LdapError::Io { source }
            if matches!(source.kind(), K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe)
    )
}

/// What a TLS failure means for the operator, in words, before rustls's own.
pub(crate) fn meaning(error: &rustls::Error) -> &'static str {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match error {
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server's certificate is not for the URL's host"
        }
        E::InvalidCertificate(_) => "the server's certificate is not trusted",
        E::AlertReceived(A::CertificateRequired | A::BadCertificate | A::UnknownCA)
        | E::AlertReceived(A::HandshakeFailure | A::AccessDenied) => {
            "the server refused the handshake (does it want a client certificate we did not send, or trust ours?)"
        }
        _ => "handshake failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> LdapTls {
        LdapTls {
            ca: vec![PathBuf::from("/nonexistent/ca.pem")],
            ..LdapTls::default()
        }
    }

    #[test]
    fn the_scheme_and_starttls_choose_the_transport() {
        let starttls = LdapTls {
            starttls: true,
            ..LdapTls::default()
        };
        let none = LdapTls::default();
        assert_eq!(none.transport("ldap://h/").ok(), Some(Transport::Plain));
        assert_eq!(none.transport("LDAPS://h/").ok(), Some(Transport::Ldaps));
        assert_eq!(tls().transport("ldaps://h/").ok(), Some(Transport::Ldaps));
        assert_eq!(
            starttls.transport("ldap://h/").ok(),
            Some(Transport::StartTls)
        );
    }

    #[test]
    fn settings_that_would_silently_not_apply_are_refused() {
        let starttls = LdapTls {
            starttls: true,
            ..LdapTls::default()
        };
        for (tls, url) in [
            (tls(), "ldap://h/"),
            (starttls.clone(), "ldaps://h/"),
            (starttls, "ldapi://%2frun%2fslapd/"),
        ] {
            let refused = tls.transport(url);
            assert!(
                matches!(refused, Err(Error::Settings { .. })),
                "{url}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let error = tls().client_config().unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn a_key_file_that_is_not_pem_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&ca, cert.pem()).unwrap();
        let secret = dir.path().join("client.key");
        std::fs::write(&secret, "hunter2 is not a key").unwrap();
        let tls = LdapTls {
            ca: vec![ca.clone()],
            client: Some(ClientIdentity {
                cert: ca,
                key: secret,
            }),
            ..LdapTls::default()
        };
        let error = tls.client_config().unwrap_err().to_string();
        assert!(error.contains("client.key"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
