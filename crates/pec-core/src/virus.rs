//! Viruses across the three points (PEC-SPEC §2.3, §4.5, §4.10, §4.11, §9.3).
//!
//! The scanner's verdict is a fact the adapter passes in, like the signature check: each
//! point decides with it, here and in the point's own module.
//!
//! | Where | What the scanner found it in | Outcome | Built by |
//! |---|---|---|---|
//! | access point | a submission | avviso di non accettazione per virus (§4.5), or the formal notice if a formal check failed first; quarantined | [`crate::accesso::punto_accesso`] |
//! | receiving point | a valid busta di trasporto | presa in carico, one avviso di rilevazione virus per local recipient to the sender provider (§4.10); quarantined, not delivered | [`crate::ricezione::punto_ricezione`] |
//! | receiving point | anything else | refused (SMTP 554), not stored | [`crate::ricezione::punto_ricezione`] |
//! | sender side | — (a rilevazione virus about our envelope arrives) | avviso di mancata consegna per virus to our user (§4.11) | [`mancata_consegna`] |
//!
//! The quarantine is storage: outcomes only say that the message goes there; how long it
//! stays is [`fine_conservazione`] (30 months, DPR art. 12). A scanner that gives no verdict is never "clean": the adapter answers 4xx and
//! decides nothing.

use crate::builder::{avviso_mancata_consegna_virus, senza_parentesi, BuildError, DatiMessaggio};
use crate::daticert::{Daticert, Errore, Tipo};
use crate::message::{Provider, UnsignedMessage};
use crate::registro::{Evento, TipoEvento};
use crate::tempo::RiferimentoTemporale;
use crate::Emissione;
use chrono::{DateTime, Months, Utc};

/// How long an infected message is kept, at least (DPR 68/2005 art. 12, PEC-SPEC §4.5, §9.3).
pub const CONSERVAZIONE_MESI: u32 = 30;

/// When a message quarantined at `dal` may be removed, kept `mesi` calendar months (a day
/// that month lacks gives its last day: 31 August + 30 months = 28 February). Never earlier
/// than the law's [`CONSERVAZIONE_MESI`], whatever `mesi` says.
pub fn fine_conservazione(dal: DateTime<Utc>, mesi: u32) -> DateTime<Utc> {
    dal.checked_add_months(Months::new(mesi.max(CONSERVAZIONE_MESI)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The avviso di mancata consegna per virus owed to our user, with its log event.
#[derive(Debug, Clone)]
pub struct MancataConsegnaVirus {
    /// The notice, addressed to the original sender (PEC-SPEC §4.11).
    pub avviso: UnsignedMessage,
    /// The original sender: where the notice goes.
    pub mittente: String,
    /// The recipient the envelope was not delivered to.
    pub destinatario: String,
    /// Log events: mancata-consegna-emessa with `errore = virus`.
    pub eventi: Vec<Evento>,
}

/// Why no avviso di mancata consegna per virus can be built from a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VirusError {
    /// The daticert is not a rilevazione virus's.
    #[error("not a rilevazione virus (daticert tipo {0:?})")]
    NonRilevazione(Tipo),
    /// The rilevazione names no recipient (`<consegna>`).
    #[error("rilevazione virus without <consegna>")]
    SenzaDestinatario,
    /// The notice could not be built.
    #[error("avviso di mancata consegna per virus: {0}")]
    Costruzione(#[from] BuildError),
}

/// Sender side (PEC-SPEC §4.11): from the daticert of a received avviso di rilevazione virus
/// about one of our envelopes, the avviso di mancata consegna per virus to our user. `id` is
/// the notice's `Message-ID`, `data` the time reference of its reception. Whether the
/// envelope is ours (and its sender one of our users) is the caller's check.
pub fn mancata_consegna(
    rilevazione: &Daticert,
    provider: &Provider,
    data: RiferimentoTemporale,
    id: &str,
) -> Result<MancataConsegnaVirus, VirusError> {
    if rilevazione.tipo != Tipo::RilevazioneVirus {
        return Err(VirusError::NonRilevazione(rilevazione.tipo.clone()));
    }
    let destinatario = rilevazione
        .dati
        .consegna
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or(VirusError::SenzaDestinatario)?;
    // PEC-SPEC §4.10: the virus name is the rilevazione's <errore-esteso> (our reading); a
    // provider that leaves it out still gets a notice.
    let virus = rilevazione
        .dati
        .errore_esteso
        .clone()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "virus".into());
    let dati = DatiMessaggio::da_daticert(rilevazione);
    let e = Emissione {
        provider,
        data,
        message_id: id,
    };
    let avviso = avviso_mancata_consegna_virus(&e, &dati, &destinatario, &virus)?;
    let eventi = vec![Evento::di(
        TipoEvento::MancataConsegnaEmessa {
            errore: Errore::Virus,
            errore_esteso: virus,
            destinatario: destinatario.clone(),
        },
        data,
        &dati,
        &provider.nome,
        vec![senza_parentesi(id).to_string()],
    )];
    Ok(MancataConsegnaVirus {
        avviso,
        mittente: dati.mittente,
        destinatario,
        eventi,
    })
}

#[cfg(test)]
mod tests;
