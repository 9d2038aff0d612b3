//! # pec-provider — the PEC pipeline as a library
//!
//! The three points of a PEC provider (PEC-SPEC §2.3) and what keeps them going, over
//! pec-core's rules: pec-core decides (pure functions over plain data, with time and ids
//! passed in); this crate scans, signs, commits the decision's effects in one store
//! transaction, and runs the queue. The protocol front ends (SMTP, IMAP, POP3, later the
//! webmail and the API) call it; it never calls them.
//!
//! pec-core decides what to do and where it goes (`pec_core::effetti`: messages to sign, a
//! plan of effects and its alternative); `esecutore.rs` is the one place effects become store
//! operations, signed in one blocking task and committed in one transaction. The points keep
//! only the I/O: scanning, checking an arrival's signature, asking the store, sending.
//!
//! The path of one message, file by file:
//!
//! 1. **Submission** — an authenticated box hands [`accesso::Invio`] to
//!    [`accesso::PuntoAccesso::invia`] (`accesso.rs`): scan (`virus.rs`), decide
//!    (`pec_core::accesso`), effects (`pec_core::effetti::accettata`: the acceptance, the
//!    sender's copy, our own boxes delivered in the same transaction, a relay item per remote
//!    recipient and its 12 h / 24 h checks), executed (`esecutore.rs`). Only then does the
//!    caller answer "taken".
//! 2. **Queue** — [`lavoratore::Lavoratore`] claims due items (`pec_core::lavoro`, typed, their
//!    bytes stored by hash) and runs each on its point: a delivery (`consegna.rs`), a send to
//!    another provider (`inoltro.rs`, through `pec_smtp::relay::Relay`), a check that came due
//!    (`scadenze.rs`).
//! 3. **Arrival** — another provider's envelope or receipt reaches
//!    [`ricezione::PuntoRicezione::ricevi`] (`ricezione.rs`): scan, signature against the
//!    index (`ricezione/firma.rs`, `indice.rs`), decide (`pec_core::ricezione`), place a
//!    receipt (whose envelope? `scadenze.rs`), effects (`pec_core::effetti::ricezione`: the
//!    presa in carico and the deliveries, receipts filed and the checks they answer closed,
//!    anomalies, viruses quarantined).
//! 4. **Reading** — mail clients log in through [`caselle::Caselle`] (one throttle for every
//!    protocol) and read the store.
//!
//! Every effect is keyed (`pec_core::chiave::Chiave`), so a step replayed after a crash, or
//! an arrival a peer sends twice, stores nothing twice.
#![deny(missing_docs)]

pub mod accesso;
pub mod caselle;
pub mod clock;
pub mod comune;
pub mod consegna;
pub mod domini;
pub mod errore;
mod esecutore;
mod gestore;
pub mod ids;
pub mod impostazioni;
pub mod indice;
pub mod inoltro;
pub mod lavoratore;
pub mod quarantena;
pub mod ricezione;
pub mod scadenze;
pub mod sigillo;
pub mod totp;
pub mod virus;

pub use errore::{Errore, Risultato};
pub use gestore::Gestore;
pub use impostazioni::{Antivirus, FonteIndice, Impostazioni};
