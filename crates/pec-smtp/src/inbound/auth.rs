//! AUTH PLAIN (RFC 4616) and AUTH LOGIN, only over TLS (PEC-SPEC §9.2, §9.4).
//!
//! Failed logins all get the same `535 5.7.8`, whether or not the mailbox exists, after a delay
//! that grows with each failure on the connection; after `max_auth_failures` the connection is
//! closed with `421 4.7.0`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::{AuthResult, Backend};
use crate::codes::*;
use crate::core::{Flow, Session, State};

/// Base64 of "Username:" and "Password:", the customary AUTH LOGIN prompts.
const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// A decoded client response, or why it could not be used.
enum Response {
    Bytes(Vec<u8>),
    Cancelled,
    Invalid,
}

fn decode_response(line: &[u8]) -> Response {
    let trimmed = line.trim_ascii();
    match trimmed {
        b"*" => Response::Cancelled,
        // RFC 4954 §4: "=" is an empty initial response.
        b"=" => Response::Bytes(Vec::new()),
        _ => STANDARD
            .decode(trimmed)
            .map_or(Response::Invalid, Response::Bytes),
    }
}

/// `[authzid] NUL authcid NUL passwd` (RFC 4616 §2). A non-empty authzid must equal authcid:
/// acting for someone else is not offered.
fn split_plain(bytes: &[u8]) -> Option<(String, String)> {
    let mut parts = bytes.split(|&b| b == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    let passwd = parts.next()?;
    if parts.next().is_some() || authcid.is_empty() {
        return None;
    }
    if !authzid.is_empty() && authzid != authcid {
        return None;
    }
    let user = String::from_utf8(authcid.to_vec()).ok()?;
    let password = String::from_utf8(passwd.to_vec()).ok()?;
    Some((user, password))
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `AUTH mechanism [initial-response]`.
    pub(super) async fn handle_auth(&mut self, mechanism: u64, initial: String) -> Flow {
        if self.is_inbound() {
            // The receiving point takes mail from anyone and never asks for credentials.
            return self.bad_command(
                C502_NOT_IMPLEMENTED,
                E551_INVALID_COMMAND,
                "AUTH not available on this service",
            );
        }
        if !self.is_tls {
            // RFC 3207 §4; PEC-SPEC §9.2: no credentials in clear.
            self.reply(
                C530_SECURITY_REQUIRED,
                E570_SECURITY,
                "Must issue a STARTTLS command first",
            );
            return Flow::Continue;
        }
        if self.data.helo.is_none() {
            self.reply(C503_BAD_SEQUENCE, E551_INVALID_COMMAND, "Send EHLO first");
            return Flow::Continue;
        }
        if self.data.authenticated.is_some() {
            // RFC 4954 §4: no second AUTH in a session.
            self.reply(
                C503_BAD_SEQUENCE,
                E551_INVALID_COMMAND,
                "Already authenticated",
            );
            return Flow::Continue;
        }
        if self.data.mail_from.is_some() {
            self.reply(
                C503_BAD_SEQUENCE,
                E551_INVALID_COMMAND,
                "AUTH not allowed in a transaction",
            );
            return Flow::Continue;
        }
        match mechanism {
            AUTH_PLAIN if initial.is_empty() => {
                self.reply(C334_AUTH_CONTINUE, "", "");
                self.state = State::AuthPlain;
                Flow::Continue
            }
            AUTH_PLAIN => self.handle_auth_plain_response(initial.as_bytes()).await,
            AUTH_LOGIN if initial.is_empty() => {
                self.reply(C334_AUTH_CONTINUE, "", LOGIN_USER_PROMPT);
                self.state = State::AuthLoginUser;
                Flow::Continue
            }
            AUTH_LOGIN => self.handle_auth_login_user(initial.as_bytes()),
            _ => {
                self.reply(
                    C504_PARAM_NOT_IMPLEMENTED,
                    E554_INVALID_ARGUMENTS,
                    "Unsupported authentication mechanism",
                );
                Flow::Continue
            }
        }
    }

    /// The PLAIN message, from the initial response or the continuation line.
    pub(crate) async fn handle_auth_plain_response(&mut self, line: &[u8]) -> Flow {
        match decode_response(line) {
            Response::Bytes(bytes) => match split_plain(&bytes) {
                Some((user, password)) => self.check_credentials(&user, &password).await,
                None => self.auth_failed().await,
            },
            other => self.auth_response_error(other),
        }
    }

    /// The AUTH LOGIN user name; asks for the password.
    pub(crate) fn handle_auth_login_user(&mut self, line: &[u8]) -> Flow {
        match decode_response(line) {
            Response::Bytes(bytes) => {
                // A user name that is not UTF-8 cannot match; keep going so the answer is the
                // same 535 as for a wrong password.
                let user = String::from_utf8_lossy(&bytes).into_owned();
                self.reply(C334_AUTH_CONTINUE, "", LOGIN_PASSWORD_PROMPT);
                self.state = State::AuthLoginPassword { user };
                Flow::Continue
            }
            other => self.auth_response_error(other),
        }
    }

    /// The AUTH LOGIN password; checks the pair.
    pub(crate) async fn handle_auth_login_password(&mut self, user: String, line: &[u8]) -> Flow {
        match decode_response(line) {
            Response::Bytes(bytes) => match String::from_utf8(bytes) {
                Ok(password) => self.check_credentials(&user, &password).await,
                Err(_) => self.auth_failed().await,
            },
            other => self.auth_response_error(other),
        }
    }

    fn auth_response_error(&mut self, response: Response) -> Flow {
        match response {
            Response::Cancelled => {
                // RFC 4954 §4: a cancelled exchange gets 501.
                self.reply(C501_PARAM_SYNTAX, E550_PROTOCOL, "Authentication cancelled")
            }
            _ => self.reply(
                C501_PARAM_SYNTAX,
                E552_SYNTAX,
                "Cannot decode base64 response",
            ),
        }
        Flow::Continue
    }

    async fn check_credentials(&mut self, user: &str, password: &str) -> Flow {
        let peer = self.peer.ip();
        match self.ctx.backend.authenticate(user, password, peer).await {
            AuthResult::Accepted { mailbox } => {
                self.data.authenticated = Some(mailbox);
                self.reply(
                    C235_AUTH_SUCCEEDED,
                    E270_AUTH_OK,
                    "Authentication succeeded",
                );
                Flow::Continue
            }
            AuthResult::Rejected => self.auth_failed().await,
            AuthResult::Unavailable(_) => {
                self.reply(
                    C454_TEMP_AUTH_FAILURE,
                    E470_SECURITY,
                    "Temporary authentication failure",
                );
                Flow::Continue
            }
        }
    }

    /// One more failure: wait (longer each time), then 535, or 421 and close at the limit.
    async fn auth_failed(&mut self) -> Flow {
        self.data.auth_failures += 1;
        let limits = self.limits();
        let delay = limits
            .auth_failure_delay
            .saturating_mul(self.data.auth_failures)
            .min(limits.auth_failure_delay_max);
        let give_up = self.data.auth_failures >= limits.max_auth_failures;
        // Replies queued earlier in a pipeline go out before the pause.
        let _ = self.flush().await;
        tokio::time::sleep(delay).await;
        if give_up {
            self.reply(
                C421_SERVICE_UNAVAILABLE,
                E470_SECURITY,
                "Too many authentication failures, closing connection",
            );
            Flow::Close
        } else {
            self.reply(
                C535_AUTH_INVALID,
                E578_AUTH_INVALID,
                "Authentication credentials invalid",
            );
            Flow::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_split() {
        assert_eq!(
            split_plain(b"\0user\0pw"),
            Some(("user".into(), "pw".into()))
        );
        assert_eq!(
            split_plain(b"user\0user\0pw"),
            Some(("user".into(), "pw".into()))
        );
        assert_eq!(split_plain(b"other\0user\0pw"), None);
        assert_eq!(split_plain(b"\0user"), None);
        assert_eq!(split_plain(b"\0\0pw"), None);
        assert_eq!(split_plain(b"\0u\0p\0x"), None);
    }
}
