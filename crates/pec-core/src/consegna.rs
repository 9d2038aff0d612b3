//! The delivery point (*punto di consegna*, PEC-SPEC §2.3): a valid busta di trasporto meets
//! one local mailbox, and the original sender gets a ricevuta di avvenuta consegna (§4.7) or
//! an avviso di mancata consegna (§4.8).
//!
//! [`BustaRicevuta::leggi`] reads the envelope once (daticert, `postacert.eml`, `To`/`Cc`,
//! `X-TipoRicevuta`); [`punto_consegna`] then decides for each local recipient.
//!
//! Invariants:
//! * one receipt or notice **per recipient** (PEC-SPEC §9.7), never both;
//! * [`EsitoConsegna::Consegnata`] means "store the envelope in this mailbox and emit this
//!   receipt" as one transaction: the receipt certifies a delivery that must have happened
//!   (PEC-SPEC §4.7 "only after a valid transport envelope has been stored");
//! * the receipt kind follows the table of PEC-SPEC §4.7 ([`tipo_ricevuta_consegna`]): what the
//!   envelope's `X-TipoRicevuta` asks for primary (`To`) recipients, sintetica for `Cc`;
//! * the envelope's signature and format were checked by the incoming point (PEC-SPEC §2.3);
//!   this module only refuses what it cannot read, it does not re-verify.
//!
//! Not here: anomaly envelopes and receipts addressed to users are delivered unchanged and never
//! produce a receipt (PEC-SPEC §2.3 delivery point, step 3); virus (§4.10) has its own builder.

use crate::builder::Intestatari;
use crate::builder::{
    avviso_mancata_consegna, ricevuta_consegna, tipo_ricevuta_consegna, BuildError,
    CausaMancataConsegna, Consegna, DatiMessaggio, Emissione, Posizione,
};
use crate::daticert::{Daticert, Errore, TipoDestinatario, TipoRicevuta};
use crate::inspect::{inspect, InspectError, Inspection};
use crate::kind::MessageKind;
use crate::message::UnsignedMessage;
use crate::registro::{Evento, TipoEvento};

/// The state of a local mailbox when an envelope arrives for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatoCasella {
    /// The mailbox exists and accepts mail.
    Attiva,
    /// No such mailbox on our domains: `no-dest` (PEC-SPEC §4.8, §11.13).
    Sconosciuta,
    /// The mailbox exists but is suspended or disabled: `altro`.
    Disabilitata,
    /// The mailbox is over quota: `altro`.
    Piena,
}

impl StatoCasella {
    /// For a mailbox that cannot receive: the daticert cause, and the enhanced status code
    /// and text that start `<errore-esteso>` (PEC-SPEC §4.8: providers put an SMTP-like code
    /// first). `None` for [`StatoCasella::Attiva`].
    pub fn errore(self) -> Option<(CausaMancataConsegna, &'static str, &'static str)> {
        match self {
            StatoCasella::Attiva => None,
            StatoCasella::Sconosciuta => Some((
                CausaMancataConsegna::NoDest, // PEC-SPEC §4.8: unknown recipient
                "5.1.1",
                "indirizzo non valido",
            )),
            StatoCasella::Disabilitata => {
                Some((CausaMancataConsegna::Altro, "5.2.1", "casella disabilitata"))
            }
            StatoCasella::Piena => Some((CausaMancataConsegna::Altro, "5.2.2", "casella piena")),
        }
    }
}

/// A received busta di trasporto, read once for all its local recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BustaRicevuta {
    /// The envelope's `daticert.xml`: sender, recipients, subject, ids, sending provider.
    pub daticert: Daticert,
    /// The envelope's `postacert.eml`: the original, attached to completa receipts and hashed
    /// for breve ones (PEC-SPEC §4.7, §6).
    pub postacert: Vec<u8>,
    /// The original's `To:` addresses, read from `postacert.eml`: signed, unlike the
    /// envelope's own `To:` (which inherits them, PEC-SPEC §4.1, but anyone can rewrite).
    pub to: Vec<String>,
    /// The original's `Cc:` addresses, from `postacert.eml`.
    pub cc: Vec<String>,
    /// What the sender asked for, from signed sources only: daticert `<ricevuta tipo>`, else
    /// the original's `X-TipoRicevuta`, else completa (PEC-SPEC §3.4, §4.7). The envelope's
    /// own `X-TipoRicevuta` is outside the signature and never consulted.
    pub tipo_ricevuta: TipoRicevuta,
}

/// Why an envelope cannot be delivered with a receipt. The incoming point should have refused
/// or wrapped it already (PEC-SPEC §2.3): reaching this is a peer's malformed message or a
/// caller passing the wrong item.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsegnaError {
    /// The bytes are not a message.
    #[error("envelope unreadable: {0}")]
    Illeggibile(#[from] InspectError),
    /// A message, but not a busta di trasporto: other items get no delivery receipt
    /// (PEC-SPEC §2.3 delivery point, step 3).
    #[error("not a transport envelope but {0}")]
    NonBusta(MessageKind),
    /// No `daticert.xml` part, or one that cannot be read.
    #[error("envelope daticert missing or unreadable: {0}")]
    Daticert(String),
    /// No `postacert.eml` part (PEC-SPEC §4.1 requires it).
    #[error("envelope without postacert.eml")]
    PostacertAssente,
    /// The receipt or notice could not be built (e.g. a breve copy of an unreadable original).
    #[error("delivery point: {0}")]
    Costruzione(#[from] BuildError),
}

impl BustaRicevuta {
    /// Reads an envelope from its raw bytes, signed (`multipart/signed`) or not, taking its
    /// parts wherever a MIME parser finds them: for envelopes of our own making, or stored
    /// after the receiving point checked them. A received one is read with
    /// [`BustaRicevuta::da_ispezione`] of [`crate::inspect::inspect_firmato`].
    pub fn leggi(raw: &[u8]) -> Result<Self, ConsegnaError> {
        Self::da_ispezione(inspect(raw)?)
    }

    /// The envelope `ins` describes (PEC-SPEC §4.1).
    pub fn da_ispezione(ins: Inspection) -> Result<Self, ConsegnaError> {
        if ins.kind != MessageKind::BustaTrasporto {
            return Err(ConsegnaError::NonBusta(ins.kind));
        }
        let daticert = match ins.daticert {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(ConsegnaError::Daticert(e)),
            None => return Err(ConsegnaError::Daticert("no daticert.xml part".into())),
        };
        let postacert = ins.postacert.ok_or(ConsegnaError::PostacertAssente)?;
        Ok(Self::da_parti(daticert, postacert))
    }

    /// The envelope made of `daticert` and `postacert`: what [`BustaRicevuta::leggi`] reads
    /// from an envelope's bytes, for an envelope we built ourselves.
    pub fn da_parti(daticert: Daticert, postacert: Vec<u8>) -> Self {
        let originale = Intestatari::leggi(&postacert);
        let richiesta = daticert
            .dati
            .ricevuta
            .clone()
            .filter(TipoRicevuta::is_known)
            .or(originale.tipo_ricevuta)
            .unwrap_or(TipoRicevuta::Completa); // PEC-SPEC §3.4: default completa
        Self {
            daticert,
            postacert,
            to: originale.to,
            cc: originale.cc,
            tipo_ricevuta: richiesta,
        }
    }

    /// Whether the envelope certifies `destinatario` as one of its recipients: listed as
    /// `certificato` in the signed daticert `<destinatari>` **and** in the signed original's
    /// `To:` or `Cc:`
    /// (case-insensitive). A genuine envelope travels only to such addresses (its RCPT TO are
    /// the original's, PEC-SPEC §3.2, which the access point checked against To and Cc,
    /// §2.3); any other RCPT TO is someone replaying it.
    pub fn certifica(&self, destinatario: &str) -> bool {
        let d = destinatario.trim();
        // Certified: a recipient the sender's provider classed esterno got ordinary mail, and
        // a copy replayed to its PEC box must not turn into certified mail.
        let in_daticert = self.daticert.intestazione.destinatari.iter().any(|x| {
            x.indirizzo.trim().eq_ignore_ascii_case(d) && x.tipo == TipoDestinatario::Certificato
        });
        let in_originale = self
            .to
            .iter()
            .chain(&self.cc)
            .any(|a| a.eq_ignore_ascii_case(d));
        in_daticert && in_originale
    }

    /// The data every receipt about this envelope certifies (PEC-SPEC §5.2).
    pub fn dati(&self) -> DatiMessaggio {
        DatiMessaggio::da_daticert(&self.daticert)
    }

    /// Where `destinatario` stands in the envelope's `To:`/`Cc:` (PEC-SPEC §4.7).
    pub fn posizione(&self, destinatario: &str) -> Posizione {
        Posizione::di(destinatario, &self.to, &self.cc)
    }
}

/// One local recipient of the envelope and the state of its mailbox.
#[derive(Debug, Clone, Copy)]
pub struct Recapito<'a> {
    /// The RCPT TO address (daticert `<consegna>`).
    pub destinatario: &'a str,
    /// The mailbox state, looked up by the caller.
    pub stato: StatoCasella,
}

/// What the delivery point decided for one recipient.
#[derive(Debug, Clone)]
#[must_use]
pub enum EsitoConsegna {
    /// Store the envelope in the mailbox and send this receipt to the original sender
    /// (PEC-SPEC §4.7).
    Consegnata {
        /// The ricevuta di avvenuta consegna.
        ricevuta: UnsignedMessage,
        /// Its kind, from the table of PEC-SPEC §4.7.
        tipo: TipoRicevuta,
        /// Log events: messaggio-consegnato, consegna-emessa (PEC-SPEC §8).
        eventi: Vec<Evento>,
    },
    /// Do not store; send this notice to the original sender (PEC-SPEC §4.8).
    NonConsegnata {
        /// The avviso di mancata consegna.
        avviso: UnsignedMessage,
        /// daticert `errore`: `no-dest` or `altro`.
        errore: Errore,
        /// daticert `<errore-esteso>`, e.g. `5.2.2 - <provider> - casella piena`.
        errore_esteso: String,
        /// Log events: mancata-consegna-emessa (PEC-SPEC §8).
        eventi: Vec<Evento>,
    },
}

impl EsitoConsegna {
    /// The log events of the decision, whichever it is.
    pub fn eventi(&self) -> &[Evento] {
        match self {
            EsitoConsegna::Consegnata { eventi, .. }
            | EsitoConsegna::NonConsegnata { eventi, .. } => eventi,
        }
    }
}

/// Decides the delivery of `busta` to one local recipient and builds the receipt or notice.
///
/// `e` is our provider (the recipient's: `<gestore-emittente>` and `From:`), the single time
/// reference of this delivery and the Message-ID of the receipt or notice being built.
pub fn punto_consegna(
    busta: &BustaRicevuta,
    recapito: &Recapito<'_>,
    e: &Emissione<'_>,
) -> Result<EsitoConsegna, ConsegnaError> {
    let dati = busta.dati();
    let destinatario = recapito.destinatario.trim();
    let mittente_gestore = &busta.daticert.dati.gestore_emittente; // PEC-SPEC §8 field 8
    let generati = vec![crate::builder::senza_parentesi(e.message_id).to_string()];
    match recapito.stato.errore() {
        None => {
            let posizione = busta.posizione(destinatario);
            let tipo = tipo_ricevuta_consegna(&busta.tipo_ricevuta, posizione); // PEC-SPEC §4.7
            let ricevuta = ricevuta_consegna(
                e,
                &dati,
                &Consegna {
                    destinatario,
                    tipo: &tipo,
                    postacert: &busta.postacert, // PEC-SPEC §4.7: the original of the envelope
                },
            )?;
            let eventi = vec![
                Evento::di(
                    TipoEvento::MessaggioConsegnato {
                        casella: destinatario.to_string(),
                    },
                    e.data,
                    &dati,
                    mittente_gestore,
                    Vec::new(),
                ),
                Evento::di(
                    TipoEvento::ConsegnaEmessa {
                        ricevuta: tipo.clone(),
                        destinatario: destinatario.to_string(),
                    },
                    e.data,
                    &dati,
                    mittente_gestore,
                    generati,
                ),
            ];
            Ok(EsitoConsegna::Consegnata {
                ricevuta,
                tipo,
                eventi,
            })
        }
        Some((causa, codice, testo)) => {
            // PEC-SPEC §4.8: "5.1.1 - FAKE Pec S.p.A. - indirizzo non valido".
            let errore_esteso = format!("{codice} - {} - {testo}", e.provider.nome);
            let avviso = avviso_mancata_consegna(e, &dati, destinatario, causa, &errore_esteso)?;
            let errore = match causa {
                CausaMancataConsegna::NoDest => Errore::NoDest,
                CausaMancataConsegna::NoDominio => Errore::NoDominio,
                CausaMancataConsegna::Altro => Errore::Altro,
            };
            let eventi = vec![Evento::di(
                TipoEvento::MancataConsegnaEmessa {
                    errore: errore.clone(),
                    errore_esteso: errore_esteso.clone(),
                    destinatario: destinatario.to_string(),
                },
                e.data,
                &dati,
                mittente_gestore,
                generati,
            )];
            Ok(EsitoConsegna::NonConsegnata {
                avviso,
                errore,
                errore_esteso,
                eventi,
            })
        }
    }
}

#[cfg(test)]
mod tests;
