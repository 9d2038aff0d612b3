//! The log of messages (*registro dei messaggi*, PEC-SPEC §8): a typed event model, its
//! canonical one-line JSON form, and the hash chain that makes edits visible.
//!
//! Invariants:
//! * one [`Evento`] per operation, carrying the §8 minimum fields (identifiers, time, sender,
//!   recipients, subject, event type, ids of the messages generated, sending provider) and
//!   **no message content**;
//! * the time is the single time reference of the transaction that produced the event, the
//!   same instant as the receipts' `Date:` (PEC-SPEC §9.1);
//! * [`Evento::riga`] is canonical: the same event always gives the same bytes (fields in
//!   declaration order, no white space, no line break), so a hash over the line is stable;
//! * the chain is pure: `hash_i = SHA-256(hash_{i-1} || riga_i)` from [`GENESI`]. Storing the
//!   lines and hashes (append-only, per-day segments, signing the head) is the store's job.
//!
//! What the chain proves and what it does not: an edited, deleted, inserted or reordered line
//! breaks a link and [`verifica_catena`] names the first broken position. Lines cut from the
//! **end** leave a shorter valid chain: compare [`testa_catena`] with a head kept elsewhere
//! (signed, time-stamped, replicated — PEC-SPEC §8 recommends it) to detect that too.

use crate::builder::DatiMessaggio;
use crate::daticert::{Errore, TipoRicevuta};
use crate::tempo::RiferimentoTemporale;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash that precedes the first line of a chain: 32 zero bytes.
pub const GENESI: [u8; 32] = [0; 32];

/// What happened: the event type of PEC-SPEC §8 (field 6), with the facts of that type.
///
/// Names are past tense: the event records something done. Serialised with a `"tipo"` tag in
/// kebab-case (`"consegna-emessa"`) next to the variant's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "tipo", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TipoEvento {
    /// A user submitted a message at the access point (PEC-SPEC §2.3, access point).
    InvioRicevuto {
        /// The authenticated mailbox that submitted it (PEC-SPEC §9.4).
        casella: String,
        /// Size of the submitted message in bytes.
        dimensione: u64,
    },
    /// The ricevuta di accettazione was emitted (PEC-SPEC §4.3).
    AccettazioneEmessa,
    /// The avviso di non accettazione was emitted (PEC-SPEC §4.4).
    NonAccettazioneEmessa {
        /// Short code of the reason, e.g. `mittente-diverso` (see `accesso::Motivo::codice`).
        motivo: String,
        /// The Italian description written in the notice's `<errore-esteso>`.
        descrizione: String,
    },
    /// The busta di trasporto was emitted towards the SMTP recipients (PEC-SPEC §4.1).
    BustaEmessa,
    /// A ricevuta di avvenuta consegna was emitted for one recipient (PEC-SPEC §4.7).
    ConsegnaEmessa {
        /// completa / breve / sintetica: the kind of this receipt.
        #[serde(with = "come_testo")]
        ricevuta: TipoRicevuta,
        /// The recipient the receipt is about (daticert `<consegna>`).
        destinatario: String,
    },
    /// An avviso di mancata consegna was emitted for one recipient (PEC-SPEC §4.8).
    MancataConsegnaEmessa {
        /// daticert `errore`: `no-dest`, `no-dominio`, `altro`.
        #[serde(with = "come_testo")]
        errore: Errore,
        /// daticert `<errore-esteso>`, e.g. `5.1.1 - … - indirizzo non valido`.
        errore_esteso: String,
        /// The recipient that could not be delivered to.
        destinatario: String,
    },
    /// A transport envelope was stored in a local mailbox (PEC-SPEC §2.3, delivery point).
    MessaggioConsegnato {
        /// The mailbox it was stored in.
        casella: String,
    },
    /// A valid busta di trasporto from another provider passed the incoming point
    /// (PEC-SPEC §2.3, incoming point): it goes on to the delivery point for `caselle`.
    BustaRicevuta {
        /// The local recipients of the SMTP transaction (RCPT TO on our domains).
        caselle: Vec<String>,
    },
    /// The ricevuta di presa in carico was emitted to the sender provider (PEC-SPEC §4.6).
    PresaInCaricoEmessa {
        /// The recipients it covers (daticert `<ricezione>`).
        ricezione: Vec<String>,
        /// Where it was sent: the `mailReceipt` of the provider that signed the envelope.
        mail_receipt: String,
    },
    /// A valid receipt or notice from another provider passed the incoming point and is
    /// delivered unchanged (PEC-SPEC §2.3, incoming point).
    RicevutaRicevuta {
        /// The kind, as [`crate::MessageKind::name`] (`presa-in-carico`, `consegna-breve`…).
        ricevuta: String,
        /// The recipients it is about (`<ricezione>` or `<consegna>`).
        riguarda: Vec<String>,
        /// The local mailboxes it is delivered to.
        caselle: Vec<String>,
    },
    /// A busta di anomalia was built around a received message (PEC-SPEC §4.2).
    AnomaliaEmessa {
        /// Why the message could not be certified (the text of the envelope).
        motivo: String,
        /// The local mailboxes it is delivered to.
        caselle: Vec<String>,
    },
    /// A received message was refused at the incoming point (ordinary mail under a policy
    /// that refuses it, PEC-SPEC §2.3): the SMTP layer answered 5xx.
    MessaggioRifiutato {
        /// The reason given in the SMTP reply.
        motivo: String,
    },
    /// The busta di trasporto was accepted by the recipient's server for one recipient
    /// (the SMTP relay answered 250).
    BustaInoltrata {
        /// The recipient it was relayed for.
        destinatario: String,
        /// The recipient's provider, when the providers' index names one (certificato).
        gestore: Option<String>,
    },
    /// Relaying the busta di trasporto to one recipient failed for good.
    InoltroFallito {
        /// The recipient it could not be relayed for.
        destinatario: String,
        /// The error, e.g. the SMTP reply.
        errore: String,
    },
    /// A 12 h or 24 h notice was emitted for one recipient (PEC-SPEC §4.9).
    ScadenzaEmessa {
        /// `12h` or `24h`.
        scadenza: crate::builder::Scadenza,
        /// The recipient the notice is about (daticert `<consegna>`).
        destinatario: String,
    },
    /// The antivirus found a virus in a message (PEC-SPEC §2.3, §9.3): it is neither
    /// certified, relayed nor delivered. Logged with the notice the finding causes.
    VirusRilevato {
        /// Where it was found: `accesso` or `ricezione`.
        punto: String,
        /// The scanner's name for what it found (also the notices' `<errore-esteso>`).
        virus: String,
        /// Whether the message was kept in the quarantine for 30 months (DPR art. 12);
        /// ordinary mail refused at the receiving point is not.
        quarantena: bool,
    },
    /// An avviso di rilevazione virus was emitted for one local recipient, to the sending
    /// provider (PEC-SPEC §4.10).
    RilevazioneVirusEmessa {
        /// The recipient the envelope was not delivered to (daticert `<consegna>`).
        destinatario: String,
        /// Where it goes: the `mailReceipt` of the provider that signed the envelope.
        mail_receipt: String,
    },
}

impl TipoEvento {
    /// The `"tipo"` tag of the event as it appears in the JSON line.
    pub fn nome(&self) -> &'static str {
        match self {
            TipoEvento::InvioRicevuto { .. } => "invio-ricevuto",
            TipoEvento::AccettazioneEmessa => "accettazione-emessa",
            TipoEvento::NonAccettazioneEmessa { .. } => "non-accettazione-emessa",
            TipoEvento::BustaEmessa => "busta-emessa",
            TipoEvento::ConsegnaEmessa { .. } => "consegna-emessa",
            TipoEvento::MancataConsegnaEmessa { .. } => "mancata-consegna-emessa",
            TipoEvento::MessaggioConsegnato { .. } => "messaggio-consegnato",
            TipoEvento::BustaRicevuta { .. } => "busta-ricevuta",
            TipoEvento::PresaInCaricoEmessa { .. } => "presa-in-carico-emessa",
            TipoEvento::RicevutaRicevuta { .. } => "ricevuta-ricevuta",
            TipoEvento::AnomaliaEmessa { .. } => "anomalia-emessa",
            TipoEvento::MessaggioRifiutato { .. } => "messaggio-rifiutato",
            TipoEvento::BustaInoltrata { .. } => "busta-inoltrata",
            TipoEvento::InoltroFallito { .. } => "inoltro-fallito",
            TipoEvento::ScadenzaEmessa { .. } => "scadenza-emessa",
            TipoEvento::VirusRilevato { .. } => "virus-rilevato",
            TipoEvento::RilevazioneVirusEmessa { .. } => "rilevazione-virus-emessa",
        }
    }
}

/// One line of the log: an event with the fields PEC-SPEC §8 requires.
///
/// Field order is the order of the JSON line and must not change: the hashes of stored lines
/// depend on it. Add fields only at the end, with `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evento {
    /// Date and time of the event: the transaction's time reference, written as RFC 3339 in
    /// Italian legal time (`2024-03-15T10:30:00+01:00`) (PEC-SPEC §8 field 2, §9.1).
    #[serde(with = "come_rfc3339")]
    pub data: RiferimentoTemporale,
    /// What happened (PEC-SPEC §8 field 6).
    pub evento: TipoEvento,
    /// The PEC msgid of the message the event is about, without angle brackets
    /// (PEC-SPEC §8 field 1, §3.3).
    pub identificativo: String,
    /// The client's Message-ID with angle brackets, when it had one (PEC-SPEC §8 field 1).
    pub msgid: Option<String>,
    /// The original sender (PEC-SPEC §8 field 3).
    pub mittente: String,
    /// The original recipients (PEC-SPEC §8 field 4).
    pub destinatari: Vec<String>,
    /// The original subject (PEC-SPEC §8 field 5).
    pub oggetto: Option<String>,
    /// Message-IDs of the messages this event generated (receipts, envelopes), without angle
    /// brackets (PEC-SPEC §8 field 7).
    pub generati: Vec<String>,
    /// Name of the provider that sent the original (PEC-SPEC §8 field 8): ours at the access
    /// point, the daticert `<gestore-emittente>` of the envelope at the delivery point.
    pub gestore: String,
}

/// Why a JSON line is not an [`Evento`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistroError {
    /// The line is not the JSON of an event.
    #[error("log line is not an event: {0}")]
    RigaNonValida(#[from] serde_json::Error),
}

impl Evento {
    /// An event about the message described by `dati` (the same data its receipts certify).
    pub fn di(
        evento: TipoEvento,
        data: RiferimentoTemporale,
        dati: &DatiMessaggio,
        gestore: &str,
        generati: Vec<String>,
    ) -> Self {
        Self {
            data,
            evento,
            identificativo: dati.identificativo.clone(),
            msgid: dati.msgid.clone(),
            mittente: dati.mittente.clone(),
            destinatari: dati
                .destinatari
                .iter()
                .map(|d| d.indirizzo.clone())
                .collect(),
            oggetto: dati.oggetto.clone(),
            generati,
            gestore: gestore.to_string(),
        }
    }

    /// The canonical JSON line, without a trailing newline: what [`hash_evento`] hashes.
    pub fn riga(&self) -> String {
        // Serialising plain strings, options, vectors and a tagged enum cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a line written by [`Evento::riga`] (a trailing newline is tolerated).
    pub fn da_riga(riga: &str) -> Result<Self, RegistroError> {
        Ok(serde_json::from_str(riga.trim_end_matches(['\r', '\n']))?)
    }
}

/// The hash of a log line chained to the previous one: `SHA-256(prev || line)`.
/// The first line chains to [`GENESI`].
pub fn hash_evento(prev: &[u8; 32], line: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(line);
    h.finalize().into()
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log chain broken at line {posizione}: {motivo}")]
pub struct Rottura {
    /// Index (from 0) of the first line whose stored hash does not follow from the line and
    /// the previous stored hash. An edit shows at the edited line; a deletion, insertion or
    /// swap at the first line after the change.
    pub posizione: usize,
    /// What was found there.
    pub motivo: MotivoRottura,
}

/// What is wrong at the broken link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MotivoRottura {
    /// The stored hash is not `SHA-256(previous stored hash || line)`.
    #[error(
        "stored hash {} is not the expected {}",
        hex::encode(registrato),
        hex::encode(atteso)
    )]
    HashDiverso {
        /// The hash recomputed from the previous link and the line.
        atteso: [u8; 32],
        /// The hash stored beside the line.
        registrato: [u8; 32],
    },
}

/// Checks a whole chain, from [`GENESI`], given each line with the hash stored beside it.
/// Each link is checked against the previous *stored* hash, so the first broken link is
/// reported, not every line after it.
pub fn verifica_catena<L, I>(righe: I) -> Result<(), Rottura>
where
    L: AsRef<[u8]>,
    I: IntoIterator<Item = (L, [u8; 32])>,
{
    testa_catena(righe).map(|_| ())
}

/// Like [`verifica_catena`], and returns the hash of the last line ([`GENESI`] for an empty
/// log): compare it with an independently kept head to detect lines cut from the end.
pub fn testa_catena<L, I>(righe: I) -> Result<[u8; 32], Rottura>
where
    L: AsRef<[u8]>,
    I: IntoIterator<Item = (L, [u8; 32])>,
{
    let mut prev = GENESI;
    for (posizione, (riga, registrato)) in righe.into_iter().enumerate() {
        let atteso = hash_evento(&prev, riga.as_ref());
        if atteso != registrato {
            return Err(Rottura {
                posizione,
                motivo: MotivoRottura::HashDiverso { atteso, registrato },
            });
        }
        prev = registrato;
    }
    Ok(prev)
}

/// Serde for the daticert vocabularies as their DTD text.
mod come_testo {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) trait Vocabolario: Sized {
        fn testo(&self) -> &str;
        fn da_testo(s: &str) -> Self;
    }

    impl Vocabolario for crate::daticert::TipoRicevuta {
        fn testo(&self) -> &str {
            self.as_str()
        }
        fn da_testo(s: &str) -> Self {
            Self::parse(s)
        }
    }

    impl Vocabolario for crate::daticert::Errore {
        fn testo(&self) -> &str {
            self.as_str()
        }
        fn da_testo(s: &str) -> Self {
            Self::parse(s)
        }
    }

    pub(super) fn serialize<T: Vocabolario, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.testo())
    }

    pub(super) fn deserialize<'de, T: Vocabolario, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        Ok(T::da_testo(&s))
    }
}

/// Serde for [`RiferimentoTemporale`] as RFC 3339 with its offset.
mod come_rfc3339 {
    use crate::tempo::RiferimentoTemporale;
    use chrono::{DateTime, SecondsFormat};
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &RiferimentoTemporale,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.local().to_rfc3339_opts(SecondsFormat::AutoSi, false))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<RiferimentoTemporale, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(RiferimentoTemporale::from_fixed)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests;
