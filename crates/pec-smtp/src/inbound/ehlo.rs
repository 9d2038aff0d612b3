//! EHLO and HELO: greet, reset the transaction, advertise extensions.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::Backend;
use crate::codes::*;
use crate::core::{Flow, Session, TlsMode};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `EHLO host` (`extended`) or `HELO host`. RFC 5321 §4.1.1.1: also resets the transaction.
    pub(super) fn handle_ehlo(&mut self, host: String, extended: bool) -> Flow {
        self.data.reset_transaction();
        self.data.helo = Some(host);
        let hostname = self.ctx.config.hostname.clone();
        if !extended {
            self.reply(C250_OK, "", &hostname);
            return Flow::Continue;
        }
        let mut lines = vec![
            format!("{hostname} at your service"),
            format!("SIZE {}", self.limits().max_message_size), // RFC 1870
            "PIPELINING".to_string(),                           // RFC 2920
            "8BITMIME".to_string(),                             // RFC 6152
            "ENHANCEDSTATUSCODES".to_string(),                  // RFC 2034
        ];
        if !self.is_tls && self.ctx.config.mode == TlsMode::StartTls {
            lines.push("STARTTLS".to_string()); // RFC 3207
        }
        if self.is_tls && !self.is_inbound() {
            // PEC-SPEC §9.2: credentials only on a secure channel.
            lines.push("AUTH PLAIN LOGIN".to_string()); // RFC 4954, RFC 4616
        }
        lines.push("HELP".to_string());
        self.reply_lines(C250_OK, &lines);
        Flow::Continue
    }
}
