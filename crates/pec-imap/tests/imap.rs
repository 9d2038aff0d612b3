//! The IMAP server against real clients (Python imaplib, curl) and a raw TLS client, on
//! loopback with the in-memory backend, and again with the real store (`PEC_IMAP_BACKEND=store`). One test binary; one module per concern.

#[path = "imap/bad_input.rs"]
mod bad_input;
#[path = "common/banco.rs"]
mod banco;
#[path = "imap/curl.rs"]
mod curl;
#[path = "imap/python.rs"]
mod python;
#[path = "imap/sessions.rs"]
mod sessions;
#[path = "common/tls.rs"]
mod tls;
#[path = "imap/util.rs"]
mod util;
