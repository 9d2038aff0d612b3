//! The SMTP server (submission and the inbound receiving point share it): one file per stage
//! of the dialogue.

mod auth;
mod data;
mod ehlo;
mod mail;
mod rcpt;
pub(crate) mod session;
pub mod spawn;
