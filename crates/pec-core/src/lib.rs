//! # pec-core — the rules and formats of PEC, with no I/O
//!
//! This crate knows what every PEC message looks like (PEC-SPEC §3–§6): the `daticert.xml`
//! model with its writer and reader, the catalogue of message kinds, the builders of every
//! envelope and receipt, the *breve* hashing, and the single time reference of a transaction.
//!
//! It deliberately does **not** open sockets, read the clock, draw random numbers or call
//! openssl: time and identifiers come in as arguments, and builders return
//! [`UnsignedMessage`]s that `pec-smime` signs. The cost of that choice is that callers must
//! thread `now` and ids through; the gain is that every rule is unit-tested without a network.
#![deny(missing_docs)]

pub mod accesso;
pub mod breve;
pub mod builder;
// One key type for every idempotent effect, in the format the store has always held.
pub mod chiave;
pub mod consegna;
pub mod daticert;
// What a decision asks the provider to do, as data (issue 13).
pub mod effetti;
// The relay's permanent failures as the sender's avviso di mancata consegna reads them
// (PEC-SPEC §4.8).
pub mod inoltro;
pub mod inspect;
pub mod kind;
// Queue items, typed and serialised in one place.
pub mod lavoro;
pub mod message;
#[cfg(test)]
mod prova;
pub mod registro;
// The incoming point: classifies what another provider (or anyone) sent us and answers with a
// presa in carico, an unchanged delivery, an anomaly envelope or a refusal (PEC-SPEC §2.3).
pub mod ricezione;
// The 12 h / 24 h rules as data, so the sender side's timers are tested on a virtual clock
// (PEC-SPEC §4.9).
pub mod scadenze;
// "Stato dell'invio": a sent message's status per recipient, from the log.
pub mod stato;
pub mod tempo;
// The antivirus verdict at each point, and the sender side's answer to a rilevazione virus
// (PEC-SPEC §4.5, §4.10, §4.11).
pub mod virus;

pub use builder::{DatiMessaggio, Emissione, Originale};
pub use kind::MessageKind;
pub use message::{Provider, UnsignedMessage};
pub use tempo::RiferimentoTemporale;
