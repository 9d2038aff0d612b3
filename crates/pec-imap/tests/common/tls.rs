//! TLS for the tests of both servers: the dev certificate (made once per test binary, in a
//! folder of its own so two binaries never race on the same files) and a client trusting it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

fn dev_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pec-imap-dev-tls-{}", env!("CARGO_CRATE_NAME")))
}

/// The dev certificate, made once per test process with `pec_listen::tls::dev_tls`.
pub fn server_tls() -> Arc<rustls::ServerConfig> {
    static TLS: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        pec_listen::tls::dev_tls(&dev_dir(), &names).expect("dev tls")
    })
    .clone()
}

/// A client configuration trusting exactly the dev certificate.
pub fn client_tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        use rustls::pki_types::pem::PemObject;
        server_tls();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(dev_dir().join("dev-smtp-cert.pem")).expect("pem")
        {
            roots.add(cert.expect("cert")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    })
    .clone()
}
