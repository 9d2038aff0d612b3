//! The 12 h / 24 h rules of PEC-SPEC §4.9 as data: when each check is due, which incoming
//! receipt cancels which check, and the notice a check that fires sends.
//!
//! The sender's provider tracks every **certified** remote recipient of an accepted message
//! from the moment the envelope was dispatched (the acceptance time). Two checks are scheduled
//! ([`scadenze`]); each incoming receipt about that recipient cancels some of them
//! ([`annullate`]) in the same transaction that files the receipt, so a check that fires is
//! due, and [`avviso`] builds its notice. A timer is a row in the store with a due time, never
//! a sleeping task: tests jump a virtual clock (STYLE §3).
//!
//! The table of PEC-SPEC §4.9, per recipient:
//!
//! | Situation | Notices |
//! |---|---|
//! | presa in carico < 12 h, consegna never | only 24 h |
//! | no presa in carico, consegna between 12 h and 24 h | only 12 h |
//! | neither | 12 h and 24 h |
//! | consegna (or errore-consegna) < 12 h | none |
//! | presa in carico < 12 h and consegna < 24 h | none |
//!
//! Choices (ours):
//! * the 24 h check fires at **+23 h 30 min** ([`CONTROLLO_24H`]): the notice must go out by
//!   the 24 h deadline but not before 22 h (PEC-SPEC §4.9); 30 minutes leave room for signing,
//!   queueing and a late scheduler, well inside the window;
//! * "before" is strict: a receipt that arrives exactly when the check fires does not count,
//!   the notice is due (the check and the receipt race; the notice is the safe side);
//! * **UNCONFIRMED:** a rilevazione virus (PEC-SPEC §4.10) cancels both checks like an
//!   errore-consegna: the sender then gets our avviso di mancata consegna per virus (§4.11),
//!   an `errore-consegna` that closes the transaction, and a later "not delivered in 24 h"
//!   would contradict it;
//! * only certified recipients are tracked (PEC-SPEC §11.5 leaves it open: an ordinary mail
//!   server never sends receipts, so every such recipient would get both notices);
//! * after the 24 h notice nothing more is tracked (PEC-SPEC §4.9).

use crate::builder::{
    avviso_mancata_consegna_24h, preavviso_mancata_consegna_12h, BuildError, DatiMessaggio,
    Emissione,
};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;
use crate::registro::{Evento, TipoEvento};
use chrono::{DateTime, Duration, Utc};

#[doc(no_inline)]
pub use crate::builder::Scadenza;

/// When the 12 h check fires, from dispatch (PEC-SPEC §4.9).
pub const CONTROLLO_12H: Duration = Duration::hours(12);

/// When the 24 h check fires, from dispatch: 23 h 30 min, inside the window "not before 22 h,
/// by 24 h" of PEC-SPEC §4.9 (our choice, see the module docs).
pub const CONTROLLO_24H: Duration = Duration::minutes(23 * 60 + 30);

impl Scadenza {
    /// How long after dispatch this check fires.
    pub fn ritardo(self) -> Duration {
        match self {
            Scadenza::Ore12 => CONTROLLO_12H,
            Scadenza::Ore24 => CONTROLLO_24H,
        }
    }
}

/// When each check is due for a recipient whose envelope was dispatched at `inviato`.
pub fn scadenze(inviato: DateTime<Utc>) -> [(Scadenza, DateTime<Utc>); 2] {
    [
        (Scadenza::Ore12, inviato + CONTROLLO_12H), // PEC-SPEC §4.9
        (Scadenza::Ore24, inviato + CONTROLLO_24H), // PEC-SPEC §4.9: ≥ 22 h, ≤ 24 h
    ]
}

/// The checks a receipt of `kind` about a recipient cancels (PEC-SPEC §4.9): presa in carico
/// cancels the 12 h one; a delivery receipt or any delivery error cancels both; anything else
/// cancels nothing.
pub fn annullate(kind: MessageKind) -> &'static [Scadenza] {
    use MessageKind::*;
    match kind {
        PresaInCarico => &[Scadenza::Ore12], // PEC-SPEC §4.9 row 1
        ConsegnaCompleta | ConsegnaBreve | ConsegnaSintetica | MancataConsegna
        | MancataConsegnaVirus => &[Scadenza::Ore12, Scadenza::Ore24], // §4.9 rows 4, 5
        RilevazioneVirus => &[Scadenza::Ore12, Scadenza::Ore24], // UNCONFIRMED, module docs
        _ => &[],
    }
}

/// The notice of check `s` for one recipient, to the original sender (PEC-SPEC §4.9, §11.3).
pub fn avviso(
    s: Scadenza,
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
) -> Result<UnsignedMessage, BuildError> {
    match s {
        Scadenza::Ore12 => preavviso_mancata_consegna_12h(e, dati, destinatario),
        Scadenza::Ore24 => avviso_mancata_consegna_24h(e, dati, destinatario),
    }
}

/// The log event of a notice built by [`avviso`] with the same `e`, `dati` and `destinatario`
/// (PEC-SPEC §8). The notice is about our own envelope, so the sending provider is ours.
pub fn evento(s: Scadenza, e: &Emissione<'_>, dati: &DatiMessaggio, destinatario: &str) -> Evento {
    Evento::di(
        TipoEvento::ScadenzaEmessa {
            scadenza: s,
            destinatario: destinatario.to_string(),
        },
        e.data,
        dati,
        &e.provider.nome,
        vec![crate::builder::senza_parentesi(e.message_id).to_string()],
    )
}

#[cfg(test)]
mod tests;
