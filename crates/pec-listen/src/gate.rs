//! Connection caps of one listener: at most `max_connections` at once, at most `max_per_ip`
//! from one client address. A refused connection is logged, at most once a minute per
//! address (a flood must not flood the log too).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The caps of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections served at once from one client address.
    pub max_per_ip: usize,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The listener is full.
    Full,
    /// This address already holds its share.
    PerAddress,
}

/// How often a refusal for one address is logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Last log line per client, and refusals since (a client over its own cap).
    logged: HashMap<IpAddr, (Instant, u64)>,
    /// Last "listener full" line, and refusals since (one line for everybody).
    full_logged: Option<(Instant, u64)>,
}

/// Most clients whose refusals are remembered for the log; beyond it the memory restarts.
const LOGGED_MAX: usize = 10_000;

/// The caps of one listener and the connections it holds. Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    label: Arc<str>,
    limits: ConnectionLimits,
    state: Arc<Mutex<State>>,
}

/// One admitted connection; dropping it frees its place.
pub struct Permit {
    ip: IpAddr,
    state: Arc<Mutex<State>>,
}

impl Gate {
    /// A gate for the listener named `label` (used in log lines, e.g. `imap 0.0.0.0:143`).
    pub fn new(label: impl Into<Arc<str>>, limits: ConnectionLimits) -> Self {
        Self {
            label: label.into(),
            limits,
            state: Arc::default(),
        }
    }

    /// The listener's name, as its log lines give it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The gate of `listener`, named `what` and its address in log lines.
    pub fn for_listener(
        what: &str,
        listener: &tokio::net::TcpListener,
        limits: ConnectionLimits,
    ) -> Self {
        match listener.local_addr() {
            Ok(a) => Self::new(format!("{what} {a}"), limits),
            Err(_) => Self::new(what, limits),
        }
    }

    /// Admits a connection from `ip` (counted as its [`crate::cliente`]), or says why not
    /// (and logs it, rate-limited).
    pub fn admit(&self, ip: IpAddr) -> Result<Permit, Refused> {
        let ip = crate::cliente(ip);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let from_ip = s.per_ip.get(&ip).copied().unwrap_or(0);
        let refused = if s.total >= self.limits.max_connections {
            Some(Refused::Full)
        } else if from_ip >= self.limits.max_per_ip {
            Some(Refused::PerAddress)
        } else {
            None
        };
        if let Some(why) = refused {
            self.log_refusal(&mut s, ip, why, from_ip);
            return Err(why);
        }
        s.total += 1;
        *s.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Permit {
            ip,
            state: self.state.clone(),
        })
    }

    /// Connections open now, in all and from `ip`'s client.
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let ip = crate::cliente(ip);
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.total, s.per_ip.get(&ip).copied().unwrap_or(0))
    }

    fn log_refusal(&self, s: &mut State, ip: IpAddr, why: Refused, from_ip: usize) {
        let now = Instant::now();
        let total = s.total;
        let entry = match why {
            // A full listener is one fact, whoever knocks: one line for everybody.
            Refused::Full => s.full_logged.get_or_insert((now, 0)),
            Refused::PerAddress => {
                if s.logged.len() >= LOGGED_MAX && !s.logged.contains_key(&ip) {
                    s.logged.clear();
                }
                s.logged.entry(ip).or_insert((now, 0))
            }
        };
        entry.1 += 1;
        let first = entry.1 == 1;
        if !first && now.duration_since(entry.0) < LOG_EVERY {
            return;
        }
        let refused = entry.1;
        *entry = (now, 0);
        let what = match why {
            Refused::Full => format!(
                "the listener is full ({total} connections, max_connections = {})",
                self.limits.max_connections
            ),
            Refused::PerAddress => format!(
                "{from_ip} connections already open from that address \
                 (max_connections_per_ip = {})",
                self.limits.max_per_ip
            ),
        };
        tracing::warn!(
            "{}: connection from {ip} refused: {what}; {refused} refused since the last line",
            self.label
        );
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn per_address_and_total_caps_and_permits_free_their_place() {
        let g = Gate::new(
            "test",
            ConnectionLimits {
                max_connections: 3,
                max_per_ip: 2,
            },
        );
        let a1 = g.admit(ip(1)).unwrap();
        let _a2 = g.admit(ip(1)).unwrap();
        assert_eq!(g.admit(ip(1)).err(), Some(Refused::PerAddress));
        let _b1 = g.admit(ip(2)).unwrap();
        assert_eq!(g.admit(ip(3)).err(), Some(Refused::Full));
        drop(a1);
        assert_eq!(g.open(ip(1)), (2, 1));
        let _c1 = g.admit(ip(3)).unwrap();
        assert_eq!(g.open(ip(3)), (3, 1));
    }
}
