//! A submission client for the demo and the bench: our users' side of the access point,
//! through the real SMTP listener (STARTTLS, AUTH), never behind its back. It is pec-smtp's
//! relay client with AUTH PLAIN; the dev certificate is accepted (loopback, our own server).

use anyhow::{anyhow, Result};
use pec_smtp::relay::{self, Connection, RcptOutcome, Timeouts, TlsPolicy};
use pec_smtp::RelayError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One authenticated SMTP session.
pub struct Session {
    conn: Connection,
    user: String,
}

/// Logins tried again after a temporary refusal.
const LOGIN_RETRIES: usize = 5;

/// Why a login did not succeed.
enum Login {
    /// 4xx: try again later.
    Temporary(anyhow::Error),
    /// Anything else.
    Failed(anyhow::Error),
}

impl From<Login> for anyhow::Error {
    fn from(l: Login) -> Self {
        match l {
            Login::Temporary(e) | Login::Failed(e) => e,
        }
    }
}

impl Session {
    /// Connects, upgrades to TLS and logs in as `user`. A temporary refusal (4xx: the
    /// provider throttles many logins at once from one address, issue 12) is tried again a
    /// few times after a pause, as mail clients do.
    pub async fn connect(server: SocketAddr, user: &str, password: &str) -> Result<Self> {
        let mut pause = Duration::from_millis(1100);
        for _ in 0..LOGIN_RETRIES {
            match Self::connect_once(server, user, password).await {
                Err(Login::Temporary(_)) => {
                    tokio::time::sleep(pause).await;
                    pause = pause.mul_f64(1.5);
                }
                other => return other.map_err(|e| e.into()),
            }
        }
        Self::connect_once(server, user, password)
            .await
            .map_err(|e| e.into())
    }

    async fn connect_once(
        server: SocketAddr,
        user: &str,
        password: &str,
    ) -> std::result::Result<Self, Login> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Login::Failed(e.into()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").map_err(|e| Login::Failed(e.into()))?;
        let policy = TlsPolicy::Required(Arc::new(tls), name);
        let timeouts = Timeouts::uniform(Duration::from_secs(60));
        let mut conn = relay::connect(server, "client.localhost", policy, timeouts)
            .await
            .map_err(|e| Login::Failed(anyhow!("cannot connect to {server}: {e}")))?;
        match conn.auth_plain(user, password).await {
            Ok(()) => {}
            Err(
                e @ RelayError::Refused {
                    code: 400..=499, ..
                },
            ) => return Err(Login::Temporary(anyhow!("login as {user} refused: {e}"))),
            Err(e) => return Err(Login::Failed(anyhow!("login as {user} refused: {e}"))),
        }
        Ok(Session {
            conn,
            user: user.to_string(),
        })
    }

    /// Submits one message from the logged-in box to `to`; returns after the 250.
    pub async fn send(&mut self, to: &[String], body: &[u8]) -> Result<()> {
        let outcomes = self
            .conn
            .send(&self.user, to, body)
            .await
            .map_err(|e| anyhow!("submission refused: {e}"))?;
        for (rcpt, outcome) in to.iter().zip(outcomes) {
            if outcome != RcptOutcome::Accepted {
                return Err(anyhow!("submission refused for {rcpt}: {outcome:?}"));
            }
        }
        Ok(())
    }

    /// Says goodbye.
    pub async fn quit(self) {
        let _ = self.conn.quit().await;
    }
}

/// Accepts whatever certificate the server shows (the dev certificate of our own server on
/// loopback), still checking that the handshake is signed by its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
