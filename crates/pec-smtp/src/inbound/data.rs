//! DATA: receive the message with smtp-proto's receiver, then commit through the backend.
//!
//! Invariants:
//! - only `CRLF . CRLF` ends the message (smtp-proto's `DataReceiver`; the receiver is primed
//!   with a CRLF so a `.` on the very first line is handled like any other line);
//! - a message with a bare CR or LF is refused whole (`554 5.6.0`), never split or rewritten
//!   (SMTP smuggling; PEC-SPEC §9.2 "relays must not alter encoding");
//! - beyond `max_message_size` the rest is read and dropped, then `552 5.3.4`;
//! - `250` is queued only after [`Backend::submit`] returned `Ok` (committed); otherwise 4xx/5xx.

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::{Backend, Submission};
use crate::codes::*;
use crate::core::{DataIn, Flow, Session, State};

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// `DATA`: checks the envelope, answers `354` and switches to message bytes.
    pub(super) fn handle_data(&mut self) -> Flow {
        if self.data.mail_from.is_none() {
            self.reply(C503_BAD_SEQUENCE, E551_INVALID_COMMAND, "Need MAIL command");
            return Flow::Continue;
        }
        if self.data.rcpt_to.is_empty() {
            self.reply(C503_BAD_SEQUENCE, E551_INVALID_COMMAND, "Need RCPT command");
            return Flow::Continue;
        }
        let mut receiver = DataReceiver::new();
        let mut primer = Vec::new();
        // The DATA command's own CRLF precedes the first line (RFC 5321 §4.1.1.4).
        receiver.ingest(&mut b"\r\n".iter(), &mut primer);
        self.state = State::Data(Box::new(DataIn {
            receiver,
            discard: None,
            buf: Vec::new(),
        }));
        self.reply(
            C354_START_INPUT,
            "",
            "Start mail input; end with <CRLF>.<CRLF>",
        );
        Flow::Continue
    }

    /// Feeds message bytes; returns how many were consumed. At the end, commits.
    pub(super) async fn ingest_data(&mut self, bytes: &[u8]) -> (usize, Flow) {
        let max = self.limits().max_message_size;
        let State::Data(data) = &mut self.state else {
            return (0, Flow::Continue);
        };
        let mut iter = bytes.iter();
        let done = match &mut data.discard {
            Some(discard) => discard.ingest(&mut iter),
            None => {
                let done = data.receiver.ingest(&mut iter, &mut data.buf);
                if !done && data.buf.len() > max {
                    data.discard = Some(DummyDataReceiver::new_data(&data.receiver));
                    data.buf = Vec::new();
                }
                done
            }
        };
        let consumed = bytes.len() - iter.as_slice().len();
        if !done {
            return (consumed, Flow::Continue);
        }
        let State::Data(data) = std::mem::replace(&mut self.state, State::Command) else {
            return (consumed, Flow::Continue);
        };
        let too_big = data.discard.is_some() || data.buf.len() > max;
        self.finish_data(data.buf, too_big).await;
        (consumed, Flow::Continue)
    }

    async fn finish_data(&mut self, message: Vec<u8>, too_big: bool) {
        let mail_from = self.data.mail_from.take().unwrap_or_default();
        let rcpt_to = std::mem::take(&mut self.data.rcpt_to);
        if too_big {
            // RFC 1870 §6, RFC 5321 §4.5.3.1.10.
            self.reply(
                C552_TOO_BIG,
                E534_TOO_BIG,
                "Message size exceeds fixed maximum message size",
            );
            return;
        }
        match difetto(&message) {
            Some(Difetto::FineRigaNuda) => {
                self.reply(
                    C554_TRANSACTION_FAILED,
                    E560_MEDIA,
                    "Bare CR or LF in message, use CRLF line ends",
                );
                return;
            }
            Some(Difetto::RigaLunga) => {
                // RFC 5321 §4.5.3.1.6: a line is at most 1,000 octets with its CRLF. Relaying
                // a longer one would break at the next hop, or be folded there, breaking
                // signatures.
                self.reply(
                    C554_TRANSACTION_FAILED,
                    E560_MEDIA,
                    "Line longer than 998 octets in message (RFC 5321 4.5.3.1.6)",
                );
                return;
            }
            None => {}
        }
        let submission = Submission {
            authenticated: self.data.authenticated.clone().unwrap_or_default(),
            mail_from,
            rcpt_to,
            data: message,
            peer: self.peer,
            helo: self.data.helo.clone().unwrap_or_default(),
            tls: self.is_tls,
        };
        match self.ctx.backend.submit(submission).await {
            // Committed: only now may the client hear 250 (STYLE §2).
            Ok(()) => self.reply(C250_OK, E200_OK, "Message accepted"),
            Err(err) => {
                let (code, enhanced, text) = err.reply();
                self.reply(code, &enhanced, &text);
            }
        }
    }
}

/// The longest text line RFC 5321 §4.5.3.1.6 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// What is wrong with a message's line structure.
#[derive(Debug, PartialEq, Eq)]
enum Difetto {
    /// A CR not followed by LF, or an LF not preceded by CR.
    FineRigaNuda,
    /// A line longer than [`MAX_LINE`].
    RigaLunga,
}

/// The first fault of `message`'s lines, in one pass over its line ends.
fn difetto(message: &[u8]) -> Option<Difetto> {
    let mut inizio = 0;
    for p in memchr::memchr2_iter(b'\r', b'\n', message) {
        if message[p] == b'\r' {
            if message.get(p + 1) != Some(&b'\n') {
                return Some(Difetto::FineRigaNuda);
            }
            if p - inizio > MAX_LINE {
                return Some(Difetto::RigaLunga);
            }
        } else {
            if p == 0 || message[p - 1] != b'\r' {
                return Some(Difetto::FineRigaNuda);
            }
            inizio = p + 1;
        }
    }
    (message.len() - inizio > MAX_LINE).then_some(Difetto::RigaLunga)
}

#[cfg(test)]
mod tests {
    use super::{difetto, Difetto, MAX_LINE};

    #[test]
    fn line_lengths() {
        let riga = |n: usize| [vec![b'x'; n], b"\r\n".to_vec()].concat();
        assert_eq!(difetto(b"ab\r\nabcd\r\n"), None);
        assert_eq!(difetto(&riga(MAX_LINE)), None);
        assert_eq!(difetto(&riga(MAX_LINE + 1)), Some(Difetto::RigaLunga));
        assert_eq!(
            difetto(&[b"a\r\n".as_slice(), &riga(MAX_LINE + 1)].concat()),
            Some(Difetto::RigaLunga)
        );
        assert_eq!(difetto(&[b'x'; 999]), Some(Difetto::RigaLunga));
        assert_eq!(difetto(&[b'x'; 998]), None);
        assert_eq!(difetto(b""), None);
    }

    #[test]
    fn bare_line_ends() {
        assert_eq!(difetto(b"a\r\nb\r\n"), None);
        for nudo in [
            b"a\nb\r\n".as_slice(),
            b"a\rb\r\n",
            b"a\r\n\n",
            b"a\r",
            b"\n",
        ] {
            assert_eq!(difetto(nudo), Some(Difetto::FineRigaNuda), "{nudo:?}");
        }
    }
}
