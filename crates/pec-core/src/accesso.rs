//! The access point (*punto di accesso*, PEC-SPEC §2.3): what happens to a message an
//! authenticated user submits.
//!
//! [`punto_accesso`] runs the formal checks of PEC-SPEC §2.3 and §9.4 and returns either the
//! ricevuta di accettazione with the busta di trasporto, or the avviso di non accettazione,
//! each with its log events. It decides; the caller signs, stores and sends, all in one
//! transaction, and only then answers 250 to the client.
//!
//! Invariants:
//! * exactly one receipt per submitted message: accettazione **or** non accettazione, never both,
//!   never none (PEC-SPEC §9.7) — an unreadable message still gets its notice, built from the
//!   SMTP envelope;
//! * receipts are addressed to the reverse-path (MAIL FROM), never to `Reply-To` or `From:`
//!   (PEC-SPEC §3.2), and certify MAIL FROM as the sender;
//! * the checks run in a fixed order and the first failure is the reason given: readable
//!   message and one `From:` → From = MAIL FROM = authenticated mailbox → `To:` present →
//!   every RCPT TO in `To:`/`Cc:` → `Bcc:` empty → recipient count → size × recipients →
//!   virus (the formal checks come first, PEC-SPEC §2.3 step 3);
//! * an infected message (the scanner's verdict is passed in, [`Invio::virus`]) is never
//!   accepted: it gets the avviso di non accettazione per virus (§4.5), or the formal notice
//!   when a formal check failed first; either way [`NonAccettazione::quarantena`] asks the
//!   adapter to keep it 30 months (DPR art. 12) and a `virus-rilevato` event is logged;
//! * every time artefact (receipt `Date:`, daticert, envelope, log) uses the one
//!   [`RiferimentoTemporale`] passed in (PEC-SPEC §9.1); ids come in too: the PEC msgid is
//!   assigned before the decision, so the non-acceptance notice shows it as well (§4.4).
//!
//! Not here: authentication (the SMTP layer passes the authenticated mailbox), the scan itself
//! (the adapter asks clamd; a scanner without a verdict means no decision at all, SMTP 4xx),
//! the hard SMTP size limit (refused at SMTP level), the 12 h / 24 h timers.

use crate::builder::{
    avviso_non_accettazione, avviso_non_accettazione_virus, busta_trasporto_con_parti,
    ricevuta_accettazione, BuildError, DatiMessaggio, Emissione, Originale, OriginaleError,
    Posizione,
};
use crate::consegna::BustaRicevuta;
use crate::daticert::{Destinatario, TipoDestinatario, TipoRicevuta};
use crate::message::{Provider, UnsignedMessage};
use crate::registro::{Evento, TipoEvento};
use crate::tempo::RiferimentoTemporale;

/// A message submitted by an authenticated user, as the SMTP submission session received it.
#[derive(Debug, Clone, Copy)]
pub struct Invio<'a> {
    /// The authenticated mailbox address (PEC-SPEC §9.4: From must be this mailbox).
    pub casella: &'a str,
    /// The SMTP reverse-path, with or without angle brackets; where every receipt goes
    /// (PEC-SPEC §3.2).
    pub mail_from: &'a str,
    /// The SMTP forward-paths, in order; the envelope is sent to exactly these (§3.2).
    pub rcpt_to: &'a [String],
    /// The message bytes as received after DATA.
    pub raw: &'a [u8],
    /// The antivirus verdict on `raw`: the name of what the scanner found, `None` when it is
    /// clean or this point does not scan (PEC-SPEC §2.3 step 3, §9.3).
    pub virus: Option<&'a str>,
}

/// The identifiers of one submission, drawn by the caller (this crate draws no randomness).
#[derive(Debug, Clone, Copy)]
pub struct Identificativi<'a> {
    /// The PEC msgid: the envelope's `Message-ID` and daticert `<identificativo>`
    /// (PEC-SPEC §3.3), e.g. `opec1.20240315103000.42@pec.example.it`. Also shown by the
    /// non-acceptance notice (§4.4).
    pub identificativo: &'a str,
    /// The `Message-ID` of the receipt itself (accettazione or non accettazione).
    pub ricevuta: &'a str,
}

/// The provider's limits on one submission (PEC-SPEC §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limiti {
    /// Most SMTP recipients of one message.
    pub max_destinatari: usize,
    /// Most bytes of message size × number of SMTP recipients.
    pub max_dimensione: u64,
}

impl Limiti {
    /// The least a provider may set: 50 recipients, and 30 MB of size × recipients
    /// (DM art. 12 c.1-2, PEC-SPEC §9.6). MB is read as MiB so both readings are met.
    pub const MINIMI: Limiti = Limiti {
        max_destinatari: 50,              // PEC-SPEC §9.6
        max_dimensione: 30 * 1024 * 1024, // PEC-SPEC §9.6
    };

    /// Whether these limits allow at least what the decree requires (PEC-SPEC §9.6): a
    /// configuration below it must be refused at start-up.
    pub fn conformi(&self) -> bool {
        self.max_destinatari >= Self::MINIMI.max_destinatari
            && self.max_dimensione >= Self::MINIMI.max_dimensione
    }
}

impl Default for Limiti {
    /// [`Limiti::MINIMI`].
    fn default() -> Self {
        Self::MINIMI
    }
}

/// What the access point knows that does not change between submissions.
pub struct PuntoAccesso<'a> {
    /// Our provider: signer of the receipts and envelopes.
    pub provider: &'a Provider,
    /// Size and recipient limits (PEC-SPEC §9.6).
    pub limiti: Limiti,
    /// certificato when the address's domain is in the providers' index `managedDomains`
    /// (case-insensitive), esterno otherwise (PEC-SPEC §2.3 access point, step 4).
    pub classifica: &'a dyn Fn(&str) -> TipoDestinatario,
}

/// Why a submission is not accepted: each is the user's fault and becomes the
/// `<errore-esteso>` and the text of the avviso di non accettazione (PEC-SPEC §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Motivo {
    /// Not a readable RFC 5322 message, or its `From:` is not exactly one valid address.
    Malformato,
    /// No `From:` header.
    MittenteAssente,
    /// `From:` differs from MAIL FROM or from the authenticated mailbox (PEC-SPEC §9.4).
    MittenteDiverso,
    /// No valid address in `To:`, or no SMTP recipient at all (PEC-SPEC §2.3).
    DestinatariAssenti,
    /// An SMTP recipient that appears neither in `To:` nor in `Cc:` (PEC-SPEC §2.3).
    DestinatarioNonInIntestazione(String),
    /// `Bcc:` carries a value (PEC-SPEC §2.3, §9.4).
    BccPresente,
    /// More SMTP recipients than [`Limiti::max_destinatari`] (PEC-SPEC §9.6).
    TroppiDestinatari {
        /// The number of SMTP recipients.
        destinatari: usize,
        /// The limit.
        massimo: usize,
    },
    /// Size × SMTP recipients over [`Limiti::max_dimensione`] (PEC-SPEC §9.6).
    TroppoGrande {
        /// Size × recipients, in bytes.
        dimensione: u64,
        /// The limit.
        massimo: u64,
    },
    /// The antivirus found this virus (PEC-SPEC §4.5): the notice is the avviso di non
    /// accettazione per virus.
    Virus(String),
}

impl Motivo {
    /// A short stable code for logs and metrics, e.g. `mittente-diverso`.
    pub fn codice(&self) -> &'static str {
        match self {
            Motivo::Malformato => "malformato",
            Motivo::MittenteAssente => "mittente-assente",
            Motivo::MittenteDiverso => "mittente-diverso",
            Motivo::DestinatariAssenti => "destinatari-assenti",
            Motivo::DestinatarioNonInIntestazione(_) => "destinatario-non-in-intestazione",
            Motivo::BccPresente => "bcc-presente",
            Motivo::TroppiDestinatari { .. } => "troppi-destinatari",
            Motivo::TroppoGrande { .. } => "troppo-grande",
            Motivo::Virus(_) => "virus",
        }
    }

    /// The one-line Italian description written in the notice (PEC-SPEC §4.4).
    pub fn descrizione(&self) -> String {
        match self {
            Motivo::Malformato => "messaggio non conforme allo standard RFC 5322".into(),
            Motivo::MittenteAssente => "intestazione From assente".into(),
            Motivo::MittenteDiverso => {
                "il mittente (From) non corrisponde al mittente SMTP o alla casella autenticata"
                    .into()
            }
            Motivo::DestinatariAssenti => "nessun destinatario valido in To".into(),
            Motivo::DestinatarioNonInIntestazione(r) => {
                format!("il destinatario {r} non compare in To o Cc")
            }
            Motivo::BccPresente => "l'intestazione Bcc non deve contenere destinatari".into(),
            Motivo::TroppiDestinatari {
                destinatari,
                massimo,
            } => format!("numero di destinatari ({destinatari}) superiore al massimo ({massimo})"),
            Motivo::TroppoGrande {
                dimensione,
                massimo,
            } => format!(
                "dimensione per numero di destinatari ({dimensione} byte) superiore al massimo \
                 ({massimo} byte)"
            ),
            Motivo::Virus(v) => format!("virus rilevato: {v}"),
        }
    }
}

impl std::fmt::Display for Motivo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.descrizione())
    }
}

/// One SMTP recipient of an accepted message, as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinatarioInvio {
    /// The RCPT TO address.
    pub indirizzo: String,
    /// certificato (a PEC provider will answer with receipts and the 12 h / 24 h timers run)
    /// or esterno (ordinary mail: the signed envelope goes out as is) (PEC-SPEC §9.7).
    pub tipo: TipoDestinatario,
    /// In `To:`, in `Cc:` or in both: decides the delivery receipt kind (PEC-SPEC §4.7).
    pub posizione: Posizione,
}

/// An accepted submission: what to sign, send and log.
#[derive(Debug, Clone)]
pub struct Accettazione {
    /// The ricevuta di accettazione, addressed to `mittente` (PEC-SPEC §4.3).
    pub ricevuta: UnsignedMessage,
    /// The busta di trasporto, to be sent to every [`Accettazione::destinatari`] with the same
    /// MAIL FROM / RCPT TO as the original (PEC-SPEC §4.1, §3.2).
    pub busta: UnsignedMessage,
    /// The envelope as the delivery point reads it (its daticert and `postacert.eml`), from
    /// the parts it was built of: nothing parses the envelope just built.
    pub letta: Box<BustaRicevuta>,
    /// The SMTP recipients, without repeats, in RCPT TO order.
    pub destinatari: Vec<DestinatarioInvio>,
    /// The reverse-path without angle brackets: receipts go here (PEC-SPEC §3.2).
    pub mittente: String,
    /// Log events: invio-ricevuto, accettazione-emessa, busta-emessa (PEC-SPEC §8).
    pub eventi: Vec<Evento>,
}

/// A refused submission: the notice to sign and send, and why.
#[derive(Debug, Clone)]
pub struct NonAccettazione {
    /// The avviso di non accettazione, addressed to `mittente` (PEC-SPEC §4.4).
    pub avviso: UnsignedMessage,
    /// The reason, also written in the notice.
    pub motivo: Motivo,
    /// The message is infected (whatever the reason given): the adapter keeps it in the
    /// quarantine for 30 months (PEC-SPEC §4.5, DPR art. 12).
    pub quarantena: bool,
    /// Where the notice goes: always the authenticated mailbox, the only address known to
    /// answer for the submission (PEC-SPEC §9.4). The SMTP layer refuses any other
    /// reverse-path at MAIL FROM ([`mittente_ammesso`]); if one still reaches the access
    /// point, its notice is not sent there.
    pub mittente: String,
    /// Log events: invio-ricevuto, virus-rilevato when infected, non-accettazione-emessa
    /// (PEC-SPEC §8).
    pub eventi: Vec<Evento>,
}

/// What the access point decided.
#[derive(Debug, Clone)]
#[must_use]
pub enum Esito {
    /// The message passed every check (PEC-SPEC §4.1, §4.3).
    Accettato(Accettazione),
    /// The message failed a check (PEC-SPEC §4.4).
    NonAccettato(NonAccettazione),
}

/// Why the access point could not build its answer. Not the user's fault: inputs outside
/// what the builders accept (e.g. no recipient at all, so no daticert can be written).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessoError {
    /// A receipt, notice or envelope could not be built.
    #[error("access point: {0}")]
    Costruzione(#[from] BuildError),
}

/// Whether a submission from the authenticated box `casella` may use the SMTP reverse-path
/// `mail_from` (with or without angle brackets): only its own address, case-insensitive
/// (PEC-SPEC §9.4: From = MAIL FROM = authenticated mailbox). The submission listener asks
/// this at MAIL FROM and refuses anything else at once (`553 5.7.1`), so a box can neither
/// send as another nor make notices land elsewhere.
pub fn mittente_ammesso(casella: &str, mail_from: &str) -> bool {
    let m = nudo(mail_from);
    !m.is_empty() && m.eq_ignore_ascii_case(nudo(casella))
}

/// Decides on one submission: checks it (PEC-SPEC §2.3, §9.4, §9.6) and builds the receipt,
/// the envelope or the notice, with the log events. See the module docs for the order of the
/// checks.
pub fn punto_accesso(
    invio: &Invio<'_>,
    punto: &PuntoAccesso<'_>,
    data: RiferimentoTemporale,
    ids: &Identificativi<'_>,
) -> Result<Esito, AccessoError> {
    let mail_from = nudo(invio.mail_from);
    let originale = match Originale::parse(invio.raw) {
        Ok(o) => o,
        Err(e) => {
            let motivo = match e {
                OriginaleError::MittenteAssente => Motivo::MittenteAssente, // PEC-SPEC §2.3
                _ => Motivo::Malformato,                                    // PEC-SPEC §2.3
            };
            // PEC-SPEC §4.4: the notice is due anyway; certify what can still be read, with
            // MAIL FROM standing in for the From, else the SMTP envelope alone.
            let dati = match Originale::parse_ricevuto(invio.raw, mail_from) {
                Ok(o) => dati_certificati(&o, invio, punto, ids),
                Err(_) => dati_da_busta_smtp(invio, punto, ids),
            };
            return rifiuta(invio, punto, data, ids, dati, motivo);
        }
    };
    let dati = dati_certificati(&originale, invio, punto, ids);
    match (controlla(invio, &originale, &punto.limiti), invio.virus) {
        (Err(motivo), _) => rifiuta(invio, punto, data, ids, dati, motivo),
        // PEC-SPEC §2.3 step 3, §4.5: formally correct but infected.
        (Ok(()), Some(v)) => rifiuta(invio, punto, data, ids, dati, Motivo::Virus(v.into())),
        (Ok(()), None) => accetta(invio, punto, data, ids, originale, dati),
    }
}

/// The formal checks, in the order of the module docs; the first failure wins.
fn controlla(invio: &Invio<'_>, o: &Originale, limiti: &Limiti) -> Result<(), Motivo> {
    let mail_from = nudo(invio.mail_from);
    if !o.mittente.eq_ignore_ascii_case(mail_from) // PEC-SPEC §2.3: MAIL FROM = From
        || !o.mittente.eq_ignore_ascii_case(nudo(invio.casella))
    // PEC-SPEC §9.4: From = authenticated mailbox
    {
        return Err(Motivo::MittenteDiverso);
    }
    if o.to.is_empty() || invio.rcpt_to.is_empty() {
        return Err(Motivo::DestinatariAssenti); // PEC-SPEC §2.3: To with ≥1 valid address
    }
    for rcpt in invio.rcpt_to {
        let r = nudo(rcpt);
        let in_intestazione = o.to.iter().chain(&o.cc).any(|a| a.eq_ignore_ascii_case(r));
        if !in_intestazione {
            // PEC-SPEC §2.3: every forward-path in To or Cc
            return Err(Motivo::DestinatarioNonInIntestazione(r.to_string()));
        }
    }
    if !o.bcc.is_empty() || o.bcc_presente {
        return Err(Motivo::BccPresente); // PEC-SPEC §2.3, §9.4: Bcc carries no value
    }
    let n = invio.rcpt_to.len();
    if n > limiti.max_destinatari {
        return Err(Motivo::TroppiDestinatari {
            destinatari: n,
            massimo: limiti.max_destinatari,
        }); // PEC-SPEC §9.6
    }
    let dimensione = (invio.raw.len() as u64).saturating_mul(n as u64);
    if dimensione > limiti.max_dimensione {
        return Err(Motivo::TroppoGrande {
            dimensione,
            massimo: limiti.max_dimensione,
        }); // PEC-SPEC §9.6: size × recipients
    }
    Ok(())
}

fn accetta(
    invio: &Invio<'_>,
    punto: &PuntoAccesso<'_>,
    data: RiferimentoTemporale,
    ids: &Identificativi<'_>,
    mut originale: Originale,
    dati: DatiMessaggio,
) -> Result<Esito, AccessoError> {
    let provider = punto.provider;
    // PEC-SPEC §3.2: the envelope says "Per conto di: <MAIL FROM>", like the receipt.
    originale.mittente = dati.mittente.clone();
    let (busta, daticert, postacert) = busta_trasporto_con_parti(
        &Emissione {
            provider,
            data, // PEC-SPEC §9.1: one instant for receipt and envelope
            message_id: ids.identificativo, // PEC-SPEC §3.3
        },
        &originale,
        &dati.destinatari,
    )?;
    let ricevuta = ricevuta_accettazione(
        &Emissione {
            provider,
            data,
            message_id: ids.ricevuta,
        },
        &dati,
    )?; // PEC-SPEC §4.3
    let destinatari = destinatari_smtp(invio.rcpt_to, &originale, punto);
    let eventi = vec![
        evento_invio(invio, data, &dati, provider),
        Evento::di(
            TipoEvento::AccettazioneEmessa,
            data,
            &dati,
            &provider.nome,
            vec![senza_parentesi(ids.ricevuta)],
        ),
        Evento {
            destinatari: destinatari.iter().map(|d| d.indirizzo.clone()).collect(),
            ..Evento::di(
                TipoEvento::BustaEmessa,
                data,
                &dati,
                &provider.nome,
                vec![senza_parentesi(ids.identificativo)],
            )
        },
    ];
    Ok(Esito::Accettato(Accettazione {
        ricevuta,
        busta,
        letta: Box::new(BustaRicevuta::da_parti(daticert, postacert)),
        destinatari,
        mittente: dati.mittente,
        eventi,
    }))
}

fn rifiuta(
    invio: &Invio<'_>,
    punto: &PuntoAccesso<'_>,
    data: RiferimentoTemporale,
    ids: &Identificativi<'_>,
    mut dati: DatiMessaggio,
    motivo: Motivo,
) -> Result<Esito, AccessoError> {
    let provider = punto.provider;
    let casella = nudo(invio.casella);
    if !dati.mittente.eq_ignore_ascii_case(casella) {
        // The notice reaches the authenticated box only, never another address MAIL FROM
        // named (a null one, a neighbour's box, a foreign address): see NonAccettazione.
        dati.mittente = casella.to_string();
        dati.risposte = dati.mittente.clone();
    }
    let descrizione = motivo.descrizione();
    let e = Emissione {
        provider,
        data,
        message_id: ids.ricevuta,
    };
    let avviso = match &motivo {
        Motivo::Virus(v) => avviso_non_accettazione_virus(&e, &dati, v)?, // PEC-SPEC §4.5
        _ => avviso_non_accettazione(&e, &dati, &descrizione)?,           // PEC-SPEC §4.4
    };
    let mut eventi = vec![evento_invio(invio, data, &dati, provider)];
    if let Some(v) = invio.virus {
        eventi.push(Evento::di(
            TipoEvento::VirusRilevato {
                punto: "accesso".into(),
                virus: v.to_string(),
                quarantena: true,
            },
            data,
            &dati,
            &provider.nome,
            Vec::new(),
        ));
    }
    eventi.push(Evento::di(
        TipoEvento::NonAccettazioneEmessa {
            motivo: motivo.codice().to_string(),
            descrizione,
        },
        data,
        &dati,
        &provider.nome,
        vec![senza_parentesi(ids.ricevuta)],
    ));
    Ok(Esito::NonAccettato(NonAccettazione {
        avviso,
        motivo,
        quarantena: invio.virus.is_some(),
        mittente: dati.mittente,
        eventi,
    }))
}

fn evento_invio(
    invio: &Invio<'_>,
    data: RiferimentoTemporale,
    dati: &DatiMessaggio,
    provider: &Provider,
) -> Evento {
    Evento::di(
        TipoEvento::InvioRicevuto {
            casella: nudo(invio.casella).to_string(),
            dimensione: invio.raw.len() as u64,
        },
        data,
        dati,
        &provider.nome,
        Vec::new(),
    )
}

/// What the receipts certify about a readable original: its data, with MAIL FROM as the
/// sender (PEC-SPEC §3.2) and To + Cc as recipients (§5.2), or the SMTP recipients when the
/// headers name none (a daticert needs at least one).
fn dati_certificati(
    originale: &Originale,
    invio: &Invio<'_>,
    punto: &PuntoAccesso<'_>,
    ids: &Identificativi<'_>,
) -> DatiMessaggio {
    let mut dati = DatiMessaggio::da_originale(
        originale,
        ids.identificativo,
        originale.destinatari(punto.classifica), // PEC-SPEC §5.2: To + Cc
    );
    dati.mittente = nudo(invio.mail_from).to_string(); // PEC-SPEC §3.2: the sender is MAIL FROM
    if dati.destinatari.is_empty() {
        dati.destinatari = classifica_smtp(invio.rcpt_to, punto);
    }
    dati
}

/// What is known of a message that could not be read: the SMTP envelope (PEC-SPEC §4.4).
fn dati_da_busta_smtp(
    invio: &Invio<'_>,
    punto: &PuntoAccesso<'_>,
    ids: &Identificativi<'_>,
) -> DatiMessaggio {
    let mittente = nudo(invio.mail_from).to_string();
    DatiMessaggio {
        risposte: mittente.clone(),
        mittente,
        destinatari: classifica_smtp(invio.rcpt_to, punto),
        oggetto: None,
        identificativo: senza_parentesi(ids.identificativo),
        msgid: None,
        tipo_ricevuta: TipoRicevuta::Completa,
    }
}

/// The SMTP recipients as daticert `<destinatari>`, without repeats.
fn classifica_smtp(rcpt_to: &[String], punto: &PuntoAccesso<'_>) -> Vec<Destinatario> {
    let mut out: Vec<Destinatario> = Vec::new();
    for r in rcpt_to.iter().map(|r| nudo(r)) {
        if !out.iter().any(|d| d.indirizzo.eq_ignore_ascii_case(r)) {
            out.push(Destinatario {
                indirizzo: r.to_string(),
                tipo: (punto.classifica)(r),
            });
        }
    }
    out
}

/// The SMTP recipients of an accepted message with class and position (PEC-SPEC §4.7, §9.7).
fn destinatari_smtp(
    rcpt_to: &[String],
    originale: &Originale,
    punto: &PuntoAccesso<'_>,
) -> Vec<DestinatarioInvio> {
    classifica_smtp(rcpt_to, punto)
        .into_iter()
        .map(|d| DestinatarioInvio {
            posizione: Posizione::di(&d.indirizzo, &originale.to, &originale.cc),
            indirizzo: d.indirizzo,
            tipo: d.tipo,
        })
        .collect()
}

/// `a@b` from ` <a@b> `.
fn nudo(indirizzo: &str) -> &str {
    let a = indirizzo.trim();
    a.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(a)
        .trim()
}

fn senza_parentesi(id: &str) -> String {
    nudo(id).to_string()
}

#[cfg(test)]
mod tests;
