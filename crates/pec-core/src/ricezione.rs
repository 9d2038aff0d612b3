//! The incoming point (*punto di ricezione*, PEC-SPEC §2.3): what happens to a message that
//! arrives over SMTP from outside for recipients on our domains.
//!
//! The adapter has already checked the S/MIME signature (openssl) and looked the signer up in
//! the providers' index (PEC-SPEC §7.3); it passes those facts in as [`Firma`]. From them and
//! the message, [`punto_ricezione`] decides (PEC-SPEC §2.3 "Incoming point", step 3):
//!
//! | Signature | Message | Outcome |
//! |---|---|---|
//! | valid, provider in the index | busta di trasporto, well formed | [`EsitoRicezione::Busta`]: presa in carico to the sender provider's `mailReceipt`, envelope to the delivery point, for the recipients it certifies |
//! | valid | receipt or notice, well formed | [`EsitoRicezione::RicevutaDaSmistare`], then [`smista_ricevuta`]: stored in its one box, no receipt |
//! | valid | anything else, or a format error | [`EsitoRicezione::Anomalia`] ("signed by a PEC provider but malformed") |
//! | absent, unreadable, altered, unknown or invalid | — (ordinary mail) | [`Politica::Anomalia`] ⇒ [`EsitoRicezione::Anomalia`], [`Politica::Rifiuta`] ⇒ [`EsitoRicezione::Rifiutata`] |
//!
//! When the scanner found a virus ([`Arrivo::virus`], PEC-SPEC §2.3 step 3, §9.3):
//!
//! | Message | Outcome |
//! |---|---|
//! | valid busta di trasporto | [`EsitoRicezione::Infetta`]: the presa in carico all the same, one avviso di rilevazione virus per local recipient to the sender provider's `mailReceipt` (§4.10), the envelope to the quarantine, no delivery |
//! | anything else (ordinary mail, a receipt, a malformed message) | [`EsitoRicezione::Rifiutata`] with [`Rifiuto::Virus`]: SMTP 554, nothing stored (§2.3: may be dropped before it enters the PEC system) |
//!
//! Invariants:
//! * everything certified is read from the signed entity ([`Arrivo::firmato`]), never from
//!   the outer headers nor from parts outside the signature, and what users are shown of a
//!   certified message is that too: the outer headers are rewritten from the signed data
//!   ([`crate::builder::busta_ricomposta`], [`crate::builder::ricevuta_ricomposta`]);
//! * a valid envelope reaches only the recipients it certifies ([`BustaRicevuta::certifica`]:
//!   in the signed daticert and in the signed original's To/Cc) and a valid receipt only the
//!   box it answers for ([`smista_ricevuta`]); any other local RCPT TO (a genuine message
//!   replayed to other boxes) gets what ordinary mail gets, an anomaly or a refusal, logged;
//! * **one** presa in carico per SMTP transaction, listing every certified local recipient
//!   of it in `<ricezione>` (PEC-SPEC §4.6); the adapter calls this once per DATA;
//! * every outcome carries its log events (PEC-SPEC §8), and the time reference passed in is
//!   the one of every artefact built (§9.1);
//! * hostile input never panics and never errors: what cannot be read is still wrapped in an
//!   anomaly envelope (or refused, per policy). [`RicezioneError`] is only the caller's
//!   mistake (no local recipient) or an envelope no builder can write;
//! * the decision is taken on the XML and the PEC headers, never on the human text
//!   (PEC-SPEC §3.1).
//!
//! Choices (ours):
//! * **From domain rule (UNCONFIRMED, PEC-SPEC §7.2, §11.2):** the domain of the `From:`
//!   address (the signer's service address) must be among the signer's `managedDomains`, and
//!   for an envelope so must the domain of the daticert `<mittente>` (the sender the envelope
//!   certifies). A provider that signs as `posta-certificata@pec.provider.it` must then list
//!   `pec.provider.it` in its `managedDomains`; if real index data shows otherwise, this is the
//!   rule to relax. Failing it gives an anomaly, not a refusal: the message still reaches the
//!   user, uncertified.
//! * **`X-Trasporto: errore`** arriving from outside: an anomaly envelope is built by the
//!   recipient's provider for its own users and never travels between providers (PEC-SPEC
//!   §4.2), so one signed by another provider is "signed but malformed" and is wrapped in our
//!   own anomaly envelope; the user sees it, nothing is certified.
//! * every well-formed receipt kind about an envelope of ours is delivered (PEC-SPEC §2.3
//!   "valid receipt/notice ⇒ pass to DP"), its signed entity unchanged, even kinds that
//!   normally stay inside one provider (accettazione, 12 h / 24 h notices); one about an
//!   envelope we did not send to the recipients it names is an anomaly ([`smista_ricevuta`]).
//! * **presa in carico of an infected envelope (UNCONFIRMED):** it is still sent: the receiving
//!   provider did take charge of the envelope, and the rilevazione virus (RFC §3.2.3) comes
//!   from the provider that took charge of it; the sender side's 12 h / 24 h checks are
//!   cancelled by the rilevazione anyway ([`crate::scadenze::annullate`]).
//! * the reasons are Italian and single-line (control characters from peer or adapter text
//!   become spaces): they are the "error" line of the anomaly text (PEC-SPEC §4.2); the 5xx
//!   reason is also made ASCII.
//!
//! Not here: the scan itself (the adapter asks clamd; no verdict means no decision, SMTP 4xx),
//! signature verification (`pec-smime`), the lookup of our own envelopes (the adapter's), the
//! 24 h idleness of SMTP retries (the queue's job), duplicate detection (the store's keys).
//! An opaque S/MIME message (`application/pkcs7-mime`) is read like any other: the verifier
//! returns its content as the signed entity. PEC providers use `multipart/signed`.

mod controlli;

use crate::builder::{
    avviso_rilevazione_virus, busta_anomalia, busta_ricomposta, ricevuta_presa_in_carico,
    ricevuta_ricomposta, senza_parentesi, BuildError, DatiMessaggio, Emissione, Originale,
};
use crate::consegna::BustaRicevuta;
use crate::daticert::{Daticert, Destinatario, TipoDestinatario, TipoRicevuta};
use crate::kind::MessageKind;
use crate::message::{Provider, UnsignedMessage};
use crate::registro::{Evento, TipoEvento};
use crate::tempo::RiferimentoTemporale;
use controlli::{classifica, Classe};

/// What the signature check and the index lookup found: facts the adapter established
/// (PEC-SPEC §2.3 incoming point, step 2; §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firma {
    /// No S/MIME structure: ordinary mail.
    Assente,
    /// An S/MIME structure that cannot be parsed; the text says what failed.
    Illeggibile(String),
    /// The signature does not match the content (altered in transit, or forged).
    Alterata(String),
    /// The signer certificate's SHA-1 is not in the providers' index.
    Sconosciuta {
        /// The SHA-1 of the signer certificate (DER), hex.
        hash: String,
    },
    /// The hash is in the index, but the certificate differs from the stored one, is expired
    /// or revoked, or its chain does not validate.
    NonValida {
        /// The provider the index names for that hash.
        gestore: String,
        /// What failed.
        motivo: String,
    },
    /// A provider of the index signed it, and the signature is valid.
    Valida(GestoreMittente),
}

impl Firma {
    /// Why this signature does not make the message PEC, for the anomaly text or the 5xx
    /// reply; `None` for [`Firma::Valida`].
    pub fn problema(&self) -> Option<String> {
        Some(match self {
            Firma::Valida(_) => return None,
            Firma::Assente => "messaggio non firmato da un gestore di posta certificata".into(),
            Firma::Illeggibile(d) => format!("firma illeggibile: {d}"),
            Firma::Alterata(d) => {
                format!("firma non valida: il contenuto non corrisponde alla firma ({d})")
            }
            Firma::Sconosciuta { hash } => format!(
                "firma non valida: certificato non presente nell'indice dei gestori (SHA-1 {hash})"
            ),
            Firma::NonValida { gestore, motivo } => {
                format!("firma non valida: certificato del gestore {gestore} non valido ({motivo})")
            }
        })
    }
}

/// The record of the provider that signed, from the providers' index (PEC-SPEC §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GestoreMittente {
    /// `providerName`: shown in reasons and logged as the sending provider.
    pub nome: String,
    /// `mailReceipt`: where presa in carico and rilevazione virus go (PEC-SPEC §4.6, §4.10).
    pub mail_receipt: String,
    /// `managedDomains`: the domains it answers for (PEC-SPEC §7.2 From domain rule).
    pub domini: Vec<String>,
    /// The e-mail addresses of the signing certificate (subjectAltName): the provider's
    /// service address, which every message it signs must show as `From:` (PEC-SPEC §3.2).
    /// The rebuilt headers take it from here, never from the unsigned outer `From:`.
    pub indirizzi: Vec<String>,
}

impl GestoreMittente {
    /// Whether `dominio` is one of its `managedDomains`: exact, case-insensitive, a trailing
    /// dot ignored, no sub-domain wildcarding (PEC-SPEC §7.3, §11.7).
    pub fn gestisce(&self, dominio: &str) -> bool {
        let d = dominio.trim().trim_end_matches('.');
        !d.is_empty()
            && self
                .domini
                .iter()
                .any(|m| m.trim().trim_end_matches('.').eq_ignore_ascii_case(d))
    }
}

/// What to do with ordinary mail (no valid PEC signature) sent to PEC mailboxes: a provider's
/// policy choice (PEC-SPEC §2.3 incoming point, step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Politica {
    /// Wrap it in a busta di anomalia and deliver it (PEC-SPEC §4.2).
    #[default]
    Anomalia,
    /// Refuse it at SMTP level (5xx).
    Rifiuta,
}

/// A message received over SMTP for our domains, with the facts the adapter established.
#[derive(Debug, Clone)]
pub struct Arrivo<'a> {
    /// The message exactly as received after DATA.
    pub raw: &'a [u8],
    /// The entity the signature covers, as the verifier returned it
    /// (`pec_smime::Verification::content`); read only when `firma` is [`Firma::Valida`],
    /// and then the only place daticert and `postacert.eml` are read from (empty otherwise).
    pub firmato: &'a [u8],
    /// The SMTP reverse-path, with or without angle brackets (`<>` for bounces).
    pub mail_from: &'a str,
    /// The RCPT TO recipients that are ours (the SMTP layer refused or relayed the others).
    pub destinatari: &'a [String],
    /// What the signature check found.
    pub firma: Firma,
    /// The antivirus verdict on `raw`: the name of what the scanner found, `None` when it is
    /// clean or this point does not scan (PEC-SPEC §2.3 step 3, §9.3).
    pub virus: Option<&'a str>,
}

/// The Message-IDs of what the incoming point may build, drawn by the caller.
#[derive(Debug, Clone, Copy)]
pub struct IdRicezione<'a> {
    /// The ricevuta di presa in carico's `Message-ID` (PEC-SPEC §4.6).
    pub presa_in_carico: &'a str,
    /// The anomaly envelope's `Message-ID`, used only when the received message has none
    /// (the envelope inherits it, PEC-SPEC §4.2).
    pub anomalia: &'a str,
    /// The avvisi di rilevazione virus's `Message-ID`s, one per local recipient (without
    /// repeats), used only for an infected envelope (PEC-SPEC §4.10); may be empty otherwise.
    pub rilevazioni: &'a [String],
}

/// What the incoming point decided.
#[derive(Debug, Clone)]
#[must_use]
pub enum EsitoRicezione {
    /// A valid busta di trasporto (PEC-SPEC §2.3, §4.6): sign and send `presa_in_carico` to
    /// `mail_receipt`, and pass `busta` to the delivery point for each of `destinatari`.
    Busta {
        /// The ricevuta di presa in carico, one for the whole transaction.
        presa_in_carico: UnsignedMessage,
        /// The sender provider's `mailReceipt`, from the index: the presa in carico's RCPT TO.
        mail_receipt: String,
        /// The envelope, read once from its signed entity, for
        /// [`crate::consegna::punto_consegna`].
        busta: Box<BustaRicevuta>,
        /// The envelope as the boxes get it: the received bytes with the outer headers
        /// written from the signed data ([`crate::builder::busta_ricomposta`]).
        consegnata: Vec<u8>,
        /// The local recipients the envelope certifies ([`BustaRicevuta::certifica`]),
        /// without repeats: the presa in carico's `<ricezione>`.
        destinatari: Vec<String>,
        /// Log events: busta-ricevuta, presa-in-carico-emessa.
        eventi: Vec<Evento>,
        /// What becomes of the other local RCPT TO, which the envelope does not certify (a
        /// replay to boxes it was never sent to); `None` when there are none.
        estranei: Option<Estranei>,
    },
    /// A valid receipt or notice from another provider, not yet placed: the adapter looks up
    /// the envelope of ours it answers and calls [`smista_ricevuta`] (PEC-SPEC §2.3).
    RicevutaDaSmistare(Box<RicevutaDaSmistare>),
    /// A valid receipt or notice about one of our envelopes, placed by [`smista_ricevuta`]:
    /// store `consegnata` in `casella`, and stop the timers it answers (PEC-SPEC §4.9); no
    /// receipt.
    Ricevuta {
        /// Which receipt: the sender side stops its timers with
        /// [`crate::scadenze::annullate`].
        kind: MessageKind,
        /// The PEC msgid of **our** envelope it is about (daticert `<identificativo>`).
        identificativo: String,
        /// Its daticert, read once from the signed entity: the sender side builds the avviso
        /// di mancata consegna per virus from a rilevazione virus's
        /// ([`crate::virus::mancata_consegna`]).
        daticert: Box<Daticert>,
        /// The recipients it is about: `<ricezione>` of a presa in carico, `<consegna>` of the
        /// others.
        riguarda: Vec<String>,
        /// The one box it belongs in: the sender of our envelope, or our service box for a
        /// presa in carico or a rilevazione virus (PEC-SPEC §2.3 "sender gestore").
        casella: String,
        /// The receipt as the box gets it, outer headers written from its signed daticert
        /// ([`crate::builder::ricevuta_ricomposta`]).
        consegnata: Vec<u8>,
        /// Log events: ricevuta-ricevuta.
        eventi: Vec<Evento>,
        /// What becomes of the other local RCPT TO (see [`EsitoRicezione::Busta`]).
        estranei: Option<Estranei>,
    },
    /// A busta di anomalia around the received message (PEC-SPEC §4.2): sign it and deliver
    /// it to each of `destinatari`; no receipt.
    Anomalia {
        /// The anomaly envelope.
        busta: UnsignedMessage,
        /// Why the message could not be certified (also in the envelope's text).
        motivo: String,
        /// The local recipients, without repeats.
        destinatari: Vec<String>,
        /// Log events: anomalia-emessa.
        eventi: Vec<Evento>,
    },
    /// A valid busta di trasporto that is infected (PEC-SPEC §2.3, §4.10): sign and send
    /// `presa_in_carico` and every one of `rilevazioni` to `mail_receipt`, keep the message in
    /// the quarantine (30 months, DPR art. 12); it is **not** delivered.
    Infetta {
        /// The ricevuta di presa in carico (module docs: UNCONFIRMED).
        presa_in_carico: UnsignedMessage,
        /// The sender provider's `mailReceipt`, from the index.
        mail_receipt: String,
        /// One avviso di rilevazione virus per local recipient, in `destinatari` order.
        rilevazioni: Vec<UnsignedMessage>,
        /// The envelope, read once.
        busta: Box<BustaRicevuta>,
        /// The local recipients the envelope certifies, without repeats.
        destinatari: Vec<String>,
        /// What the scanner found.
        virus: String,
        /// Log events: busta-ricevuta, presa-in-carico-emessa, virus-rilevato,
        /// rilevazione-virus-emessa (one per recipient).
        eventi: Vec<Evento>,
        /// The refusal logged for the other local RCPT TO (see [`EsitoRicezione::Busta`]).
        estranei: Option<Estranei>,
    },
    /// Refused at SMTP level, nothing stored: ordinary mail under [`Politica::Rifiuta`], or
    /// anything infected but a valid envelope. The SMTP layer answers 5xx with `motivo`
    /// (single line, ASCII).
    Rifiutata {
        /// Why: the SMTP reply code depends on it.
        perche: Rifiuto,
        /// The reason.
        motivo: String,
        /// Log events: virus-rilevato when infected, messaggio-rifiutato.
        eventi: Vec<Evento>,
    },
}

/// A valid receipt or notice from another provider, before we know where it belongs.
#[derive(Debug, Clone)]
pub struct RicevutaDaSmistare {
    /// Which receipt.
    pub kind: MessageKind,
    /// The PEC msgid of the envelope it is about (daticert `<identificativo>`).
    pub identificativo: String,
    /// Its daticert, read from the signed entity.
    pub daticert: Daticert,
    /// `<ricezione>` of a presa in carico, `<consegna>` of the others: the adapter looks our
    /// envelope up by `identificativo` and each of these.
    pub riguarda: Vec<String>,
    /// The local RCPT TO, without repeats.
    pub destinatari: Vec<String>,
    /// The signer's service address, for the rebuilt headers.
    servizio: String,
}

/// Why the incoming point refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rifiuto {
    /// Ordinary mail under [`Politica::Rifiuta`]: SMTP 550 5.7.1.
    Politica,
    /// The scanner found this virus: SMTP 554 5.7.0.
    Virus(String),
}

/// What the local RCPT TO that a valid message does not certify get: what ordinary mail gets
/// under the policy, for them alone (issue 12).
#[derive(Debug, Clone)]
pub enum Estranei {
    /// A busta di anomalia around the message, for them: sign it and deliver it to each.
    Anomalia {
        /// The anomaly envelope.
        busta: UnsignedMessage,
        /// Why (also in the envelope's text).
        motivo: String,
        /// Those recipients, without repeats.
        destinatari: Vec<String>,
        /// Log events: anomalia-emessa.
        eventi: Vec<Evento>,
    },
    /// Refused for them and logged; their RCPT TO was answered with the certified ones'.
    Rifiutati {
        /// Those recipients.
        destinatari: Vec<String>,
        /// Why.
        motivo: String,
        /// Log events: messaggio-rifiutato.
        eventi: Vec<Evento>,
    },
}

impl Estranei {
    /// The log events.
    pub fn eventi(&self) -> &[Evento] {
        match self {
            Estranei::Anomalia { eventi, .. } | Estranei::Rifiutati { eventi, .. } => eventi,
        }
    }

    /// The recipients it is about.
    pub fn destinatari(&self) -> &[String] {
        match self {
            Estranei::Anomalia { destinatari, .. } | Estranei::Rifiutati { destinatari, .. } => {
                destinatari
            }
        }
    }
}

impl EsitoRicezione {
    /// The log events of the decision (those of its [`Estranei`] apart; none before
    /// [`smista_ricevuta`] placed a receipt).
    pub fn eventi(&self) -> &[Evento] {
        match self {
            EsitoRicezione::Busta { eventi, .. }
            | EsitoRicezione::Ricevuta { eventi, .. }
            | EsitoRicezione::Infetta { eventi, .. }
            | EsitoRicezione::Anomalia { eventi, .. }
            | EsitoRicezione::Rifiutata { eventi, .. } => eventi,
            EsitoRicezione::RicevutaDaSmistare(_) => &[],
        }
    }

    /// The PEC msgid the arrival is about, when it certifies one: the envelope's, or the one
    /// a receipt answers (for diagnostics; anomalies and refusals have none).
    pub fn identificativo(&self) -> Option<&str> {
        match self {
            EsitoRicezione::Busta { busta, .. } | EsitoRicezione::Infetta { busta, .. } => {
                Some(busta.daticert.dati.identificativo.trim())
            }
            EsitoRicezione::Ricevuta { identificativo, .. } => Some(identificativo),
            EsitoRicezione::RicevutaDaSmistare(r) => Some(&r.identificativo),
            EsitoRicezione::Anomalia { .. } | EsitoRicezione::Rifiutata { .. } => None,
        }
    }
}

/// Why the incoming point could not decide. Never the remote side's fault: hostile input gives
/// an anomaly or a refusal instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RicezioneError {
    /// No local recipient was passed: nothing to deliver, no `<ricezione>` to write.
    #[error("incoming point: no local recipient")]
    NessunDestinatario,
    /// The presa in carico or the anomaly envelope could not be built.
    #[error("incoming point: {0}")]
    Costruzione(#[from] BuildError),
    /// An infected envelope needs one rilevazione virus id per local recipient.
    #[error("incoming point: {servono} rilevazione virus ids needed, {dati} given")]
    IdentificativiMancanti {
        /// How many recipients.
        servono: usize,
        /// How many ids were passed.
        dati: usize,
    },
}

/// What the incoming point needs besides the message: who we are, when, the ids it may use
/// and the policy for mail that is not PEC.
#[derive(Debug, Clone, Copy)]
pub struct Contesto<'a> {
    /// Our provider: signer of the presa in carico and of the anomaly envelope.
    pub provider: &'a Provider,
    /// The time reference of the reception (PEC-SPEC §9.1).
    pub data: RiferimentoTemporale,
    /// The ids it may use.
    pub ids: &'a IdRicezione<'a>,
    /// What to do with ordinary mail.
    pub politica: Politica,
}

/// Decides on one received message (PEC-SPEC §2.3, incoming point) and builds what it calls
/// for, with the log events. See the module docs for the table.
///
/// `c` says who we are (signer of the presa in carico and of the anomaly envelope), the time
/// reference of the reception, the ids and the policy.
pub fn punto_ricezione(a: &Arrivo<'_>, c: &Contesto<'_>) -> Result<EsitoRicezione, RicezioneError> {
    let c = *c;
    let destinatari = locali(a.destinatari)?;
    let classe = match &a.firma {
        Firma::Valida(g) => Some((g, classifica(a.raw, a.firmato, g))),
        _ => None,
    };
    if let Some(virus) = a.virus {
        // PEC-SPEC §2.3 step 3: only a valid envelope enters the PEC system to be answered,
        // and only for the recipients it certifies.
        if let Some((g, Classe::Busta(busta, _))) = classe {
            let (certificati, estranei) = dividi(&busta, destinatari);
            if !certificati.is_empty() {
                let estranei = per_estranei(a, estranei, &c, true, NON_CERTIFICATO)?;
                return infetta(busta, g, &c, certificati, virus, estranei);
            }
        }
        return Ok(rifiuta(a, &c, Rifiuto::Virus(virus.to_string()), ""));
    }
    let Some((gestore, classe)) = classe else {
        // PEC-SPEC §2.3: not from a PEC provider ⇒ ordinary mail, per policy.
        let motivo = a.firma.problema().unwrap_or_default();
        return non_certificato(a, destinatari, &c, &motivo);
    };
    match classe {
        Classe::Busta(busta, servizio) => {
            let (certificati, estranei) = dividi(&busta, destinatari);
            if certificati.is_empty() {
                return non_certificato(a, estranei, &c, NON_CERTIFICATO);
            }
            let estranei = per_estranei(a, estranei, &c, false, NON_CERTIFICATO)?;
            let consegnata = busta_ricomposta(a.raw, &busta, &servizio);
            presa_in_carico(busta, consegnata, gestore, &c, certificati, estranei)
        }
        Classe::Ricevuta(r) => {
            let r = *r;
            Ok(EsitoRicezione::RicevutaDaSmistare(Box::new(
                RicevutaDaSmistare {
                    kind: r.kind,
                    identificativo: senza_parentesi(&r.daticert.dati.identificativo).to_string(),
                    daticert: r.daticert,
                    riguarda: r.riguarda,
                    destinatari,
                    servizio: r.servizio,
                },
            )))
        }
        Classe::Malformato(dettaglio) => {
            // PEC-SPEC §2.3: signed by a PEC provider but malformed ⇒ busta di anomalia.
            let motivo = format!(
                "messaggio firmato dal gestore {} ma non conforme: {dettaglio}",
                gestore.nome
            );
            anomalia_per(a, destinatari, &c, &motivo)
        }
    }
}

/// Why a local RCPT TO gets no certified copy of a valid envelope (the anomaly text).
const NON_CERTIFICATO: &str =
    "destinatario non presente nei dati di certificazione della busta (daticert.xml e To/Cc del messaggio originale)";

/// Why a local RCPT TO gets no copy of a valid receipt: it belongs in another box.
const NON_TITOLARE: &str =
    "ricevuta non destinata a questa casella: spetta al mittente del messaggio a cui si riferisce";

/// Second step for a valid receipt or notice (PEC-SPEC §2.3 "sender gestore on receiving
/// notices"): `mittente` is the sender of **our** envelope it answers, as our own records
/// have it (the 12 h / 24 h checks of each recipient we sent it to, looked up by the
/// adapter by identificativo and [`RicevutaDaSmistare::riguarda`]); `None` when we never sent
/// that envelope to those recipients.
///
/// * not ours ⇒ a busta di anomalia for every local RCPT TO, whatever the policy: a genuine
///   signature on a message that answers nothing we sent is "signed but malformed";
/// * ours ⇒ stored in its one box: our service box for a presa in carico or a rilevazione
///   virus (they go to our `mailReceipt`, PEC-SPEC §4.6, §4.10), the sender's for every
///   other kind; the other local RCPT TO get an anomaly or a refusal, per policy, and when
///   that box is not among the RCPT TO at all, they all do.
pub fn smista_ricevuta(
    a: &Arrivo<'_>,
    r: RicevutaDaSmistare,
    mittente: Option<&str>,
    c: &Contesto<'_>,
) -> Result<EsitoRicezione, RicezioneError> {
    let Some(mittente) = mittente else {
        return anomalia_per(
            a,
            r.destinatari,
            c,
            "ricevuta relativa a un messaggio non inviato da questo gestore",
        );
    };
    let titolare = match r.kind {
        MessageKind::PresaInCarico | MessageKind::RilevazioneVirus => {
            c.provider.indirizzo_servizio.as_str()
        }
        _ => nudo(mittente),
    };
    let (mut casella, mut estranei) = (None, Vec::new());
    for d in r.destinatari {
        if casella.is_none() && d.eq_ignore_ascii_case(titolare) {
            casella = Some(d);
        } else {
            estranei.push(d);
        }
    }
    let Some(casella) = casella else {
        return non_certificato(a, estranei, c, NON_TITOLARE);
    };
    let estranei = per_estranei(a, estranei, c, false, NON_TITOLARE)?;
    let dati = DatiMessaggio::da_daticert(&r.daticert);
    let eventi = vec![Evento::di(
        TipoEvento::RicevutaRicevuta {
            ricevuta: r.kind.name().to_string(),
            riguarda: r.riguarda.clone(),
            caselle: vec![casella.clone()],
        },
        c.data,
        &dati,
        &r.daticert.dati.gestore_emittente, // PEC-SPEC §8 field 8: who sent it
        Vec::new(),
    )];
    let consegnata = ricevuta_ricomposta(a.raw, r.kind, &r.daticert, &r.servizio, &casella);
    Ok(EsitoRicezione::Ricevuta {
        kind: r.kind,
        identificativo: r.identificativo,
        daticert: Box::new(r.daticert),
        riguarda: r.riguarda,
        casella,
        consegnata,
        eventi,
        estranei,
    })
}

/// The local recipients `busta` certifies, and the others, each in RCPT TO order.
fn dividi(busta: &BustaRicevuta, destinatari: Vec<String>) -> (Vec<String>, Vec<String>) {
    destinatari.into_iter().partition(|d| busta.certifica(d))
}

/// What the local RCPT TO that a valid envelope or receipt does not certify get (`perche`
/// says why, in the anomaly text): for a clean message what ordinary mail gets under the
/// policy; for an infected one a refusal, logged as such only (the virus is logged once, with
/// the quarantine, for the certified recipients; the SMTP reply is their 250). `None`
/// without any.
fn per_estranei(
    a: &Arrivo<'_>,
    estranei: Vec<String>,
    c: &Contesto<'_>,
    infetto: bool,
    perche: &str,
) -> Result<Option<Estranei>, RicezioneError> {
    if estranei.is_empty() {
        return Ok(None);
    }
    let motivo = format!("{perche}: {}", estranei.join(", "));
    Ok(Some(match (infetto, c.politica) {
        (false, Politica::Anomalia) => {
            let (busta, motivo, eventi) = anomalia(a, &estranei, c, &motivo)?;
            Estranei::Anomalia {
                busta,
                motivo,
                destinatari: estranei,
                eventi,
            }
        }
        (true, _) | (false, Politica::Rifiuta) => {
            let motivo = match infetto {
                true => format!("{motivo} (messaggio infetto)"),
                false => motivo,
            };
            let (motivo, eventi) = rifiuto(a, c, &Rifiuto::Politica, &motivo);
            Estranei::Rifiutati {
                destinatari: estranei,
                motivo,
                eventi,
            }
        }
    }))
}

/// What mail that is not (or not for these recipients) certified PEC gets, per policy
/// (PEC-SPEC §2.3): a busta di anomalia for `destinatari`, or a refusal.
fn non_certificato(
    a: &Arrivo<'_>,
    destinatari: Vec<String>,
    c: &Contesto<'_>,
    motivo: &str,
) -> Result<EsitoRicezione, RicezioneError> {
    match c.politica {
        Politica::Anomalia => anomalia_per(a, destinatari, c, motivo),
        Politica::Rifiuta => Ok(rifiuta(a, c, Rifiuto::Politica, motivo)),
    }
}

/// The busta di anomalia of a received message (PEC-SPEC §4.2), whatever its content, for
/// `destinatari`; `motivo` is the short error shown in its text. The envelope's `Message-ID`
/// is the received one, else [`IdRicezione::anomalia`].
fn anomalia_per(
    a: &Arrivo<'_>,
    destinatari: Vec<String>,
    c: &Contesto<'_>,
    motivo: &str,
) -> Result<EsitoRicezione, RicezioneError> {
    let (busta, motivo, eventi) = anomalia(a, &destinatari, c, motivo)?;
    Ok(EsitoRicezione::Anomalia {
        busta,
        motivo,
        destinatari,
        eventi,
    })
}

/// The anomaly envelope for `destinatari`, its reason (one line) and its log events.
fn anomalia(
    a: &Arrivo<'_>,
    destinatari: &[String],
    c: &Contesto<'_>,
    motivo: &str,
) -> Result<(UnsignedMessage, String, Vec<Evento>), RicezioneError> {
    if destinatari.is_empty() {
        return Err(RicezioneError::NessunDestinatario);
    }
    let motivo = riga(motivo, RIGA_MAX);
    let ricevuto = ricevuto(a);
    let e = Emissione {
        provider: c.provider,
        data: c.data, // PEC-SPEC §4.2: Date = arrival date
        message_id: c.ids.anomalia,
    };
    let busta = busta_anomalia(&e, &ricevuto, &motivo)?; // PEC-SPEC §4.2
    let generato = busta
        .header("Message-ID")
        .map(|m| senza_parentesi(m).to_string())
        .unwrap_or_else(|| senza_parentesi(c.ids.anomalia).to_string());
    let dati = dati_ricevuto(&ricevuto, &generato);
    let eventi = vec![Evento::di(
        TipoEvento::AnomaliaEmessa {
            motivo: motivo.clone(),
            caselle: destinatari.to_vec(),
        },
        c.data,
        &dati,
        &gestore_di(&a.firma),
        vec![generato],
    )];
    Ok((busta, motivo, eventi))
}

/// The valid envelope: one presa in carico for every certified local recipient
/// (PEC-SPEC §4.6).
fn presa_in_carico(
    busta: Box<BustaRicevuta>,
    consegnata: Vec<u8>,
    gestore: &GestoreMittente,
    c: &Contesto<'_>,
    destinatari: Vec<String>,
    estranei: Option<Estranei>,
) -> Result<EsitoRicezione, RicezioneError> {
    let (presa, eventi) = presa(&busta, gestore, c, &destinatari)?;
    Ok(EsitoRicezione::Busta {
        presa_in_carico: presa,
        mail_receipt: gestore.mail_receipt.clone(),
        busta,
        consegnata,
        destinatari,
        eventi,
        estranei,
    })
}

/// The valid envelope that is infected: the presa in carico, and one avviso di rilevazione
/// virus per certified local recipient (PEC-SPEC §4.10); see the module docs.
fn infetta(
    busta: Box<BustaRicevuta>,
    gestore: &GestoreMittente,
    c: &Contesto<'_>,
    destinatari: Vec<String>,
    virus: &str,
    estranei: Option<Estranei>,
) -> Result<EsitoRicezione, RicezioneError> {
    if c.ids.rilevazioni.len() < destinatari.len() {
        return Err(RicezioneError::IdentificativiMancanti {
            servono: destinatari.len(),
            dati: c.ids.rilevazioni.len(),
        });
    }
    let (presa, mut eventi) = presa(&busta, gestore, c, &destinatari)?;
    let dati = busta.dati();
    let mittente_gestore = &busta.daticert.dati.gestore_emittente; // PEC-SPEC §8 f. 8
    eventi.push(Evento::di(
        TipoEvento::VirusRilevato {
            punto: "ricezione".into(),
            virus: virus.to_string(),
            quarantena: true,
        },
        c.data,
        &dati,
        mittente_gestore,
        Vec::new(),
    ));
    let mut rilevazioni = Vec::with_capacity(destinatari.len());
    for (r, id) in destinatari.iter().zip(c.ids.rilevazioni) {
        let e = Emissione {
            provider: c.provider,
            data: c.data,
            message_id: id,
        };
        // PEC-SPEC §4.10: one per affected recipient, to the sender provider's mailReceipt.
        rilevazioni.push(avviso_rilevazione_virus(
            &e,
            &dati,
            r,
            virus,
            &gestore.mail_receipt,
        )?);
        eventi.push(Evento::di(
            TipoEvento::RilevazioneVirusEmessa {
                destinatario: r.clone(),
                mail_receipt: gestore.mail_receipt.clone(),
            },
            c.data,
            &dati,
            mittente_gestore,
            vec![senza_parentesi(id).to_string()],
        ));
    }
    Ok(EsitoRicezione::Infetta {
        presa_in_carico: presa,
        mail_receipt: gestore.mail_receipt.clone(),
        rilevazioni,
        busta,
        destinatari,
        virus: virus.to_string(),
        eventi,
        estranei,
    })
}

/// The presa in carico of a valid envelope for its local recipients, with its events:
/// busta-ricevuta, presa-in-carico-emessa.
fn presa(
    busta: &BustaRicevuta,
    gestore: &GestoreMittente,
    c: &Contesto<'_>,
    destinatari: &[String],
) -> Result<(UnsignedMessage, Vec<Evento>), BuildError> {
    let (data, ids) = (c.data, c.ids);
    let dati = busta.dati();
    let e = Emissione {
        provider: c.provider,
        data,
        message_id: ids.presa_in_carico,
    };
    // PEC-SPEC §4.6: To = the sender provider's mailReceipt, one <ricezione> per recipient.
    let presa = ricevuta_presa_in_carico(&e, &dati, destinatari, &gestore.mail_receipt)?;
    let mittente_gestore = busta.daticert.dati.gestore_emittente.clone(); // PEC-SPEC §8 f. 8
    let eventi = vec![
        Evento::di(
            TipoEvento::BustaRicevuta {
                caselle: destinatari.to_vec(),
            },
            data,
            &dati,
            &mittente_gestore,
            Vec::new(),
        ),
        Evento::di(
            TipoEvento::PresaInCaricoEmessa {
                ricezione: destinatari.to_vec(),
                mail_receipt: gestore.mail_receipt.clone(),
            },
            data,
            &dati,
            &mittente_gestore,
            vec![senza_parentesi(ids.presa_in_carico).to_string()],
        ),
    ];
    Ok((presa, eventi))
}

/// A refusal at SMTP level: ordinary mail under [`Politica::Rifiuta`] (`motivo` says why it
/// is not PEC), or anything infected but a valid envelope.
fn rifiuta(a: &Arrivo<'_>, c: &Contesto<'_>, perche: Rifiuto, motivo: &str) -> EsitoRicezione {
    let (motivo, eventi) = rifiuto(a, c, &perche, motivo);
    EsitoRicezione::Rifiutata {
        perche,
        motivo,
        eventi,
    }
}

/// The reason (one ASCII line) and the log events of a refusal.
fn rifiuto(
    a: &Arrivo<'_>,
    c: &Contesto<'_>,
    perche: &Rifiuto,
    motivo: &str,
) -> (String, Vec<Evento>) {
    let (data, ids) = (c.data, c.ids);
    let motivo = match perche {
        Rifiuto::Politica => motivo.to_string(),
        Rifiuto::Virus(v) => format!("virus found: {v}"),
    };
    // An SMTP reply is ASCII (RFC 5321 §4.2): anything else becomes '?'.
    let motivo: String = riga(&motivo, RIGA_MAX)
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    let ricevuto = ricevuto(a);
    let dati = dati_ricevuto(&ricevuto, ids.anomalia);
    let gestore = gestore_di(&a.firma);
    let mut eventi = Vec::new();
    if let Rifiuto::Virus(v) = perche {
        eventi.push(Evento::di(
            TipoEvento::VirusRilevato {
                punto: "ricezione".into(),
                virus: v.clone(),
                quarantena: false,
            },
            data,
            &dati,
            &gestore,
            Vec::new(),
        ));
    }
    eventi.push(Evento::di(
        TipoEvento::MessaggioRifiutato {
            motivo: motivo.clone(),
        },
        data,
        &dati,
        &gestore,
        Vec::new(),
    ));
    (motivo, eventi)
}

/// The received message as an [`Originale`] for the anomaly envelope: parsed when possible,
/// else the raw bytes with the SMTP envelope standing in for sender and recipients.
fn ricevuto(a: &Arrivo<'_>) -> Originale {
    let mail_from = nudo(a.mail_from);
    if let Ok(o) = Originale::parse_ricevuto(a.raw, mail_from) {
        return o;
    }
    Originale {
        raw: a.raw.to_vec(),
        mittente: mail_from.to_string(),
        to: a.destinatari.iter().map(|d| nudo(d).to_string()).collect(),
        cc: Vec::new(),
        bcc: Vec::new(),
        bcc_presente: false,
        oggetto: None,
        msgid: None,
        reply_to: Vec::new(),
        tipo_ricevuta: TipoRicevuta::Completa,
    }
}

/// What the log records about a message that is not certified: its own headers, with the
/// message's id (or the one we assigned) as identifier.
fn dati_ricevuto(o: &Originale, id: &str) -> DatiMessaggio {
    let destinatari = o
        .destinatari(|_| TipoDestinatario::Certificato)
        .into_iter()
        .collect::<Vec<Destinatario>>();
    let identificativo = o
        .msgid
        .as_deref()
        .map(senza_parentesi)
        .unwrap_or_else(|| senza_parentesi(id));
    DatiMessaggio {
        mittente: o.mittente.clone(),
        destinatari,
        risposte: o.risposte(),
        oggetto: o.oggetto.clone(),
        identificativo: identificativo.to_string(),
        msgid: o.msgid.clone(),
        tipo_ricevuta: TipoRicevuta::Completa,
    }
}

/// The sending provider for the log: the signer when known, else empty (ordinary mail).
fn gestore_di(firma: &Firma) -> String {
    match firma {
        Firma::Valida(g) => g.nome.clone(),
        Firma::NonValida { gestore, .. } => gestore.clone(),
        _ => String::new(),
    }
}

/// The local recipients, bare and without repeats (case-insensitive), in RCPT TO order.
fn locali(rcpt: &[String]) -> Result<Vec<String>, RicezioneError> {
    let mut out: Vec<String> = Vec::new();
    for r in rcpt.iter().map(|r| nudo(r)).filter(|r| !r.is_empty()) {
        if !out.iter().any(|d| d.eq_ignore_ascii_case(r)) {
            out.push(r.to_string());
        }
    }
    if out.is_empty() {
        return Err(RicezioneError::NessunDestinatario);
    }
    Ok(out)
}

/// Longest reason we write (characters).
const RIGA_MAX: usize = 300;

/// A reason fit for one text line and an SMTP reply: control characters become spaces
/// (no CRLF injection from adapter or peer text), runs of spaces collapse, at most `max`
/// characters.
pub(crate) fn riga(testo: &str, max: usize) -> String {
    let pulito: String = testo
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = pulito.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((i, _)) = out.char_indices().nth(max) {
        out.truncate(i);
    }
    out
}

/// `a@b` from ` <a@b> `.
fn nudo(indirizzo: &str) -> &str {
    senza_parentesi(indirizzo).trim()
}

#[cfg(test)]
mod tests;
