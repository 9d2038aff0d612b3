//! Shared nouns of the server: configuration, the session and its state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::backend::Backend;

/// How a listener starts TLS (shared with IMAP and POP3).
pub use pec_listen::TlsMode;

/// Limits of one listener. Defaults suit production; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message accepted, in octets, advertised as `SIZE`. Default 50 MiB (PEC-SPEC
    /// §9.6 asks for at least 30 MB for one recipient).
    pub max_message_size: usize,
    /// Most RCPT TO per message; more get `452 4.5.3`. Default 100 (PEC-SPEC §9.6: ≥ 50).
    pub max_recipients: usize,
    /// Longest command line in octets, CRLF included; longer gets `500 5.5.2`. Default 1000.
    pub max_line_length: usize,
    /// How long a client may stay silent between commands. Default 5 minutes (RFC 5321
    /// §4.5.3.2.7).
    pub command_timeout: Duration,
    /// How long a client may stall inside DATA; then the connection closes and nothing is
    /// accepted. Default 3 minutes (RFC 5321 §4.5.3.2.5).
    pub data_timeout: Duration,
    /// How long the TLS handshake may take. Default 30 s.
    pub tls_handshake_timeout: Duration,
    /// Delay added before answering a failed login, multiplied by the number of failures on
    /// this connection. Default 1 s.
    pub auth_failure_delay: Duration,
    /// Cap of that delay. Default 5 s.
    pub auth_failure_delay_max: Duration,
    /// Failed logins after which the connection is closed with `421 4.7.0`. Default 3.
    pub max_auth_failures: u32,
    /// Unknown or malformed commands after which the connection is closed with `421`.
    /// Default 10.
    pub max_bad_commands: u32,
    /// Connections served at once by one listener; more get `421 4.7.0` and are closed.
    /// Default 1000.
    pub max_connections: usize,
    /// Connections served at once from one client address (issue 12: one client must not
    /// fill the listener); more get `421 4.7.0`. Default 50.
    pub max_connections_per_ip: usize,
    /// How long a submission client may take to log in (from the greeting to a successful
    /// AUTH), whatever it sends meanwhile; then `421 4.4.2` and close. Not used on the
    /// inbound listener, where nobody logs in. Default 60 s.
    pub login_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_line_length: 1000,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            tls_handshake_timeout: Duration::from_secs(30),
            auth_failure_delay: Duration::from_secs(1),
            auth_failure_delay_max: Duration::from_secs(5),
            max_auth_failures: 3,
            max_bad_commands: 10,
            max_connections: 1000,
            max_connections_per_ip: 50,
            login_timeout: Duration::from_secs(60),
        }
    }
}

/// Settings of one submission listener.
#[derive(Debug, Clone)]
pub struct SubmissionConfig {
    /// Our host name, in the greeting and the EHLO reply.
    pub hostname: String,
    /// STARTTLS (587) or implicit TLS (465).
    pub mode: TlsMode,
    /// Sizes, counts and timeouts.
    pub limits: Limits,
}

/// Settings of one inbound listener (the receiving point, "port 25": mail from other
/// providers and from the Internet; PEC-SPEC §2.3 "Incoming point").
///
/// There is no TLS mode to choose: the greeting is plain, STARTTLS is offered and not
/// required, and AUTH is never offered (PEC-SPEC §2.3 InP 1, §9.2).
#[derive(Debug, Clone)]
pub struct InboundConfig {
    /// Our host name, in the greeting and the EHLO reply (the MX name peers connect to).
    pub hostname: String,
    /// Sizes, counts and timeouts (the AUTH-related ones are unused here).
    pub limits: Limits,
}

/// Which of the two SMTP services a listener provides. The session engine is the same; the
/// role decides what is advertised and whether MAIL FROM needs a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Submission by our users (RFC 6409): AUTH over TLS required before MAIL FROM.
    Submission,
    /// The receiving point: anyone may send, no AUTH, STARTTLS offered but optional.
    Inbound,
}

/// What every session of a listener shares: its settings, the TLS acceptor and the backend.
pub struct SessionContext<B> {
    /// The listener's settings. For an inbound listener `mode` is always
    /// [`TlsMode::StartTls`] (plain greeting, STARTTLS offered).
    pub config: SubmissionConfig,
    /// Submission or inbound.
    pub role: Role,
    /// Accepts TLS with the listener's certificate.
    pub tls: TlsAcceptor,
    /// The binary's side.
    pub backend: Arc<B>,
}

impl<B: Backend> SessionContext<B> {
    /// Bundles the settings, the rustls server configuration and the backend.
    pub fn new(config: SubmissionConfig, tls: Arc<rustls::ServerConfig>, backend: Arc<B>) -> Self {
        SessionContext {
            config,
            role: Role::Submission,
            tls: TlsAcceptor::from(tls),
            backend,
        }
    }

    /// Bundles an inbound listener's settings, the rustls server configuration (offered with
    /// STARTTLS) and the backend.
    pub fn new_inbound(
        config: InboundConfig,
        tls: Arc<rustls::ServerConfig>,
        backend: Arc<B>,
    ) -> Self {
        let config = SubmissionConfig {
            hostname: config.hostname,
            mode: TlsMode::StartTls,
            limits: config.limits,
        };
        SessionContext {
            config,
            role: Role::Inbound,
            tls: TlsAcceptor::from(tls),
            backend,
        }
    }
}

/// What the session waits for next.
pub(crate) enum State {
    /// A command line.
    Command,
    /// The base64 response to `334 ` after `AUTH PLAIN` without initial response.
    AuthPlain,
    /// The base64 user name after `AUTH LOGIN`.
    AuthLoginUser,
    /// The base64 password after the user name.
    AuthLoginPassword { user: String },
    /// Message bytes after `354`.
    Data(Box<DataIn>),
}

/// The receiving side of DATA.
pub(crate) struct DataIn {
    /// smtp-proto's receiver: dot-unstuffing and the `CRLF . CRLF` end.
    pub receiver: DataReceiver,
    /// Set once the message went over the size limit: the rest is read and dropped.
    pub discard: Option<DummyDataReceiver>,
    /// The message so far.
    pub buf: Vec<u8>,
}

/// What the session has learnt from the client.
#[derive(Default)]
pub(crate) struct SessionData {
    /// EHLO/HELO name; `None` until the client greeted (again, after STARTTLS).
    pub helo: Option<String>,
    /// The mailbox returned by the backend after AUTH.
    pub authenticated: Option<String>,
    /// MAIL FROM of the current transaction.
    pub mail_from: Option<String>,
    /// RCPT TO of the current transaction.
    pub rcpt_to: Vec<String>,
    /// Failed logins on this connection (drives the delay and the disconnect).
    pub auth_failures: u32,
    /// Unknown or malformed commands on this connection.
    pub bad_commands: u32,
}

impl SessionData {
    /// Forgets the current transaction (RSET, EHLO, end of DATA), keeps the login.
    pub fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }
}

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
    StartTls,
}

/// One SMTP connection, generic over its stream so tests drive it from memory.
pub(crate) struct Session<S, B> {
    pub stream: S,
    pub ctx: Arc<SessionContext<B>>,
    pub peer: SocketAddr,
    pub is_tls: bool,
    pub state: State,
    pub data: SessionData,
    pub line: LineBuffer,
    /// Replies not yet written: with PIPELINING they are flushed when the input runs dry.
    pub out: Vec<u8>,
    pub shutdown: watch::Receiver<bool>,
    /// On submission, when the client must have logged in by ([`Limits::login_timeout`]).
    pub login_deadline: pec_listen::LoginDeadline,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        ctx: Arc<SessionContext<B>>,
        is_tls: bool,
        shutdown: watch::Receiver<bool>,
        login_deadline: pec_listen::LoginDeadline,
    ) -> Self {
        let max_line = ctx.config.limits.max_line_length;
        Session {
            stream,
            ctx,
            peer,
            is_tls,
            state: State::Command,
            data: SessionData::default(),
            line: LineBuffer::new(max_line),
            out: Vec::with_capacity(256),
            shutdown,
            login_deadline,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.ctx.config.limits
    }

    /// True on the receiving point (no AUTH, MAIL FROM from anyone).
    pub fn is_inbound(&self) -> bool {
        self.ctx.role == Role::Inbound
    }

    /// Queues one reply line: `code enhanced text`, or `code text` when `enhanced` is empty.
    pub fn reply(&mut self, code: u16, enhanced: &str, text: &str) {
        self.push_line(code, ' ', enhanced, text);
    }

    /// Queues a multi-line reply; every line but the last uses `code-`.
    pub fn reply_lines(&mut self, code: u16, lines: &[String]) {
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            self.push_line(code, sep, "", line);
        }
    }

    fn push_line(&mut self, code: u16, sep: char, enhanced: &str, text: &str) {
        let line = if enhanced.is_empty() {
            format!("{code}{sep}{text}\r\n")
        } else {
            format!("{code}{sep}{enhanced} {text}\r\n")
        };
        self.out.extend_from_slice(line.as_bytes());
    }

    /// Writes the queued replies.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    /// Counts an unknown or malformed command; past the limit, queues `421` and closes.
    pub fn bad_command(&mut self, code: u16, enhanced: &str, text: &str) -> Flow {
        self.data.bad_commands += 1;
        if self.data.bad_commands > self.limits().max_bad_commands {
            self.reply(
                crate::codes::C421_SERVICE_UNAVAILABLE,
                crate::codes::E470_SECURITY,
                "Too many errors, closing connection",
            );
            Flow::Close
        } else {
            self.reply(code, enhanced, text);
            Flow::Continue
        }
    }
}

/// A bounded line reader: never holds more than `max` octets, whatever the client sends.
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    max: usize,
    overflow: bool,
}

/// A complete line, or the news that it was too long (its bytes are gone).
pub(crate) enum Line {
    Complete(Vec<u8>),
    TooLong,
}

impl LineBuffer {
    pub fn new(max: usize) -> Self {
        LineBuffer {
            buf: Vec::new(),
            max,
            overflow: false,
        }
    }

    /// Takes bytes up to and including the next LF. Returns how many were consumed and the
    /// line if one ended.
    pub fn push(&mut self, bytes: &[u8]) -> (usize, Option<Line>) {
        let (consumed, ended) = match bytes.iter().position(|&b| b == b'\n') {
            Some(pos) => (pos + 1, true),
            None => (bytes.len(), false),
        };
        if !self.overflow {
            if self.buf.len() + consumed > self.max {
                self.overflow = true;
                self.buf = Vec::new();
            } else {
                self.buf.extend_from_slice(&bytes[..consumed]);
            }
        }
        if !ended {
            return (consumed, None);
        }
        let line = if std::mem::take(&mut self.overflow) {
            Line::TooLong
        } else {
            Line::Complete(std::mem::take(&mut self.buf))
        };
        (consumed, Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_is_bounded() {
        let mut lb = LineBuffer::new(10);
        assert!(matches!(lb.push(b"NOOP\r\nQU"), (6, Some(Line::Complete(l))) if l == b"NOOP\r\n"));
        assert!(matches!(lb.push(b"QU"), (2, None)));
        assert!(matches!(lb.push(b"IT\r\n"), (4, Some(Line::Complete(l))) if l == b"QUIT\r\n"));
        assert!(matches!(lb.push(&[b'a'; 100]), (100, None)));
        assert!(lb.buf.is_empty());
        assert!(matches!(
            lb.push(b"aa\r\nNOOP\r\n"),
            (4, Some(Line::TooLong))
        ));
        assert!(matches!(lb.push(b"NOOP\r\n"), (6, Some(Line::Complete(_)))));
    }
}

/// The `SIZE=` a `MAIL FROM` line declares, read from the line itself (RFC 1870 §6),
/// saturating at `u64::MAX`; `None` without one. smtp-proto's own reading wraps a value of
/// more than 19 digits round to a small one, which would let any size past the check.
pub(crate) fn declared_size(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    if !line.get(..4)?.eq_ignore_ascii_case("MAIL") {
        return None;
    }
    let params = &line[line.find('>')? + 1..];
    // Every SIZE given counts: the largest is the one checked.
    params
        .split_ascii_whitespace()
        .filter_map(|p| {
            let (name, value) = p.split_once('=')?;
            if !name.eq_ignore_ascii_case("SIZE") || value.is_empty() {
                return None;
            }
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(value.bytes().fold(0u64, |n, d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            }))
        })
        .max()
}

#[cfg(test)]
mod declared_size_tests {
    use super::declared_size;

    #[test]
    fn sizes_are_read_and_saturate() {
        assert_eq!(declared_size(b"MAIL FROM:<a@b> SIZE=100\r\n"), Some(100));
        assert_eq!(
            declared_size(b"mail from:<a@b> body=8bitmime size=7"),
            Some(7)
        );
        assert_eq!(
            declared_size(b"MAIL FROM:<a@b> SIZE=99999999999999999999999"),
            Some(u64::MAX)
        );
        assert_eq!(declared_size(b"MAIL FROM:<a@b>"), None);
        assert_eq!(declared_size(b"RCPT TO:<a@b> SIZE=1"), None);
        assert_eq!(declared_size(b"MAIL FROM:<a@b> SIZE=abc"), None);
        assert_eq!(declared_size(b"MAIL FROM:<a@b> SIZE=1 SIZE=900"), Some(900));
    }
}
