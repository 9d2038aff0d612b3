//! One connection's state (not authenticated → authenticated → selected), its read loop and
//! the dispatch of each command to the file that handles it.

use std::sync::Arc;

use imap_next::imap_types::command::{Command, CommandBody};
use imap_next::imap_types::core::{Tag, Text, Vec1};
use imap_next::imap_types::response::{
    Capability, Code, CommandContinuationRequest, Data, Greeting, GreetingKind, Status, StatusBody,
    StatusKind, Tagged,
};
use imap_next::server::Event;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::conn::{Conn, Step};
use super::view::View;
use super::{Context, Error};
use crate::backend::{Backend, BackendError};
use crate::TlsMode;

/// How a session ended.
pub(super) enum Exit<S> {
    /// LOGOUT, end of stream, timeout, shutdown or a protocol violation.
    Closed,
    /// STARTTLS accepted: the caller runs the handshake on the stream.
    StartTls(S),
}

/// What the read loop does after a command.
pub(super) enum Flow {
    Continue,
    Close,
    StartTls,
}

pub(super) struct Session<S, B> {
    pub(super) conn: Conn<S>,
    /// The client's address: logins are counted by it (issue 12).
    pub(super) peer: std::net::IpAddr,
    /// The client must have logged in by then ([`super::ImapLimits::login_timeout`]).
    login_deadline: pec_listen::LoginDeadline,
    pub(super) ctx: Arc<Context<B>>,
    pub(super) tls: bool,
    shutdown: watch::Receiver<bool>,
    /// The box this session may read, once logged in.
    pub(super) user: Option<String>,
    /// The selected folder, if any.
    pub(super) selected: Option<View>,
    pub(super) auth_failures: u32,
    bad_commands: u32,
    /// Tag of the IDLE in progress: changes in the box are pushed while it is set.
    idle: Option<Tag<'static>>,
    /// Tag of the AUTHENTICATE waiting for its client response.
    pub(super) authenticating: Option<Tag<'static>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    pub(super) fn new(
        stream: S,
        peer: std::net::IpAddr,
        ctx: Arc<Context<B>>,
        tls: bool,
        shutdown: watch::Receiver<bool>,
        greet: bool,
        login_deadline: pec_listen::LoginDeadline,
    ) -> Self {
        let caps = capabilities(tls, ctx.config.mode, false);
        let greeting = Greeting {
            kind: GreetingKind::Ok,
            code: Some(Code::Capability(caps)),
            text: text(&format!("{} IMAP4rev1 ready", ctx.config.hostname)),
        };
        let conn = Conn::new(stream, &ctx.config.limits, greeting, greet);
        Session {
            conn,
            peer,
            login_deadline,
            ctx,
            tls,
            shutdown,
            user: None,
            selected: None,
            auth_failures: 0,
            bad_commands: 0,
            idle: None,
            authenticating: None,
        }
    }

    /// A receiver of the listener's shutdown signal.
    pub(super) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    pub(super) async fn run(mut self) -> Result<Exit<S>, Error> {
        loop {
            if self.user.is_none() && self.login_deadline.expired() {
                // Checked every turn: a client that keeps commands coming never logs in either.
                self.conn.status(bye("Login timeout"));
                let _ = self.conn.flush().await;
                let _ = self.conn.stream.shutdown().await;
                return Ok(Exit::Closed);
            }
            let flow = match self.conn.next_step().await? {
                Step::Event(event) => self.handle_event(event).await?,
                Step::NeedInput => self.wait_input().await?,
                Step::Malformed(tag) => {
                    self.conn
                        .status(bad(tag, "Syntax error or unknown command"));
                    self.count_bad()
                }
                Step::LiteralRefused => self.count_bad(),
            };
            match flow {
                Flow::Continue => {}
                Flow::Close => {
                    let _ = self.conn.flush().await;
                    let _ = self.conn.stream.shutdown().await;
                    return Ok(Exit::Closed);
                }
                Flow::StartTls => {
                    self.conn.flush().await?;
                    return Ok(Exit::StartTls(self.conn.stream));
                }
            }
        }
    }

    fn count_bad(&mut self) -> Flow {
        self.bad_commands += 1;
        if self.bad_commands >= self.ctx.config.limits.max_bad_commands {
            self.conn.status(bye("Too many bad commands"));
            return Flow::Close;
        }
        Flow::Continue
    }

    /// Waits for input, shutdown, the inactivity timeout, or (in IDLE) a change of the box.
    async fn wait_input(&mut self) -> Result<Flow, Error> {
        let conn = &mut self.conn;
        let shutdown = &mut self.shutdown;
        let idling = self.idle.is_some();
        let selected = &mut self.selected;
        let changed = async {
            match selected {
                Some(view) if idling => {
                    if view.watch.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        enum Woke {
            Read(Result<bool, Error>),
            Shutdown,
            Timeout,
            Changed,
        }
        // Issue 12: until it logs in, a client holds its place for the login timeout at most.
        let limits = &self.ctx.config.limits;
        let timeout = match self.user {
            None => self.login_deadline.cap(limits.idle_timeout),
            Some(_) => limits.idle_timeout,
        };
        let woke = tokio::select! {
            read = conn.read_input() => Woke::Read(read),
            _ = shutdown.wait_for(|&stop| stop) => Woke::Shutdown,
            _ = tokio::time::sleep(timeout) => Woke::Timeout,
            _ = changed => Woke::Changed,
        };
        match woke {
            Woke::Read(Ok(true)) => Ok(Flow::Continue),
            Woke::Read(Ok(false)) => Ok(Flow::Close),
            Woke::Read(Err(Error::PeerMisbehaved(why))) => {
                self.conn.status(bye(why));
                let _ = self.conn.flush().await;
                Err(Error::PeerMisbehaved(why))
            }
            Woke::Read(Err(e)) => Err(e),
            Woke::Shutdown => {
                self.conn.status(bye("Server shutting down"));
                Ok(Flow::Close)
            }
            Woke::Timeout if self.user.is_none() => {
                self.conn.status(bye("Login timeout"));
                Ok(Flow::Close)
            }
            Woke::Timeout => {
                self.conn.status(bye("Autologout: idle for too long"));
                Ok(Flow::Close)
            }
            Woke::Changed => {
                if let Some(view) = self.selected.as_mut() {
                    view.stale = true;
                }
                self.refresh(true).await;
                Ok(Flow::Continue)
            }
        }
    }

    async fn handle_event(&mut self, event: Event) -> Result<Flow, Error> {
        match event {
            Event::CommandReceived { command } => {
                let Command { tag, body } = command;
                self.command(tag, body).await
            }
            Event::CommandAuthenticateReceived {
                command_authenticate,
            } => self.authenticate_start(command_authenticate).await,
            Event::AuthenticateDataReceived { authenticate_data } => {
                self.authenticate_data(authenticate_data).await
            }
            Event::IdleCommandReceived { tag } => {
                if self.user.is_none() {
                    let _ = self
                        .conn
                        .server()
                        .idle_reject(no(tag, None, "Log in first"));
                    return Ok(Flow::Continue);
                }
                self.refresh(true).await;
                let cont = CommandContinuationRequest::basic(None, text("idling"));
                if let Ok(cont) = cont {
                    let _ = self.conn.server().idle_accept(cont);
                }
                self.idle = Some(tag);
                Ok(Flow::Continue)
            }
            Event::IdleDoneReceived => {
                if let Some(tag) = self.idle.take() {
                    self.refresh(true).await;
                    self.conn.status(ok(tag, None, "IDLE terminated"));
                }
                Ok(Flow::Continue)
            }
            Event::GreetingSent { .. } | Event::ResponseSent { .. } => Ok(Flow::Continue),
        }
    }

    async fn command(
        &mut self,
        tag: Tag<'static>,
        body: CommandBody<'static>,
    ) -> Result<Flow, Error> {
        self.bad_commands = 0;
        match body {
            CommandBody::Capability => {
                let caps = capabilities(self.tls, self.ctx.config.mode, self.user.is_some());
                self.conn.data(Data::Capability(caps));
                self.conn.status(ok(tag, None, "CAPABILITY completed"));
            }
            CommandBody::Noop | CommandBody::Check => {
                self.refresh(true).await;
                self.conn.status(ok(tag, None, "NOOP completed"));
            }
            CommandBody::Logout => {
                self.conn.status(bye("Logging out"));
                self.conn.status(ok(tag, None, "LOGOUT completed"));
                return Ok(Flow::Close);
            }
            CommandBody::StartTLS => {
                if self.tls || self.ctx.config.mode != TlsMode::StartTls {
                    self.conn.status(bad(Some(tag), "TLS already active"));
                } else {
                    self.conn.status(ok(tag, None, "Begin TLS negotiation now"));
                    return Ok(Flow::StartTls);
                }
            }
            CommandBody::Login { username, password } => {
                return self.login(tag, username, password).await;
            }
            CommandBody::Id { .. } => {
                self.conn.data(Data::Id { parameters: None });
                self.conn.status(ok(tag, None, "ID completed"));
            }
            body if self.user.is_none() => {
                let _ = body;
                self.conn.status(no(tag, None, "Log in first"));
            }
            CommandBody::Enable { .. } => {
                self.conn.data(Data::Enabled {
                    capabilities: Vec::new(),
                });
                self.conn.status(ok(tag, None, "ENABLE completed"));
            }
            other => return self.authenticated_command(tag, other).await,
        }
        Ok(Flow::Continue)
    }

    async fn authenticated_command(
        &mut self,
        tag: Tag<'static>,
        body: CommandBody<'static>,
    ) -> Result<Flow, Error> {
        // RFC 3501 §7.4.1: no EXPUNGE announcements during FETCH, STORE and SEARCH.
        let mut may_expunge = true;
        let status = match body {
            CommandBody::Select { mailbox, .. } => self.select(tag, mailbox, false).await?,
            CommandBody::Examine { mailbox, .. } => self.select(tag, mailbox, true).await?,
            CommandBody::Create { mailbox } => self.create(tag, mailbox).await,
            CommandBody::Delete { mailbox } => self.delete(tag, mailbox).await,
            CommandBody::Rename { from, to } => self.rename(tag, from, to).await,
            CommandBody::Subscribe { mailbox } => self.subscribe(tag, mailbox, true).await,
            CommandBody::Unsubscribe { mailbox } => self.subscribe(tag, mailbox, false).await,
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => self.list(tag, reference, mailbox_wildcard, false).await,
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => self.list(tag, reference, mailbox_wildcard, true).await,
            CommandBody::Status {
                mailbox,
                item_names,
            } => self.status(tag, mailbox, &item_names).await,
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(tag, mailbox, flags, date, message).await,
            body if self.selected.is_none() => {
                let _ = body;
                no(tag, None, "Select a folder first")
            }
            CommandBody::Close => self.close(tag).await,
            CommandBody::Unselect => {
                self.selected = None;
                ok(tag, None, "UNSELECT completed")
            }
            CommandBody::Expunge => self.expunge(tag, None).await?,
            CommandBody::ExpungeUid { sequence_set } => {
                self.expunge(tag, Some(sequence_set)).await?
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } => {
                may_expunge = false;
                self.search(tag, charset, criteria, uid).await?
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                ..
            } => {
                may_expunge = false;
                self.fetch(tag, sequence_set, macro_or_item_names, uid)
                    .await?
            }
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                ..
            } => {
                may_expunge = false;
                self.store(tag, sequence_set, kind, response, flags, uid)
                    .await?
            }
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(tag, sequence_set, mailbox, uid).await,
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } => self.move_(tag, sequence_set, mailbox, uid).await?,
            _ => bad(Some(tag), "Command not supported"),
        };
        self.refresh(may_expunge).await;
        self.conn.status(status);
        Ok(Flow::Continue)
    }

    /// Brings the selected view up to date and queues the untagged responses that tell the
    /// client (EXPUNGE only when `may_expunge`). A backend failure leaves the view as it was.
    pub(super) async fn refresh(&mut self, may_expunge: bool) {
        let (Some(user), Some(view)) = (self.user.as_deref(), self.selected.as_mut()) else {
            return;
        };
        if view.stale || view.watch.has_changed().unwrap_or(false) {
            view.stale = false;
            view.watch.borrow_and_update();
            match self.ctx.backend.snapshot(user, &view.folder).await {
                Ok(snapshot) => view.merge(snapshot),
                Err(BackendError::NoSuchFolder) => view.vanish(),
                Err(_) => {}
            }
        }
        for data in view.updates(may_expunge) {
            self.conn.data(data);
        }
    }
}

/// What we announce: STARTTLS and LOGINDISABLED before TLS, AUTH=PLAIN after.
pub(super) fn capabilities(
    tls: bool,
    mode: TlsMode,
    authenticated: bool,
) -> Vec1<Capability<'static>> {
    let mut caps = vec![Capability::Imap4Rev1];
    if !tls {
        if mode == TlsMode::StartTls {
            caps.push(Capability::StartTls);
        }
        caps.push(Capability::LoginDisabled);
    } else if !authenticated {
        caps.push(Capability::Auth(
            imap_next::imap_types::auth::AuthMechanism::Plain,
        ));
    }
    caps.extend([
        Capability::SaslIr,
        Capability::LiteralPlus,
        Capability::Idle,
        Capability::UidPlus,
        Capability::Move,
        Capability::Unselect,
        Capability::Id,
        Capability::Enable,
    ]);
    Vec1::try_from(caps).unwrap_or_else(|_| Vec1::from(Capability::Imap4Rev1))
}

/// A response text from our own words (or a backend's), made safe for the wire.
pub(super) fn text(s: &str) -> Text<'static> {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim_start_matches('[').trim().to_string();
    Text::try_from(clean).unwrap_or_else(|_| Text::unvalidated("Error"))
}

fn tagged(
    kind: StatusKind,
    tag: Tag<'static>,
    code: Option<Code<'static>>,
    msg: &str,
) -> Status<'static> {
    Status::Tagged(Tagged {
        tag,
        body: StatusBody {
            kind,
            code,
            text: text(msg),
        },
    })
}

pub(super) fn ok(tag: Tag<'static>, code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    tagged(StatusKind::Ok, tag, code, msg)
}

pub(super) fn no(tag: Tag<'static>, code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    tagged(StatusKind::No, tag, code, msg)
}

/// BAD, tagged when we know the tag.
pub(super) fn bad(tag: Option<Tag<'static>>, msg: &str) -> Status<'static> {
    match tag {
        Some(tag) => tagged(StatusKind::Bad, tag, None, msg),
        None => Status::Untagged(StatusBody {
            kind: StatusKind::Bad,
            code: None,
            text: text(msg),
        }),
    }
}

/// An untagged OK carrying a response code (UIDVALIDITY, COPYUID, …).
pub(super) fn untagged_ok(code: Code<'static>, msg: &str) -> Status<'static> {
    Status::Untagged(StatusBody {
        kind: StatusKind::Ok,
        code: Some(code),
        text: text(msg),
    })
}

pub(super) fn bye(msg: &str) -> Status<'static> {
    Status::bye(None, text(msg)).unwrap_or_else(|never| match never {})
}

/// NO for a backend refusal, with the code the client can act on.
pub(super) fn backend_no(tag: Tag<'static>, err: &BackendError) -> Status<'static> {
    let code = match err {
        BackendError::NoSuchFolder => Some(Code::TryCreate),
        BackendError::OverQuota => Some(Code::OverQuota),
        _ => None,
    };
    no(tag, code, &err.to_string())
}
