//! Accepting connections: the listener loop, implicit TLS, and the STLS hand-over.
//!
//! Each connection runs on its own task. Shutdown: send `true` on the `watch` channel (or drop
//! its sender); the listener stops accepting, sessions waiting for a command answer
//! `-ERR [SYS/TEMP]` and close without applying deletions, a reply being written finishes (or
//! hits the write timeout), and [`serve_pop3`] returns once every session is gone.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::backend::Backend;
use crate::TlsMode;

use super::codes::SYS_TEMP;
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
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Pop3Error> {
    let slots = Arc::new(Semaphore::new(config.limits.max_connections));
    let ctx = Arc::new(Context {
        config,
        tls: TlsAcceptor::from(tls),
        backend,
    });
    let mut sessions = JoinSet::new();
    let session_shutdown = shutdown.clone();
    loop {
        tokio::select! {
            _ = async { let _ = shutdown.wait_for(|&stop| stop).await; } => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let socket = match accepted {
                    Ok((socket, _peer)) => socket,
                    Err(_) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                let ctx = ctx.clone();
                let shutdown = session_shutdown.clone();
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        sessions.spawn(async move {
                            let _permit = permit;
                            let _ = serve_connection(socket, ctx, shutdown).await;
                        });
                    }
                    Err(_) => {
                        sessions.spawn(refuse_busy(socket, ctx.config.mode));
                    }
                }
            }
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
    Ok(())
}

/// Over the connection limit: tell a plain-text client why, then close.
async fn refuse_busy<S: AsyncWrite + Unpin>(mut socket: S, mode: TlsMode) {
    if mode == TlsMode::StartTls {
        let line = format!("-ERR {SYS_TEMP} too many connections, try later\r\n");
        let _ =
            tokio::time::timeout(Duration::from_secs(5), socket.write_all(line.as_bytes())).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.shutdown()).await;
}

/// One connection: implicit TLS, or greeting + optional STLS, then the dialogue.
async fn serve_connection<S, B>(
    stream: S,
    ctx: Arc<Context<B>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Pop3Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    let handshake = ctx.config.limits.tls_handshake_timeout;
    match ctx.config.mode {
        TlsMode::Implicit => {
            let tls = tokio::time::timeout(handshake, ctx.tls.accept(stream))
                .await
                .map_err(|_| Pop3Error::HandshakeTimeout)??;
            Session::new(tls, ctx, true, shutdown)
                .greet_and_run()
                .await?;
        }
        TlsMode::StartTls => {
            let session = Session::new(stream, ctx.clone(), false, shutdown.clone());
            if let Exit::StartTls(stream) = session.greet_and_run().await? {
                let tls = tokio::time::timeout(handshake, ctx.tls.accept(stream))
                    .await
                    .map_err(|_| Pop3Error::HandshakeTimeout)??;
                // RFC 2595 §4: no new greeting; the session starts over in AUTHORIZATION.
                Session::new(tls, ctx, true, shutdown).run().await?;
            }
        }
    }
    Ok(())
}
