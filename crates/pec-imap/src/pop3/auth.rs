//! The AUTHORIZATION state (RFC 1939 §4, §7): USER/PASS, AUTH PLAIN (RFC 5034), STLS, QUIT.
//!
//! USER always answers `+OK`, and every refusal reads the same, so a client cannot learn
//! whether a box exists. Each failure waits longer before answering; after
//! [`Pop3Limits::max_failed_logins`](super::Pop3Limits) the connection is closed.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::Backend;

use super::codes::{AUTH, SYS_TEMP};
use super::command::{Command, Secret};
use super::maildrop::Maildrop;
use super::session::{Flow, Session, State};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// A command in the AUTHORIZATION state.
    pub(super) async fn handle_authorization(&mut self, command: Command) -> Flow {
        match command {
            Command::Stls => self.handle_stls(),
            Command::Quit => {
                self.ok("bye");
                Flow::Close
            }
            Command::User(name) => {
                if !self.may_login() {
                    self.refuse_plain_login();
                    return Flow::Continue;
                }
                self.state = State::Authorization { user: Some(name) };
                self.ok("send PASS");
                Flow::Continue
            }
            Command::Pass(password) => {
                if !self.may_login() {
                    self.refuse_plain_login();
                    return Flow::Continue;
                }
                let user =
                    match std::mem::replace(&mut self.state, State::Authorization { user: None }) {
                        State::Authorization { user: Some(user) } => user,
                        _ => {
                            self.err("USER first");
                            return Flow::Continue;
                        }
                    };
                self.login(&user, &password).await
            }
            Command::Auth { mechanism, initial } => {
                self.handle_auth(mechanism.as_deref(), initial).await
            }
            _ => {
                self.err("not allowed before login");
                Flow::Continue
            }
        }
    }

    /// AUTH (RFC 5034 §4): PLAIN only, with or without an initial response.
    async fn handle_auth(&mut self, mechanism: Option<&str>, initial: Option<Secret>) -> Flow {
        if !self.may_login() {
            self.refuse_plain_login();
            return Flow::Continue;
        }
        self.state = State::Authorization { user: None };
        match (mechanism, initial) {
            (None, _) => {
                // Pre-RFC 5034 clients (Outlook) list mechanisms with a bare AUTH.
                self.ok("SASL mechanisms follow");
                self.line("PLAIN");
                self.line(".");
                Flow::Continue
            }
            (Some("PLAIN"), Some(response)) => self.auth_plain(response.0.as_bytes()).await,
            (Some("PLAIN"), None) => {
                self.line("+ ");
                self.state = State::SaslResponse;
                Flow::Continue
            }
            (Some(_), _) => {
                self.err("unsupported SASL mechanism");
                Flow::Continue
            }
        }
    }

    /// The base64 line after `+ ` (RFC 5034 §4); `*` cancels.
    pub(super) async fn handle_sasl_response(&mut self, line: &[u8]) -> Flow {
        if line == b"*" {
            self.err("authentication cancelled");
            return Flow::Continue;
        }
        self.auth_plain(line).await
    }

    /// Decodes `authzid NUL authcid NUL passwd` (RFC 4616 §2) and logs in.
    async fn auth_plain(&mut self, encoded: &[u8]) -> Flow {
        let decoded = if encoded == b"=" {
            Some(Vec::new())
        } else {
            base64_decode(encoded)
        };
        let Some(decoded) = decoded else {
            self.err("bad base64");
            return Flow::Continue;
        };
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authz), Some(authc), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.err("bad PLAIN response");
            return Flow::Continue;
        };
        let (Ok(authz), Ok(authc), Ok(password)) = (
            std::str::from_utf8(authz),
            std::str::from_utf8(authc),
            std::str::from_utf8(password),
        ) else {
            self.err("bad PLAIN response");
            return Flow::Continue;
        };
        if !authz.is_empty() && authz != authc {
            // Acting as another user is not offered; answer like a wrong password.
            return self.login_failed().await;
        }
        let (authc, password) = (authc.to_string(), Secret(password.to_string()));
        self.login(&authc, &password).await
    }

    /// Checks the credentials and, on success, opens the maildrop.
    async fn login(&mut self, user: &str, password: &Secret) -> Flow {
        let peer = self.peer;
        let mailbox = match self
            .ctx
            .backend
            .authenticate("pop3", user, &password.0, peer)
            .await
        {
            Ok(Some(mailbox)) => mailbox,
            Ok(None) => return self.login_failed().await,
            Err(_) => {
                self.err(&format!("{SYS_TEMP} authentication unavailable, try later"));
                return Flow::Continue;
            }
        };
        match self.ctx.backend.snapshot(&mailbox, "INBOX").await {
            Ok(snapshot) => {
                let maildrop = Maildrop::new(mailbox, snapshot);
                let (count, octets) = maildrop.stat();
                self.state = State::Transaction(maildrop);
                self.ok(&format!("maildrop has {count} messages ({octets} octets)"));
            }
            Err(_) => {
                self.err(&format!("{SYS_TEMP} maildrop unavailable, try later"));
            }
        }
        Flow::Continue
    }

    /// Waits (longer after each failure), then refuses; closes after too many.
    async fn login_failed(&mut self) -> Flow {
        self.failed_logins = self.failed_logins.saturating_add(1);
        let delay = self.limits().failed_login_delay * self.failed_logins;
        tokio::time::sleep(delay).await;
        if self.failed_logins >= self.limits().max_failed_logins {
            self.err(&format!("{AUTH} too many failed logins, closing"));
            return Flow::Close;
        }
        self.err(&format!("{AUTH} invalid credentials"));
        Flow::Continue
    }
}

/// Standard base64 (RFC 4648 §4) with padding; `None` on anything else.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    if input.is_empty() || !input.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let last = input.len() / 4 - 1;
    for (i, quad) in input.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i != last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &quad[..4 - pad] {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_round_trips_plain_responses() {
        assert_eq!(
            base64_decode(b"AHVzZXIAcGFzcw==").as_deref(),
            Some(&b"\0user\0pass"[..])
        );
        assert_eq!(base64_decode(b"YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode(b"YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64_decode(b"YQ==").as_deref(), Some(&b"a"[..]));
        assert!(base64_decode(b"YQ=").is_none());
        assert!(base64_decode(b"Y===").is_none());
        assert!(base64_decode(b"YQ==YWJj").is_none());
        assert!(base64_decode(b"!!!!").is_none());
    }
}
