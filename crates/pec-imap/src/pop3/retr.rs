//! RETR and TOP (RFC 1939 §7): the stored bytes, dot-stuffed (RFC 1939 §3), streamed in
//! chunks so the write timeout applies to each and a slow reader holds one message at most.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::{Backend, FlagOp};

use super::codes::SYS_TEMP;
use super::error::Pop3Error;
use super::session::{Flow, Session, State, WRITE_CHUNK};
use super::transaction::INBOX;

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// RETR n (`top` = None) or TOP n lines.
    pub(super) async fn handle_retr(
        &mut self,
        n: u32,
        top: Option<u32>,
    ) -> Result<Flow, Pop3Error> {
        let State::Transaction(maildrop) = &self.state else {
            return Ok(Flow::Continue);
        };
        let (uid, size, mailbox) = match maildrop.get(n) {
            Ok(slot) => (slot.uid, slot.size, maildrop.mailbox.clone()),
            Err(no) => {
                self.err(no.text());
                return Ok(Flow::Continue);
            }
        };
        // Issue 12: a share of the listener's memory for the message, held until the client
        // has taken it (at most the write timeout plus the message at 32 KiB/s).
        let mut stop = self.shutdown.clone();
        let Some(_share) = self.ctx.budget.share(&mailbox, size, &mut stop).await else {
            self.err(&format!("{SYS_TEMP} server busy, try later"));
            return Ok(Flow::Continue);
        };
        let bytes = match self.ctx.backend.fetch(&mailbox, INBOX, uid).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.err("message removed by another session");
                return Ok(Flow::Continue);
            }
            Err(_) => {
                self.err(&format!("{SYS_TEMP} message unavailable, try later"));
                return Ok(Flow::Continue);
            }
        };
        let body = match top {
            None => &bytes[..],
            Some(lines) => top_part(&bytes, lines),
        };
        match top {
            None => self.ok(&format!("{} octets", bytes.len())),
            Some(_) => self.ok("top of message follows"),
        }
        self.flush().await?;
        let deadline = crate::budget::write_deadline(self.limits().write_timeout, body.len());
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::with_capacity(WRITE_CHUNK + WRITE_CHUNK / 2);
        for chunk in body.chunks(WRITE_CHUNK) {
            out.clear();
            stuffer.push(chunk, &mut out);
            self.write_until(&out, Some(deadline)).await?;
        }
        out.clear();
        stuffer.finish(&mut out);
        self.write_until(&out, Some(deadline)).await?;
        self.flush_stream().await?;
        if top.is_none() {
            // Best effort: an IMAP client then shows it read; failing this must not fail RETR.
            let seen = ["\\Seen".to_string()];
            let _ = self
                .ctx
                .backend
                .store_flags(&mailbox, INBOX, &[uid], FlagOp::Add, &seen)
                .await;
        }
        Ok(Flow::Continue)
    }
}

/// Byte-stuffing of a multi-line response (RFC 1939 §3): a `.` at the start of a line gets
/// another `.` before it; the end is `CRLF . CRLF`, adding a CRLF if the message lacks one.
/// Works across chunk boundaries.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    at_line_start: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// At the start of the first line.
    pub fn new() -> Self {
        DotStuffer {
            at_line_start: true,
        }
    }

    /// Appends `input`, stuffed, to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.at_line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            self.at_line_start = b == b'\n';
        }
    }

    /// Appends the terminating `.` line.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// TOP's part of a message: the headers, the blank line, and the first `lines` body lines
/// (RFC 1939 §7). A message without a blank line is all headers.
pub fn top_part(bytes: &[u8], lines: u32) -> &[u8] {
    let mut pos = 0;
    // Headers, up to and including the first empty line.
    loop {
        let end = match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => pos + i + 1,
            None => return bytes,
        };
        let line = &bytes[pos..end];
        pos = end;
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    for _ in 0..lines {
        match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => pos += i + 1,
            None => return bytes,
        }
    }
    &bytes[..pos]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn dots_at_line_start_are_doubled_across_chunks() {
        assert_eq!(
            stuff(&[b".a\r\nb\r", b"\n.", b"c\r\n"]),
            b"..a\r\nb\r\n..c\r\n.\r\n"
        );
        assert_eq!(stuff(&[b"x"]), b"x\r\n.\r\n");
        assert_eq!(stuff(&[]), b".\r\n");
    }

    #[test]
    fn top_counts_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(top_part(m, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(top_part(m, 2), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top_part(m, 9), m);
        assert_eq!(top_part(b"A: 1\r\n", 3), b"A: 1\r\n");
    }
}
