//! MAIL FROM: on submission only after AUTH (PEC-SPEC §9.4); on the inbound listener from
//! anyone, `<>` included (PEC-SPEC §2.3 InP 1). The declared SIZE is checked up front.
//!
//! Whether the reverse-path is the authenticated mailbox is the backend's to say
//! ([`Backend::check_mail_from`]: gestore refuses any other at once, `553 5.7.1`); whether it
//! matches the `From:` header is a PEC rule decided in pec-core on the whole message (a
//! mismatch yields an *avviso di non accettazione*, not an SMTP refusal).
//!
//! Addresses are ASCII: SMTPUTF8 (RFC 6531) is not offered, so a non-ASCII reverse-path is
//! refused (`553 5.6.7`, RFC 6531 §3.5).

use smtp_proto::MailFrom;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::Backend;
use crate::codes::*;
use crate::core::{Flow, Session};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `MAIL FROM:<reverse-path> [SIZE=n] [BODY=8BITMIME]`; `declared` is the SIZE as
    /// [`crate::core::declared_size`] read it from the line itself.
    pub(super) async fn handle_mail_from(
        &mut self,
        from: MailFrom<String>,
        declared: Option<u64>,
    ) -> Flow {
        let declared = declared.unwrap_or(from.size as u64);
        if self.data.helo.is_none() {
            self.reply(C503_BAD_SEQUENCE, E551_INVALID_COMMAND, "Send EHLO first");
        } else if !self.is_inbound() && self.data.authenticated.is_none() {
            // RFC 4954 §6.
            self.reply(
                C530_SECURITY_REQUIRED,
                E570_SECURITY,
                "Authentication required",
            );
        } else if self.data.mail_from.is_some() {
            self.reply(
                C503_BAD_SEQUENCE,
                E551_INVALID_COMMAND,
                "Nested MAIL command",
            );
        } else if declared > self.limits().max_message_size as u64 {
            // RFC 1870 §6.
            self.reply(
                C552_TOO_BIG,
                E534_TOO_BIG,
                "Message size exceeds fixed maximum message size",
            );
        } else if !from.address.is_ascii() {
            self.reply(
                C553_MAILBOX_NAME_NOT_ALLOWED,
                E567_NON_ASCII_ADDRESS,
                "Non-ASCII address needs SMTPUTF8, which this server does not offer",
            );
        } else {
            let authenticated = self.data.authenticated.clone().unwrap_or_default();
            let verdict = self
                .ctx
                .backend
                .check_mail_from(&authenticated, &from.address)
                .await;
            match verdict {
                Ok(()) => {
                    self.data.mail_from = Some(from.address);
                    self.reply(C250_OK, E210_SENDER_OK, "Sender OK");
                }
                Err(err) => {
                    let (code, enhanced, text) = err.reply();
                    self.reply(code, &enhanced, &text);
                }
            }
        }
        Flow::Continue
    }
}
