//! # pec-provider — the PEC pipeline as a library
//!
//! The three points of a PEC provider (PEC-SPEC §2.3) and what keeps them going, over
//! pec-core's rules: pec-core decides (pure functions over plain data, with time and ids
//! passed in); this crate scans, signs, commits the decision's effects in one store
//! transaction, and runs the queue. The protocol front ends (SMTP, IMAP, POP3, later the
//! webmail and the API) call it; it never calls them.
//!
//! The path of one message, file by file:
//!
//! 1. **Submission** — an authenticated box hands [`accesso::Invio`] to
//!    [`accesso::PuntoAccesso::invia`] (`accesso.rs`): scan (`virus.rs`), decide
//!    (`pec_core::accesso`), sign (`comune.rs`), commit the acceptance, the sender's copy,
//!    the deliveries to our own boxes (`consegna.rs`), a relay item per remote recipient
//!    (`inoltro.rs`) and its 12 h / 24 h checks (`scadenze.rs`). Only then does the caller
//!    answer "taken".
//! 2. **Queue** — [`lavoratore::Lavoratore`] claims due items (`pec_core::lavoro`, typed)
//!    and runs each on its point: a delivery (`consegna.rs`), a send to another provider
//!    (`inoltro.rs`, through `pec_smtp::relay::Relay`), a check that came due
//!    (`scadenze.rs`).
//! 3. **Arrival** — another provider's envelope or receipt reaches
//!    [`ricezione::PuntoRicezione::ricevi`] (`ricezione.rs`): signature against the index
//!    (`ricezione/firma.rs`, `indice.rs`), decide (`pec_core::ricezione`), commit the presa
//!    in carico and the deliveries, file receipts and cancel the checks they answer, wrap
//!    anything else in an anomaly (`ricezione/deposito.rs`), stop viruses
//!    (`ricezione/virus.rs`, `quarantena.rs`).
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
pub mod virus;

pub use errore::{Errore, Risultato};
pub use gestore::Gestore;
pub use impostazioni::{Antivirus, FonteIndice, Impostazioni};
