//! The loop: read bytes, cut them into lines (or feed DATA), dispatch each command.
//!
//! Invariants:
//! - the line buffer is bounded ([`crate::core::LineBuffer`]); DATA is bounded by the size
//!   limit and read-and-discarded beyond it;
//! - replies are queued and written when the input runs dry (PIPELINING, RFC 2920 §3.2);
//! - after `220` to STARTTLS, bytes the client sent in the same flight are dropped
//!   (RFC 3207 §4.2 / CVE-2011-0411 "STARTTLS command injection").

use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::backend::Backend;
use crate::codes::*;
use crate::core::{Flow, Line, Session, State};

/// How a session ended.
pub(crate) enum Exit<S> {
    /// The connection is finished.
    Closed,
    /// The client asked for STARTTLS and got `220`: the caller runs the handshake on `S`.
    StartTls(S),
}

const READ_CHUNK: usize = 8192;

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// Sends the `220` greeting, then runs.
    pub async fn greet_and_run(mut self) -> std::io::Result<Exit<S>> {
        let service = if self.is_inbound() {
            "ESMTP gestore PEC"
        } else {
            "ESMTP gestore PEC submission"
        };
        let text = format!("{} {service}", self.ctx.config.hostname);
        self.reply(C220_SERVICE_READY, "", &text);
        self.run().await
    }

    /// Reads and answers commands until the client quits, a limit closes the connection, or
    /// STARTTLS hands the stream back.
    pub async fn run(mut self) -> std::io::Result<Exit<S>> {
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            self.flush_in_time().await?;
            let in_data = matches!(self.state, State::Data(_));
            let logging_in = !self.is_inbound() && self.data.authenticated.is_none();
            if logging_in && self.login_deadline.expired() {
                // Checked every turn, not only when the client goes quiet: one that keeps
                // commands coming never logs in either.
                self.reply(
                    C421_SERVICE_UNAVAILABLE,
                    E442_BAD_CONNECTION,
                    "Login timeout, closing",
                );
                return self.close().await;
            }
            let limit = if in_data {
                self.limits().data_timeout
            } else if logging_in {
                // Issue 12: a silent (or chatty) client that never logs in holds its place
                // for the login timeout at most.
                self.login_deadline.cap(self.limits().command_timeout)
            } else {
                self.limits().command_timeout
            };
            let shutdown = &mut self.shutdown;
            let read = tokio::select! {
                read = tokio::time::timeout(limit, self.stream.read(&mut chunk)) => Some(read),
                _ = async { let _ = shutdown.wait_for(|&stop| stop).await; } => None,
            };
            let Some(read) = read else {
                self.reply(
                    C421_SERVICE_UNAVAILABLE,
                    E432_NOT_ACCEPTING,
                    "Service shutting down",
                );
                return self.close().await;
            };
            let n = match read {
                Err(_elapsed) => {
                    // On a DATA stall nothing is accepted: the transaction dies with the connection.
                    let text = if in_data {
                        "DATA stalled, closing"
                    } else if logging_in {
                        "Login timeout, closing"
                    } else {
                        "Idle timeout, closing"
                    };
                    self.reply(C421_SERVICE_UNAVAILABLE, E442_BAD_CONNECTION, text);
                    return self.close().await;
                }
                Ok(Ok(0)) => return Ok(Exit::Closed),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
            };
            match self.ingest(&chunk[..n]).await {
                Flow::Continue => {}
                Flow::Close => return self.close().await,
                Flow::StartTls => {
                    self.flush_in_time().await?;
                    return Ok(Exit::StartTls(self.stream));
                }
            }
        }
    }

    /// Writes what is queued and ends the connection (best effort: the peer may be gone).
    async fn close(mut self) -> std::io::Result<Exit<S>> {
        let _ = self.flush_in_time().await;
        let limit = self.limits().command_timeout;
        let _ =
            tokio::time::timeout(limit, tokio::io::AsyncWriteExt::shutdown(&mut self.stream)).await;
        Ok(Exit::Closed)
    }

    /// Writes the queued replies; a client that stops reading is dropped after the command
    /// timeout instead of holding its task forever.
    async fn flush_in_time(&mut self) -> std::io::Result<()> {
        let limit = self.limits().command_timeout;
        tokio::time::timeout(limit, self.flush())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "client not reading"))?
    }

    /// Processes one read's worth of bytes.
    async fn ingest(&mut self, mut rest: &[u8]) -> Flow {
        while !rest.is_empty() {
            if matches!(self.state, State::Data(_)) {
                let (consumed, flow) = self.ingest_data(rest).await;
                rest = &rest[consumed..];
                if flow != Flow::Continue {
                    return flow;
                }
                continue;
            }
            let (consumed, line) = self.line.push(rest);
            rest = &rest[consumed..];
            let flow = match line {
                None => Flow::Continue,
                Some(Line::TooLong) => {
                    self.state = State::Command;
                    self.bad_command(C500_SYNTAX_ERROR, E552_SYNTAX, "Line too long")
                }
                Some(Line::Complete(line)) => self.handle_line(line).await,
            };
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    /// One complete line, in whatever state expects one.
    async fn handle_line(&mut self, line: Vec<u8>) -> Flow {
        match std::mem::replace(&mut self.state, State::Command) {
            State::Command => self.handle_command(&line).await,
            State::AuthPlain => self.handle_auth_plain_response(&line).await,
            State::AuthLoginUser => self.handle_auth_login_user(&line),
            State::AuthLoginPassword { user } => self.handle_auth_login_password(user, &line).await,
            // DATA bytes go to `ingest_data`, never here; keep the state if that ever changes.
            data @ State::Data(_) => {
                self.state = data;
                Flow::Continue
            }
        }
    }

    /// Parses a command line with smtp-proto and dispatches it.
    async fn handle_command(&mut self, line: &[u8]) -> Flow {
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request.into_owned(),
            Err(err) => return self.parse_error(err),
        };
        match request {
            Request::Ehlo { host } => self.handle_ehlo(host, true),
            Request::Helo { host } => self.handle_ehlo(host, false),
            Request::StartTls => self.handle_starttls(),
            Request::Auth {
                mechanism,
                initial_response,
            } => self.handle_auth(mechanism, initial_response).await,
            Request::Mail { from } => {
                let declared = crate::core::declared_size(line);
                self.handle_mail_from(from, declared).await
            }
            Request::Rcpt { to } => self.handle_rcpt_to(to).await,
            Request::Data => self.handle_data(),
            Request::Rset => {
                self.data.reset_transaction();
                self.reply(C250_OK, E200_OK, "Reset");
                Flow::Continue
            }
            Request::Noop { .. } => {
                self.reply(C250_OK, E200_OK, "OK");
                Flow::Continue
            }
            Request::Quit => {
                self.reply(C221_CLOSING, E200_OK, "Bye");
                Flow::Close
            }
            Request::Vrfy { .. } => {
                self.reply(
                    C252_CANNOT_VRFY,
                    E250_PROTOCOL_OK,
                    "Cannot VRFY user, but will accept message and attempt delivery",
                );
                Flow::Continue
            }
            Request::Help { .. } => {
                let text = if self.is_inbound() {
                    "Commands: EHLO HELO STARTTLS MAIL RCPT DATA RSET NOOP VRFY HELP QUIT"
                } else {
                    "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY HELP QUIT"
                };
                self.reply(C214_HELP, E200_OK, text);
                Flow::Continue
            }
            Request::Lhlo { .. } => {
                self.bad_command(C500_SYNTAX_ERROR, E551_INVALID_COMMAND, "Unknown command")
            }
            Request::Bdat { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.bad_command(
                C502_NOT_IMPLEMENTED,
                E551_INVALID_COMMAND,
                "Command not implemented",
            ),
        }
    }

    /// Maps smtp-proto's parse errors to replies; each counts as a bad command.
    fn parse_error(&mut self, err: ProtoError) -> Flow {
        match err {
            ProtoError::UnknownCommand => {
                self.bad_command(C500_SYNTAX_ERROR, E551_INVALID_COMMAND, "Unknown command")
            }
            ProtoError::SyntaxError { syntax } => self.bad_command(
                C501_PARAM_SYNTAX,
                E554_INVALID_ARGUMENTS,
                &format!("Syntax: {syntax}"),
            ),
            ProtoError::InvalidSenderAddress => self.bad_command(
                C501_PARAM_SYNTAX,
                E517_BAD_SENDER_SYNTAX,
                "Invalid sender address",
            ),
            ProtoError::InvalidRecipientAddress => self.bad_command(
                C501_PARAM_SYNTAX,
                E513_BAD_RCPT_SYNTAX,
                "Invalid recipient address",
            ),
            ProtoError::InvalidParameter { param } => self.bad_command(
                C501_PARAM_SYNTAX,
                E554_INVALID_ARGUMENTS,
                &format!("Invalid value for parameter {param}"),
            ),
            ProtoError::UnsupportedParameter { .. } => self.bad_command(
                C504_PARAM_NOT_IMPLEMENTED,
                E554_INVALID_ARGUMENTS,
                "Unsupported parameter",
            ),
            ProtoError::NeedsMoreData { .. }
            | ProtoError::ResponseTooLong
            | ProtoError::InvalidResponse { .. } => {
                self.bad_command(C500_SYNTAX_ERROR, E552_SYNTAX, "Syntax error")
            }
        }
    }
}
