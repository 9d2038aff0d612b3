//! The submission server: one file per stage of the SMTP dialogue.

mod auth;
mod data;
mod ehlo;
mod mail;
mod rcpt;
pub(crate) mod session;
pub mod spawn;
