//! The running provider, wired: the configuration turned into pec-provider's settings, the
//! points built once (`start.rs`), and handed to the listeners through thin backends that
//! speak only protocol (`smtp.rs` for submission and the receiving point, `imap.rs` for IMAP
//! and POP3). The PEC rules and the queue live in pec-provider and pec-core; the operator's
//! socket is `admin.rs`.

pub mod admin;
mod imap;
mod smtp;
mod start;

pub use start::{existing_signer, open_store, signer, start, Running};
