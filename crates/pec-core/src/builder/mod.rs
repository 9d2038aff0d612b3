//! Builders of every envelope, receipt and notice of PEC-SPEC §4, as pure functions.
//!
//! Each builder takes the emitting point ([`Emissione`]: provider, the single time reference of
//! the transaction, the Message-ID of the message being built), the data of the message it is
//! about ([`DatiMessaggio`], or the [`Originale`] itself for envelopes) and the few facts of the
//! event (recipient, error text, virus name), and returns an [`UnsignedMessage`] for `pec-smime`.
//!
//! Invariants every builder keeps (pinned by the tests in `builder/tests/`):
//! * one time reference per message: `Date:`, daticert `<data>` and the human text all show
//!   `Emissione::data` (PEC-SPEC §9.1);
//! * `content` is `multipart/mixed` with CRLF line ends, no line over 998 octets, and boundaries
//!   that are deterministic functions of the inputs and never occur in the parts;
//! * header values are ASCII; a value longer than one line is pre-folded with CRLF + space
//!   (long RFC 2047 subjects, inherited `Received:`), so the signer writes them as they are;
//! * no clock, no randomness: the same inputs give the same bytes.

mod anomalia;
mod avvisi;
mod busta;
pub(crate) mod grezzo;
mod intestazioni;
mod mime;
mod originale;
pub mod ricevute;
mod ricomposta;
pub mod sample;
mod testo;
#[cfg(test)]
mod tests;

pub use anomalia::busta_anomalia;
pub use avvisi::{
    avviso_mancata_consegna, avviso_mancata_consegna_24h, avviso_mancata_consegna_virus,
    avviso_non_accettazione, avviso_non_accettazione_virus, avviso_rilevazione_virus,
    preavviso_mancata_consegna_12h, CausaMancataConsegna, Scadenza,
};
pub use busta::{busta_trasporto, busta_trasporto_con_parti};
pub use intestazioni::codifica_oggetto;
pub use originale::{Intestatari, Originale, OriginaleError};
pub use ricevute::{
    ricevuta_accettazione, ricevuta_consegna, ricevuta_presa_in_carico, tipo_ricevuta_consegna,
    Consegna, Posizione,
};
pub use ricomposta::{
    busta_ricomposta, controlla_struttura, ricevuta_ricomposta, RicomposizioneError,
};

use crate::breve::BreveError;
use crate::daticert::{
    Dati, Daticert, Destinatario, Errore, Intestazione, Tipo, TipoRicevuta, WriteError,
};
use crate::kind::MessageKind;
use crate::message::Provider;
use crate::tempo::RiferimentoTemporale;

#[doc(no_inline)]
pub use crate::message::UnsignedMessage;

/// The point that emits a message, and when: the same for every artefact of one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Emissione<'a> {
    /// The provider that signs: its name goes in `<gestore-emittente>`, its service address in
    /// `From:` (PEC-SPEC §3.2).
    pub provider: &'a Provider,
    /// The single time reference of the transaction (PEC-SPEC §9.1).
    pub data: RiferimentoTemporale,
    /// The Message-ID of the message being built, without angle brackets (brackets are
    /// tolerated and stripped). For the transport envelope it is the PEC msgid itself
    /// (`<identificativo>`, PEC-SPEC §3.3); receipts get a fresh one of their own.
    pub message_id: &'a str,
}

impl Emissione<'_> {
    /// The Message-ID without angle brackets.
    pub(crate) fn id(&self) -> &str {
        senza_parentesi(self.message_id)
    }
}

/// What a receipt or notice needs to know about the message it is about.
///
/// At the sender's access point it is filled from the [`Originale`] and the recipients'
/// classification ([`DatiMessaggio::da_originale`]); at the recipient's provider from the
/// daticert of the received envelope ([`DatiMessaggio::da_daticert`]). Fields are public so a
/// caller can also fill them from the SMTP envelope when the message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatiMessaggio {
    /// The original sender (From = MAIL FROM), where receipts go (PEC-SPEC §3.2).
    pub mittente: String,
    /// Every To and Cc recipient, tagged certificato / esterno (daticert `<destinatari>`).
    pub destinatari: Vec<Destinatario>,
    /// The original Reply-To, or the sender when it had none (daticert `<risposte>`).
    pub risposte: String,
    /// The original subject, decoded; `None` when the original had no `Subject:`.
    pub oggetto: Option<String>,
    /// The PEC msgid of the transport envelope, without angle brackets (`<identificativo>`).
    pub identificativo: String,
    /// The client's Message-ID with angle brackets, when it had one (`<msgid>`,
    /// `X-Riferimento-Message-ID`, PEC-SPEC §3.3).
    pub msgid: Option<String>,
    /// The receipt kind the sender asked for with `X-TipoRicevuta` (default completa).
    pub tipo_ricevuta: TipoRicevuta,
}

impl DatiMessaggio {
    /// From the original submitted to our access point; `destinatari` is the To + Cc list
    /// already classified against the providers' index (the classification is not ours to do).
    pub fn da_originale(
        originale: &Originale,
        identificativo: &str,
        destinatari: Vec<Destinatario>,
    ) -> Self {
        Self {
            mittente: originale.mittente.clone(),
            destinatari,
            risposte: originale.risposte(),
            oggetto: originale.oggetto.clone(),
            identificativo: senza_parentesi(identificativo).to_string(),
            msgid: originale.msgid.clone(),
            tipo_ricevuta: originale.tipo_ricevuta.clone(),
        }
    }

    /// From the daticert of a received transport envelope (PEC-SPEC §5.2): what a receiving
    /// provider knows when it emits presa in carico, consegna or error notices.
    pub fn da_daticert(daticert: &Daticert) -> Self {
        let i = &daticert.intestazione;
        let d = &daticert.dati;
        Self {
            mittente: i.mittente.clone(),
            destinatari: i.destinatari.clone(),
            risposte: i.risposte.clone(),
            oggetto: i.oggetto.clone(),
            identificativo: senza_parentesi(&d.identificativo).to_string(),
            msgid: d.msgid.clone(),
            // PEC-SPEC §3.4: default completa when absent.
            tipo_ricevuta: d.ricevuta.clone().unwrap_or(TipoRicevuta::Completa),
        }
    }

    /// The daticert `<intestazione>` of every message about this one.
    pub(crate) fn intestazione(&self) -> Intestazione {
        Intestazione {
            mittente: self.mittente.clone(),
            destinatari: self.destinatari.clone(),
            risposte: self.risposte.clone(),
            oggetto: self.oggetto.clone(),
        }
    }
}

/// Why a message cannot be built. Every cause is a caller's input outside the rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The daticert would break the DTD (no recipient, a value outside the DTD).
    #[error("daticert: {0}")]
    Daticert(#[from] WriteError),
    /// The *breve* copy of the original could not be made.
    #[error("breve copy: {0}")]
    Breve(#[from] BreveError),
    /// No MIME boundary free of the content was found (only crafted content can do this).
    #[error("no MIME boundary free of the content")]
    Boundary,
}

/// The daticert every message about `dati` starts from: its `<intestazione>`, and `<dati>`
/// with the emitter, the time reference and the ids (PEC-SPEC §5.2). Builders then set
/// `ricevuta`, `consegna`, `ricezione` and `errore-esteso` as their kind wants.
pub(crate) fn daticert_base(
    tipo: Tipo,
    errore: Errore,
    e: &Emissione<'_>,
    dati: &DatiMessaggio,
) -> Daticert {
    Daticert {
        tipo,
        errore,
        intestazione: dati.intestazione(),
        dati: Dati {
            gestore_emittente: e.provider.nome.clone(),
            data: e.data, // PEC-SPEC §9.1: the same instant as Date:
            identificativo: dati.identificativo.clone(),
            msgid: dati.msgid.clone(),
            ricevuta: None,
            consegna: None,
            ricezione: Vec::new(),
            errore_esteso: None,
        },
    }
}

/// Writes the daticert and assembles the signed entity under `headers`.
pub(crate) fn componi(
    kind: MessageKind,
    e: &Emissione<'_>,
    headers: Vec<(String, String)>,
    testo: &testo::Testo,
    daticert: Option<&Daticert>,
    postacert: Option<&[u8]>,
) -> Result<UnsignedMessage, BuildError> {
    let xml = daticert.map(Daticert::to_xml).transpose()?;
    let content = mime::assembla(&mime::Parti {
        seme: format!("{}/{}", kind.name(), e.id()),
        testo,
        daticert: xml.as_deref(),
        postacert,
    })?;
    Ok(UnsignedMessage { headers, content })
}

/// `abc@d` from `<abc@d>`; other values unchanged.
pub(crate) fn senza_parentesi(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id)
}
