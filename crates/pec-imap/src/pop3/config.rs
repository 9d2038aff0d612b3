//! The listener's configuration: who we say we are, how TLS starts, and the limits that keep
//! one client from holding more than its share.

use std::time::Duration;

use crate::TlsMode;

/// One POP3 listener.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// Our host name, shown in the greeting.
    pub hostname: String,
    /// Implicit TLS (port 995 style) or plain text with STLS (port 110 style).
    pub mode: TlsMode,
    /// Per-connection and per-listener limits.
    pub limits: Pop3Limits,
}

/// Limits of a POP3 listener. Every field has a production default ([`Default`]).
#[derive(Debug, Clone)]
pub struct Pop3Limits {
    /// Sessions served at once; one more gets `-ERR [SYS/TEMP]` and is closed. Default 1000.
    pub max_connections: usize,
    /// Sessions served at once from one client address (issue 12). Default 50.
    pub max_connections_per_ip: usize,
    /// How long a client may stay in the AUTHORIZATION state; then `-ERR` and close.
    /// Default 60 s.
    pub login_timeout: Duration,
    /// Longest command line in octets, CRLF included; a longer one gets `-ERR` and the
    /// connection is closed (the read buffer never grows past it). RFC 2449 §4 caps commands
    /// at 255, but an AUTH PLAIN response needs more. Default 512.
    pub max_line: usize,
    /// A session with no command for this long is closed without applying deletions.
    /// Default 10 minutes, the minimum of RFC 1939 §3.
    pub idle_timeout: Duration,
    /// Longest wait for the client to take one chunk (at most 16 KiB) of a reply; a client
    /// that stops reading is dropped after it. Default 60 s.
    pub write_timeout: Duration,
    /// Longest TLS handshake (implicit TLS or after STLS). Default 30 s.
    pub tls_handshake_timeout: Duration,
    /// Wait before answering a failed login, multiplied by the number of failures so far in
    /// the session (slows password guessing). Default 2 s.
    pub failed_login_delay: Duration,
    /// Failed logins after which the connection is closed. Default 3.
    pub max_failed_logins: u32,
    /// Message bytes the listener holds for RETR and TOP at once, a quarter of it per box
    /// (issue 12): clients that ask for messages and never read them cannot exhaust memory.
    /// Default 256 MiB.
    pub retr_memory: usize,
}

impl Default for Pop3Limits {
    fn default() -> Self {
        Pop3Limits {
            max_connections: 1000,
            max_connections_per_ip: 50,
            login_timeout: Duration::from_secs(60),
            max_line: 512,
            idle_timeout: Duration::from_secs(10 * 60),
            write_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(30),
            failed_login_delay: Duration::from_secs(2),
            max_failed_logins: 3,
            retr_memory: 256 << 20,
        }
    }
}
