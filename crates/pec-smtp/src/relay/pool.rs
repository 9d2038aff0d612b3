//! Sending one message to one recipient of another domain: the route ([`Router`]), the TLS
//! trust towards other providers, and open connections reused per host.
//!
//! [`Relay::send`] tries every host of the route in turn until one answers, on a pooled
//! connection when one is open (one more try on a fresh connection if the peer closed it
//! meanwhile, which does not count as an attempt). What the outcome means for PEC (a notice,
//! a retry, giving up after 24 h) is the caller's.

use super::route::{RelayConfig, RouteError, Router, Unreachable};
use super::{connect, Connection, RcptOutcome, Timeouts, TlsPolicy};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// An open connection is reused for this long after its last message.
const IDLE_MAX: Duration = Duration::from_secs(20);
/// Sends under way at once to one host (address and port). Receiving points
/// cap connections per client address (ours: `[limits] max_connections_per_ip`, 50 by
/// default; others' alike), and a relay that opened one per queued item would be refused
/// with 421 under load and fall into backoff: sends beyond this wait for a connection.
const PER_HOST: usize = 16;
/// How long a send waits for a place among its host's sends before it is put off (a
/// temporary failure: the queue tries it again later), so a busy host neither holds the
/// worker's slots nor outlives the queue item's lease.
const PLACE_WAIT: Duration = Duration::from_secs(15);

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The recipient's server took it.
    Accepted,
    /// The domain cannot receive mail.
    Unreachable {
        /// The domain, lower case.
        domain: String,
        /// Why.
        why: Unreachable,
    },
    /// The recipient's server refused it for good (5xx).
    Refused {
        /// The reply code.
        code: u16,
        /// Its enhanced status code, when given.
        enhanced: Option<String>,
        /// Its text.
        text: String,
    },
    /// Try again later: why not now.
    Temporary(String),
}

/// Why a relay could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RelaySetupError {
    /// An extra TLS root could not be used.
    #[error("relay TLS root {path}: {reason}")]
    Root {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the client configuration.
    #[error("relay TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The SMTP client side: routes, TLS trust and open connections.
pub struct Relay {
    router: Router,
    tls: Arc<rustls::ClientConfig>,
    timeouts: Timeouts,
    helo: String,
    idle: Mutex<HashMap<SocketAddr, Vec<(Connection, Instant)>>>,
    /// Per host, the places of its connections ([`PER_HOST`]).
    places: Mutex<HashMap<SocketAddr, Arc<Semaphore>>>,
}

impl Relay {
    /// From `[relay]` (static routes, MX, extra TLS roots over the public ones, timeouts)
    /// and the name we greet with.
    pub fn new(config: RelayConfig, helo: String) -> Result<Self, RelaySetupError> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for path in &config.tls_roots {
            let root = |reason: String| RelaySetupError::Root {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| root(format!("cannot read: {e}")))?;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| root(format!("not PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| root(format!("unusable certificate: {e}")))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Relay {
            timeouts: Timeouts::uniform(config.timeout),
            router: Router::new(config),
            tls: Arc::new(tls),
            helo,
            idle: Mutex::new(HashMap::new()),
            places: Mutex::new(HashMap::new()),
        })
    }

    /// Sends `bytes` to one recipient: every host of the route in turn until one answers.
    /// `tls_required` for other PEC providers (PEC-SPEC §9.2); opportunistic otherwise.
    pub async fn send(
        &self,
        tls_required: bool,
        mail_from: &str,
        rcpt: &str,
        bytes: &[u8],
    ) -> Sent {
        let domain = rcpt.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let hops = match self.router.hops(domain).await {
            Ok(h) => h,
            Err(RouteError::Permanent(why)) => {
                return Sent::Unreachable {
                    domain: domain.to_ascii_lowercase(),
                    why,
                }
            }
            Err(RouteError::Temporary(e)) => return Sent::Temporary(e),
        };
        let mut last = String::from("no host answered");
        let rcpts = [rcpt.to_string()];
        for hop in hops {
            let Ok(name) = rustls_pki_types::ServerName::try_from(hop.host.clone()) else {
                last = format!("{}: not a usable TLS server name", hop.host);
                continue;
            };
            for addr in hop.addrs {
                // A place among the host's sends under way, held for the whole send; a send
                // reuses an idle connection before it opens one, and at most as many idle
                // connections are kept, so the host sees about PER_HOST of ours.
                let place = tokio::time::timeout(PLACE_WAIT, self.place(addr).acquire_owned());
                let Ok(Ok(_place)) = place.await else {
                    last = format!(
                        "{} ({addr}): {PER_HOST} sends to it already under way",
                        hop.host
                    );
                    continue;
                };
                for pooled in [true, false] {
                    let mut conn = match pooled.then(|| self.take(addr)).flatten() {
                        Some(c) => c,
                        None if pooled => continue,
                        None => {
                            let policy = if tls_required {
                                TlsPolicy::Required(self.tls.clone(), name.clone())
                            } else {
                                TlsPolicy::Opportunistic(self.tls.clone(), name.clone())
                            };
                            match connect(addr, &self.helo, policy, self.timeouts.clone()).await {
                                Ok(c) => c,
                                Err(e) => {
                                    last = format!("{} ({addr}): {e}", hop.host);
                                    break;
                                }
                            }
                        }
                    };
                    match conn.send(mail_from, &rcpts, bytes).await {
                        Ok(outcomes) => {
                            self.give_back(addr, conn);
                            return match outcomes.into_iter().next() {
                                Some(RcptOutcome::Accepted) => Sent::Accepted,
                                Some(RcptOutcome::Permanent {
                                    code,
                                    enhanced,
                                    text,
                                }) => Sent::Refused {
                                    code,
                                    enhanced,
                                    text,
                                },
                                Some(RcptOutcome::Temporary { code, text, .. }) => {
                                    Sent::Temporary(format!("{} said {code} {text}", hop.host))
                                }
                                None => Sent::Temporary("no outcome".into()),
                            };
                        }
                        Err(e) => last = format!("{} ({addr}): {e}", hop.host),
                    }
                }
            }
        }
        Sent::Temporary(last)
    }

    fn place(&self, addr: SocketAddr) -> Arc<Semaphore> {
        let mut places = self.places.lock().unwrap_or_else(|e| e.into_inner());
        places
            .entry(addr)
            .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST)))
            .clone()
    }

    fn take(&self, addr: SocketAddr) -> Option<Connection> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&addr)?;
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < IDLE_MAX {
                return Some(c);
            }
        }
        None
    }

    fn give_back(&self, addr: SocketAddr, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(addr).or_default();
            list.retain(|(_, since)| since.elapsed() < IDLE_MAX);
            if list.len() < PER_HOST {
                list.push((conn, Instant::now()));
            }
        }
    }
}
