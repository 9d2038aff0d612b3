//! The webmail on a listener: HTTPS with the provider's TLS certificate, or plain HTTP (the
//! configuration allows it on loopback only). Each connection knows its peer (for the login
//! throttle) and whether it is encrypted (for the cookie's `Secure`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Who is at the other end of a request's connection.
#[derive(Debug, Clone, Copy)]
pub struct Connessione {
    /// The client's address.
    pub peer: SocketAddr,
    /// Over TLS.
    pub https: bool,
}

/// How long a client has to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `stop` turns true; over TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    // The connection's span names the listener and the client, as every listener's does:
    // the login throttle's lines (`gestore::auth`) are then the ones fail2ban reads for SMTP,
    // IMAP and POP3.
    let nome = match acceptor {
        Some(_) => format!("web {}", listener.local_addr()?),
        None => format!("web_http {}", listener.local_addr()?),
    };
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("web: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return Ok(()),
        };
        let conn = Connessione {
            peer,
            https: acceptor.is_some(),
        };
        let svc = app.clone().layer(axum::Extension(conn));
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let acceptor = acceptor.clone();
        let span = tracing::info_span!("session", listener = %nome, peer = %peer);
        let connessione = async move {
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let served = match acceptor {
                Some(a) => match tokio::time::timeout(HANDSHAKE, a.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        builder
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                            .await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!("web {peer}: TLS handshake: {e}");
                        return;
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await
                }
            };
            if let Err(e) = served {
                tracing::debug!("web {peer}: {e}");
            }
        };
        tokio::spawn(tracing::Instrument::instrument(connessione, span));
    }
}
