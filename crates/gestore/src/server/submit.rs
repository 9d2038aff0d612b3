//! The access point behind SMTP submission: authenticate, scan (`antivirus.rs`), decide
//! (pec-core), sign, commit, and only then let the SMTP layer answer 250 (PEC-SPEC §2.3,
//! STYLE §2).

use super::accessi::Accesso;
use super::antivirus::{scanner_down, Punto, SCANNER_DOWN};
use super::delivery::Envelope;
use super::relay::{controlli, Inoltro};
use super::{address, Gestore};
use anyhow::{Context, Result};
use pec_core::accesso::{self, Esito, Identificativi, Invio, Limiti, PuntoAccesso};
use pec_core::consegna::{BustaRicevuta, StatoCasella};
use pec_core::daticert::TipoDestinatario;
use pec_core::registro::{Evento, TipoEvento};
use pec_core::RiferimentoTemporale;
use pec_smtp::{AuthResult, Backend, Submission, SubmitError};
use pec_store::{Admission, Batch, Body, LogAppend, NewMessage, NewQueueItem, Operation, Store};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;

/// Queue kind of a delivery to one local recipient.
pub const DELIVER: &str = "deliver";

/// What a delivery worker needs: the signed envelope and whom it is for.
#[derive(Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The recipient, one of our boxes (or an address of our domains that may not exist).
    pub recipient: String,
    /// Where receipts go: the reverse-path of the original (PEC-SPEC §3.2).
    pub sender: String,
    /// The PEC msgid of the envelope.
    pub identificativo: String,
    /// The signed busta di trasporto.
    pub busta: Vec<u8>,
}

/// The addresses of a [`Delivery`], as the first line of its queue payload.
#[derive(Serialize, Deserialize)]
struct DeliveryHead<'a> {
    #[serde(borrow)]
    recipient: Cow<'a, str>,
    #[serde(borrow)]
    sender: Cow<'a, str>,
    #[serde(borrow)]
    identificativo: Cow<'a, str>,
}

impl Delivery {
    /// Queue payload: one JSON line with the addresses, then the envelope's bytes as they are
    /// (no re-encoding). Built from borrowed parts, so the envelope is copied once, into the
    /// payload, however many recipients share it.
    pub fn payload(
        recipient: &str,
        sender: &str,
        identificativo: &str,
        busta: &[u8],
    ) -> Result<Vec<u8>> {
        let head = DeliveryHead {
            recipient: Cow::Borrowed(recipient),
            sender: Cow::Borrowed(sender),
            identificativo: Cow::Borrowed(identificativo),
        };
        let mut out = serde_json::to_vec(&head)?;
        out.reserve(busta.len() + 1);
        out.push(b'\n');
        out.extend_from_slice(busta);
        Ok(out)
    }

    /// The inverse of [`Delivery::payload`].
    pub fn from_payload(payload: &[u8]) -> Result<Self> {
        let nl = payload
            .iter()
            .position(|b| *b == b'\n')
            .context("delivery payload without header line")?;
        let head: DeliveryHead<'_> = serde_json::from_slice(&payload[..nl])?;
        Ok(Delivery {
            recipient: head.recipient.into_owned(),
            sender: head.sender.into_owned(),
            identificativo: head.identificativo.into_owned(),
            busta: payload[nl + 1..].to_vec(),
        })
    }
}

impl Backend for Gestore {
    async fn authenticate(&self, user: &str, password: &str, peer: IpAddr) -> AuthResult {
        match self.accedi("smtp", user, password, peer).await {
            Accesso::Consentito(mailbox) => AuthResult::Accepted { mailbox },
            Accesso::Rifiutato => AuthResult::Rejected,
            Accesso::Bloccato(wait) => AuthResult::Unavailable(format!(
                "too many failed logins, try again in {} s",
                wait.as_secs().max(1)
            )),
            Accesso::Indisponibile(e) => AuthResult::Unavailable(e),
        }
    }

    async fn check_mail_from(
        &self,
        authenticated: &str,
        reverse_path: &str,
    ) -> Result<(), SubmitError> {
        if accesso::mittente_ammesso(authenticated, reverse_path) {
            return Ok(());
        }
        // Issue 12, item 3: refused at once rather than answered with a notice, which would
        // have to go somewhere the box does not own (PEC-SPEC §9.4).
        Err(SubmitError::Permanent(
            553,
            "5.7.1".into(),
            format!("Sender address rejected: not owned by user {authenticated}"),
        ))
    }

    async fn submit(&self, submission: Submission) -> Result<(), SubmitError> {
        self.accept(submission).await.map_err(|e| {
            tracing_line(&format!("submission not stored: {e:#}"));
            if scanner_down(&e) {
                SubmitError::Temporary(SCANNER_DOWN.into())
            } else {
                SubmitError::Temporary("message not stored, try again later".into())
            }
        })
    }
}

impl Gestore {
    /// The access point's decision (pure, in pec-core), kept out of the async code because
    /// the recipient classifier is not `Sync`.
    fn decide(
        &self,
        s: &Submission,
        data: RiferimentoTemporale,
        identificativo: &str,
        ricevuta: &str,
        virus: Option<&str>,
    ) -> Result<Esito> {
        let limits = &self.config.limits;
        let classifica = |a: &str| self.classifica(a);
        let punto = PuntoAccesso {
            provider: &self.provider,
            limiti: Limiti {
                max_destinatari: limits.max_recipients,
                max_dimensione: limits.max_total_size,
            },
            classifica: &classifica,
        };
        let invio = Invio {
            casella: &s.authenticated,
            mail_from: &s.mail_from,
            rcpt_to: &s.rcpt_to,
            raw: &s.data,
            virus,
        };
        let ids = Identificativi {
            identificativo,
            ricevuta,
        };
        accesso::punto_accesso(&invio, &punto, data, &ids).context("access point")
    }

    /// Runs the access point on one submission and commits its outcome.
    async fn accept(&self, s: Submission) -> Result<()> {
        // PEC-SPEC §2.3 step 3: scanned before anything is decided or stored; no verdict, no
        // acceptance (4xx).
        let virus = self.scansiona(&s.data, Punto::Accesso).await?;
        let now = self.clock.now();
        let data = RiferimentoTemporale::from_utc(now);
        let identificativo = self.ids.next(now);
        let ricevuta_id = self.ids.next(now);
        let esito = self.decide(&s, data, &identificativo, &ricevuta_id, virus.as_deref())?;
        match esito {
            Esito::Accettato(a) => self.accept_certified(a, &identificativo, now).await,
            Esito::NonAccettato(n) => {
                let avviso = self.sign_one(n.avviso).await?;
                let mut batch = Batch::new();
                let sender = address(&n.mittente)?;
                let what = match n.motivo {
                    accesso::Motivo::Virus(_) => "non-accettazione-virus",
                    _ => "non-accettazione",
                };
                batch.push(put(
                    &sender,
                    "INBOX",
                    format!("box:{sender}:{identificativo}:{what}"),
                    avviso,
                    now,
                ));
                if n.quarantena {
                    // Infected, whichever notice it got (pec_core::accesso).
                    batch.push(self.quarantena(&s.data, now)?);
                }
                log_all(&mut batch, &n.eventi, &n.mittente);
                self.store.commit(batch).await.context("commit")?;
                self.announce(&n.eventi);
                Ok(())
            }
        }
    }

    /// Commits an accepted message: the acceptance receipt, the sender's copy, and for each
    /// recipient either its delivery, done here in the same transaction when the box is ours,
    /// or a relay queue item.
    ///
    /// Delivering our own boxes inline spares a queue round trip per recipient (an envelope
    /// copy in the queue, a claim and a second commit: most of the writer's work per message)
    /// and makes the 250 mean "delivered" in the common case. It is optimistic like the
    /// worker: boxes are presumed active and the writer checks each as it stores; if one is
    /// unknown, disabled or full, the whole transaction is rolled back and committed again
    /// with every local recipient queued, so the worker answers each with its own outcome.
    async fn accept_certified(
        &self,
        a: accesso::Accettazione,
        identificativo: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let accesso::Accettazione {
            ricevuta,
            busta,
            destinatari,
            mittente,
            eventi,
        } = a;
        let mut signed = self.sign_all(vec![ricevuta, busta]).await?.into_iter();
        let (ricevuta, busta) = match (signed.next(), signed.next()) {
            (Some(r), Some(b)) => (r, b),
            _ => anyhow::bail!("signing returned too few messages"),
        };
        let a = Accettata {
            identificativo,
            mittente: &mittente,
            destinatari: &destinatari,
            eventi: &eventi,
            ricevuta: &ricevuta,
            busta: &busta,
            now,
            daticert: None,
        };
        let locals: Vec<(String, StatoCasella)> = a
            .destinatari
            .iter()
            .map(|d| d.indirizzo.to_ascii_lowercase())
            .filter(|r| self.config.is_local(r))
            .map(|r| (r, StatoCasella::Attiva))
            .collect();
        let remote_certified = a.destinatari.iter().any(|d| {
            d.tipo == TipoDestinatario::Certificato && !self.config.is_local(&d.indirizzo)
        });
        // Our own envelope read back once: the local deliveries need it, and the 12 h / 24 h
        // checks of remote certified recipients keep its daticert.
        let letta = if locals.is_empty() && !remote_certified {
            None
        } else {
            Some(BustaRicevuta::leggi(&busta).context("our own envelope")?)
        };
        let daticert = match (&letta, remote_certified) {
            (Some(l), true) => Some(l.daticert.to_xml().context("our own daticert")?),
            _ => None,
        };
        let a = Accettata {
            daticert: daticert.as_deref().map(str::as_bytes),
            ..a
        };
        if let (false, Some(letta)) = (locals.is_empty(), &letta) {
            let mut batch = a.batch(self, false)?;
            let env = Envelope {
                letta,
                bytes: &busta,
                sender: &mittente,
                id: identificativo,
            };
            let consegne = self.consegna(&mut batch, &env, &locals, now).await?;
            if let Some(fresh) = self.commit_presumed(batch, &locals).await? {
                if fresh {
                    self.announce(&eventi);
                    self.announce(&consegne);
                    self.delivered
                        .fetch_add(locals.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
                if locals.len() < a.destinatari.len() {
                    self.work.notify_one();
                }
                return Ok(());
            }
        }
        let batch = a.batch(self, true)?;
        self.commit_announcing(batch, &[&eventi]).await?;
        self.work.notify_one();
        Ok(())
    }
}

/// An accepted message, signed, ready to commit.
struct Accettata<'a> {
    identificativo: &'a str,
    mittente: &'a str,
    destinatari: &'a [accesso::DestinatarioInvio],
    eventi: &'a [Evento],
    ricevuta: &'a [u8],
    busta: &'a [u8],
    now: chrono::DateTime<chrono::Utc>,
    /// The envelope's daticert.xml, when some recipient is certified and not ours: its
    /// 12 h / 24 h checks keep it to build their notices.
    daticert: Option<&'a [u8]>,
}

impl Accettata<'_> {
    /// The acceptance's own operations: the receipt to the sender, the envelope in the
    /// sender's Sent folder, a relay item per remote recipient (and a delivery item per local
    /// one when `queue_locals`), and the access point's log events.
    fn batch(&self, g: &Gestore, queue_locals: bool) -> Result<Batch> {
        let (a, identificativo, ricevuta, busta, now) = (
            self,
            self.identificativo,
            self.ricevuta,
            self.busta,
            self.now,
        );
        let mut batch = Batch::new();
        let sender = address(a.mittente)?;
        batch.push(put(
            &sender,
            "INBOX",
            format!("box:{sender}:{identificativo}:accettazione"),
            ricevuta.to_vec(),
            now,
        ));
        for d in a.destinatari {
            let recipient = d.indirizzo.to_ascii_lowercase();
            if !g.config.is_local(&recipient) {
                let inoltro = Inoltro {
                    recipient: recipient.clone(),
                    mail_from: a.mittente.to_string(),
                    identificativo: identificativo.to_string(),
                    busta: true,
                    accepted_ms: now.timestamp_millis(),
                    modello: a
                        .eventi
                        .iter()
                        .find(|e| matches!(e.evento, TipoEvento::BustaEmessa))
                        .cloned(),
                };
                batch.push(inoltro.item(busta, now, None)?);
                if let (TipoDestinatario::Certificato, Some(xml)) = (&d.tipo, a.daticert) {
                    for op in controlli(&recipient, a.mittente, identificativo, xml, now)? {
                        batch.push(op);
                    }
                }
            } else if queue_locals {
                batch.push(Operation::Enqueue(NewQueueItem {
                    key: format!("deliver:{identificativo}:{recipient}"),
                    kind: DELIVER.into(),
                    payload: Delivery::payload(&recipient, a.mittente, identificativo, busta)?,
                    due: now,
                }));
            }
        }
        // The box's own copy of what it sent (IMAP "Sent").
        batch.push(put(
            &sender,
            "Sent",
            format!("box:{sender}:{identificativo}:sent"),
            busta.to_vec(),
            now,
        ));
        log_all(&mut batch, a.eventi, a.mittente);
        Ok(batch)
    }
}

/// A message for a box; `Force` because the rules require receipts to reach the sender.
pub fn put(
    mailbox: &pec_store::Address,
    folder: &str,
    key: String,
    bytes: Vec<u8>,
    now: chrono::DateTime<chrono::Utc>,
) -> Operation {
    Operation::PutMessage(NewMessage {
        key,
        mailbox: mailbox.clone(),
        folder: folder.into(),
        body: Body::Bytes(bytes),
        internal_date: now,
        flags: Vec::new(),
        admission: Admission::Force,
    })
}

/// Prints committed events, one line each (`event <JSON line>`): the operator's live trail
/// of what the legal log just recorded.
pub fn announce(eventi: &[Evento]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for e in eventi {
        let _ = writeln!(out, "event {}", e.riga());
    }
    let _ = out.flush();
}

/// Appends the log events of a decision (PEC-SPEC §8).
pub fn log_all(batch: &mut Batch, eventi: &[Evento], sender: &str) {
    for e in eventi {
        let mut msgids = vec![e.identificativo.clone()];
        msgids.extend(e.msgid.clone());
        msgids.extend(e.generati.iter().cloned());
        batch.push(Operation::AppendLog(LogAppend {
            time: e.data.utc(),
            line: e.riga(),
            msgids,
            sender: Some(sender.to_ascii_lowercase()),
        }));
    }
}

/// One operator-facing line on standard error.
pub fn tracing_line(line: &str) {
    eprintln!("gestore: {}", line.replace(['\n', '\r'], " "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_payload_round_trips_with_the_body_untouched() {
        let d = Delivery {
            recipient: "a@pec.x".into(),
            // Quotes and backslashes come back through JSON escapes, not borrowed slices.
            sender: "\"b\\c\"@pec.x".into(),
            identificativo: "id@pec.x".into(),
            busta: b"Header: v\r\n\r\nbody\n\x00\xff".to_vec(),
        };
        let p = Delivery::payload(&d.recipient, &d.sender, &d.identificativo, &d.busta).unwrap();
        assert!(p.ends_with(&d.busta));
        assert_eq!(Delivery::from_payload(&p).unwrap(), d);
        assert!(Delivery::from_payload(b"no header").is_err());
    }
}
