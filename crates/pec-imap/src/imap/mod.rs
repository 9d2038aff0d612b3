//! The IMAP4rev1 server: imap-next's sans-IO `Server` parses commands and frames replies; this
//! module drives it over tokio + rustls and answers each command from a [`Backend`].
//!
//! Invariants:
//! - Every backend call names the authenticated box, never a name the client chose, so no
//!   command can read another user's folders.
//! - A message is served byte for byte as stored (`BODY[]` is never re-encoded: PEC
//!   signatures must still verify); MIME parsing happens only for ENVELOPE, BODYSTRUCTURE and
//!   part sections.
//! - Memory per session is bounded: command lines and literals have caps enforced before they
//!   are buffered, and replies are written (with a timeout) as each message is produced, so a
//!   client that never reads stalls only its own task, which is then closed.
//! - No untagged EXPUNGE is sent during FETCH, STORE or SEARCH (RFC 3501 §7.4.1); the view
//!   keeps such messages until a command where expunges may be announced.
//!
//! Layout: `conn` (bytes ↔ imap-next), `session` (state and dispatch), one file per group of
//! commands (`auth`, `folder`, `fetch`, `search`, `store`), `view` (the selected folder and
//! sequence sets), `message` (sections, ENVELOPE, BODYSTRUCTURE).

mod auth;
mod conn;
mod fetch;
mod folder;
mod message;
mod search;
mod session;
mod store;
mod view;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::backend::Backend;
use pec_listen::tls::{prologue, Plain};
use pec_listen::TlsMode;
use session::{Exit, Session};

/// Failures of a listener or of one connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the socket failed (usually the network's or the peer's fault).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The client did not finish the TLS handshake in time (the peer's fault).
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
    /// The client did not read our replies within [`ImapLimits::write_timeout`].
    #[error("client stopped reading replies")]
    WriteTimeout,
    /// The client broke a limit (line length, literal size, too many errors); the session was
    /// closed after a BAD or BYE.
    #[error("client misbehaved: {0}")]
    PeerMisbehaved(&'static str),
}

impl From<pec_listen::tls::HandshakeTimedOut> for Error {
    fn from(_: pec_listen::tls::HandshakeTimedOut) -> Self {
        Error::HandshakeTimeout
    }
}

/// Per-listener limits; each protects the process from one kind of client.
#[derive(Debug, Clone)]
pub struct ImapLimits {
    /// Sessions served at once; more connections get `* BYE` and are closed. Default 10,000.
    pub max_connections: usize,
    /// Sessions served at once from one client address (issue 12). Default 100.
    pub max_connections_per_ip: usize,
    /// How long a client may stay without logging in; then `* BYE`. Default 60 s.
    pub login_timeout: Duration,
    /// Largest literal (and so largest APPEND), in bytes. Default 50 MiB.
    pub max_literal: u32,
    /// Longest command line outside literals, in bytes; longer lines close the session.
    /// Default 64 KiB.
    pub max_command_line: usize,
    /// Inactivity after which a session is closed (RFC 3501 §5.4 asks at least 30 minutes).
    /// Default 30 minutes.
    pub idle_timeout: Duration,
    /// How long a write may wait for a client that does not read. Default 60 s.
    pub write_timeout: Duration,
    /// Deadline for the TLS handshake. Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// Delay after each failed login, doubled per further failure (brute-force throttling).
    /// Default 1 s.
    pub auth_failure_delay: Duration,
    /// Failed logins after which the session is closed. Default 3.
    pub max_auth_failures: u32,
    /// Consecutive BAD commands after which the session is closed. Default 20.
    pub max_bad_commands: u32,
    /// Bytes of message bodies the sessions of one listener may hold at once for FETCH
    /// replies (a session holds one message's bytes until its client has read them: the
    /// whole message is streamed, not encoded again). A session waits for its share, so
    /// clients that pipeline fetches of a large message and never read cannot exhaust the
    /// process's memory (issue 12); one that stops reading is dropped after `write_timeout`,
    /// which frees its share. Default 256 MiB.
    pub fetch_memory: usize,
}

impl Default for ImapLimits {
    fn default() -> Self {
        ImapLimits {
            max_connections: 10_000,
            max_connections_per_ip: 100,
            login_timeout: Duration::from_secs(60),
            max_literal: 50 * 1024 * 1024,
            max_command_line: 64 * 1024,
            idle_timeout: Duration::from_secs(30 * 60),
            write_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            auth_failure_delay: Duration::from_secs(1),
            max_auth_failures: 3,
            max_bad_commands: 20,
            fetch_memory: 256 << 20,
        }
    }
}

/// One IMAP listener's configuration.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// Our name in the greeting.
    pub hostname: String,
    /// Implicit TLS (993) or STARTTLS (143).
    pub mode: TlsMode,
    /// Resource limits.
    pub limits: ImapLimits,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            hostname: "localhost".into(),
            mode: TlsMode::Implicit,
            limits: ImapLimits::default(),
        }
    }
}

/// What every session of one listener shares.
pub(crate) struct Context<B> {
    pub(crate) config: ImapConfig,
    /// [`ImapLimits::fetch_memory`], a quarter of it per box.
    pub(crate) budget: crate::budget::Budget,
    pub(crate) tls: tokio_rustls::TlsAcceptor,
    pub(crate) backend: Arc<B>,
}

/// Serves IMAP on `listener` until `shutdown` turns `true` (or its sender is dropped), one task
/// per connection, at most `config.limits.max_connections` at once.
///
/// Returns after the last session ended; sessions end at shutdown with `* BYE`. A failing
/// connection ends only itself.
pub async fn serve_imap<B: Backend>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: ImapConfig,
    backend: Arc<B>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let gate = gate(
        "imap",
        &listener,
        config.limits.max_connections,
        config.limits.max_connections_per_ip,
    );
    let mode = config.mode;
    let budget = crate::budget::Budget::new(config.limits.fetch_memory);
    let ctx = Arc::new(Context {
        config,
        budget,
        tls: tokio_rustls::TlsAcceptor::from(tls),
        backend,
    });
    let serve = |socket, peer: std::net::SocketAddr, stop| {
        let ctx = ctx.clone();
        async move {
            let _ = serve_stream(socket, peer.ip(), ctx, stop).await;
        }
    };
    let busy: &[u8] = b"* BYE Too many connections, try later\r\n";
    let busy = (mode == TlsMode::StartTls).then_some(busy);
    pec_listen::accept_loop(listener, gate, shutdown, serve, busy).await;
    Ok(())
}

/// The caps of a listener, named after it in log lines.
pub(crate) fn gate(
    what: &str,
    listener: &TcpListener,
    max_connections: usize,
    max_per_ip: usize,
) -> pec_listen::Gate {
    pec_listen::Gate::for_listener(
        what,
        listener,
        pec_listen::ConnectionLimits {
            max_connections,
            max_per_ip,
        },
    )
}

/// One connection: implicit TLS, or plain text with an optional STARTTLS upgrade.
async fn serve_stream<S, B>(
    stream: S,
    peer: std::net::IpAddr,
    ctx: Arc<Context<B>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    // One login deadline for the whole connection, STARTTLS or not.
    let deadline = pec_listen::LoginDeadline::after(ctx.config.limits.login_timeout);
    let (handshake, mode, tls) = (
        ctx.config.limits.tls_handshake_timeout,
        ctx.config.mode,
        ctx.tls.clone(),
    );
    let (plain_ctx, plain_shutdown) = (ctx.clone(), shutdown.clone());
    let plain = move |stream| async move {
        let session = Session::new(
            stream,
            peer,
            plain_ctx,
            false,
            plain_shutdown,
            true,
            deadline,
        );
        Ok(match session.run().await? {
            Exit::StartTls(stream) => Plain::StartTls(stream),
            Exit::Closed => Plain::Done,
        })
    };
    // RFC 3501 §6.2.1: no new greeting after STARTTLS; bytes pipelined after it were
    // dropped with the plain-text session.
    let secure = move |tls, greet| async move {
        Session::new(tls, peer, ctx, true, shutdown, greet, deadline)
            .run()
            .await?;
        Ok(())
    };
    prologue(stream, mode, &tls, handshake, plain, secure).await
}
