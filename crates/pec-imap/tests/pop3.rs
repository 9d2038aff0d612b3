//! pec-imap POP3 tests: one binary, modules mirroring `src/pop3/` (in `tests/pop3/`), then
//! real clients (Python poplib, curl) against a real listener on 127.0.0.1.

#[path = "common/banco.rs"]
mod banco;
#[path = "common/tls.rs"]
mod tls;
#[path = "pop3/util.rs"]
mod util;

#[path = "pop3/auth.rs"]
mod auth;
#[path = "pop3/retr.rs"]
mod retr;
#[path = "pop3/session.rs"]
mod session;
#[path = "pop3/transaction.rs"]
mod transaction;

#[path = "pop3/clients"]
mod clients {
    mod curl;
    mod python;
}
