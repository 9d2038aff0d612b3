//! # pec-web — the webmail (issue 14)
//!
//! Read, write and track certified mail in a browser, over the same pipeline as every mail
//! client: logins through `pec_provider::caselle` (the same argon2 check and failed-login
//! throttle as SMTP, IMAP and POP3), sending through the access point in-process (same checks,
//! receipts and log events as SMTP submission), reading from the store. It never calls the
//! SMTP or IMAP servers.
//!
//! Server-rendered HTML (askama templates, checked at compile time, escaping everything they
//! print), plain forms, no JavaScript; the stylesheet is embedded in the binary. Every
//! response carries a strict Content-Security-Policy (no script at all, nothing from other
//! origins, no framing), so a script smuggled into a subject, a body, a display name or a
//! file name is inert even if escaping ever failed.
//!
//! Modules: `sessione` (cookies, CSRF, expiry), `vista` (what a stored message shows),
//! `firma` (what its signature is worth),
//! `componi` (a draft as RFC 5322), `pagine` (the handlers), `servizio` (HTTP and HTTPS
//! on a listener).
#![deny(missing_docs)]

pub mod componi;
pub mod firma;
mod pagine;
pub mod servizio;
pub mod sessione;
pub mod vista;

use pec_provider::Gestore;
use std::sync::Arc;

/// The webmail's shared state.
#[derive(Clone)]
pub struct Web(Arc<Interno>);

struct Interno {
    gestore: Arc<Gestore>,
    sessioni: sessione::Sessioni,
    /// The provider's name, at the top of every page.
    nome: String,
    /// The largest upload, in bytes.
    limite: usize,
    /// Each box's last completed logins (when, from where, how), newest first; in memory.
    accessi: std::sync::Mutex<std::collections::HashMap<String, UltimiAccessi>>,
}

/// A box's last completed logins: when, from where, how (password, or password and code),
/// newest first.
type UltimiAccessi =
    std::collections::VecDeque<(chrono::DateTime<chrono::Utc>, std::net::IpAddr, String)>;

impl Web {
    /// The webmail of `gestore`, titled `nome`, taking uploads up to `limite` bytes.
    pub fn new(gestore: Arc<Gestore>, nome: &str, limite: usize) -> Self {
        Self(Arc::new(Interno {
            gestore,
            sessioni: sessione::Sessioni::default(),
            nome: nome.to_string(),
            limite,
            accessi: Default::default(),
        }))
    }

    /// The routes.
    pub fn router(&self) -> axum::Router {
        pagine::router(self.clone())
    }
}
