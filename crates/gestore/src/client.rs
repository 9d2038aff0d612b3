//! A submission client for the demo and the bench: our users' side of the access point,
//! through the real SMTP listener (STARTTLS, AUTH), never behind its back.

use anyhow::{anyhow, Result};
use mail_send::smtp::message::Message;
use mail_send::{SmtpClient, SmtpClientBuilder};
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// One authenticated SMTP session (STARTTLS; the dev certificate is accepted).
pub struct Session {
    client: SmtpClient<TlsStream<TcpStream>>,
    user: String,
}

impl Session {
    /// Connects, upgrades to TLS and logs in as `user`.
    pub async fn connect(server: SocketAddr, user: &str, password: &str) -> Result<Self> {
        let client = SmtpClientBuilder::new(server.ip().to_string(), server.port())
            .map_err(|e| anyhow!("{e}"))?
            .implicit_tls(false)
            .allow_invalid_certs()
            .credentials((user.to_string(), password.to_string()))
            .connect()
            .await
            .map_err(|e| anyhow!("cannot connect to {server}: {e}"))?;
        // mail-send writes the final "." apart from the body: without TCP_NODELAY, Nagle holds
        // it until the server's delayed ACK (~40 ms per message).
        let _ = client.stream.get_ref().0.set_nodelay(true);
        Ok(Session {
            client,
            user: user.to_string(),
        })
    }

    /// Submits one message from the logged-in box to `to`; returns after the 250.
    pub async fn send(&mut self, to: &[String], body: &[u8]) -> Result<()> {
        let message = Message::new(self.user.as_str(), to.iter().map(String::as_str), body);
        self.client
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("submission refused: {e}"))
    }

    /// Says goodbye.
    pub async fn quit(self) {
        let _ = self.client.quit().await;
    }
}
