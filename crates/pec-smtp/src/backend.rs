//! What the binary plugs into the server: credentials, recipient checks and the commit.
//!
//! Invariant: [`Backend::submit`] returns `Ok` only once the message is durably committed;
//! the session sends `250` only after that (STYLE §2, "reply only after commit").

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use crate::codes;

/// The outcome of [`Backend::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// The credentials are good; `mailbox` is the authenticated identity (the PEC mailbox the
    /// user may send as), which may differ from the login name.
    Accepted {
        /// The authenticated mailbox, passed back in [`Submission::authenticated`].
        mailbox: String,
    },
    /// Wrong user or password. The client gets `535 5.7.8` whether or not the box exists.
    Rejected,
    /// The directory could not be asked (our fault), or the client is throttled after too
    /// many failures: `454 4.7.0`, the client may retry later.
    Unavailable(String),
}

/// One message as received, handed to [`Backend::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The mailbox returned by [`AuthResult::Accepted`]; empty on an inbound listener, where
    /// nobody logs in.
    pub authenticated: String,
    /// The reverse-path of MAIL FROM, without angle brackets (may be empty for `<>`).
    pub mail_from: String,
    /// The forward-paths of RCPT TO, in order, without duplicates.
    pub rcpt_to: Vec<String>,
    /// The message exactly as received: dot-unstuffed, CRLF line ends, without the final
    /// `.` line. Never rewritten (breve hashes depend on the bytes, PEC-SPEC §9.2).
    pub data: Vec<u8>,
    /// The client's address, for the Received header and the legal log.
    pub peer: SocketAddr,
    /// The name the client gave in EHLO/HELO, for the Received header.
    pub helo: String,
    /// Whether the message came over TLS (implicit or after STARTTLS). Always `true` on a
    /// submission listener (AUTH needs TLS); on the inbound listener plaintext is allowed for
    /// ordinary mail (PEC-SPEC §9.2), so the backend may weigh it (and log it).
    pub tls: bool,
}

/// Why a recipient or a message was refused, as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Our fault or a dependency's (store down, disk full): `451 4.3.0 <reason>`, retry later.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Refused for good: `code` (5xx), the enhanced status code (`"5.7.1"`) and a reason.
    /// A code outside 500–599 or a malformed enhanced code is replaced by `554` / `5.0.0`.
    #[error("permanent failure {0} {1}: {2}")]
    Permanent(u16, String, String),
}

impl SubmitError {
    /// The reply line parts for this error: code, enhanced code, text (one line, no CR/LF).
    pub(crate) fn reply(&self) -> (u16, String, String) {
        match self {
            SubmitError::Temporary(reason) => (
                codes::C451_LOCAL_ERROR,
                codes::E430_OTHER_MAIL_SYSTEM.to_string(),
                one_line(reason),
            ),
            SubmitError::Permanent(code, enhanced, reason) => {
                let code = if (500..=599).contains(code) {
                    *code
                } else {
                    codes::C554_TRANSACTION_FAILED
                };
                let enhanced = if is_enhanced_permanent(enhanced) {
                    enhanced.clone()
                } else {
                    codes::E500_OTHER.to_string()
                };
                (code, enhanced, one_line(reason))
            }
        }
    }
}

/// `5.x.y` with 1–3 digit subject and detail (RFC 3463 §2).
fn is_enhanced_permanent(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    parts.next() == Some("5") && ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Reply text must be one printable line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The binary's side of the submission server. One value is shared (behind an `Arc`) by every
/// session of a listener.
///
/// Implement the methods with `async fn`; the futures must be `Send` because each session
/// runs on its own task.
pub trait Backend: Send + Sync + 'static {
    /// Checks a login from the client at `peer`. `user` and `password` come from AUTH PLAIN or
    /// AUTH LOGIN, already base64-decoded; the password must never be logged. The address lets
    /// the backend count failures across connections and protocols (and answer
    /// [`AuthResult::Unavailable`] to a client it throttles). Never called by an inbound
    /// listener; the default refuses every login, so a backend serving only inbound mail
    /// need not implement it.
    fn authenticate(
        &self,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> impl Future<Output = AuthResult> + Send {
        let _ = (user, password, peer);
        async { AuthResult::Rejected }
    }

    /// Decides on MAIL FROM, before any recipient. On a submission listener `authenticated`
    /// is the logged-in mailbox, and this is where the backend refuses a reverse-path that is
    /// not the box's own (`553 5.7.1`, RFC 6409 §6.1: sender authorisation); on an inbound
    /// listener it is empty. The default accepts every reverse-path.
    fn check_mail_from(
        &self,
        authenticated: &str,
        reverse_path: &str,
    ) -> impl Future<Output = Result<(), SubmitError>> + Send {
        let _ = (authenticated, reverse_path);
        async { Ok(()) }
    }

    /// Decides on one RCPT TO. On a submission listener `authenticated` is the logged-in
    /// mailbox; on an inbound listener it is empty, and this is where the backend refuses
    /// domains that are not ours (`550 5.7.1`, no open relay). The default accepts every
    /// recipient (PEC checks happen on the whole message in [`Backend::submit`]) — an inbound
    /// backend must override it.
    fn check_rcpt(
        &self,
        authenticated: &str,
        rcpt: &str,
    ) -> impl Future<Output = Result<(), SubmitError>> + Send {
        let _ = (authenticated, rcpt);
        async { Ok(()) }
    }

    /// Takes one message. Must return `Ok` only after the message (and whatever the PEC rules
    /// produced for it) is durably committed: the client is told `250` right after.
    fn submit(
        &self,
        submission: Submission,
    ) -> impl Future<Output = Result<(), SubmitError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_reply_is_sanitised() {
        let e = SubmitError::Permanent(250, "2.0.0".into(), "a\r\nb".into());
        assert_eq!(e.reply(), (554, "5.0.0".into(), "a  b".into()));
        let e = SubmitError::Permanent(550, "5.7.1".into(), "no".into());
        assert_eq!(e.reply(), (550, "5.7.1".into(), "no".into()));
        let e = SubmitError::Temporary("db".into());
        assert_eq!(e.reply(), (451, "4.3.0".into(), "db".into()));
    }
}
