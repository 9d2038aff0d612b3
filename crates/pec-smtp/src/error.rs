//! The crate's error type: what can go wrong outside the SMTP dialogue itself.
//!
//! Protocol mistakes by the client are not errors here: they are answered on the wire (see
//! [`crate::codes`]) and the session goes on or closes.

/// Failures of a listener, a connection or the TLS setup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the socket or a file failed (ours or the network's fault).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The client did not finish the TLS handshake in time (the peer's fault).
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
}

impl From<pec_listen::tls::HandshakeTimedOut> for Error {
    fn from(_: pec_listen::tls::HandshakeTimedOut) -> Self {
        Error::HandshakeTimeout
    }
}

/// Where in the client dialogue a [`RelayError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Opening the TCP connection.
    Connect,
    /// Waiting for the `220` greeting.
    Greeting,
    /// EHLO (or the HELO fallback).
    Ehlo,
    /// The STARTTLS command or the TLS handshake that follows.
    StartTls,
    /// The RSET that ends an unfinished transaction before the next one.
    Rset,
    /// MAIL FROM.
    MailFrom,
    /// RCPT TO.
    RcptTo,
    /// The DATA command.
    Data,
    /// Sending the message and waiting for the reply to the final `.`.
    DataEnd,
    /// QUIT.
    Quit,
    /// AUTH (a submission client logging in).
    Auth,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Rset => "RSET",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::DataEnd => "end of DATA",
            Stage::Quit => "QUIT",
            Stage::Auth => "AUTH",
        })
    }
}

/// Failures of the relay client ([`crate::relay`]) that concern the connection, not one
/// recipient. The caller treats every one as temporary for all the recipients of the
/// transaction (retry later, maybe another MX); refusals of a recipient or of the message are
/// not errors but [`crate::relay::RcptOutcome`]s.
///
/// All but [`RelayError::InvalidInput`] are the peer's or the network's fault;
/// `InvalidInput` is ours (a caller bug). Every `Display` is one line; server text in it is
/// cleaned of control characters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The TCP connection could not be opened (refused, unreachable).
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: std::net::SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The server did not answer (or did not take our bytes) in time.
    #[error("timed out during {0}")]
    Timeout(Stage),
    /// Reading or writing the socket failed.
    #[error("I/O error during {stage}: {source}")]
    Io {
        /// Where.
        stage: Stage,
        /// What.
        source: std::io::Error,
    },
    /// The server closed the connection when a reply was due.
    #[error("the server closed the connection during {0}")]
    Closed(Stage),
    /// A reply that is not SMTP (no code, codes changing between lines, unexpected bytes).
    #[error("malformed reply during {stage}: {detail}")]
    MalformedReply {
        /// Where.
        stage: Stage,
        /// What was wrong.
        detail: String,
    },
    /// A reply line longer than [`crate::relay::MAX_REPLY_LINE`].
    #[error("reply line too long during {0}")]
    ReplyTooLong(Stage),
    /// A reply with more than [`crate::relay::MAX_REPLY_LINES`] lines.
    #[error("too many reply lines during {0}")]
    TooManyReplyLines(Stage),
    /// The server refused the session itself (greeting, EHLO, STARTTLS, RSET) or answered
    /// with a code that makes no sense at that point.
    #[error("{stage} refused: {code} {text}")]
    Refused {
        /// Where.
        stage: Stage,
        /// The reply code.
        code: u16,
        /// The reply text, one line.
        text: String,
    },
    /// TLS is required (PEC provider) but the server does not advertise STARTTLS. Nothing was
    /// sent in clear.
    #[error("TLS required but the server does not offer STARTTLS")]
    StartTlsNotOffered,
    /// The TLS handshake failed (certificate not trusted, wrong name, no common protocol).
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    /// An address or HELO name we were asked to send is not sendable (CR, LF, `<`, `>`,
    /// space, empty recipient list). Our fault: nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An earlier error left this connection unusable; open a new one.
    #[error("connection unusable after an earlier error")]
    Dead,
}
