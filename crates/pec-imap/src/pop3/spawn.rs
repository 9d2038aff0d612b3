//! Accepting connections: the listener loop, implicit TLS, and the STLS hand-over.
//!
//! Each connection runs on its own task. Shutdown: send `true` on the `watch` channel (or drop
//! its sender); the listener stops accepting, sessions waiting for a command answer
//! `-ERR [SYS/TEMP]` and close without applying deletions, a reply being written finishes (or
//! hits the write timeout), and [`serve_pop3`] returns once every session is gone.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::backend::Backend;
use pec_listen::tls::{prologue, Plain};
use pec_listen::TlsMode;

use super::config::Pop3Config;
use super::error::Pop3Error;
use super::session::{Context, Exit, Session};

/// Serves POP3 on `listener` until `shutdown` turns `true` (or its sender is dropped), one
/// task per connection, at most `config.limits.max_connections` at once.
///
/// Returns after the last session ended. Per-connection failures (a client that vanishes, a
/// failed handshake, a client that stops reading) end that connection only.
pub async fn serve_pop3<B: Backend>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: Pop3Config,
    backend: Arc<B>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Pop3Error> {
    let limits = &config.limits;
    let gate = crate::imap::gate(
        "pop3",
        &listener,
        limits.max_connections,
        limits.max_connections_per_ip,
    );
    let mode = config.mode;
    let budget = crate::budget::Budget::new(config.limits.retr_memory);
    let ctx = Arc::new(Context {
        config,
        tls: TlsAcceptor::from(tls),
        backend,
        budget,
    });
    let serve = |socket, peer: std::net::SocketAddr, stop| {
        let ctx = ctx.clone();
        async move {
            let _ = serve_connection(socket, peer.ip(), ctx, stop).await;
        }
    };
    let busy: &[u8] = b"-ERR [SYS/TEMP] too many connections, try later\r\n";
    let busy = (mode == TlsMode::StartTls).then_some(busy);
    pec_listen::accept_loop(listener, gate, shutdown, serve, busy).await;
    Ok(())
}

/// One connection: implicit TLS, or greeting + optional STLS, then the dialogue.
async fn serve_connection<S, B>(
    stream: S,
    peer: std::net::IpAddr,
    ctx: Arc<Context<B>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Pop3Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    // One login deadline for the whole connection, STLS or not.
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
    // RFC 2595 §4: no new greeting after STLS; the session starts over in AUTHORIZATION.
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
