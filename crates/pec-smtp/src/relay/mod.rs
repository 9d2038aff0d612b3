//! The relay client: sends our signed envelopes (and receipts) to other providers'
//! receiving points, and ordinary mail to Internet MX hosts.
//!
//! [`connect`] opens a session (greeting, EHLO, STARTTLS per [`TlsPolicy`], EHLO again);
//! [`Connection::send`] runs one transaction and returns one [`RcptOutcome`] per recipient;
//! the connection can then carry the next transaction, or [`Connection::quit`].
//!
//! Invariants:
//! - with [`TlsPolicy::Required`] nothing but EHLO and STARTTLS is ever sent in clear: no
//!   STARTTLS offered, a refused STARTTLS or a failed handshake is an error (PEC-SPEC §9.2,
//!   provider ↔ provider over RFC 3207);
//! - bytes the server sends after its `220` to STARTTLS are refused (the client side of the
//!   STARTTLS injection, CVE-2011-0411);
//! - every read and write has a timeout, and replies are bounded ([`MAX_REPLY_LINE`],
//!   [`MAX_REPLY_LINES`]): a hostile or dead server costs time and a few KiB, never more;
//! - the message bytes go out unchanged apart from dot-stuffing and a missing final CRLF
//!   (PEC-SPEC §9.2, the *breve* receipt hashes depend on them);
//! - after any [`RelayError`] the connection is dead: later calls return [`RelayError::Dead`].
//!
//! [`Relay`] (`pool.rs`) puts it together for one message to one recipient: the route
//! (`route.rs`: static routes, MX in preference order, implicit MX), the TLS trust, and
//! connections kept open per host.
//!
//! Not done here: the retry schedule and
//! the 24-hour idleness limit (pec-core's timers), DSN, SMTPUTF8, BDAT/CHUNKING, client
//! certificates, DANE/MTA-STS.

mod dot;
mod pool;
mod reply;
mod route;
mod transaction;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::codes::{C220_SERVICE_READY, C250_OK, C500_SYNTAX_ERROR, C502_NOT_IMPLEMENTED};
pub use crate::error::{RelayError, Stage};
pub use pool::{Relay, RelaySetupError, Sent};
use reply::{Reply, Wire};
pub use reply::{MAX_REPLY_LINE, MAX_REPLY_LINES};
pub use route::{Hop, RelayConfig, Route, RouteError, Router, Unreachable};

/// Whether and how the session is encrypted.
///
/// Trust is whatever the given [`rustls::ClientConfig`] verifies: for PEC providers, roots
/// that validate their certificates (the system or Mozilla roots, or the providers' CAs);
/// `server_name` is the name the certificate must match (the MX host name).
#[derive(Debug, Clone)]
pub enum TlsPolicy {
    /// STARTTLS is mandatory (PEC provider ↔ provider, PEC-SPEC §9.2): if the server does not
    /// advertise it, refuses it, or the handshake fails, [`connect`] fails and no mail is sent.
    Required(Arc<rustls::ClientConfig>, ServerName<'static>),
    /// Ordinary Internet mail: STARTTLS when advertised (and plain text if the server answers
    /// STARTTLS with an error); a failed handshake is still an error, because the connection
    /// is unusable afterwards — the caller may retry with [`TlsPolicy::None`] if it wants to.
    Opportunistic(Arc<rustls::ClientConfig>, ServerName<'static>),
    /// Plain text only, never STARTTLS. For tests and local hops.
    None,
}

/// Time limits of the client. The defaults are those of RFC 5321 §4.5.3.2.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Opening the TCP connection. Default 1 minute.
    pub connect: Duration,
    /// Waiting for the `220` greeting. Default 5 minutes (§4.5.3.2.1).
    pub greeting: Duration,
    /// The TLS handshake after STARTTLS. Default 1 minute.
    pub tls_handshake: Duration,
    /// Each command and its reply (EHLO, STARTTLS, MAIL, RCPT, RSET, QUIT). Default 5 minutes
    /// (§4.5.3.2.2, §4.5.3.2.3).
    pub command: Duration,
    /// The reply to DATA. Default 2 minutes (§4.5.3.2.4).
    pub data_start: Duration,
    /// Each write of a block of message bytes. Default 3 minutes (§4.5.3.2.5).
    pub data_block: Duration,
    /// The reply after the final `.`. Default 10 minutes (§4.5.3.2.6).
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Timeouts {
            connect: minutes(1),
            greeting: minutes(5),
            tls_handshake: minutes(1),
            command: minutes(5),
            data_start: minutes(2),
            data_block: minutes(3),
            data_end: minutes(10),
        }
    }
}

impl Timeouts {
    /// The same limit everywhere (tests).
    pub fn uniform(limit: Duration) -> Self {
        Timeouts {
            connect: limit,
            greeting: limit,
            tls_handshake: limit,
            command: limit,
            data_start: limit,
            data_block: limit,
            data_end: limit,
        }
    }
}

/// What the server advertised in its (last) EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `PIPELINING` (RFC 2920): MAIL, RCPT and DATA go out in one write.
    pub pipelining: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `SIZE [n]` (RFC 1870): `Some(0)` when advertised without a limit. When present, MAIL
    /// FROM carries `SIZE=`.
    pub size: Option<u64>,
    /// `8BITMIME` (RFC 6152): MAIL FROM carries `BODY=8BITMIME` when the data has 8-bit bytes.
    pub eight_bit_mime: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
}

impl Capabilities {
    /// Reads the keyword lines of an EHLO reply (the first line is the server's name).
    fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => caps.pipelining = true,
                "STARTTLS" => caps.starttls = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                _ => {}
            }
        }
        caps
    }
}

/// What became of one recipient, in the order of `rcpt_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    /// The server took responsibility for the message for this recipient (`250` at RCPT and
    /// at the end of DATA).
    Accepted,
    /// A 4xx at MAIL, RCPT or DATA: try again later.
    Temporary {
        /// The reply code (400–499).
        code: u16,
        /// The enhanced status code, when the server gave one (`"4.2.2"`).
        enhanced: Option<String>,
        /// The reply text, one line.
        text: String,
    },
    /// A 5xx at MAIL, RCPT or DATA: do not retry (PEC: *avviso di mancata consegna*).
    Permanent {
        /// The reply code (500–599).
        code: u16,
        /// The enhanced status code, when the server gave one (`"5.1.1"`).
        enhanced: Option<String>,
        /// The reply text, one line.
        text: String,
    },
}

impl RcptOutcome {
    /// The outcome a refusal reply means (`None` for 2xx/3xx).
    fn from_refusal(reply: &Reply) -> Option<Self> {
        let (code, enhanced, text) = (reply.code, reply.enhanced.clone(), reply.text());
        match reply.code {
            400..=499 => Some(RcptOutcome::Temporary {
                code,
                enhanced,
                text,
            }),
            500..=599 => Some(RcptOutcome::Permanent {
                code,
                enhanced,
                text,
            }),
            _ => None,
        }
    }
}

/// Any stream the connection runs on: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open SMTP session with a server, ready for [`Connection::send`].
pub struct Connection {
    wire: Wire<Box<dyn Io>>,
    timeouts: Timeouts,
    capabilities: Capabilities,
    tls: bool,
    /// A transaction was left open (MAIL accepted, no message sent): RSET before the next.
    needs_rset: bool,
    /// An error happened: the dialogue state is unknown, nothing more may be sent.
    dead: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("capabilities", &self.capabilities)
            .field("tls", &self.tls)
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

/// Opens a session with the server at `addr`: reads the greeting, says `EHLO helo`, runs
/// STARTTLS as `tls` asks (and EHLO again), and returns the connection ready for mail.
///
/// `helo` is our host name (the name the peer will put in its `Received:`).
pub async fn connect(
    addr: SocketAddr,
    helo: &str,
    tls: TlsPolicy,
    timeouts: Timeouts,
) -> Result<Connection, RelayError> {
    if helo.is_empty() || !helo.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RelayError::InvalidInput(format!("HELO name {helo:?}")));
    }
    let tcp = tokio::time::timeout(timeouts.connect, TcpStream::connect(addr))
        .await
        .map_err(|_| RelayError::Timeout(Stage::Connect))?
        .map_err(|source| RelayError::Connect { addr, source })?;
    let _ = tcp.set_nodelay(true);
    let mut wire: Wire<Box<dyn Io>> = Wire::new(Box::new(tcp));

    let greeting = wire.read_reply(Stage::Greeting, timeouts.greeting).await?;
    if greeting.code != C220_SERVICE_READY {
        return Err(refused(Stage::Greeting, &greeting));
    }
    let required = matches!(tls, TlsPolicy::Required(..));
    let mut capabilities = ehlo(&mut wire, helo, !required, &timeouts).await?;
    let mut is_tls = false;
    match tls {
        TlsPolicy::None => {}
        TlsPolicy::Opportunistic(..) if !capabilities.starttls => {}
        TlsPolicy::Required(..) if !capabilities.starttls => {
            let _ = quit_quietly(&mut wire, &timeouts).await;
            return Err(RelayError::StartTlsNotOffered);
        }
        TlsPolicy::Required(config, name) | TlsPolicy::Opportunistic(config, name) => {
            wire.write(b"STARTTLS\r\n", Stage::StartTls, timeouts.command)
                .await?;
            let reply = wire.read_reply(Stage::StartTls, timeouts.command).await?;
            if reply.code == C220_SERVICE_READY {
                if !wire.rbuf.is_empty() {
                    return Err(RelayError::MalformedReply {
                        stage: Stage::StartTls,
                        detail: "bytes after 220 to STARTTLS".into(),
                    });
                }
                wire = starttls(wire, config, name, &timeouts).await?;
                is_tls = true;
                // RFC 3207 §4.2: forget what was learnt in clear, ask again.
                capabilities = ehlo(&mut wire, helo, false, &timeouts).await?;
            } else if required {
                let _ = quit_quietly(&mut wire, &timeouts).await;
                return Err(refused(Stage::StartTls, &reply));
            }
        }
    }
    Ok(Connection {
        wire,
        timeouts,
        capabilities,
        tls: is_tls,
        needs_rset: false,
        dead: false,
    })
}

/// EHLO; with `helo_fallback`, HELO when the server does not know EHLO (500/502).
async fn ehlo(
    wire: &mut Wire<Box<dyn Io>>,
    helo: &str,
    helo_fallback: bool,
    timeouts: &Timeouts,
) -> Result<Capabilities, RelayError> {
    let command = format!("EHLO {helo}\r\n");
    wire.write(command.as_bytes(), Stage::Ehlo, timeouts.command)
        .await?;
    let reply = wire.read_reply(Stage::Ehlo, timeouts.command).await?;
    if reply.code == C250_OK {
        return Ok(Capabilities::from_ehlo(&reply));
    }
    if helo_fallback && matches!(reply.code, C500_SYNTAX_ERROR | C502_NOT_IMPLEMENTED) {
        let command = format!("HELO {helo}\r\n");
        wire.write(command.as_bytes(), Stage::Ehlo, timeouts.command)
            .await?;
        let reply = wire.read_reply(Stage::Ehlo, timeouts.command).await?;
        if reply.code == C250_OK {
            return Ok(Capabilities::default());
        }
        return Err(refused(Stage::Ehlo, &reply));
    }
    Err(refused(Stage::Ehlo, &reply))
}

/// The TLS handshake on the plain stream, within the handshake timeout.
async fn starttls(
    wire: Wire<Box<dyn Io>>,
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    timeouts: &Timeouts,
) -> Result<Wire<Box<dyn Io>>, RelayError> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(timeouts.tls_handshake, connector.connect(name, wire.stream))
        .await
        .map_err(|_| RelayError::Timeout(Stage::StartTls))?
        .map_err(RelayError::Tls)?;
    Ok(Wire::new(Box::new(tls)))
}

/// Best-effort QUIT before giving up on a session.
async fn quit_quietly(wire: &mut Wire<Box<dyn Io>>, timeouts: &Timeouts) -> Result<(), RelayError> {
    wire.write(b"QUIT\r\n", Stage::Quit, timeouts.command)
        .await?;
    wire.read_reply(Stage::Quit, timeouts.command).await?;
    Ok(())
}

fn refused(stage: Stage, reply: &Reply) -> RelayError {
    RelayError::Refused {
        stage,
        code: reply.code,
        text: reply.text(),
    }
}

impl Connection {
    /// What the server advertised in its last EHLO reply (after STARTTLS, if any).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Logs in with `AUTH PLAIN` (RFC 4954), as a submission client does: only over TLS,
    /// so credentials never travel in clear. A refusal is [`RelayError::Refused`] with the
    /// server's `535`.
    pub async fn auth_plain(&mut self, user: &str, password: &str) -> Result<(), RelayError> {
        use base64::Engine as _;
        if self.dead {
            return Err(RelayError::Dead);
        }
        if !self.tls {
            return Err(RelayError::InvalidInput("AUTH without TLS".into()));
        }
        if user.contains(['\0', '\r', '\n']) || password.contains(['\0', '\r', '\n']) {
            return Err(RelayError::InvalidInput(
                "control characters in credentials".into(),
            ));
        }
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        let command = format!("AUTH PLAIN {token}\r\n");
        let result = async {
            self.wire
                .write(command.as_bytes(), Stage::Auth, self.timeouts.command)
                .await?;
            let reply = self
                .wire
                .read_reply(Stage::Auth, self.timeouts.command)
                .await?;
            if reply.code == 235 {
                Ok(())
            } else {
                Err(refused(Stage::Auth, &reply))
            }
        }
        .await;
        if result.is_err() {
            self.dead = true;
        }
        result
    }

    /// Ends the session politely: `QUIT`, its reply, then closes. A dead connection is just
    /// closed.
    pub async fn quit(mut self) -> Result<(), RelayError> {
        if self.dead {
            return Ok(());
        }
        let result = quit_quietly(&mut self.wire, &self.timeouts).await;
        let _ = tokio::time::timeout(
            self.timeouts.command,
            tokio::io::AsyncWriteExt::shutdown(&mut self.wire.stream),
        )
        .await;
        result
    }
}
