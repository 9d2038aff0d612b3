//! The accept loop every listener shares: one task per connection, admitted by a [`Gate`],
//! and a stop that waits for every session to end.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::gate::{Gate, Refused};

/// Accepts on `listener` until `shutdown` turns `true` (or its sender is dropped). Each
/// connection the gate admits runs `serve(socket, peer, shutdown)` on its own task, holding
/// its place until the task ends; the others run `refuse(socket, why)` (a short reply, then
/// close). Returns after the last task ended.
///
/// Out of file descriptors (or any accept error) it backs off briefly instead of spinning.
pub async fn accept_loop<S, SF, R, RF>(
    listener: TcpListener,
    gate: Gate,
    mut shutdown: watch::Receiver<bool>,
    serve: S,
    refuse: R,
) where
    S: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> SF,
    SF: Future<Output = ()> + Send + 'static,
    R: Fn(TcpStream, Refused) -> RF,
    RF: Future<Output = ()> + Send + 'static,
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
                        let session = serve(socket, peer, session_shutdown.clone());
                        sessions.spawn(async move {
                            let _permit = permit;
                            session.await;
                        });
                    }
                    Err(why) => {
                        sessions.spawn(refuse(socket, why));
                    }
                }
            }
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
