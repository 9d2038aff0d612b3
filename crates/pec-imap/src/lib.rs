//! Mailbox access for PEC boxes: the IMAP and POP3 servers that let ordinary mail clients read
//! what the delivery point stored (envelopes, receipts, notices).
//!
//! Both servers are adapters over one [`Backend`] the binary implements on its store; they
//! hold no state of their own beyond a session's view of a folder, so several sessions (IMAP
//! and POP3 alike) on one box see the same messages, flags and expunges.
//!
//! What it does not do: no PEC rules (nothing here builds or checks a receipt), no storage, no
//! message rewriting — a client gets each message byte for byte as stored, so the signatures
//! still verify.

#![deny(missing_docs)]

pub mod backend;
mod budget;
pub mod imap;
pub mod memory;
pub mod pop3;
#[cfg(feature = "store")]
pub mod store;

pub use crate::backend::{
    AppendResult, Backend, BackendError, CopyResult, FlagOp, FolderSnapshot, FolderStatus,
    MessageEntry,
};
pub use crate::imap::{serve_imap, Error as ImapError, ImapConfig, ImapLimits};

/// How a listener speaks TLS (shared with SMTP).
pub use pec_listen::TlsMode;

pub use crate::pop3::{serve_pop3, Pop3Config, Pop3Error, Pop3Limits};
