//! Reading the server's replies, bounded: one reply line is at most [`MAX_REPLY_LINE`] octets
//! and one reply at most [`MAX_REPLY_LINES`] lines, whatever the server sends, and each reply
//! must arrive within its stage's timeout.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{RelayError, Stage};

/// Longest reply line accepted, in octets with CRLF. RFC 5321 §4.5.3.1.5 says 512; real
/// servers sometimes send more, so we allow some room and stop there.
pub const MAX_REPLY_LINE: usize = 2048;
/// Most lines in one (multi-line) reply; an EHLO reply has a dozen.
pub const MAX_REPLY_LINES: usize = 100;

const READ_CHUNK: usize = 4096;

/// One reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The three-digit code, 200–599.
    pub code: u16,
    /// The enhanced status code of the first line (RFC 2034), when there is one whose class
    /// matches the code.
    pub enhanced: Option<String>,
    /// The text of each line, after `NNN-` / `NNN ` (and after the enhanced code, if any),
    /// control characters replaced by spaces.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// All lines joined, for messages and outcomes (one line).
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// Collects the lines of one reply.
#[derive(Default)]
pub(crate) struct ReplyParser {
    code: Option<u16>,
    enhanced: Option<String>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// Takes one line (its CRLF or LF included or not); returns the reply once its last line
    /// came.
    pub fn push_line(&mut self, line: &[u8], stage: Stage) -> Result<Option<Reply>, RelayError> {
        let malformed = |detail: &str| RelayError::MalformedReply {
            stage,
            detail: detail.to_string(),
        };
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (digits, rest) = line
            .split_at_checked(3)
            .ok_or_else(|| malformed("short line"))?;
        if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
            return Err(malformed("no reply code"));
        }
        let code = digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        if self.code.is_some_and(|c| c != code) {
            return Err(malformed("reply code changes between lines"));
        }
        let (last, text) = match rest.split_first() {
            None => (true, &[][..]),
            Some((b' ', text)) => (true, text),
            Some((b'-', text)) => (false, text),
            Some(_) => return Err(malformed("bad separator after the reply code")),
        };
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(RelayError::TooManyReplyLines(stage));
        }
        let mut text = clean(text);
        let first = self.code.is_none();
        self.code = Some(code);
        if let Some(e) = enhanced_prefix(&text, code) {
            if first {
                self.enhanced = Some(e.to_string());
            }
            text = text[e.len()..].trim_start().to_string();
        }
        self.lines.push(text);
        if !last {
            return Ok(None);
        }
        Ok(Some(Reply {
            code,
            enhanced: self.enhanced.take(),
            lines: std::mem::take(&mut self.lines),
        }))
    }
}

/// Text as one printable line.
fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `class.subject.detail` at the start of `text` (RFC 3463 §2), class equal to the code's
/// first digit.
fn enhanced_prefix(text: &str, code: u16) -> Option<&str> {
    let token = text.split(' ').next()?;
    let mut parts = token.split('.');
    let class = parts.next()?;
    let num = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let ok = class.len() == 1
        && class.as_bytes()[0] == b'0' + (code / 100) as u8
        && num(parts.next())
        && num(parts.next())
        && parts.next().is_none();
    ok.then_some(token)
}

/// A stream with the bytes read past the last reply.
pub(crate) struct Wire<S> {
    pub stream: S,
    pub rbuf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    pub fn new(stream: S) -> Self {
        Wire {
            stream,
            rbuf: Vec::new(),
        }
    }

    /// Reads one reply, within `limit`.
    pub async fn read_reply(&mut self, stage: Stage, limit: Duration) -> Result<Reply, RelayError> {
        tokio::time::timeout(limit, self.read_reply_unbounded_time(stage))
            .await
            .map_err(|_| RelayError::Timeout(stage))?
    }

    async fn read_reply_unbounded_time(&mut self, stage: Stage) -> Result<Reply, RelayError> {
        let mut parser = ReplyParser::default();
        let mut scanned = 0;
        loop {
            while let Some(pos) = self.rbuf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + pos + 1;
                if end > MAX_REPLY_LINE {
                    return Err(RelayError::ReplyTooLong(stage));
                }
                let line: Vec<u8> = self.rbuf.drain(..end).collect();
                scanned = 0;
                if let Some(reply) = parser.push_line(&line, stage)? {
                    return Ok(reply);
                }
            }
            scanned = self.rbuf.len();
            if self.rbuf.len() > MAX_REPLY_LINE {
                return Err(RelayError::ReplyTooLong(stage));
            }
            let mut chunk = [0u8; READ_CHUNK];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|source| RelayError::Io { stage, source })?;
            if n == 0 {
                return Err(RelayError::Closed(stage));
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Writes and flushes `bytes`, within `limit`.
    pub async fn write(
        &mut self,
        bytes: &[u8],
        stage: Stage,
        limit: Duration,
    ) -> Result<(), RelayError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(limit, write)
            .await
            .map_err(|_| RelayError::Timeout(stage))?
            .map_err(|source| RelayError::Io { stage, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&[u8]]) -> Result<Option<Reply>, RelayError> {
        let mut p = ReplyParser::default();
        let mut out = None;
        for l in lines {
            out = p.push_line(l, Stage::Greeting)?;
        }
        Ok(out)
    }

    #[test]
    fn multi_line_reply_with_enhanced_code() {
        let r = parse(&[
            b"250-mx.test hi\r\n",
            b"250-PIPELINING\r\n",
            b"250 SIZE 100\r\n",
        ])
        .expect("ok")
        .expect("complete");
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, vec!["mx.test hi", "PIPELINING", "SIZE 100"]);
        let r = parse(&[b"550 5.1.1 No such user\r\n"])
            .expect("ok")
            .expect("complete");
        assert_eq!(r.enhanced.as_deref(), Some("5.1.1"));
        assert_eq!(r.text(), "No such user");
        // Class must match the code.
        let r = parse(&[b"451 5.1.1 odd\r\n"])
            .expect("ok")
            .expect("complete");
        assert_eq!(r.enhanced, None);
        assert_eq!(r.text(), "5.1.1 odd");
    }

    #[test]
    fn bare_code_and_incomplete_reply() {
        let r = parse(&[b"354\r\n"]).expect("ok").expect("complete");
        assert_eq!((r.code, r.text()), (354, String::new()));
        assert!(parse(&[b"250-first\r\n"]).expect("ok").is_none());
    }

    #[test]
    fn malformed_replies_are_errors() {
        for bad in [&b"25\r\n"[..], b"abc hi\r\n", b"650 x\r\n", b"250x\r\n"] {
            assert!(
                matches!(parse(&[bad]), Err(RelayError::MalformedReply { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse(&[b"250-a\r\n", b"251 b\r\n"]),
            Err(RelayError::MalformedReply { .. })
        ));
        let many: Vec<&[u8]> =
            std::iter::repeat_n(&b"250-x\r\n"[..], MAX_REPLY_LINES + 1).collect();
        assert!(matches!(
            parse(&many),
            Err(RelayError::TooManyReplyLines(_))
        ));
    }

    #[test]
    fn control_characters_do_not_reach_the_text() {
        let r = parse(&[b"550 bad\x1b[31m\r\n"])
            .expect("ok")
            .expect("complete");
        assert_eq!(r.text(), "bad [31m");
    }
}
