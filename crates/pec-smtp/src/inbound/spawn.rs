//! Accepting connections: the listener loop, the greeting, implicit TLS and STARTTLS.
//!
//! Each connection runs on its own task, so a client stalled in DATA holds only its own task.
//! Shutdown: send `true` on the `watch` channel (or drop its sender); the listener stops
//! accepting, idle sessions answer `421 4.3.2` and close, a commit in progress finishes first,
//! and [`serve_submission`] / [`serve_inbound`] return once every session is gone.

use std::net::SocketAddr;
use std::sync::Arc;

use pec_listen::tls::{prologue, Plain};
use pec_listen::{ConnectionLimits, Gate};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::backend::Backend;
use crate::codes::*;
use crate::core::{Flow, InboundConfig, Role, Session, SessionContext, SubmissionConfig, TlsMode};
use crate::error::Error;
use crate::inbound::session::Exit;

/// Serves SMTP submission on `listener` until `shutdown` turns `true` (or its sender is
/// dropped), one task per connection, at most `config.limits.max_connections` at once and
/// `config.limits.max_connections_per_ip` from one client address.
///
/// Returns after the last session ended. Per-connection failures (a client that vanishes, a
/// failed handshake) end that connection only.
pub async fn serve_submission<B: Backend>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: SubmissionConfig,
    backend: Arc<B>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let ctx = Arc::new(SessionContext::new(config, tls, backend));
    serve(listener, ctx, shutdown).await
}

/// Serves the receiving point (inbound SMTP from other providers and the Internet, "port 25")
/// on `listener` until `shutdown` turns `true`: plain greeting, STARTTLS offered with `tls`
/// but not required, no AUTH, MAIL FROM from anyone (PEC-SPEC §2.3 InP 1, §9.2). Every
/// RCPT TO goes to [`Backend::check_rcpt`] with an empty `authenticated`; that is where the
/// backend refuses domains that are not ours.
///
/// Same limits, timeouts, shutdown and "250 only after commit" contract as
/// [`serve_submission`].
pub async fn serve_inbound<B: Backend>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: InboundConfig,
    backend: Arc<B>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let ctx = Arc::new(SessionContext::new_inbound(config, tls, backend));
    serve(listener, ctx, shutdown).await
}

/// The accept loop both roles share, behind a gate with this listener's caps.
async fn serve<B: Backend>(
    listener: TcpListener,
    ctx: Arc<SessionContext<B>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let limits = &ctx.config.limits;
    let role = if ctx.role == Role::Inbound {
        "smtp inbound"
    } else {
        "smtp submission"
    };
    let gate = Gate::for_listener(
        role,
        &listener,
        ConnectionLimits {
            max_connections: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
        },
    );
    // Over the caps, a plain-text client is told why before the socket closes.
    let busy: &[u8] = b"421 4.7.0 Too many connections, try later\r\n";
    let busy = (ctx.config.mode == TlsMode::StartTls).then_some(busy);
    let serve = |socket, peer, stop| {
        let ctx = ctx.clone();
        async move {
            let _ = serve_stream(socket, peer, ctx, stop).await;
        }
    };
    pec_listen::accept_loop(listener, gate, shutdown, serve, busy).await;
    Ok(())
}

/// Serves one connection on any stream (a TCP socket, or an in-memory duplex in tests):
/// implicit TLS or greeting + optional STARTTLS, then the SMTP dialogue.
pub async fn serve_stream<S, B>(
    stream: S,
    peer: SocketAddr,
    ctx: Arc<SessionContext<B>>,
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
        let session = Session::new(stream, peer, plain_ctx, false, plain_shutdown, deadline);
        Ok(match session.greet_and_run().await? {
            Exit::StartTls(stream) => Plain::StartTls(stream),
            Exit::Closed => Plain::Done,
        })
    };
    // RFC 3207 §4.2: after STARTTLS everything learnt before is forgotten; no new greeting.
    let secure = move |tls, greet| async move {
        let session = Session::new(tls, peer, ctx, true, shutdown, deadline);
        if greet {
            session.greet_and_run().await?;
        } else {
            session.run().await?;
        }
        Ok(())
    };
    prologue(stream, mode, &tls, handshake, plain, secure).await
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `STARTTLS` (RFC 3207): `220`, then the caller runs the handshake. Bytes pipelined after
    /// the command are dropped with this session (STARTTLS command injection).
    pub(super) fn handle_starttls(&mut self) -> Flow {
        if self.is_tls || self.ctx.config.mode != TlsMode::StartTls {
            self.reply(
                C503_BAD_SEQUENCE,
                E551_INVALID_COMMAND,
                "TLS already active",
            );
            return Flow::Continue;
        }
        self.reply(C220_SERVICE_READY, E200_OK, "Ready to start TLS");
        Flow::StartTls
    }
}
