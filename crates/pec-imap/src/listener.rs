//! The accept loop IMAP and POP3 share: one task per connection, a cap on connections, and a
//! stop that waits for every session to end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// Accepts on `listener` until `shutdown` turns `true` (or its sender is dropped): each
/// connection runs `serve(socket, shutdown)` on its own task while fewer than
/// `max_connections` are open, `refuse(socket)` otherwise. Returns after the last task ended.
pub(crate) async fn accept_loop<S, SF, R, RF>(
    listener: TcpListener,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
    serve: S,
    refuse: R,
) where
    S: Fn(TcpStream, watch::Receiver<bool>) -> SF,
    SF: Future<Output = ()> + Send + 'static,
    R: Fn(TcpStream) -> RF,
    RF: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections));
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
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let session = serve(socket, session_shutdown.clone());
                        sessions.spawn(async move {
                            let _permit = permit;
                            session.await;
                        });
                    }
                    Err(_) => {
                        sessions.spawn(refuse(socket));
                    }
                }
            }
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
