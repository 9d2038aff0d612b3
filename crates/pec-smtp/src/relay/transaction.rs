//! One mail transaction: MAIL FROM, RCPT TO for each recipient, DATA, the message.
//!
//! With PIPELINING (RFC 2920 §3.1) MAIL, every RCPT and DATA leave in one write and the
//! replies are read in order; without it, one command at a time, stopping early when MAIL is
//! refused or no recipient was accepted. A refusal at DATA or at the end of the data applies
//! to every recipient accepted at RCPT.

use super::dot::{self, DotStuffer};
use super::reply::Reply;
use super::{refused, Connection, RcptOutcome};
use crate::codes::C354_START_INPUT;
use crate::error::{RelayError, Stage};

/// Message bytes per write (each write has the `data_block` timeout).
const DATA_BLOCK: usize = 64 * 1024;

/// A reverse- or forward-path we can put between `<` and `>`.
fn check_path(path: &str, what: &str) -> Result<(), RelayError> {
    if path
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        || path.is_empty()
    {
        Ok(())
    } else {
        Err(RelayError::InvalidInput(format!("{what} {path:?}")))
    }
}

impl Connection {
    /// Sends one message to `rcpt_to` with reverse-path `mail_from` (may be empty, `<>`).
    /// `data` is the message with CRLF line ends, not dot-stuffed.
    ///
    /// Returns one outcome per recipient, in order. `Err` means the connection failed (the
    /// caller treats every recipient as temporarily failed, and the connection is dead).
    pub async fn send(
        &mut self,
        mail_from: &str,
        rcpt_to: &[String],
        data: &[u8],
    ) -> Result<Vec<RcptOutcome>, RelayError> {
        if self.dead {
            return Err(RelayError::Dead);
        }
        check_path(mail_from, "reverse-path")?;
        if rcpt_to.is_empty() {
            return Err(RelayError::InvalidInput("no recipients".into()));
        }
        for rcpt in rcpt_to {
            if rcpt.is_empty() {
                return Err(RelayError::InvalidInput("empty recipient".into()));
            }
            check_path(rcpt, "forward-path")?;
        }
        let result = self.transaction(mail_from, rcpt_to, data).await;
        if result.is_err() {
            self.dead = true;
        }
        result
    }

    async fn transaction(
        &mut self,
        mail_from: &str,
        rcpt_to: &[String],
        data: &[u8],
    ) -> Result<Vec<RcptOutcome>, RelayError> {
        let command = self.timeouts.command;
        let pipelining = self.capabilities.pipelining;
        let rset = std::mem::take(&mut self.needs_rset);
        let mail = self.mail_command(mail_from, data);
        let rcpts: Vec<String> = rcpt_to
            .iter()
            .map(|r| format!("RCPT TO:<{r}>\r\n"))
            .collect();
        if pipelining {
            // RFC 2920 §3.1: RSET, MAIL and RCPT may all be pipelined, DATA last.
            let mut batch = if rset {
                b"RSET\r\n".to_vec()
            } else {
                Vec::new()
            };
            batch.extend_from_slice(mail.as_bytes());
            rcpts
                .iter()
                .for_each(|r| batch.extend_from_slice(r.as_bytes()));
            batch.extend_from_slice(b"DATA\r\n");
            self.wire.write(&batch, Stage::MailFrom, command).await?;
            if rset {
                self.check_rset().await?;
            }
        } else {
            if rset {
                self.wire.write(b"RSET\r\n", Stage::Rset, command).await?;
                self.check_rset().await?;
            }
            self.wire
                .write(mail.as_bytes(), Stage::MailFrom, command)
                .await?;
        }

        // MAIL FROM.
        let reply = self.wire.read_reply(Stage::MailFrom, command).await?;
        let mail_refusal = expect_2xx_or_refusal(&reply, Stage::MailFrom)?;
        if let Some(refusal) = &mail_refusal {
            if !pipelining {
                return Ok(vec![refusal.clone(); rcpt_to.len()]);
            }
        }

        // RCPT TO, one reply each.
        let mut outcomes: Vec<Option<RcptOutcome>> = Vec::with_capacity(rcpt_to.len());
        for rcpt in &rcpts {
            if !pipelining {
                self.wire
                    .write(rcpt.as_bytes(), Stage::RcptTo, command)
                    .await?;
            }
            let reply = self.wire.read_reply(Stage::RcptTo, command).await?;
            let refusal = expect_2xx_or_refusal(&reply, Stage::RcptTo)?;
            // After a refused MAIL, the RCPT replies (503s) do not matter: MAIL's does.
            outcomes.push(mail_refusal.clone().or(refusal));
        }
        let any_accepted = outcomes.iter().any(Option::is_none);

        // DATA.
        if !pipelining {
            if !any_accepted {
                self.needs_rset = true;
                return Ok(outcomes.into_iter().flatten().collect());
            }
            self.wire.write(b"DATA\r\n", Stage::Data, command).await?;
        }
        let reply = self
            .wire
            .read_reply(Stage::Data, self.timeouts.data_start)
            .await?;
        if reply.code == C354_START_INPUT && !any_accepted {
            // RFC 2920 §3.1: a server that says 354 with no recipient gets an empty message,
            // whose reply does not matter.
            self.wire
                .write(b".\r\n", Stage::DataEnd, self.timeouts.data_block)
                .await?;
            self.wire
                .read_reply(Stage::DataEnd, self.timeouts.data_end)
                .await?;
            self.needs_rset = true;
            return Ok(outcomes.into_iter().flatten().collect());
        }
        if reply.code != C354_START_INPUT {
            if reply.is_positive() {
                return Err(refused(Stage::Data, &reply));
            }
            self.needs_rset = true;
            return settle(outcomes, &reply, Stage::Data);
        }

        // The message.
        self.send_data(data).await?;
        let reply = self
            .wire
            .read_reply(Stage::DataEnd, self.timeouts.data_end)
            .await?;
        if reply.is_positive() {
            return Ok(outcomes
                .into_iter()
                .map(|o| o.unwrap_or(RcptOutcome::Accepted))
                .collect());
        }
        // The server's transaction ended with its refusal (RFC 5321 §4.1.1.4): no RSET needed.
        settle(outcomes, &reply, Stage::DataEnd)
    }

    /// The reply to RSET must be positive, or the session is in a state we do not know.
    async fn check_rset(&mut self) -> Result<(), RelayError> {
        let reply = self
            .wire
            .read_reply(Stage::Rset, self.timeouts.command)
            .await?;
        if reply.is_positive() {
            Ok(())
        } else {
            Err(refused(Stage::Rset, &reply))
        }
    }

    /// `MAIL FROM:<path>` with `SIZE=` and `BODY=8BITMIME` when the server understands them.
    fn mail_command(&self, mail_from: &str, data: &[u8]) -> String {
        let mut mail = format!("MAIL FROM:<{mail_from}>");
        if self.capabilities.size.is_some() {
            // RFC 1870 §3: our estimate of the size; stuffing adds little.
            mail.push_str(&format!(" SIZE={}", data.len()));
        }
        if self.capabilities.eight_bit_mime && !data.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        mail.push_str("\r\n");
        mail
    }

    /// The message, dot-stuffed, in blocks, then the terminator.
    async fn send_data(&mut self, data: &[u8]) -> Result<(), RelayError> {
        let block = self.timeouts.data_block;
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::with_capacity(DATA_BLOCK + DATA_BLOCK / 8);
        for chunk in data.chunks(DATA_BLOCK) {
            out.clear();
            stuffer.push(chunk, &mut out);
            self.wire.write(&out, Stage::DataEnd, block).await?;
        }
        self.wire
            .write(dot::terminator(data), Stage::DataEnd, block)
            .await
    }
}

/// `None` for 2xx, the outcome for 4xx/5xx; a 3xx here is nonsense from the server.
fn expect_2xx_or_refusal(reply: &Reply, stage: Stage) -> Result<Option<RcptOutcome>, RelayError> {
    if reply.is_positive() {
        return Ok(None);
    }
    RcptOutcome::from_refusal(reply)
        .map(Some)
        .ok_or_else(|| refused(stage, reply))
}

/// Recipients accepted at RCPT get the refusal at DATA; the others keep theirs.
fn settle(
    outcomes: Vec<Option<RcptOutcome>>,
    reply: &Reply,
    stage: Stage,
) -> Result<Vec<RcptOutcome>, RelayError> {
    let refusal = RcptOutcome::from_refusal(reply).ok_or_else(|| refused(stage, reply))?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| refusal.clone()))
        .collect())
}
