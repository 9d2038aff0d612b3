//! The receiving point behind the inbound SMTP listener (PEC-SPEC §2.3 "Incoming point"):
//! other providers' envelopes and receipts, and ordinary Internet mail, for our domains.
//!
//! For each message: the signature is checked (`pec-smime`) and the signer looked up in the
//! providers' index (`index.rs`); `pec_core::ricezione` decides; this module signs and commits
//! what it decided in one transaction before SMTP answers 250:
//! * a valid busta di trasporto: the presa in carico, queued for the sending provider's
//!   `mailReceipt`, and the delivery to each local recipient with its delivery receipt or
//!   notice (queued back to the sender's provider), as the access point does for its own;
//! * a valid receipt about one of our envelopes: delivered unchanged to our user (or our
//!   service box), and the 12 h / 24 h checks it answers cancelled (PEC-SPEC §4.9); a receipt
//!   about a message we never sent becomes an anomaly;
//! * anything else: a busta di anomalia for each local box, or a 5xx (`[receiving]
//!   ordinary_mail = "refuse"`);
//! * with `[antivirus] receiving`, everything is scanned first: an infected valid envelope
//!   gets the presa in carico and an avviso di rilevazione virus per local recipient instead
//!   of delivery, anything else infected a 554, and a rilevazione virus about one of our
//!   envelopes also gives our user the avviso di mancata consegna per virus (`antivirus.rs`).
//!
//! Every outcome is keyed by the message it is about, so a replayed envelope stores and sends
//! nothing twice.

use super::antivirus::{scanner_down, Punto, SCANNER_DOWN};
use super::delivery::Envelope;
use super::relay::{digest_of, scadenza_key, tag_of, Controllo, Inoltro};
use super::submit::{log_all, put, tracing_line, Delivery, DELIVER};
use super::{address, Gestore};
use crate::config::OrdinaryMail;
use anyhow::{Context, Result};
use pec_core::builder::Scadenza;
use pec_core::consegna::StatoCasella;
use pec_core::registro::Evento;
use pec_core::ricezione::{
    self, Arrivo, Contesto, EsitoRicezione, Estranei, Firma, GestoreMittente, IdRicezione,
    Politica, Rifiuto,
};
use pec_core::{scadenze, RiferimentoTemporale};
use pec_smtp::{Backend, Submission, SubmitError};
use pec_store::{Batch, NewQueueItem, Operation, Store};
use std::sync::Arc;

/// The inbound listener's backend.
pub struct Ricezione(pub Arc<Gestore>);

impl Backend for Ricezione {
    async fn check_rcpt(&self, _authenticated: &str, rcpt: &str) -> Result<(), SubmitError> {
        if self.0.config.is_local(rcpt) {
            Ok(())
        } else {
            Err(SubmitError::Permanent(
                550,
                "5.7.1".into(),
                "relay not permitted: not a domain of this provider".into(),
            ))
        }
    }

    async fn submit(&self, s: Submission) -> Result<(), SubmitError> {
        match self.0.ricevi(s).await {
            Ok(None) => Ok(()),
            Ok(Some(refusal)) => Err(refusal),
            Err(e) if scanner_down(&e) => Err(SubmitError::Temporary(SCANNER_DOWN.into())),
            Err(e) => {
                tracing_line(&format!("inbound message not stored: {e:#}"));
                Err(SubmitError::Temporary(
                    "message not stored, try again later".into(),
                ))
            }
        }
    }
}

impl Gestore {
    /// What the signature of `raw` says, against the index in force (PEC-SPEC §2.3, §7.3),
    /// and the entity it covers (empty unless the signature is valid): pec-core reads the
    /// certified data from there only. Blocking: openssl.
    pub fn firma(&self, raw: &[u8], now: chrono::DateTime<chrono::Utc>) -> (Firma, Vec<u8>) {
        let verifier = self.directory.verifier();
        let indice = self.directory.indice();
        let v = match verifier.verify(raw, now) {
            Ok(v) => v,
            Err(pec_smime::VerifyError::Unsigned) => return (Firma::Assente, Vec::new()),
            Err(e) => return (Firma::Illeggibile(e.to_string()), Vec::new()),
        };
        let firma = 'firma: {
            if !v.intact {
                break 'firma Firma::Alterata(
                    v.integrity_error
                        .clone()
                        .unwrap_or_else(|| "la firma non corrisponde al contenuto".into()),
                );
            }
            let Some(signer) = &v.signer else {
                break 'firma Firma::Illeggibile(
                    "la firma non contiene il certificato del firmatario".into(),
                );
            };
            let Some(g) = indice.per_hash(&signer.sha1_fingerprint) else {
                break 'firma Firma::Sconosciuta {
                    hash: signer.sha1_fingerprint.to_ascii_lowercase(),
                };
            };
            let nome = g.nome().to_string();
            let Some(g) = indice.per_certificato(&signer.der) else {
                break 'firma Firma::NonValida {
                    gestore: nome,
                    motivo: "non è il certificato registrato nell'indice dei gestori".into(),
                };
            };
            if !v.valid_now {
                break 'firma Firma::NonValida {
                    gestore: nome,
                    motivo: "certificato scaduto o non ancora valido".into(),
                };
            }
            if !v.chain_valid {
                break 'firma Firma::NonValida {
                    gestore: nome,
                    motivo: format!(
                        "catena di certificazione non valida: {}",
                        v.chain_error.clone().unwrap_or_default()
                    ),
                };
            }
            Firma::Valida(GestoreMittente {
                nome,
                mail_receipt: g.mail_receipt().to_string(),
                domini: g.domini().to_vec(),
                indirizzi: signer.emails.clone(),
            })
        };
        match firma {
            Firma::Valida(_) => (firma, v.content),
            _ => (firma, Vec::new()),
        }
    }

    /// Receives one message; `Some(reply)` when it is refused.
    async fn ricevi(self: &Arc<Self>, s: Submission) -> Result<Option<SubmitError>> {
        let now = self.clock.now();
        let data = RiferimentoTemporale::from_utc(now);
        // Scanned first: a scanner that gives no verdict stores nothing (4xx).
        let virus = self.scansiona(&s.data, Punto::Ricezione).await?;
        let raw = Arc::new(s.data);
        let (firma, firmato) = {
            let (g, raw) = (self.clone(), raw.clone());
            tokio::task::spawn_blocking(move || g.firma(&raw, now))
                .await
                .context("signature check")?
        };
        if let Some(problema) = firma.problema() {
            tracing_line(&format!(
                "inbound from {} ({}): {problema}",
                s.mail_from, s.peer
            ));
        }
        let destinatari: Vec<String> = s.rcpt_to.iter().map(|r| r.to_ascii_lowercase()).collect();
        let arrivo = Arrivo {
            raw: &raw,
            firmato: &firmato,
            mail_from: &s.mail_from,
            destinatari: &destinatari,
            firma,
            virus: virus.as_deref(),
        };
        let (presa_id, anomalia_id) = (self.ids.next(now), self.ids.next(now));
        // One avviso di rilevazione virus per local recipient, drawn only when infected.
        let rilevazioni: Vec<String> = match virus {
            Some(_) => destinatari.iter().map(|_| self.ids.next(now)).collect(),
            None => Vec::new(),
        };
        let ids = IdRicezione {
            presa_in_carico: &presa_id,
            anomalia: &anomalia_id,
            rilevazioni: &rilevazioni,
        };
        let politica = match self.config.ordinary_mail {
            OrdinaryMail::Anomaly => Politica::Anomalia,
            OrdinaryMail::Refuse => Politica::Rifiuta,
        };
        let contesto = Contesto {
            provider: &self.provider,
            data,
            ids: &ids,
            politica,
        };
        let esito = ricezione::punto_ricezione(&arrivo, &contesto).context("receiving point")?;
        let esito = match esito {
            EsitoRicezione::RicevutaDaSmistare(r) => {
                // Is it about an envelope of ours, and whose? Our 24 h check of each
                // certified recipient we sent it to keeps the sender.
                let mut mittente = None;
                for dest in &r.riguarda {
                    if let Some(m) = self.mittente_di(&r.identificativo, dest).await? {
                        mittente = Some(m);
                        break;
                    }
                }
                if mittente.is_none() {
                    tracing_line(&format!(
                        "inbound {} about {}: not a message we sent, anomaly",
                        r.kind.name(),
                        r.identificativo
                    ));
                }
                ricezione::smista_ricevuta(&arrivo, *r, mittente.as_deref(), &contesto)
                    .context("receiving point")?
            }
            other => other,
        };
        match esito {
            EsitoRicezione::Busta {
                presa_in_carico,
                mail_receipt,
                busta,
                consegnata,
                destinatari,
                eventi,
                estranei,
                ..
            } => {
                let presa = self.sign_one(presa_in_carico).await?;
                let b = Ricevuta {
                    busta: &busta,
                    raw: &consegnata,
                    presa: &presa,
                    mail_receipt: &mail_receipt,
                    destinatari: &destinatari,
                    eventi: &eventi,
                };
                self.busta(&b, now).await?;
                let chiave = format!("busta:{}", b.busta.daticert.dati.identificativo.trim());
                self.commit_estranei(estranei, &chiave, arrivo.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Ricevuta {
                kind,
                identificativo,
                daticert,
                riguarda,
                casella,
                consegnata,
                eventi,
                estranei,
            } => {
                let what = format!("{}:{}", kind.name(), digest_of(&riguarda));
                // Once per receipt: a copy (new outer Message-ID, other bytes) logs nothing.
                let mut batch = Batch::once(format!("ricevuta:{casella}:{identificativo}:{what}"));
                for r in &riguarda {
                    self.annulla(&mut batch, &identificativo, r, scadenze::annullate(kind))
                        .await?;
                }
                let avvisi = if kind == pec_core::MessageKind::RilevazioneVirus {
                    self.mancata_consegna_virus(&mut batch, &daticert, now)
                        .await?
                } else {
                    Vec::new()
                };
                let r = RicevutaNostra {
                    kind,
                    identificativo: &identificativo,
                    what: &what,
                    casella: &casella,
                    bytes: consegnata,
                    eventi: &eventi,
                };
                if self.ricevuta(batch, r, now).await? {
                    self.announce(&avvisi);
                }
                let chiave = format!("ricevuta:{identificativo}:{what}");
                self.commit_estranei(estranei, &chiave, arrivo.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Infetta {
                presa_in_carico,
                mail_receipt,
                rilevazioni,
                busta,
                destinatari,
                virus,
                eventi,
                estranei,
            } => {
                let chiave = format!("infetta:{}", busta.daticert.dati.identificativo.trim());
                let infetta = EsitoRicezione::Infetta {
                    presa_in_carico,
                    mail_receipt,
                    rilevazioni,
                    busta,
                    destinatari,
                    virus,
                    eventi,
                    estranei: None,
                };
                self.busta_infetta(infetta, &raw, now).await?;
                self.commit_estranei(estranei, &chiave, arrivo.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Anomalia {
                busta,
                motivo,
                destinatari,
                eventi,
            } => {
                tracing_line(&format!(
                    "inbound from {} ({}): busta di anomalia: {motivo}",
                    s.mail_from, s.peer
                ));
                // The same bytes to the same boxes again are the same arrival: stored and
                // logged once.
                let tag = tag_of(&raw);
                let chiave = format!("anomalia:{tag}:{}", digest_of(&destinatari));
                let signed = self.sign_one(busta).await?;
                let anomalia = Some((signed.as_slice(), destinatari.as_slice()));
                self.commit_anomalia(chiave, &tag, anomalia, &eventi, &s.mail_from, now)
                    .await?;
                Ok(None)
            }
            EsitoRicezione::Rifiutata {
                perche,
                motivo,
                eventi,
            } => {
                tracing_line(&format!(
                    "inbound from {} ({}): {motivo}, refused",
                    s.mail_from, s.peer
                ));
                let mut batch = Batch::new();
                log_all(&mut batch, &eventi, &s.mail_from);
                self.store.commit(batch).await.context("commit")?;
                self.announce(&eventi);
                // PEC-SPEC §2.3: ordinary mail refused by policy; anything infected but a
                // valid envelope dropped before it enters the PEC system.
                let (code, enhanced) = match perche {
                    Rifiuto::Politica => (550, "5.7.1"),
                    Rifiuto::Virus(_) => (554, "5.7.0"),
                };
                Ok(Some(SubmitError::Permanent(code, enhanced.into(), motivo)))
            }
            EsitoRicezione::RicevutaDaSmistare(_) => anyhow::bail!("receipt placed above"),
        }
    }

    /// The sender of our envelope `identificativo` to `recipient`, from its 24 h check (kept
    /// whatever its state); `None` when we never sent it there.
    async fn mittente_di(&self, identificativo: &str, recipient: &str) -> Result<Option<String>> {
        let key = scadenza_key(
            Scadenza::Ore24,
            identificativo,
            &recipient.to_ascii_lowercase(),
        );
        let Some(item) = self.store.queue_item(&key).await? else {
            return Ok(None);
        };
        Ok(Some(Controllo::from_payload(&item.payload)?.0.sender))
    }

    /// Stores a signed busta di anomalia in each existing box it names (keyed by `tag`, what
    /// it wraps) and logs `eventi`, in one batch committed once under `chiave`: a replay
    /// stores and logs nothing again.
    async fn commit_anomalia(
        &self,
        chiave: String,
        tag: &str,
        anomalia: Option<(&[u8], &[String])>,
        eventi: &[Evento],
        sender: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let mut batch = Batch::once(chiave);
        if let Some((signed, destinatari)) = anomalia {
            for r in self.existing(destinatari).await? {
                batch.push(put(
                    &r,
                    "INBOX",
                    format!("box:{r}:anomalia:{tag}"),
                    signed.to_vec(),
                    now,
                ));
            }
        }
        log_all(&mut batch, eventi, sender);
        self.commit_announcing(batch, &[eventi]).await?;
        Ok(())
    }

    /// A receipt about one of our envelopes: stored in its one box (our user, or our service
    /// box for presa in carico and rilevazione virus), with the checks it answers cancelled
    /// in the same transaction (already in `batch`). Keyed by what it certifies (our
    /// envelope, its kind, the recipients it is about), never by its bytes: a copy under a
    /// new outer Message-ID is a duplicate and stores nothing.
    async fn ricevuta(
        &self,
        mut batch: Batch,
        r: RicevutaNostra<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let what = r.what;
        // A box deleted since it sent the envelope: the checks are still cancelled and the
        // receipt logged, or the sending provider would be told 451 for days.
        match self
            .existing(std::slice::from_ref(&r.casella.to_string()))
            .await?
            .pop()
        {
            Some(casella) => batch.push(put(
                &casella,
                "INBOX",
                format!("box:{casella}:{}:{what}", r.identificativo),
                r.bytes,
                now,
            )),
            None => &mut batch,
        };
        let sender = r
            .eventi
            .first()
            .map(|e| e.mittente.clone())
            .unwrap_or_default();
        log_all(&mut batch, r.eventi, &sender);
        let receipt = self.store.commit(batch).await.context("commit")?;
        if receipt.replayed {
            tracing_line(&format!(
                "inbound {} about {}: a copy of one already stored, not stored again",
                r.kind.name(),
                r.identificativo
            ));
            return Ok(false);
        }
        self.announce(r.eventi);
        if scadenze::annullate(r.kind).contains(&Scadenza::Ore24) {
            self.closed_remote
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(true)
    }

    /// What the local RCPT TO that a valid message does not certify get (pec-core's
    /// [`Estranei`]), once per message (`chiave`) and set of such recipients: a replay to the
    /// same boxes stores and logs nothing again.
    async fn commit_estranei(
        &self,
        e: Option<Estranei>,
        chiave: &str,
        sender: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let Some(e) = e else { return Ok(()) };
        let once = format!("estranei:{chiave}:{}", digest_of(e.destinatari()));
        let tag = tag_of(chiave.as_bytes());
        match e {
            Estranei::Anomalia {
                busta,
                motivo,
                destinatari,
                eventi,
            } => {
                tracing_line(&format!(
                    "inbound: {} not certified by the message, busta di anomalia: {motivo}",
                    destinatari.join(", ")
                ));
                let signed = self.sign_one(busta).await?;
                let anomalia = Some((signed.as_slice(), destinatari.as_slice()));
                self.commit_anomalia(once, &tag, anomalia, &eventi, sender, now)
                    .await
            }
            Estranei::Rifiutati {
                destinatari,
                eventi,
                ..
            } => {
                tracing_line(&format!(
                    "inbound: {} not certified by the message, refused",
                    destinatari.join(", ")
                ));
                self.commit_anomalia(once, &tag, None, &eventi, sender, now)
                    .await
            }
        }
    }

    /// A valid envelope: presa in carico to the sending provider and delivery to our boxes,
    /// in one transaction; if a box refuses (unknown, disabled, full), committed again with
    /// the deliveries queued so the worker answers each with its own notice.
    async fn busta(&self, b: &Ricevuta<'_>, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
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
            bytes: b.raw,
            sender: &sender,
            id: identificativo,
        };
        let consegne = self.consegna(&mut batch, &env, &locals, now).await?;
        if let Some(fresh) = self.commit_presumed(batch, &locals).await? {
            if fresh {
                self.announce(b.eventi);
                self.announce(&consegne);
                self.delivered
                    .fetch_add(locals.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            self.work.notify_one();
            return Ok(());
        }
        let mut batch = self.presa(b, identificativo, &sender, now)?;
        for (r, _) in &locals {
            batch.push(Operation::Enqueue(NewQueueItem {
                key: format!("deliver:{identificativo}:{r}"),
                kind: DELIVER.into(),
                payload: Delivery::payload(r, &sender, identificativo, b.raw)?,
                due: now,
            }));
        }
        self.commit_announcing(batch, &[b.eventi]).await?;
        self.work.notify_one();
        Ok(())
    }

    /// The receiving point's own part of an envelope's transaction: the presa in carico on
    /// its way to the sending provider's service box, and the log events.
    pub(super) fn presa(
        &self,
        b: &Ricevuta<'_>,
        identificativo: &str,
        sender: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Batch> {
        // Once per envelope and set of recipients: a replay logs nothing again (its stores
        // and queue items are keyed too).
        let what = format!("presa:{}", digest_of(b.destinatari));
        let mut batch = Batch::once(format!("ricezione:{identificativo}:{what}"));
        batch.push(self.verso_gestore(b.mail_receipt, identificativo, &what, b.presa, now)?);
        log_all(&mut batch, b.eventi, sender);
        Ok(batch)
    }

    /// A receipt of ours about `identificativo` on its way to another provider's
    /// `mailReceipt` (presa in carico, rilevazione virus): our own service box directly when
    /// the address is ours, else a relay queue item. `what` keeps repeats apart.
    pub(super) fn verso_gestore(
        &self,
        mail_receipt: &str,
        identificativo: &str,
        what: &str,
        bytes: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Operation> {
        if self.config.is_local(mail_receipt) {
            let service = address(mail_receipt)?;
            return Ok(put(
                &service,
                "INBOX",
                format!("box:{service}:{identificativo}:{what}"),
                bytes.to_vec(),
                now,
            ));
        }
        let inoltro = Inoltro {
            recipient: mail_receipt.to_ascii_lowercase(),
            mail_from: self.config.service_address.clone(),
            identificativo: identificativo.to_string(),
            busta: false,
            accepted_ms: now.timestamp_millis(),
            modello: None,
        };
        inoltro.item(bytes, now, Some(what))
    }

    /// The boxes among `addresses` that exist and are enabled; the others are logged and
    /// skipped (no PEC notice is due for what is not a transport envelope, PEC-SPEC §2.3).
    async fn existing(&self, addresses: &[String]) -> Result<Vec<pec_store::Address>> {
        let mut out = Vec::new();
        for a in addresses {
            let addr = address(a)?;
            match self.store.mailbox(&addr).await? {
                Some(m) if m.enabled => out.push(addr),
                _ => tracing_line(&format!("inbound: no active box {a}, not delivered")),
            }
        }
        Ok(out)
    }
}

/// A valid envelope as the receiving point handles it.
pub(super) struct Ricevuta<'a> {
    pub(super) busta: &'a pec_core::consegna::BustaRicevuta,
    pub(super) raw: &'a [u8],
    pub(super) presa: &'a [u8],
    pub(super) mail_receipt: &'a str,
    pub(super) destinatari: &'a [String],
    pub(super) eventi: &'a [Evento],
}

/// A receipt about one of our envelopes, placed by pec-core, as [`Gestore::ricevuta`] stores it.
struct RicevutaNostra<'a> {
    kind: pec_core::MessageKind,
    identificativo: &'a str,
    /// The receipt's identity besides our envelope: its kind and whom it is about.
    what: &'a str,
    casella: &'a str,
    /// The receipt with its outer headers rebuilt from the signed data.
    bytes: Vec<u8>,
    eventi: &'a [Evento],
}
