//! One connection's dialogue: read a bounded line, parse it, dispatch it by state, write the
//! reply under the write timeout.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::backend::Backend;
use crate::TlsMode;

use super::codes::{SYS_PERM, SYS_TEMP};
use super::command::{Command, ParseError};
use super::config::{Pop3Config, Pop3Limits};
use super::error::Pop3Error;
use super::maildrop::Maildrop;

/// What every session of one listener shares.
pub(super) struct Context<B> {
    pub config: Pop3Config,
    pub tls: TlsAcceptor,
    pub backend: Arc<B>,
    /// [`Pop3Limits::retr_memory`], a quarter of it per box.
    pub budget: crate::budget::Budget,
}

/// The RFC 1939 §3 states, named by what the session waits for.
pub(super) enum State {
    /// AUTHORIZATION: waiting for USER/PASS or AUTH; `user` is set after USER.
    Authorization { user: Option<String> },
    /// AUTH PLAIN sent `+ `: waiting for the client's base64 response line.
    SaslResponse,
    /// TRANSACTION: logged in, the maildrop numbered.
    Transaction(Maildrop),
}

/// What the loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Close,
    StartTls,
}

/// How a session ended.
pub(super) enum Exit<S> {
    /// The connection is finished.
    Closed,
    /// STLS answered `+OK`: the caller runs the handshake on `S`.
    StartTls(S),
}

/// What reading a line gave.
enum Input {
    Line(Vec<u8>),
    TooLong,
    Idle,
    Shutdown,
    Eof,
}

const READ_CHUNK: usize = 4096;

/// One POP3 session over any stream (plain TCP, or TLS).
pub(super) struct Session<S, B> {
    pub stream: S,
    /// The client's address: logins are counted by it (issue 12).
    pub peer: std::net::IpAddr,
    /// The client must have logged in by then ([`Pop3Limits::login_timeout`]).
    login_deadline: pec_listen::LoginDeadline,
    pub ctx: Arc<Context<B>>,
    pub is_tls: bool,
    pub state: State,
    /// Bytes read but not yet consumed; never longer than `max_line + READ_CHUNK`.
    rbuf: Vec<u8>,
    /// Replies waiting to be written (at most a CAPA or a LIST of the maildrop).
    pub wbuf: Vec<u8>,
    pub failed_logins: u32,
    pub(super) shutdown: watch::Receiver<bool>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    pub fn new(
        stream: S,
        peer: std::net::IpAddr,
        ctx: Arc<Context<B>>,
        is_tls: bool,
        shutdown: watch::Receiver<bool>,
        login_deadline: pec_listen::LoginDeadline,
    ) -> Self {
        Session {
            stream,
            peer,
            login_deadline,
            ctx,
            is_tls,
            state: State::Authorization { user: None },
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            failed_logins: 0,
            shutdown,
        }
    }

    pub fn limits(&self) -> &Pop3Limits {
        &self.ctx.config.limits
    }

    /// True when logins are allowed: on TLS, always; on plain text, never (RFC 2595 §2).
    pub fn may_login(&self) -> bool {
        self.is_tls
    }

    /// Queues `+OK text`.
    pub fn ok(&mut self, text: &str) {
        self.line(&format!("+OK {text}"));
    }

    /// Queues `-ERR text`.
    pub fn err(&mut self, text: &str) {
        self.line(&format!("-ERR {text}"));
    }

    /// Queues one line, adding CRLF.
    pub fn line(&mut self, text: &str) {
        self.wbuf.extend_from_slice(text.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
    }

    /// Sends the greeting (RFC 1939 §4), then runs.
    pub async fn greet_and_run(mut self) -> Result<Exit<S>, Pop3Error> {
        let greeting = format!("{} POP3 gestore ready", self.ctx.config.hostname);
        self.ok(&greeting);
        self.run().await
    }

    /// Answers commands until QUIT, a limit, a dropped connection, or STLS.
    pub async fn run(mut self) -> Result<Exit<S>, Pop3Error> {
        loop {
            self.flush().await?;
            let line = match self.next_line().await? {
                Input::Line(line) => line,
                Input::Eof => return Ok(Exit::Closed),
                Input::TooLong => {
                    self.err("line too long, closing");
                    return self.close().await;
                }
                Input::Idle => {
                    // RFC 1939 §3: the autologout timer closes without entering UPDATE.
                    let why = match self.state {
                        State::Authorization { .. } | State::SaslResponse => "login timeout",
                        _ => "idle timeout",
                    };
                    self.err(&format!("{why}, closing"));
                    return self.close().await;
                }
                Input::Shutdown => {
                    self.err(&format!("{SYS_TEMP} server shutting down"));
                    return self.close().await;
                }
            };
            match self.handle_line(&line).await? {
                Flow::Continue => {}
                Flow::Close => return self.close().await,
                Flow::StartTls => {
                    self.flush().await?;
                    // Pipelined bytes after STLS are dropped here (CVE-2011-0411).
                    return Ok(Exit::StartTls(self.stream));
                }
            }
        }
    }

    /// Reads until a full line is buffered, the line limit is passed, or the session ends.
    async fn next_line(&mut self) -> Result<Input, Pop3Error> {
        let max_line = self.limits().max_line;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            let logging_in = matches!(
                self.state,
                State::Authorization { .. } | State::SaslResponse
            );
            if logging_in && self.login_deadline.expired() {
                // Checked before every line, buffered or not.
                return Ok(Input::Idle);
            }
            // Issue 12: until it logs in, a client holds its place for the login timeout at
            // most.
            let idle = match logging_in {
                true => self.login_deadline.cap(self.limits().idle_timeout),
                false => self.limits().idle_timeout,
            };
            if let Some(pos) = self.rbuf.iter().position(|&b| b == b'\n') {
                if pos + 1 > max_line {
                    return Ok(Input::TooLong);
                }
                let mut line: Vec<u8> = self.rbuf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Input::Line(line));
            }
            if self.rbuf.len() >= max_line {
                return Ok(Input::TooLong);
            }
            let shutdown = &mut self.shutdown;
            let read = tokio::select! {
                read = tokio::time::timeout(idle, self.stream.read(&mut chunk)) => read,
                _ = async { let _ = shutdown.wait_for(|&stop| stop).await; } => {
                    return Ok(Input::Shutdown)
                }
            };
            match read {
                Err(_elapsed) => return Ok(Input::Idle),
                Ok(Ok(0)) => return Ok(Input::Eof),
                Ok(Ok(n)) => self.rbuf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Parses and dispatches one line.
    async fn handle_line(&mut self, line: &[u8]) -> Result<Flow, Pop3Error> {
        if matches!(self.state, State::SaslResponse) {
            self.state = State::Authorization { user: None };
            return Ok(self.handle_sasl_response(line).await);
        }
        let command = match Command::parse(line) {
            Ok(command) => command,
            Err(ParseError::Unknown) => {
                self.err("unknown command");
                return Ok(Flow::Continue);
            }
            Err(ParseError::BadArguments(why)) => {
                self.err(why);
                return Ok(Flow::Continue);
            }
        };
        match command {
            Command::Capa => {
                self.handle_capa();
                return Ok(Flow::Continue);
            }
            Command::Noop if matches!(self.state, State::Transaction(_)) => {
                self.ok("");
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        if matches!(self.state, State::Transaction(_)) {
            self.handle_transaction(command).await
        } else {
            Ok(self.handle_authorization(command).await)
        }
    }

    /// CAPA (RFC 2449 §5): what this connection offers now.
    fn handle_capa(&mut self) {
        self.ok("capability list follows");
        let mut caps = vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        if self.may_login() {
            caps.extend(["USER", "SASL PLAIN"]);
        } else if self.ctx.config.mode == TlsMode::StartTls {
            caps.push("STLS");
        }
        for cap in caps {
            self.line(cap);
        }
        self.line("IMPLEMENTATION gestore");
        self.line(".");
    }

    /// STLS (RFC 2595 §4): only in AUTHORIZATION, on a plain-text listener, once.
    pub fn handle_stls(&mut self) -> Flow {
        if self.is_tls || self.ctx.config.mode != TlsMode::StartTls {
            self.err("TLS already active");
            return Flow::Continue;
        }
        self.ok("begin TLS negotiation");
        Flow::StartTls
    }

    /// Refuses a login on plain text.
    pub fn refuse_plain_login(&mut self) {
        self.err(&format!("{SYS_PERM} TLS required: use STLS first"));
    }

    /// Writes the queued replies; a client that stops reading is dropped.
    pub async fn flush(&mut self) -> Result<(), Pop3Error> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.wbuf);
        self.write_timed(&out).await?;
        self.flush_stream().await
    }

    /// Writes `bytes` in chunks, each under the write timeout.
    pub async fn write_timed(&mut self, bytes: &[u8]) -> Result<(), Pop3Error> {
        self.write_until(bytes, None).await
    }

    /// [`Session::write_timed`], and never past `deadline` (a whole message's).
    pub(super) async fn write_until(
        &mut self,
        bytes: &[u8],
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(), Pop3Error> {
        let limit = self.limits().write_timeout;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            let mut until = tokio::time::Instant::now() + limit;
            if let Some(d) = deadline {
                until = until.min(d);
            }
            tokio::time::timeout_at(until, self.stream.write_all(chunk))
                .await
                .map_err(|_| Pop3Error::WriteTimeout)??;
        }
        Ok(())
    }

    /// Flushes the stream (TLS buffers records) under the write timeout.
    pub async fn flush_stream(&mut self) -> Result<(), Pop3Error> {
        let limit = self.limits().write_timeout;
        tokio::time::timeout(limit, self.stream.flush())
            .await
            .map_err(|_| Pop3Error::WriteTimeout)??;
        Ok(())
    }

    /// Writes what is queued and ends the connection (best effort: the peer may be gone).
    async fn close(mut self) -> Result<Exit<S>, Pop3Error> {
        let _ = self.flush().await;
        let limit = self.limits().write_timeout;
        let _ = tokio::time::timeout(limit, self.stream.shutdown()).await;
        Ok(Exit::Closed)
    }
}

/// Largest single write; the write timeout applies to each.
pub(super) const WRITE_CHUNK: usize = 16 * 1024;
