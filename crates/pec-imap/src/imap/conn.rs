//! Bytes ↔ imap-next: reads the socket into imap-next's `Server`, writes what it produces,
//! and turns its events into [`Step`]s for the session.
//!
//! imap-next buffers a command up to `max_command_size` (which must fit the largest APPEND),
//! so it alone would let a client send a megabyte-long command line. [`LineGuard`] watches the
//! raw bytes first and closes the session when a line outside literals grows past
//! `max_command_line`, or when a non-synchronising literal announces more than `max_literal`
//! (a synchronising one is refused by imap-next with BAD, and the client never sends it).

use std::collections::VecDeque;
use std::time::Duration;

use imap_next::imap_types::core::Tag;
use imap_next::imap_types::response::{Data, Greeting, Status};
use imap_next::server::{Error as ServerError, Event, Options, Server};
use imap_next::{Interrupt, Io, State};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Error, ImapLimits};

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 8 * 1024;
/// Bytes written at once by [`Conn::write_raw`].
const RAW_CHUNK: usize = 64 * 1024;

/// What the session gets next from the connection.
#[derive(Debug)]
pub(super) enum Step {
    /// A command (or IDLE / AUTHENTICATE data) arrived.
    Event(Event),
    /// Nothing complete buffered: read more.
    NeedInput,
    /// A command could not be parsed; answer BAD (with its tag, if one could be read).
    Malformed(Option<Tag<'static>>),
    /// imap-next refused a too-large synchronising literal and already answered BAD.
    LiteralRefused,
}

pub(super) struct Conn<S> {
    pub(super) stream: S,
    server: Server,
    guard: LineGuard,
    pending: VecDeque<Step>,
    buf: Vec<u8>,
    write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Conn<S> {
    /// `greet`: send the greeting; false after STARTTLS, where RFC 3501 forbids a new one.
    pub(super) fn new(
        stream: S,
        limits: &ImapLimits,
        greeting: Greeting<'static>,
        greet: bool,
    ) -> Self {
        let mut options = Options::default();
        options.crlf_relaxed = true;
        options.max_literal_size = limits.max_literal;
        options.max_command_size = limits
            .max_literal
            .saturating_add(u32::try_from(limits.max_command_line).unwrap_or(u32::MAX));
        let mut server = Server::new(options, greeting);
        if !greet {
            // The greeting is queued by `Server::new`; take it out unsent.
            while let Err(Interrupt::Io(Io::Output(_))) = server.next() {}
        }
        Conn {
            stream,
            server,
            guard: LineGuard::new(limits.max_command_line, limits.max_literal),
            pending: VecDeque::new(),
            buf: Vec::new(),
            write_timeout: limits.write_timeout,
        }
    }

    /// Queues untagged data; sent at the next [`Conn::flush`] or [`Conn::next_step`].
    pub(super) fn data(&mut self, data: Data<'static>) {
        self.server.enqueue_data(data);
    }

    /// Queues a status response.
    pub(super) fn status(&mut self, status: Status<'static>) {
        self.server.enqueue_status(status);
    }

    /// The imap-next state machine, for AUTHENTICATE and IDLE continuations.
    pub(super) fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Writes everything queued. Commands decoded meanwhile (pipelining) are kept for later.
    pub(super) async fn flush(&mut self) -> Result<(), Error> {
        loop {
            match self.progress().await? {
                Step::NeedInput => return Ok(()),
                step => self.pending.push_back(step),
            }
        }
    }

    /// Writes what is queued and returns the next thing the client sent.
    pub(super) async fn next_step(&mut self) -> Result<Step, Error> {
        if let Some(step) = self.pending.pop_front() {
            return Ok(step);
        }
        self.progress().await
    }

    async fn progress(&mut self) -> Result<Step, Error> {
        loop {
            match self.server.next() {
                Ok(Event::GreetingSent { .. } | Event::ResponseSent { .. }) => continue,
                Ok(event) => return Ok(Step::Event(event)),
                Err(Interrupt::Io(Io::Output(bytes))) => self.write(&bytes).await?,
                Err(Interrupt::Io(Io::NeedMoreInput)) => {
                    tokio::time::timeout(self.write_timeout, self.stream.flush())
                        .await
                        .map_err(|_| Error::WriteTimeout)??;
                    return Ok(Step::NeedInput);
                }
                Err(Interrupt::Error(ServerError::LiteralTooLong { .. })) => {
                    return Ok(Step::LiteralRefused)
                }
                Err(Interrupt::Error(
                    ServerError::MalformedMessage { discarded_bytes }
                    | ServerError::ExpectedCrlfGotLf { discarded_bytes }
                    | ServerError::CommandTooLong { discarded_bytes },
                )) => return Ok(Step::Malformed(tag_of(discarded_bytes.declassify()))),
            }
        }
    }

    /// Writes `parts` straight to the socket, after everything imap-next has queued, each
    /// chunk of at most [`RAW_CHUNK`] bytes under the write timeout: a large FETCH literal
    /// goes out without an encoded copy of it, and a client that stops reading is dropped
    /// after the timeout, however far into the message it is.
    pub(super) async fn write_raw(&mut self, parts: &[&[u8]]) -> Result<(), Error> {
        self.flush().await?;
        // However slowly it reads, a client holds its share of the fetch memory for a bounded
        // time: the write timeout, plus the message at 32 KiB/s.
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let deadline = crate::budget::write_deadline(self.write_timeout, total);
        // Each write waits at most the write timeout, and never past the whole deadline.
        let limit = |write_timeout| deadline.min(tokio::time::Instant::now() + write_timeout);
        for part in parts {
            for chunk in part.chunks(RAW_CHUNK) {
                tokio::time::timeout_at(limit(self.write_timeout), self.stream.write_all(chunk))
                    .await
                    .map_err(|_| Error::WriteTimeout)??;
            }
        }
        tokio::time::timeout_at(limit(self.write_timeout), self.stream.flush())
            .await
            .map_err(|_| Error::WriteTimeout)??;
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        tokio::time::timeout(self.write_timeout, self.stream.write_all(bytes))
            .await
            .map_err(|_| Error::WriteTimeout)??;
        Ok(())
    }

    /// Reads once from the socket (cancel-safe). `Ok(false)` at end of stream.
    pub(super) async fn read_input(&mut self) -> Result<bool, Error> {
        if self.buf.len() != READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        }
        let n = self.stream.read(&mut self.buf).await?;
        if n == 0 {
            return Ok(false);
        }
        let chunk = &self.buf[..n];
        self.guard.feed(chunk)?;
        self.server.enqueue_input(chunk);
        Ok(true)
    }
}

/// The tag of a command imap-next could not parse, if it starts with a valid one.
fn tag_of(bytes: &[u8]) -> Option<Tag<'static>> {
    let end = bytes.iter().position(|b| *b == b' ')?;
    let tag = std::str::from_utf8(&bytes[..end]).ok()?;
    Tag::try_from(tag.to_string()).ok()
}

/// Tracks line lengths and literal announcements on the raw input (see the module doc).
#[derive(Debug)]
struct LineGuard {
    max_line: usize,
    max_literal: u32,
    line_len: usize,
    /// The last bytes of the current line, to spot a `{n}` / `{n+}` announcement at its end.
    tail: Vec<u8>,
    /// Literal bytes still to come (not lines).
    literal_left: u64,
}

/// Enough for `{4294967295+}\r`.
const TAIL: usize = 16;

impl LineGuard {
    fn new(max_line: usize, max_literal: u32) -> Self {
        LineGuard {
            max_line,
            max_literal,
            line_len: 0,
            tail: Vec::with_capacity(TAIL * 2),
            literal_left: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            if self.literal_left > 0 {
                let skip = usize::try_from(self.literal_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.literal_left -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            match memchr_lf(bytes) {
                Some(at) => {
                    self.push_line(&bytes[..at])?;
                    self.end_line()?;
                    bytes = &bytes[at + 1..];
                }
                None => {
                    self.push_line(bytes)?;
                    bytes = &[];
                }
            }
        }
        Ok(())
    }

    fn push_line(&mut self, part: &[u8]) -> Result<(), Error> {
        self.line_len += part.len();
        if self.line_len > self.max_line {
            return Err(Error::PeerMisbehaved("command line too long"));
        }
        self.tail
            .extend_from_slice(&part[part.len().saturating_sub(TAIL)..]);
        if self.tail.len() > TAIL {
            self.tail.drain(..self.tail.len() - TAIL);
        }
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), Error> {
        let line = self.tail.strip_suffix(b"\r").unwrap_or(&self.tail);
        if let Some((length, sync)) = literal_announcement(line) {
            if length > u64::from(self.max_literal) {
                if !sync {
                    return Err(Error::PeerMisbehaved("literal too large"));
                }
                // imap-next answers BAD; the client will not send the bytes.
            } else {
                self.literal_left = length;
            }
        }
        self.line_len = 0;
        self.tail.clear();
        Ok(())
    }
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

/// `{123}` → (123, true); `{123+}` / `{123-}`-less forms → (123, false).
fn literal_announcement(line: &[u8]) -> Option<(u64, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut digits = &inner[open + 1..];
    let sync = match digits.strip_suffix(b"+") {
        Some(d) => {
            digits = d;
            false
        }
        None => true,
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_skips_literals_and_bounds_lines() {
        let mut g = LineGuard::new(20, 100);
        g.feed(b"a APPEND x {30}\r\n").expect("line");
        g.feed(&[b'x'; 30]).expect("literal is not a line");
        g.feed(b"\r\n").expect("end");
        assert!(g.feed(&[b'y'; 21]).is_err());
        let mut g = LineGuard::new(1000, 100);
        assert!(g.feed(b"a APPEND x {4294967296+}\r\n").is_err());
        g = LineGuard::new(1000, 100);
        g.feed(b"a APPEND x {4294967296}\r\nb NOOP\r\n")
            .expect("sync refused");
        assert_eq!(g.literal_left, 0);
    }
}
