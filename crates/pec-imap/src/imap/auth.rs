//! LOGIN and AUTHENTICATE PLAIN (RFC 3501 §6.2, RFC 4616), only over TLS, with throttling:
//! each failure waits `auth_failure_delay` × 2^(failures − 1) before answering, and the
//! session closes after `max_auth_failures`.

use imap_next::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_next::imap_types::core::{AString, Tag};
use imap_next::imap_types::response::{Code, CommandContinuationRequest, Status};
use imap_next::imap_types::secret::Secret;
use imap_next::types::CommandAuthenticate;
use tokio::io::{AsyncRead, AsyncWrite};

use super::session::{bad, bye, capabilities, no, ok, Flow, Session};
use super::Error;
use crate::backend::Backend;

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    pub(super) async fn login(
        &mut self,
        tag: Tag<'static>,
        username: AString<'static>,
        password: Secret<AString<'static>>,
    ) -> Result<Flow, Error> {
        let (status, flow) = self
            .check_credentials(tag, username.as_ref(), password.declassify().as_ref())
            .await;
        self.conn.status(status);
        Ok(flow)
    }

    pub(super) async fn authenticate_start(
        &mut self,
        command: CommandAuthenticate,
    ) -> Result<Flow, Error> {
        let CommandAuthenticate {
            tag,
            mechanism,
            initial_response,
        } = command;
        if mechanism != AuthMechanism::Plain {
            self.finish(no(tag, None, "Only AUTHENTICATE PLAIN is supported"));
            return Ok(Flow::Continue);
        }
        match initial_response {
            Some(response) => self.authenticate_plain(tag, response.declassify()).await,
            None => {
                let cont = CommandContinuationRequest::base64(Vec::new());
                if self.conn.server().authenticate_continue(cont).is_ok() {
                    self.authenticating = Some(tag);
                }
                Ok(Flow::Continue)
            }
        }
    }

    pub(super) async fn authenticate_data(
        &mut self,
        data: AuthenticateData<'static>,
    ) -> Result<Flow, Error> {
        let Some(tag) = self.authenticating.take() else {
            return Ok(Flow::Continue);
        };
        match data {
            AuthenticateData::Continue(response) => {
                self.authenticate_plain(tag, response.declassify()).await
            }
            AuthenticateData::Cancel => {
                self.finish(bad(Some(tag), "AUTHENTICATE cancelled"));
                Ok(Flow::Continue)
            }
        }
    }

    /// RFC 4616: `authzid NUL authcid NUL passwd`; an authzid other than the user is refused.
    async fn authenticate_plain(
        &mut self,
        tag: Tag<'static>,
        response: &[u8],
    ) -> Result<Flow, Error> {
        let mut fields = response.split(|b| *b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            self.finish(bad(Some(tag), "Malformed PLAIN response"));
            return Ok(Flow::Continue);
        };
        if !authzid.is_empty() && authzid != authcid {
            self.finish(no(tag, None, "Authorization identity must be the user"));
            return Ok(Flow::Continue);
        }
        let (status, flow) = self.check_credentials(tag, authcid, password).await;
        self.finish(status);
        Ok(flow)
    }

    /// Ends an AUTHENTICATE exchange (imap-next must leave its authenticate state).
    fn finish(&mut self, status: Status<'static>) {
        if let Err(status) = self.conn.server().authenticate_finish(status) {
            self.conn.status(status);
        }
    }

    /// The tagged reply to a login attempt, and whether the session goes on.
    async fn check_credentials(
        &mut self,
        tag: Tag<'static>,
        user: &[u8],
        password: &[u8],
    ) -> (Status<'static>, Flow) {
        if !self.tls {
            // RFC 3501 §6.2.3: LOGINDISABLED is advertised before STARTTLS.
            return (no(tag, None, "Log in only after STARTTLS"), Flow::Continue);
        }
        if self.user.is_some() {
            return (bad(Some(tag), "Already logged in"), Flow::Continue);
        }
        let (Ok(user), Ok(password)) = (std::str::from_utf8(user), std::str::from_utf8(password))
        else {
            return self.login_failed(tag).await;
        };
        match self
            .ctx
            .backend
            .authenticate("imap", user, password, self.peer)
            .await
        {
            Ok(Some(mailbox)) => {
                self.user = Some(mailbox);
                let caps = capabilities(true, self.ctx.config.mode, true);
                (
                    ok(tag, Some(Code::Capability(caps)), "Logged in"),
                    Flow::Continue,
                )
            }
            Ok(None) => self.login_failed(tag).await,
            Err(e) => (
                no(tag, None, &format!("Cannot log in now: {e}")),
                Flow::Continue,
            ),
        }
    }

    async fn login_failed(&mut self, tag: Tag<'static>) -> (Status<'static>, Flow) {
        let limits = &self.ctx.config.limits;
        self.auth_failures += 1;
        let factor = 1u32 << (self.auth_failures - 1).min(6);
        tokio::time::sleep(limits.auth_failure_delay * factor).await;
        if self.auth_failures >= limits.max_auth_failures {
            self.conn.status(bye("Too many failed logins"));
            return (no(tag, None, "Authentication failed"), Flow::Close);
        }
        (no(tag, None, "Authentication failed"), Flow::Continue)
    }
}
