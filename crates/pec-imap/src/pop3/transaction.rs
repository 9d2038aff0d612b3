//! The TRANSACTION state (RFC 1939 §5): STAT, LIST, UIDL, DELE, RSET, NOOP, and QUIT, which
//! enters UPDATE and applies the deletions.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::backend::Backend;

use super::codes::SYS_TEMP;
use super::command::Command;
use super::error::Pop3Error;
use super::maildrop::Maildrop;
use super::session::{Flow, Session, State};

/// The folder POP3 serves.
pub(super) const INBOX: &str = "INBOX";

impl<S: AsyncRead + AsyncWrite + Unpin + Send, B: Backend> Session<S, B> {
    /// A command in the TRANSACTION state.
    pub(super) async fn handle_transaction(&mut self, command: Command) -> Result<Flow, Pop3Error> {
        let State::Transaction(maildrop) = &mut self.state else {
            return Ok(Flow::Continue);
        };
        match command {
            Command::Stat => {
                let (count, octets) = maildrop.stat();
                self.ok(&format!("{count} {octets}"));
            }
            Command::List(n) => {
                let lines = listing(maildrop, n, |_, slot| slot.size.to_string());
                self.reply_listing(lines);
            }
            Command::Uidl(n) => {
                let lines = listing(maildrop, n, |m, slot| m.unique_id(slot));
                self.reply_listing(lines);
            }
            Command::Dele(n) => match maildrop.dele(n) {
                Ok(()) => self.ok(&format!("message {n} deleted")),
                Err(no) => self.err(no.text()),
            },
            Command::Rset => {
                maildrop.rset();
                let (count, octets) = maildrop.stat();
                self.ok(&format!("maildrop has {count} messages ({octets} octets)"));
            }
            Command::Retr(n) => return self.handle_retr(n, None).await,
            Command::Top(n, lines) => return self.handle_retr(n, Some(lines)).await,
            Command::Quit => return Ok(self.handle_update().await),
            Command::Noop => self.ok(""),
            Command::Capa => {}
            Command::Stls | Command::User(_) | Command::Pass(_) | Command::Auth { .. } => {
                self.err("already logged in");
            }
        }
        Ok(Flow::Continue)
    }

    fn reply_listing(&mut self, lines: Result<Listing, &'static str>) {
        match lines {
            Ok(Listing::One(line)) => self.ok(&line),
            Ok(Listing::All(lines)) => {
                self.ok(&format!("{} messages", lines.len()));
                for line in lines {
                    self.line(&line);
                }
                self.line(".");
            }
            Err(why) => self.err(why),
        }
    }

    /// QUIT in TRANSACTION: the UPDATE state (RFC 1939 §6). The reply says `+OK` only once the
    /// backend removed the messages; messages another session removed first are not an error.
    async fn handle_update(&mut self) -> Flow {
        let State::Transaction(maildrop) = &self.state else {
            return Flow::Close;
        };
        let uids = maildrop.deleted_uids();
        let (left, _) = maildrop.stat();
        if uids.is_empty() {
            self.ok(&format!("bye ({left} messages left)"));
            return Flow::Close;
        }
        let mailbox = maildrop.mailbox.clone();
        match self.ctx.backend.expunge(&mailbox, INBOX, &uids).await {
            Ok(_) => self.ok(&format!("bye ({left} messages left)")),
            Err(_) => self.err(&format!("{SYS_TEMP} some deleted messages not removed")),
        }
        Flow::Close
    }
}

/// LIST / UIDL answer: one line for `LIST n`, a multi-line listing otherwise.
enum Listing {
    One(String),
    All(Vec<String>),
}

fn listing(
    maildrop: &Maildrop,
    n: Option<u32>,
    value: impl Fn(&Maildrop, &super::maildrop::Slot) -> String,
) -> Result<Listing, &'static str> {
    match n {
        Some(n) => {
            let slot = maildrop.get(n).map_err(|no| no.text())?;
            Ok(Listing::One(format!("{n} {}", value(maildrop, slot))))
        }
        None => Ok(Listing::All(
            maildrop
                .live()
                .map(|(n, slot)| format!("{n} {}", value(maildrop, slot)))
                .collect(),
        )),
    }
}
