//! The accept loop every listener shares: one task per connection, admitted by a [`Gate`],
//! and a stop that waits for every session to end.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use tokio::io::AsyncWriteExt as _;
use tracing::Instrument as _;

use crate::gate::Gate;

/// How long a refused client gets to take its one line.
const REFUSAL_WRITE: Duration = Duration::from_secs(5);

/// Accepts on `listener` until `shutdown` turns `true` (or its sender is dropped). Each
/// connection the gate admits runs `serve(socket, peer, shutdown)` on its own task, holding
/// its place until the task ends; the others get `busy` (the protocol's "try later" line, for
/// a plain-text listener; `None` under implicit TLS, where no plain line can be read), written
/// within a few seconds, and are closed. Returns after the last task ended.
///
/// Out of file descriptors (or any accept error) it backs off briefly instead of spinning.
pub async fn accept_loop<S, SF>(
    listener: TcpListener,
    gate: Gate,
    mut shutdown: watch::Receiver<bool>,
    serve: S,
    busy: Option<&'static [u8]>,
) where
    S: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> SF,
    SF: Future<Output = ()> + Send + 'static,
{
    let mut sessions = JoinSet::new();
    let session_shutdown = shutdown.clone();
    loop {
        tokio::select! {
            _ = async { let _ = shutdown.wait_for(|&stop| stop).await; } => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                match gate.admit(peer.ip()) {
                    Ok(permit) => {
                        // Everything a session logs carries its listener and client.
                        let span = tracing::info_span!("session", listener = %gate.label(), %peer);
                        let session = serve(socket, peer, session_shutdown.clone());
                        sessions.spawn(
                            async move {
                                let _permit = permit;
                                session.await;
                            }
                            .instrument(span),
                        );
                    }
                    Err(_) => {
                        sessions.spawn(refuse(socket, busy));
                    }
                }
            }
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

/// Tells a refused client why (when it can read a plain line), then closes.
async fn refuse(mut socket: TcpStream, busy: Option<&'static [u8]>) {
    if let Some(line) = busy {
        let _ = tokio::time::timeout(REFUSAL_WRITE, socket.write_all(line)).await;
    }
    let _ = tokio::time::timeout(REFUSAL_WRITE, socket.shutdown()).await;
}
