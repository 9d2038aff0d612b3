//! A submission client for the demo and the bench: our users' side of the access point,
//! through the real SMTP listener (STARTTLS, AUTH), never behind its back.

use anyhow::{anyhow, Result};
use mail_send::smtp::message::Message;
use mail_send::SmtpClientBuilder;
use std::net::SocketAddr;

/// Login and envelope of one submission.
pub struct Invio<'a> {
    /// The STARTTLS submission listener.
    pub server: SocketAddr,
    /// Box address (also the login).
    pub user: &'a str,
    /// Its password.
    pub password: &'a str,
    /// RCPT TO.
    pub to: &'a [String],
    /// The message.
    pub body: &'a [u8],
}

/// Opens a session, submits one message, closes. Accepts the dev TLS certificate.
pub async fn send(invio: &Invio<'_>) -> Result<()> {
    let mut client = SmtpClientBuilder::new(invio.server.ip().to_string(), invio.server.port())
        .map_err(|e| anyhow!("{e}"))?
        .implicit_tls(false)
        .allow_invalid_certs()
        .credentials((invio.user.to_string(), invio.password.to_string()))
        .connect()
        .await
        .map_err(|e| anyhow!("cannot connect to {}: {e}", invio.server))?;
    let message = Message::new(invio.user, invio.to.iter().map(String::as_str), invio.body);
    client
        .send(message)
        .await
        .map_err(|e| anyhow!("submission refused: {e}"))?;
    let _ = client.quit().await;
    Ok(())
}
