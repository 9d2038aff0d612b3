//! What ends a POP3 connection abnormally. Protocol mistakes by the client are not errors:
//! they are answered `-ERR` on the wire and the session goes on (or closes).

/// Failures of a listener or of one connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pop3Error {
    /// Reading or writing the socket failed (the network's or the peer's fault).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The client did not finish the TLS handshake in time (the peer's fault).
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
    /// The client stopped reading its replies (the peer's fault); the connection was dropped.
    #[error("client not reading, write timed out")]
    WriteTimeout,
}

impl From<pec_listen::tls::HandshakeTimedOut> for Pop3Error {
    fn from(_: pec_listen::tls::HandshakeTimedOut) -> Self {
        Pop3Error::HandshakeTimeout
    }
}
