//! MAIL FROM: on submission only after AUTH (PEC-SPEC §9.4); on the inbound listener from
//! anyone, `<>` included (PEC-SPEC §2.3 InP 1). The declared SIZE is checked up front.
//!
//! Whether the reverse-path matches the authenticated mailbox and the `From:` header is a PEC
//! rule, decided in pec-core on the whole message (a mismatch yields an *avviso di non
//! accettazione*, not an SMTP refusal), so it is not checked here.

use smtp_proto::MailFrom;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::Backend;
use crate::codes::*;
use crate::core::{Flow, Session};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `MAIL FROM:<reverse-path> [SIZE=n] [BODY=8BITMIME]`.
    pub(super) fn handle_mail_from(&mut self, from: MailFrom<String>) -> Flow {
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
        } else if from.size > self.limits().max_message_size {
            // RFC 1870 §6.
            self.reply(
                C552_TOO_BIG,
                E534_TOO_BIG,
                "Message size exceeds fixed maximum message size",
            );
        } else {
            self.data.mail_from = Some(from.address);
            self.reply(C250_OK, E210_SENDER_OK, "Sender OK");
        }
        Flow::Continue
    }
}
