//! Viruses at the access and receiving points (PEC-SPEC §2.3, §4.5, §4.10, §4.11, §9.3), with
//! clamd as the scanner (`pec-antivirus`).
//!
//! * **Access point** (`[antivirus] access`): a submission is scanned before it is decided.
//!   Infected and formally correct ⇒ the avviso di non accettazione per virus (§4.5) in the
//!   sender's INBOX; formally wrong ⇒ the formal avviso (§2.3: formal checks come first). In
//!   both cases the message goes to the quarantine and nothing is relayed or delivered.
//! * **Receiving point** (`[antivirus] receiving`): what arrives is scanned before it is
//!   decided. An infected valid busta di trasporto is not delivered; it is quarantined and one
//!   avviso di rilevazione virus per local recipient (§4.10) goes to the sending provider's
//!   `mailReceipt`. The presa in carico is still sent (our reading, UNCONFIRMED: the receiving
//!   provider did take charge of the envelope, and the RFC's rilevazione virus comes from the
//!   provider that took charge of it; the sender side's 12 h / 24 h checks are cancelled by the
//!   rilevazione virus anyway, `pec_core::scadenze`). Anything else that is infected
//!   (ordinary mail, an anomaly, a receipt) is refused with 554 5.7.0 and not stored
//!   (§2.3: "virus in ordinary mail ⇒ may be dropped before entering the PEC system"); the
//!   refusal is logged (`messaggio-rifiutato`).
//! * **Sender side**: a valid rilevazione virus about one of our envelopes also gives our user
//!   the avviso di mancata consegna per virus (§4.11), in the same transaction that files the
//!   rilevazione in the service box and cancels the recipient's checks.
//! * **Scanner down** (unreachable, timeout, size limit, clamd error): the SMTP transaction
//!   gets a 4xx ("virus scanner unavailable") and nothing is stored: never passed unscanned.
//!
//! # The quarantine
//!
//! The folder `Quarantena` of the service box: each infected message stored as it arrived
//! (never altered), keyed by the SHA-256 of its bytes so a retried message is kept once, with
//! `Admission::Force`. It lives in the store, so it survives restarts and backups like every
//! box, and the operator reads it over IMAP with the service box's credentials (PEC-SPEC §9.3:
//! the sender's provider "analyses why its scanner missed it"). The virus name and the
//! message's PEC msgid are in the log events of the same transaction.
//! Kept 30 months (DPR art. 12): nothing in gestore deletes messages of the service box, so
//! the retention is met; purging after 30 months is left to the operator (not automated yet).
//!
//! Log events: pec-core has no event kinds of their own for virus notices yet; the access
//! point logs `non-accettazione-emessa` with `motivo = "virus"`, the receiving point and the
//! sender side `mancata-consegna-emessa` with `errore = "virus"` for each recipient.

use super::relay::Inoltro;
use super::ricezione::Ricevuta;
use super::submit::{log_all, put};
use super::{address, Gestore};
use crate::config::Config;
use anyhow::{Context, Result};
use pec_antivirus::{ClamdAddr, ScanError, Scanner, Verdetto};
use pec_core::accesso::Accettazione;
use pec_core::builder::{
    avviso_mancata_consegna_virus, avviso_non_accettazione_virus, avviso_rilevazione_virus,
};
use pec_core::daticert::{Daticert, Errore};
use pec_core::registro::{Evento, TipoEvento};
use pec_core::{DatiMessaggio, Emissione, Originale, RiferimentoTemporale};
use pec_store::{Batch, Operation, Store};

/// The service box's folder of infected messages.
pub const QUARANTENA: &str = "Quarantena";

/// The reply text of a 4xx when the scanner gives no verdict.
pub const SCANNER_DOWN: &str = "virus scanner unavailable, try again later";

/// Which scanning point asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Punto {
    /// The access point (our users' submissions).
    Accesso,
    /// The receiving point (what other providers and the Internet send us).
    Ricezione,
}

/// The scanner `[antivirus]` configures: `clamd` is a Unix socket path when it starts with
/// `/`, else `host:port`.
pub fn scanner(config: &Config) -> Option<Scanner> {
    let av = config.antivirus.as_ref()?;
    let addr = if av.clamd.starts_with('/') {
        ClamdAddr::Unix(av.clamd.clone().into())
    } else {
        ClamdAddr::Tcp(av.clamd.clone())
    };
    Some(Scanner::new(addr).with_timeout(av.timeout))
}

/// True when `e` (anywhere in its chain) is the scanner giving no verdict.
pub fn scanner_down(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<ScanError>().is_some())
}

impl Gestore {
    /// Scans `bytes` if `punto` scans: `Some(virus name)` when infected, `None` when clean or
    /// not scanned there. A scanner that gives no verdict is an error (never "clean").
    pub(super) async fn scansiona(&self, bytes: &[u8], punto: Punto) -> Result<Option<String>> {
        let (Some(scanner), Some(av)) = (&self.scanner, &self.config.antivirus) else {
            return Ok(None);
        };
        let on = match punto {
            Punto::Accesso => av.access,
            Punto::Ricezione => av.receiving,
        };
        if !on {
            return Ok(None);
        }
        match scanner.scan(bytes).await {
            Ok(Verdetto::Pulito) => Ok(None),
            Ok(Verdetto::Infetto { nome }) => Ok(Some(nome)),
            Err(e) => {
                super::submit::tracing_line(&format!("antivirus: {e}"));
                Err(anyhow::Error::from(e))
            }
        }
    }

    /// The quarantine copy of an infected message (see the module docs).
    pub(super) fn quarantena(
        &self,
        bytes: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Operation> {
        use sha2::Digest;
        let service = address(&self.config.service_address)?;
        let hash: String = sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(put(
            &service,
            QUARANTENA,
            format!("quarantena:{hash}"),
            bytes.to_vec(),
            now,
        ))
    }

    /// Access point, formally correct but infected: the avviso di non accettazione per virus
    /// (PEC-SPEC §4.5) in place of the acceptance, quarantined, and logged; committed.
    pub(super) async fn non_accettazione_virus(
        &self,
        raw: &[u8],
        a: &Accettazione,
        identificativo: &str,
        ricevuta_id: &str,
        virus: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let data = RiferimentoTemporale::from_utc(now);
        let originale = Originale::parse(raw).context("an accepted original")?;
        let classifica = |x: &str| self.classifica(x);
        let mut dati = DatiMessaggio::da_originale(
            &originale,
            identificativo,
            originale.destinatari(classifica),
        );
        dati.mittente = a.mittente.clone(); // PEC-SPEC §3.2: the sender is MAIL FROM
        let emissione = Emissione {
            provider: &self.provider,
            data,
            message_id: ricevuta_id,
        };
        let avviso = avviso_non_accettazione_virus(&emissione, &dati, virus)
            .context("avviso di non accettazione per virus")?;
        let avviso = self
            .sign_all(vec![avviso])
            .await?
            .pop()
            .context("signing returned nothing")?;
        let mut eventi: Vec<Evento> = a
            .eventi
            .iter()
            .filter(|e| matches!(e.evento, TipoEvento::InvioRicevuto { .. }))
            .cloned()
            .collect();
        eventi.push(Evento::di(
            TipoEvento::NonAccettazioneEmessa {
                motivo: "virus".into(),
                descrizione: format!("virus rilevato: {virus}"),
            },
            data,
            &dati,
            &self.provider.nome,
            vec![ricevuta_id.trim_matches(['<', '>']).to_string()],
        ));
        let mut batch = Batch::new();
        let sender = address(&a.mittente)?;
        batch.push(put(
            &sender,
            "INBOX",
            format!("box:{sender}:{identificativo}:non-accettazione-virus"),
            avviso,
            now,
        ));
        batch.push(self.quarantena(raw, now)?);
        log_all(&mut batch, &eventi, &a.mittente);
        self.store.commit(batch).await.context("commit")?;
        self.announce(&eventi);
        Ok(())
    }

    /// Receiving point, a valid envelope that is infected (PEC-SPEC §2.3, §4.10): the presa
    /// in carico, the quarantine copy and one avviso di rilevazione virus per local recipient
    /// on its way to the sending provider's `mailReceipt`, in one transaction; no delivery.
    pub(super) async fn busta_infetta(
        &self,
        b: &Ricevuta<'_>,
        virus: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let data = RiferimentoTemporale::from_utc(now);
        let daticert = &b.busta.daticert;
        let dati = DatiMessaggio::da_daticert(daticert);
        let (id, sender) = (dati.identificativo.as_str(), dati.mittente.as_str());
        let mut avvisi = Vec::new();
        let mut ids = Vec::new();
        for r in b.destinatari {
            let id = self.ids.next(now);
            let emissione = Emissione {
                provider: &self.provider,
                data,
                message_id: &id,
            };
            avvisi.push(
                avviso_rilevazione_virus(&emissione, &dati, r, virus, b.mail_receipt)
                    .context("avviso di rilevazione virus")?,
            );
            ids.push(id);
        }
        let signed = self.sign_all(avvisi).await?;
        let mut batch = self.presa(b, id, sender, now)?;
        batch.push(self.quarantena(b.raw, now)?);
        let mut eventi = Vec::new();
        for ((r, bytes), avviso_id) in b.destinatari.iter().zip(&signed).zip(&ids) {
            let what = format!("virus:{r}");
            if self.config.is_local(b.mail_receipt) {
                let service = address(b.mail_receipt)?;
                batch.push(put(
                    &service,
                    "INBOX",
                    format!("box:{service}:{id}:{what}"),
                    bytes.clone(),
                    now,
                ));
            } else {
                let inoltro = Inoltro {
                    recipient: b.mail_receipt.to_ascii_lowercase(),
                    mail_from: self.config.service_address.clone(),
                    identificativo: id.to_string(),
                    busta: false,
                    accepted_ms: now.timestamp_millis(),
                    modello: None,
                };
                batch.push(inoltro.item(bytes, now, Some(&what))?);
            }
            eventi.push(Evento::di(
                TipoEvento::MancataConsegnaEmessa {
                    errore: Errore::Virus,
                    errore_esteso: virus.to_string(),
                    destinatario: r.clone(),
                },
                data,
                &dati,
                &daticert.dati.gestore_emittente,
                vec![avviso_id.trim_matches(['<', '>']).to_string()],
            ));
        }
        log_all(&mut batch, &eventi, sender);
        self.store.commit(batch).await.context("commit")?;
        self.announce(b.eventi);
        self.announce(&eventi);
        self.work.notify_one();
        Ok(())
    }

    /// Sender side: a valid rilevazione virus about one of our envelopes (already known to be
    /// ours) also gives the original sender the avviso di mancata consegna per virus
    /// (PEC-SPEC §4.11), added to `batch`; returns its log events.
    pub(super) async fn mancata_consegna_virus(
        &self,
        batch: &mut Batch,
        raw: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Evento>> {
        let daticert: Daticert = pec_core::inspect::inspect(raw)
            .context("the rilevazione virus")?
            .daticert
            .context("a rilevazione virus without daticert")?
            .map_err(|e| anyhow::anyhow!("the rilevazione virus's daticert: {e}"))?;
        let dati = DatiMessaggio::da_daticert(&daticert);
        let destinatario = daticert.dati.consegna.clone().unwrap_or_default();
        let virus = daticert
            .dati
            .errore_esteso
            .clone()
            .unwrap_or_else(|| "virus".into());
        if !self.config.is_local(&dati.mittente) {
            super::submit::tracing_line(&format!(
                "rilevazione virus about {}: sender {} is not ours, no notice",
                dati.identificativo, dati.mittente
            ));
            return Ok(Vec::new());
        }
        let data = RiferimentoTemporale::from_utc(now);
        let id = self.ids.next(now);
        let emissione = Emissione {
            provider: &self.provider,
            data,
            message_id: &id,
        };
        let avviso = avviso_mancata_consegna_virus(&emissione, &dati, &destinatario, &virus)
            .context("avviso di mancata consegna per virus")?;
        let avviso = self
            .sign_all(vec![avviso])
            .await?
            .pop()
            .context("signing returned nothing")?;
        let sender = address(&dati.mittente)?;
        batch.push(put(
            &sender,
            "INBOX",
            format!(
                "box:{sender}:{}:mancata-consegna-virus:{}",
                dati.identificativo,
                destinatario.to_ascii_lowercase()
            ),
            avviso,
            now,
        ));
        let eventi = vec![Evento::di(
            TipoEvento::MancataConsegnaEmessa {
                errore: Errore::Virus,
                errore_esteso: virus,
                destinatario,
            },
            data,
            &dati,
            &self.provider.nome,
            vec![id.trim_matches(['<', '>']).to_string()],
        )];
        log_all(batch, &eventi, &dati.mittente);
        Ok(eventi)
    }
}
