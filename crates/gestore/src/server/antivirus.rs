//! Viruses at the access and receiving points: clamd as the scanner (`pec-antivirus`), the
//! quarantine, and the storing of what pec-core decided (the rules and their table are in
//! `pec_core::virus`; PEC-SPEC §2.3, §4.5, §4.10, §4.11, §9.3).
//!
//! * **Scanning** (`[antivirus] access`, `receiving`): a message is scanned before anything is
//!   decided or stored, and the verdict passed to the point as plain data. A scanner that
//!   gives no verdict (unreachable, timeout, size limit, clamd error) is an error: the SMTP
//!   transaction gets a 4xx ("virus scanner unavailable") and nothing is stored — never
//!   passed unscanned.
//! * **Access point**: pec-core answers with the avviso di non accettazione per virus (or the
//!   formal notice), `quarantena` set; see `submit.rs`.
//! * **Receiving point**: an infected valid envelope ([`EsitoRicezione::Infetta`]) is stored
//!   here: presa in carico and the avvisi di rilevazione virus to the sending provider's
//!   `mailReceipt`, the quarantine copy, the log, in one transaction; no delivery. Anything
//!   else infected is refused 554 (`ricezione.rs`).
//! * **Sender side**: a valid rilevazione virus about one of our envelopes also gives our user
//!   the avviso di mancata consegna per virus (`pec_core::virus::mancata_consegna`), in the
//!   same transaction that files the rilevazione and cancels the recipient's checks.
//!
//! The quarantine itself (where infected messages are kept, for how long, who may change it)
//! is `quarantena.rs`.

use super::ricezione::Ricevuta;
use super::submit::{log_all, put, tracing_line};
use super::{address, Gestore};
use crate::config::Config;
use anyhow::{Context, Result};
use pec_antivirus::{ClamdAddr, ScanError, Scanner, Verdetto};
use pec_core::daticert::Daticert;
use pec_core::registro::Evento;
use pec_core::ricezione::EsitoRicezione;
use pec_core::{virus, RiferimentoTemporale};
use pec_store::Batch;

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
                tracing_line(&format!("antivirus: {e}"));
                Err(anyhow::Error::from(e))
            }
        }
    }

    /// Receiving point, a valid envelope that is infected (`EsitoRicezione::Infetta`): the
    /// presa in carico and the avvisi di rilevazione virus on their way to the sending
    /// provider's `mailReceipt`, the quarantine copy and the log, in one transaction; no
    /// delivery.
    pub(super) async fn busta_infetta(
        &self,
        esito: EsitoRicezione,
        raw: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let EsitoRicezione::Infetta {
            presa_in_carico,
            mail_receipt,
            rilevazioni,
            busta,
            destinatari,
            virus,
            eventi,
            ..
        } = esito
        else {
            anyhow::bail!("not an infected envelope");
        };
        let mut messages = vec![presa_in_carico];
        messages.extend(rilevazioni);
        let mut signed = self.sign_all(messages).await?.into_iter();
        let presa = signed.next().context("signing returned nothing")?;
        let id = busta.daticert.dati.identificativo.clone();
        let sender = busta.daticert.intestazione.mittente.clone();
        let b = Ricevuta {
            busta: &busta,
            raw,
            presa: &presa,
            mail_receipt: &mail_receipt,
            destinatari: &destinatari,
            eventi: &eventi,
        };
        let mut batch = self.presa(&b, &id, &sender, now)?;
        batch.push(self.quarantena(raw, now)?);
        for (r, bytes) in destinatari.iter().zip(signed) {
            batch.push(self.verso_gestore(
                &mail_receipt,
                &id,
                &format!("virus:{r}"),
                &bytes,
                now,
            )?);
        }
        tracing_line(&format!(
            "inbound envelope {id}: virus {virus}, quarantined"
        ));
        self.commit_announcing(batch, &[&eventi]).await?;
        self.work.notify_one();
        Ok(())
    }

    /// Sender side: a valid rilevazione virus about one of our envelopes (already known to be
    /// ours) also gives the original sender the avviso di mancata consegna per virus
    /// (PEC-SPEC §4.11), added to `batch`; returns its log events.
    pub(super) async fn mancata_consegna_virus(
        &self,
        batch: &mut Batch,
        rilevazione: &Daticert,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Evento>> {
        let mittente = &rilevazione.intestazione.mittente;
        if !self.config.is_local(mittente) {
            tracing_line(&format!(
                "rilevazione virus about {}: sender {mittente} is not ours, no notice",
                rilevazione.dati.identificativo
            ));
            return Ok(Vec::new());
        }
        let data = RiferimentoTemporale::from_utc(now);
        let id = self.ids.next(now);
        let m = virus::mancata_consegna(rilevazione, &self.provider, data, &id)
            .context("avviso di mancata consegna per virus")?;
        let avviso = self.sign_one(m.avviso).await?;
        let sender = address(&m.mittente)?;
        batch.push(put(
            &sender,
            "INBOX",
            format!(
                "box:{sender}:{}:mancata-consegna-virus:{}",
                rilevazione.dati.identificativo,
                m.destinatario.to_ascii_lowercase()
            ),
            avviso,
            now,
        ));
        log_all(batch, &m.eventi, &m.mittente);
        Ok(m.eventi)
    }
}
