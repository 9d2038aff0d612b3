//! How the receiving point commits what pec-core decided: envelopes with their presa in
//! carico and deliveries, receipts about our envelopes, anomalies, and what the recipients a
//! message does not certify get. Each arrival is committed once (its key), so a replay
//! stores, logs and sends nothing twice.

use super::PuntoRicezione;
use crate::comune::{deposita, indirizzo, registra};
use crate::consegna::{Envelope, PuntoConsegna};
use crate::errore::{Contesto as _, Risultato as Result};
use crate::inoltro;
use chrono::{DateTime, Utc};
use pec_core::builder::Scadenza;
use pec_core::chiave::{self, Arrivo, Chiave, Cosa};
use pec_core::consegna::{BustaRicevuta, StatoCasella};
use pec_core::lavoro::{Recapito, Spedizione};
use pec_core::registro::Evento;
use pec_core::ricezione::Estranei;
use pec_core::scadenze;
use pec_store::{Batch, Operation, Store};
use std::sync::Arc;

/// A valid envelope as the receiving point handles it.
pub(super) struct Ricevuta<'a> {
    pub(super) busta: &'a BustaRicevuta,
    pub(super) presa: &'a [u8],
    pub(super) mail_receipt: &'a str,
    pub(super) destinatari: &'a [String],
    pub(super) eventi: &'a [Evento],
}

/// A receipt about one of our envelopes, placed by pec-core, as [`PuntoRicezione::ricevuta`]
/// stores it.
pub(super) struct RicevutaNostra<'a> {
    pub(super) kind: pec_core::MessageKind,
    pub(super) identificativo: &'a str,
    /// The receipt's identity besides our envelope: its kind and whom it is about.
    pub(super) cosa: &'a Cosa,
    pub(super) casella: &'a str,
    /// The receipt with its outer headers rebuilt from the signed data.
    pub(super) bytes: Vec<u8>,
    pub(super) eventi: &'a [Evento],
}

impl PuntoRicezione {
    /// Stores a signed busta di anomalia in each existing box it names (keyed by `tag`, what
    /// it wraps) and logs `eventi`, in one batch committed once under `once`: a replay
    /// stores and logs nothing again.
    pub(super) async fn commit_anomalia(
        &self,
        once: Chiave,
        tag: &str,
        anomalia: Option<(&[u8], &[String])>,
        eventi: &[Evento],
        sender: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut batch = Batch::once(once);
        if let Some((signed, destinatari)) = anomalia {
            for r in self.existing(destinatari).await? {
                let chiave = Chiave::Anomalia {
                    casella: r.to_string(),
                    tag: tag.to_string(),
                };
                batch.push(deposita(&r, "INBOX", chiave, signed.to_vec(), now));
            }
        }
        registra(&mut batch, eventi, sender);
        self.registro.commit(batch, &[eventi]).await?;
        Ok(())
    }

    /// A receipt about one of our envelopes: stored in its one box (our user, or our service
    /// box for presa in carico and rilevazione virus), with the checks it answers cancelled
    /// in the same transaction (already in `batch`). Keyed by what it certifies (our
    /// envelope, its kind, the recipients it is about), never by its bytes: a copy under a
    /// new outer Message-ID is a duplicate and stores nothing.
    pub(super) async fn ricevuta(
        &self,
        mut batch: Batch,
        r: RicevutaNostra<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        // A box deleted since it sent the envelope: the checks are still cancelled and the
        // receipt logged, or the sending provider would be told 451 for days.
        if let Some(casella) = self
            .existing(std::slice::from_ref(&r.casella.to_string()))
            .await?
            .pop()
        {
            let chiave = Chiave::Casella {
                casella: casella.to_string(),
                identificativo: r.identificativo.to_string(),
                cosa: r.cosa.clone(),
            };
            batch.push(deposita(&casella, "INBOX", chiave, r.bytes, now));
        }
        let sender = r
            .eventi
            .first()
            .map(|e| e.mittente.clone())
            .unwrap_or_default();
        registra(&mut batch, r.eventi, &sender);
        let receipt = self.store.commit(batch).await.ctx("commit")?;
        if receipt.replayed {
            tracing::info!(
                "inbound {} about {}: a copy of one already stored, not stored again",
                r.kind.name(),
                r.identificativo
            );
            return Ok(false);
        }
        self.registro.annuncia(r.eventi);
        if scadenze::annullate(r.kind).contains(&Scadenza::Ore24) {
            self.contatori.chiuso_remoto();
        }
        Ok(true)
    }

    /// What the local RCPT TO that a valid message does not certify get (pec-core's
    /// [`Estranei`]), once per arrival and set of such recipients: a replay to the same boxes
    /// stores and logs nothing again.
    pub(super) async fn commit_estranei(
        &self,
        e: Option<Estranei>,
        arrivo: Arrivo,
        sender: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(e) = e else { return Ok(()) };
        let tag = chiave::tag(arrivo.to_string().as_bytes());
        let once = Chiave::Estranei {
            arrivo,
            destinatari: chiave::digest(e.destinatari()),
        };
        match e {
            Estranei::Anomalia {
                busta,
                motivo,
                destinatari,
                eventi,
            } => {
                tracing::info!(
                    "inbound: {} not certified by the message, busta di anomalia: {motivo}",
                    destinatari.join(", ")
                );
                let signed = self.firma.uno(busta).await?;
                let anomalia = Some((signed.as_slice(), destinatari.as_slice()));
                self.commit_anomalia(once, &tag, anomalia, &eventi, sender, now)
                    .await
            }
            Estranei::Rifiutati {
                destinatari,
                eventi,
                ..
            } => {
                tracing::warn!(
                    "inbound: {} not certified by the message, refused",
                    destinatari.join(", ")
                );
                self.commit_anomalia(once, &tag, None, &eventi, sender, now)
                    .await
            }
        }
    }

    /// A valid envelope: presa in carico to the sending provider and delivery to our boxes,
    /// in one transaction; if a box refuses (unknown, disabled, full), committed again with
    /// the deliveries queued so the worker answers each with its own notice.
    /// `raw` is the envelope as delivered (outer headers rebuilt from the signed data), one
    /// allocation for every box.
    pub(super) async fn busta(
        &self,
        b: &Ricevuta<'_>,
        raw: &Arc<[u8]>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let d = &b.busta.daticert;
        let identificativo = d.dati.identificativo.trim();
        let identificativo = identificativo
            .strip_prefix('<')
            .and_then(|i| i.strip_suffix('>'))
            .unwrap_or(identificativo);
        let sender = d.intestazione.mittente.clone();
        let locals: Vec<(String, StatoCasella)> = b
            .destinatari
            .iter()
            .map(|r| (r.clone(), StatoCasella::Attiva))
            .collect();
        let mut batch = self.presa(b, identificativo, &sender, now)?;
        let env = Envelope {
            letta: b.busta,
            bytes: raw,
            sender: &sender,
            id: identificativo,
        };
        let consegne = self
            .consegna
            .consegna(&mut batch, &env, &locals, now)
            .await?;
        if let Some(fresh) = self.consegna.commit_presunto(batch, &locals).await? {
            if fresh {
                self.registro.annuncia(b.eventi);
                self.registro.annuncia(&consegne);
                self.contatori.consegnati(locals.len());
            }
            self.lavoro.notify_one();
            return Ok(());
        }
        let mut batch = self.presa(b, identificativo, &sender, now)?;
        for (r, _) in &locals {
            let recapito = Recapito {
                destinatario: r.clone(),
                mittente: sender.clone(),
                identificativo: identificativo.to_string(),
            };
            batch.push(PuntoConsegna::accoda(&recapito, raw, now)?);
        }
        self.registro.commit(batch, &[b.eventi]).await?;
        self.lavoro.notify_one();
        Ok(())
    }

    /// The receiving point's own part of an envelope's transaction: the presa in carico on
    /// its way to the sending provider's service box, and the log events.
    pub(super) fn presa(
        &self,
        b: &Ricevuta<'_>,
        identificativo: &str,
        sender: &str,
        now: DateTime<Utc>,
    ) -> Result<Batch> {
        // Once per envelope and set of recipients: a replay logs nothing again (its stores
        // and queue items are keyed too).
        let cosa = Cosa::Presa(chiave::digest(b.destinatari));
        let mut batch = Batch::once(Chiave::Presa {
            identificativo: identificativo.to_string(),
            cosa: cosa.clone(),
        });
        batch.push(self.verso_gestore(b.mail_receipt, identificativo, cosa, b.presa, now)?);
        registra(&mut batch, b.eventi, sender);
        Ok(batch)
    }

    /// A receipt of ours about `identificativo` on its way to another provider's
    /// `mailReceipt` (presa in carico, rilevazione virus): our own service box directly when
    /// the address is ours, else a relay queue item. `cosa` keeps repeats apart.
    pub(super) fn verso_gestore(
        &self,
        mail_receipt: &str,
        identificativo: &str,
        cosa: Cosa,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Operation> {
        if self.domini.locale(mail_receipt) {
            let service = indirizzo(mail_receipt)?;
            let chiave = Chiave::Casella {
                casella: service.to_string(),
                identificativo: identificativo.to_string(),
                cosa,
            };
            return Ok(deposita(&service, "INBOX", chiave, bytes.to_vec(), now));
        }
        let spedizione = Spedizione {
            destinatario: mail_receipt.to_ascii_lowercase(),
            mail_from: self.domini.servizio().to_string(),
            identificativo: identificativo.to_string(),
            busta: false,
            accepted_ms: now.timestamp_millis(),
            modello: None,
        };
        inoltro::accoda(&spedizione, bytes, now, Some(cosa))
    }

    /// The boxes among `addresses` that exist and are enabled; the others are logged and
    /// skipped (no PEC notice is due for what is not a transport envelope, PEC-SPEC §2.3).
    async fn existing(&self, addresses: &[String]) -> Result<Vec<pec_store::Address>> {
        let mut out = Vec::new();
        for a in addresses {
            let addr = indirizzo(a)?;
            match self.store.mailbox(&addr).await? {
                Some(m) if m.enabled => out.push(addr),
                _ => tracing::warn!("inbound: no active box {a}, not delivered"),
            }
        }
        Ok(out)
    }
}
