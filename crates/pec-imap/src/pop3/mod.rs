//! POP3 server (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN (RFC 5034) and
//! the response codes of RFC 2449 §8 / RFC 3206.
//!
//! The maildrop is the `INBOX` folder of the authenticated box. At login the session takes a
//! [`Backend::snapshot`](crate::Backend::snapshot) of it: message numbers are fixed for the
//! whole session, as RFC 1939 §5 requires, even when IMAP sessions change the folder.
//!
//! Invariants:
//! - No login before TLS: on a plain (STLS-style) listener USER, PASS and AUTH are refused
//!   until STLS succeeded, and CAPA does not offer them (RFC 2595 §2).
//! - Deletions are applied only in the UPDATE state, i.e. after QUIT (RFC 1939 §6): a
//!   connection that drops, times out or is shut down removes nothing.
//! - We do **not** lock the maildrop (RFC 1939 §8 allows either): IMAP and other POP3 sessions
//!   keep working on the same box. The cost: a message another session expunged answers
//!   `-ERR` on RETR/TOP, and QUIT only removes what is still there.
//! - Memory per session is bounded: the input buffer by [`Pop3Limits::max_line`], the output
//!   by one message (RETR streams it in chunks, each under [`Pop3Limits::write_timeout`], so a
//!   client that stops reading is dropped instead of holding its task).
//! - Bytes pipelined after STLS are dropped with the plain-text session (STARTTLS command
//!   injection, CVE-2011-0411), and nothing learnt before TLS survives it.
//! - A reply never says whether a box exists, and passwords are never kept in errors or
//!   replies.
//!
//! Layout: [`command`] parses a line (no I/O), [`maildrop`] is the session's view of the
//! folder (no I/O), `session` reads lines and dispatches, `auth`, `transaction` and `retr`
//! answer the commands of each state, `spawn` accepts connections and runs TLS.

mod auth;
pub mod codes;
pub mod command;
mod config;
mod error;
pub mod maildrop;
mod retr;
mod session;
mod spawn;
mod transaction;

pub use config::{Pop3Config, Pop3Limits};
pub use error::Pop3Error;
pub use spawn::serve_pop3;
