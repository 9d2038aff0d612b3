//! Notices: non accettazione (PEC-SPEC §4.4, §4.5), mancata consegna (§4.8), the 12 h / 24 h
//! notices (§4.9), rilevazione virus (§4.10) and mancata consegna per virus (§4.11).
//! None of them carries the original (§4.12, §11.14).

use super::intestazioni;
use super::testo::{self, Causa};
use super::{componi, daticert_base, BuildError, DatiMessaggio, Emissione};
use crate::daticert::{Errore, Tipo};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;

/// The avviso di non accettazione for a formal error, to the sender (PEC-SPEC §4.4):
/// daticert `errore="altro"` (§11.6, UNCONFIRMED) with `motivo` as `<errore-esteso>`.
/// `dati.identificativo` is the msgid assigned before the decision (§4.4: keep generating one).
pub fn avviso_non_accettazione(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    motivo: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::NonAccettazione;
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente);
    let mut d = daticert_base(Tipo::NonAccettazione, Errore::Altro, e, dati); // PEC-SPEC §11.6
    d.dati.errore_esteso = Some(motivo.to_string());
    let t = testo::non_accettazione(e, dati, Causa::Formale(motivo));
    componi(kind, e, h, &t, Some(&d), None)
}

/// The avviso di non accettazione per virus, to the sender (PEC-SPEC §4.5):
/// `X-VerificaSicurezza: errore`, daticert `errore="virus"`, `<errore-esteso>` = the virus name.
pub fn avviso_non_accettazione_virus(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    virus: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::NonAccettazioneVirus;
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente);
    let mut d = daticert_base(Tipo::NonAccettazione, Errore::Virus, e, dati); // PEC-SPEC §4.5
    d.dati.errore_esteso = Some(virus.to_string());
    let t = testo::non_accettazione(e, dati, Causa::Virus(virus));
    componi(kind, e, h, &t, Some(&d), None)
}

/// Why a valid envelope could not be delivered to a local mailbox (daticert `errore`,
/// PEC-SPEC §4.8). Virus has its own builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CausaMancataConsegna {
    /// `no-dest`: unknown recipient.
    NoDest,
    /// `no-dominio`: unknown domain.
    NoDominio,
    /// `altro`: anything else (mailbox full, storage error…).
    Altro,
}

impl CausaMancataConsegna {
    /// The daticert `errore` of this cause.
    pub fn errore(self) -> Errore {
        match self {
            CausaMancataConsegna::NoDest => Errore::NoDest,
            CausaMancataConsegna::NoDominio => Errore::NoDominio,
            CausaMancataConsegna::Altro => Errore::Altro,
        }
    }
}

/// The avviso di mancata consegna for one recipient, to the original sender (PEC-SPEC §4.8).
/// `errore_esteso` is the short description; providers start it with an enhanced status
/// code, e.g. `5.1.1 - indirizzo non valido`.
pub fn avviso_mancata_consegna(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
    causa: CausaMancataConsegna,
    errore_esteso: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::MancataConsegna;
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente);
    let mut d = daticert_base(Tipo::ErroreConsegna, causa.errore(), e, dati); // PEC-SPEC §4.8
    d.dati.consegna = Some(destinatario.to_string());
    d.dati.errore_esteso = Some(errore_esteso.to_string());
    let t = testo::mancata_consegna(e, dati, destinatario, Causa::Formale(errore_esteso));
    componi(kind, e, h, &t, Some(&d), None)
}

/// Which of the two time-limit notices of PEC-SPEC §4.9 a message is.
///
/// Both carry `X-Ricevuta: preavviso-errore-consegna`, the same subject and daticert
/// `tipo="preavviso-errore-consegna"`; the RFC gives no field that tells them apart (§11.4).
/// **Our choice (UNCONFIRMED in the spec):** daticert `errore="altro"` on both, and the
/// `<errore-esteso>` text starts with [`Scadenza::PREFISSO_12H`] (`"Preavviso: "`) on the 12 h
/// notice and with [`Scadenza::PREFISSO_24H`] (`"Superamento del tempo massimo di 24 ore"`) on
/// the 24 h one. Only the 24 h text contains "24 ore"; [`Scadenza::da_errore_esteso`] reads it
/// back.
///
/// In the log ([`crate::registro::TipoEvento::ScadenzaEmessa`]) they are written `12h` / `24h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scadenza {
    /// Preavviso: not delivered within 12 hours, may still arrive.
    #[serde(rename = "12h")]
    Ore12,
    /// Not delivered within 24 hours: the transaction is closed with a negative outcome.
    #[serde(rename = "24h")]
    Ore24,
}

impl Scadenza {
    /// Start of `<errore-esteso>` on the 12 h notice.
    pub const PREFISSO_12H: &'static str = "Preavviso: ";
    /// Start of `<errore-esteso>` on the 24 h notice.
    pub const PREFISSO_24H: &'static str = "Superamento del tempo massimo di 24 ore";

    /// The `<errore-esteso>` we write for this notice.
    pub fn errore_esteso(self) -> &'static str {
        match self {
            Scadenza::Ore12 => {
                "Preavviso: il messaggio non \u{e8} stato consegnato nelle prime 12 ore dall'invio"
            }
            Scadenza::Ore24 => {
                "Superamento del tempo massimo di 24 ore: il messaggio non \u{e8} stato consegnato"
            }
        }
    }

    /// Tells the notices apart from their `<errore-esteso>`; `None` for any other text
    /// (another provider's wording).
    pub fn da_errore_esteso(testo: &str) -> Option<Self> {
        let t = testo.trim_start();
        if t.starts_with(Self::PREFISSO_24H) {
            Some(Scadenza::Ore24)
        } else if t.starts_with(Self::PREFISSO_12H) {
            Some(Scadenza::Ore12)
        } else {
            None
        }
    }

    fn kind(self) -> MessageKind {
        match self {
            Scadenza::Ore12 => MessageKind::Preavviso12h,
            Scadenza::Ore24 => MessageKind::MancataConsegna24h,
        }
    }
}

/// The 12 h / 24 h notice for one recipient; shared body of the two public builders.
fn avviso_scadenza(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
    scadenza: Scadenza,
) -> Result<UnsignedMessage, BuildError> {
    let kind = scadenza.kind();
    // PEC-SPEC §11.3: to the original sender, not the "original recipient" of the RFC template.
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente);
    let mut d = daticert_base(Tipo::PreavvisoErroreConsegna, Errore::Altro, e, dati); // §11.6
    d.dati.consegna = Some(destinatario.to_string()); // PEC-SPEC §4.9: one per recipient
    d.dati.errore_esteso = Some(scadenza.errore_esteso().to_string()); // see `Scadenza`
    let t = testo::scadenza(e, dati, destinatario, scadenza == Scadenza::Ore24);
    componi(kind, e, h, &t, Some(&d), None)
}

/// The preavviso di mancata consegna after 12 hours, for one recipient, to the original
/// sender (PEC-SPEC §4.9). See [`Scadenza`] for how it differs from the 24 h notice.
pub fn preavviso_mancata_consegna_12h(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
) -> Result<UnsignedMessage, BuildError> {
    avviso_scadenza(e, dati, destinatario, Scadenza::Ore12)
}

/// The avviso di mancata consegna after 24 hours, for one recipient, to the original sender
/// (PEC-SPEC §4.9): the transaction is closed. See [`Scadenza`].
pub fn avviso_mancata_consegna_24h(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
) -> Result<UnsignedMessage, BuildError> {
    avviso_scadenza(e, dati, destinatario, Scadenza::Ore24)
}

/// The avviso di rilevazione virus for one recipient, from the recipients' provider to the
/// sender provider's `mailReceipt` (PEC-SPEC §4.10): `X-Mittente: <original sender>`,
/// daticert `errore="virus"` with `<errore-esteso>` = the virus name (our reading,
/// UNCONFIRMED) and `<consegna>` = the recipient.
pub fn avviso_rilevazione_virus(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
    virus: &str,
    mail_receipt: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::RilevazioneVirus;
    let mut h = intestazioni::ricevuta(kind, e, dati, mail_receipt); // PEC-SPEC §4.10
    h.push(("X-Mittente".into(), dati.mittente.clone())); // PEC-SPEC §3.4
    let mut d = daticert_base(Tipo::RilevazioneVirus, Errore::Virus, e, dati);
    d.dati.consegna = Some(destinatario.to_string());
    d.dati.errore_esteso = Some(virus.to_string());
    let t = testo::rilevazione_virus(e, dati, destinatario, virus);
    componi(kind, e, h, &t, Some(&d), None)
}

/// The avviso di mancata consegna per virus for one recipient, from the sender's provider to
/// the sender, built from a received rilevazione virus (PEC-SPEC §4.11):
/// `X-VerificaSicurezza: errore`, daticert `tipo="errore-consegna" errore="virus"`.
pub fn avviso_mancata_consegna_virus(
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
    destinatario: &str,
    virus: &str,
) -> Result<UnsignedMessage, BuildError> {
    let kind = MessageKind::MancataConsegnaVirus;
    let h = intestazioni::ricevuta(kind, e, dati, &dati.mittente);
    let mut d = daticert_base(Tipo::ErroreConsegna, Errore::Virus, e, dati); // PEC-SPEC §4.11
    d.dati.consegna = Some(destinatario.to_string());
    d.dati.errore_esteso = Some(virus.to_string());
    let t = testo::mancata_consegna(e, dati, destinatario, Causa::Virus(virus));
    componi(kind, e, h, &t, Some(&d), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_time_limit_notices_read_back_apart() {
        for s in [Scadenza::Ore12, Scadenza::Ore24] {
            assert_eq!(Scadenza::da_errore_esteso(s.errore_esteso()), Some(s));
        }
        assert!(Scadenza::Ore12
            .errore_esteso()
            .starts_with(Scadenza::PREFISSO_12H));
        assert!(Scadenza::Ore24
            .errore_esteso()
            .starts_with(Scadenza::PREFISSO_24H));
        // inspect.rs tells them apart by "24 ore": only the 24 h text may contain it.
        assert!(!Scadenza::Ore12.errore_esteso().contains("24 ore"));
        assert!(Scadenza::Ore24.errore_esteso().contains("24 ore"));
        assert_eq!(
            Scadenza::da_errore_esteso("5.1.1 - indirizzo non valido"),
            None
        );
    }
}
