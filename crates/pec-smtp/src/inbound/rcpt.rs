//! RCPT TO: collect recipients up to the configured maximum, asking the backend about each.

use smtp_proto::RcptTo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::Backend;
use crate::codes::*;
use crate::core::{Flow, Session};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `RCPT TO:<forward-path>`.
    pub(super) async fn handle_rcpt_to(&mut self, to: RcptTo<String>) -> Flow {
        if self.data.mail_from.is_none() {
            self.reply(
                C503_BAD_SEQUENCE,
                E551_INVALID_COMMAND,
                "Need MAIL before RCPT",
            );
            return Flow::Continue;
        }
        if to.address.is_empty() {
            self.reply(C501_PARAM_SYNTAX, E513_BAD_RCPT_SYNTAX, "Empty recipient");
            return Flow::Continue;
        }
        if !to.address.is_ascii() {
            // RFC 6531 §3.5: no SMTPUTF8 offered, so no non-ASCII address.
            self.reply(
                C553_MAILBOX_NAME_NOT_ALLOWED,
                E567_NON_ASCII_ADDRESS,
                "Non-ASCII address needs SMTPUTF8, which this server does not offer",
            );
            return Flow::Continue;
        }
        if self.data.rcpt_to.contains(&to.address) {
            self.reply(C250_OK, E215_RECIPIENT_OK, "Recipient OK (duplicate)");
            return Flow::Continue;
        }
        if self.data.rcpt_to.len() >= self.limits().max_recipients {
            // RFC 5321 §4.5.3.1.10; PEC-SPEC §9.6.
            self.reply(
                C452_TOO_MANY_RECIPIENTS,
                E453_TOO_MANY_RECIPIENTS,
                "Too many recipients",
            );
            return Flow::Continue;
        }
        let authenticated = self.data.authenticated.clone().unwrap_or_default();
        match self
            .ctx
            .backend
            .check_rcpt(&authenticated, &to.address)
            .await
        {
            Ok(()) => {
                self.data.rcpt_to.push(to.address);
                self.reply(C250_OK, E215_RECIPIENT_OK, "Recipient OK");
            }
            Err(err) => {
                let (code, enhanced, text) = err.reply();
                self.reply(code, &enhanced, &text);
            }
        }
        Flow::Continue
    }
}
