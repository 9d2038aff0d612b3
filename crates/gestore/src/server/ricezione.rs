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
use super::relay::{digest_of, tag_of, Inoltro};
use super::submit::{log_all, put, tracing_line, Delivery, DELIVER};
use super::{address, Gestore};
use crate::config::OrdinaryMail;
use anyhow::{Context, Result};
use pec_core::consegna::StatoCasella;
use pec_core::registro::Evento;
use pec_core::ricezione::{
    self, Arrivo, EsitoRicezione, Firma, GestoreMittente, IdRicezione, Politica, Rifiuto,
};
use pec_core::{scadenze, RiferimentoTemporale};
use pec_smtp::{AuthResult, Backend, Submission, SubmitError};
use pec_store::{Batch, NewQueueItem, Operation, Store};
use std::sync::Arc;

/// The inbound listener's backend.
pub struct Ricezione(pub Arc<Gestore>);

impl Backend for Ricezione {
    async fn authenticate(&self, _user: &str, _password: &str) -> AuthResult {
        AuthResult::Rejected // never offered on this listener
    }

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
    /// What the signature of `raw` says, against the index in force (PEC-SPEC §2.3, §7.3).
    /// Blocking: openssl.
    pub fn firma(&self, raw: &[u8], now: chrono::DateTime<chrono::Utc>) -> Firma {
        let verifier = self.directory.verifier();
        let indice = self.directory.indice();
        let v = match verifier.verify(raw, now) {
            Ok(v) => v,
            Err(pec_smime::VerifyError::Unsigned) => return Firma::Assente,
            Err(e) => return Firma::Illeggibile(e.to_string()),
        };
        if !v.intact {
            return Firma::Alterata(
                v.integrity_error
                    .unwrap_or_else(|| "the signature does not match".into()),
            );
        }
        let Some(signer) = &v.signer else {
            return Firma::Illeggibile("no signer certificate in the signature".into());
        };
        let Some(g) = indice.per_hash(&signer.sha1_fingerprint) else {
            return Firma::Sconosciuta {
                hash: signer.sha1_fingerprint.to_ascii_lowercase(),
            };
        };
        let nome = g.nome().to_string();
        let Some(g) = indice.per_certificato(&signer.der) else {
            return Firma::NonValida {
                gestore: nome,
                motivo: "the certificate is not the one the index lists".into(),
            };
        };
        if !v.valid_now {
            return Firma::NonValida {
                gestore: nome,
                motivo: "the certificate is expired or not yet valid".into(),
            };
        }
        if !v.chain_valid {
            return Firma::NonValida {
                gestore: nome,
                motivo: format!(
                    "certificate chain not valid: {}",
                    v.chain_error.unwrap_or_default()
                ),
            };
        }
        Firma::Valida(GestoreMittente {
            nome,
            mail_receipt: g.mail_receipt().to_string(),
            domini: g.domini().to_vec(),
        })
    }

    /// Receives one message; `Some(reply)` when it is refused.
    async fn ricevi(self: &Arc<Self>, s: Submission) -> Result<Option<SubmitError>> {
        let now = self.clock.now();
        let data = RiferimentoTemporale::from_utc(now);
        // Scanned first: a scanner that gives no verdict stores nothing (4xx).
        let virus = self.scansiona(&s.data, Punto::Ricezione).await?;
        let raw = Arc::new(s.data);
        let firma = {
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
        let esito = ricezione::punto_ricezione(&arrivo, &self.provider, data, &ids, politica)
            .context("receiving point")?;
        let esito = match esito {
            EsitoRicezione::Ricevuta {
                kind,
                identificativo,
                daticert,
                riguarda,
                destinatari,
                eventi,
            } => {
                // Is it about an envelope of ours? Our 24 h check exists for each certified
                // recipient we sent one to.
                let mut batch = Batch::new();
                let mut known = false;
                for r in &riguarda {
                    known |= self
                        .annulla(&mut batch, &identificativo, r, scadenze::annullate(kind))
                        .await?;
                }
                if known {
                    let avvisi = if kind == pec_core::MessageKind::RilevazioneVirus {
                        self.mancata_consegna_virus(&mut batch, &daticert, now)
                            .await?
                    } else {
                        Vec::new()
                    };
                    self.ricevuta(
                        batch,
                        &raw,
                        kind,
                        &identificativo,
                        &destinatari,
                        &eventi,
                        now,
                    )
                    .await?;
                    self.announce(&avvisi);
                    return Ok(None);
                }
                tracing_line(&format!(
                    "inbound {} about {identificativo}: not a message we sent, anomaly",
                    kind.name()
                ));
                ricezione::anomalia(
                    &arrivo,
                    &self.provider,
                    data,
                    &anomalia_id,
                    "ricevuta relativa a un messaggio non inviato da questo gestore",
                )
                .context("anomaly")?
            }
            other => other,
        };
        match esito {
            EsitoRicezione::Busta {
                presa_in_carico,
                mail_receipt,
                busta,
                destinatari,
                eventi,
            } => {
                let presa = self
                    .sign_all(vec![presa_in_carico])
                    .await?
                    .pop()
                    .context("signing returned nothing")?;
                let b = Ricevuta {
                    busta: &busta,
                    raw: &raw,
                    presa: &presa,
                    mail_receipt: &mail_receipt,
                    destinatari: &destinatari,
                    eventi: &eventi,
                };
                self.busta(&b, now).await?;
                Ok(None)
            }
            infetta @ EsitoRicezione::Infetta { .. } => {
                self.busta_infetta(infetta, &raw, now).await?;
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
                let signed = self
                    .sign_all(vec![busta])
                    .await?
                    .pop()
                    .context("signing returned nothing")?;
                let mut batch = Batch::new();
                let tag = tag_of(&raw);
                for r in self.existing(&destinatari).await? {
                    batch.push(put(
                        &r,
                        "INBOX",
                        format!("box:{r}:anomalia:{tag}"),
                        signed.clone(),
                        now,
                    ));
                }
                log_all(&mut batch, &eventi, &s.mail_from);
                self.store.commit(batch).await.context("commit")?;
                self.announce(&eventi);
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
            EsitoRicezione::Ricevuta { .. } => anyhow::bail!("receipt handled above"),
        }
    }

    /// A receipt about one of our envelopes: delivered unchanged to the local recipients
    /// (our user, or our service box for presa in carico), with the checks it answers
    /// cancelled in the same transaction (already in `batch`).
    #[allow(clippy::too_many_arguments)]
    async fn ricevuta(
        &self,
        mut batch: Batch,
        raw: &[u8],
        kind: pec_core::MessageKind,
        identificativo: &str,
        destinatari: &[String],
        eventi: &[Evento],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let tag = tag_of(raw);
        for r in self.existing(destinatari).await? {
            batch.push(put(
                &r,
                "INBOX",
                format!("box:{r}:{identificativo}:{}:{tag}", kind.name()),
                raw.to_vec(),
                now,
            ));
        }
        let sender = eventi
            .first()
            .map(|e| e.mittente.clone())
            .unwrap_or_default();
        log_all(&mut batch, eventi, &sender);
        let receipt = self.store.commit(batch).await.context("commit")?;
        self.announce(eventi);
        if !receipt.replayed
            && scadenze::annullate(kind).contains(&pec_core::builder::Scadenza::Ore24)
        {
            self.closed_remote
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
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
        if self.commit_presumed(batch, &locals).await? {
            self.announce(b.eventi);
            self.announce(&consegne);
            self.delivered
                .fetch_add(locals.len() as u64, std::sync::atomic::Ordering::Relaxed);
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
        self.store.commit(batch).await.context("commit")?;
        self.announce(b.eventi);
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
        let mut batch = Batch::new();
        let what = format!("presa:{}", digest_of(b.destinatari));
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
