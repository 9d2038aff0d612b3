//! The access point (PEC-SPEC §2.3, STYLE §2): scan, decide (pec-core), sign, commit, and
//! only then let the caller (SMTP submission, later the webmail and the API) answer "taken".
//!
//! Accepted: the ricevuta di accettazione to the sender, the envelope in the sender's Sent
//! folder, the log events, and for each recipient either its delivery, done here in the same
//! transaction when the box is ours, or a relay queue item with the 12 h / 24 h checks of a
//! certified remote recipient. Not accepted: the avviso di non accettazione (and the
//! quarantine copy when infected).

use crate::clock::Clock;
use crate::comune::{deposita, indirizzo, registra, Contatori, Firmatario, Parti, Registro};
use crate::consegna::{Envelope, PuntoConsegna};
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::ids::Ids;
use crate::indice::Directory;
use crate::quarantena::Quarantena;
use crate::virus::{Punto, Scansione};
use crate::{inoltro, scadenze};
use chrono::{DateTime, Utc};
use pec_core::accesso::{self, Identificativi, Limiti, PuntoAccesso as Regole};
use pec_core::chiave::{Chiave, Cosa};
use pec_core::consegna::StatoCasella;
use pec_core::daticert::TipoDestinatario;
use pec_core::lavoro::{Recapito, Spedizione};
use pec_core::registro::{Evento, TipoEvento};
use pec_core::{Provider, RiferimentoTemporale};
use pec_store::Batch;
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::Instrument as _;

/// A submission from an authenticated box.
#[derive(Debug)]
pub struct Invio {
    /// The box that logged in.
    pub casella: String,
    /// MAIL FROM (already checked with [`PuntoAccesso::mittente_ammesso`]).
    pub mail_from: String,
    /// RCPT TO.
    pub rcpt_to: Vec<String>,
    /// The message as submitted.
    pub data: Vec<u8>,
}

/// What the access point did with a submission (the envelope's PEC msgid in either case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Esito {
    /// Accepted: the ricevuta di accettazione is in the sender's INBOX, the envelope on its
    /// way.
    Accettato {
        /// The envelope's PEC msgid.
        identificativo: String,
    },
    /// Not accepted: the avviso di non accettazione is in the sender's INBOX.
    NonAccettato {
        /// The PEC msgid the notice names.
        identificativo: String,
        /// Why (pec-core's [`accesso::Motivo`]), the reason the notice gives.
        motivo: accesso::Motivo,
    },
}

/// The access point.
pub struct PuntoAccesso {
    registro: Registro,
    firma: Firmatario,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
    contatori: Arc<Contatori>,
    lavoro: Arc<Notify>,
    limiti: Limiti,
    scansione: Arc<Scansione>,
    quarantena: Arc<Quarantena>,
    consegna: Arc<PuntoConsegna>,
}

impl PuntoAccesso {
    /// Takes what it uses from the shared parts, and the points it hands work to.
    pub(crate) fn new(
        p: &Parti,
        limiti: Limiti,
        scansione: Arc<Scansione>,
        quarantena: Arc<Quarantena>,
        consegna: Arc<PuntoConsegna>,
    ) -> Self {
        Self {
            registro: p.registro.clone(),
            firma: p.firma.clone(),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
            contatori: p.contatori.clone(),
            lavoro: p.lavoro.clone(),
            limiti,
            scansione,
            quarantena,
            consegna,
        }
    }

    /// Whether `casella` may send as `mail_from`: only as itself (PEC-SPEC §9.4). Refused at
    /// MAIL FROM rather than answered with a notice, which would have to go somewhere the box
    /// does not own (issue 12, item 3).
    pub fn mittente_ammesso(&self, casella: &str, mail_from: &str) -> bool {
        accesso::mittente_ammesso(casella, mail_from)
    }

    /// The access point's decision (pure, in pec-core), kept out of the async code because
    /// the recipient classifier is not `Sync`.
    fn decide(
        &self,
        s: &Invio,
        data: RiferimentoTemporale,
        ids: &Identificativi<'_>,
        virus: Option<&str>,
    ) -> Result<accesso::Esito> {
        let classifica = |a: &str| self.indice.classifica(&self.domini, a);
        let regole = Regole {
            provider: &self.provider,
            limiti: self.limiti,
            classifica: &classifica,
        };
        let invio = accesso::Invio {
            casella: &s.casella,
            mail_from: &s.mail_from,
            rcpt_to: &s.rcpt_to,
            raw: &s.data,
            virus,
        };
        accesso::punto_accesso(&invio, &regole, data, ids).ctx("access point")
    }

    /// Runs the access point on one submission and commits its outcome. `Err` means nothing
    /// was stored (the client should try again; see [`crate::Errore::scanner_giu`]).
    pub async fn invia(&self, s: Invio) -> Result<Esito> {
        // PEC-SPEC §2.3 step 3: scanned before anything is decided or stored; no verdict, no
        // acceptance (4xx).
        let virus = self.scansione.scansiona(&s.data, Punto::Accesso).await?;
        let now = self.clock.now();
        let data = RiferimentoTemporale::from_utc(now);
        let identificativo = self.ids.next(now);
        let span = tracing::info_span!("accesso", casella = %s.casella, msgid = %identificativo);
        self.decidi_e_registra(s, virus, now, data, &identificativo)
            .instrument(span)
            .await
    }

    /// [`PuntoAccesso::invia`] once the msgid is drawn.
    async fn decidi_e_registra(
        &self,
        s: Invio,
        virus: Option<String>,
        now: DateTime<Utc>,
        data: RiferimentoTemporale,
        identificativo: &str,
    ) -> Result<Esito> {
        let identificativo = identificativo.to_string();
        let ricevuta = self.ids.next(now);
        let ids = Identificativi {
            identificativo: &identificativo,
            ricevuta: &ricevuta,
        };
        match self.decide(&s, data, &ids, virus.as_deref())? {
            accesso::Esito::Accettato(a) => {
                self.accettata(a, &identificativo, now).await?;
                Ok(Esito::Accettato { identificativo })
            }
            accesso::Esito::NonAccettato(n) => {
                let avviso = self.firma.uno(n.avviso).await?;
                let mut batch = Batch::new();
                let sender = indirizzo(&n.mittente)?;
                let cosa = match &n.motivo {
                    accesso::Motivo::Virus(_) => Cosa::NonAccettazioneVirus,
                    _ => Cosa::NonAccettazione,
                };
                let chiave = Chiave::Casella {
                    casella: sender.to_string(),
                    identificativo: identificativo.clone(),
                    cosa,
                };
                batch.push(deposita(&sender, "INBOX", chiave, avviso, now));
                if n.quarantena {
                    // Infected, whichever notice it got (pec_core::accesso).
                    batch.push(self.quarantena.operazione(&s.data, now));
                }
                registra(&mut batch, &n.eventi, &n.mittente);
                self.registro.commit(batch, &[&n.eventi]).await?;
                Ok(Esito::NonAccettato {
                    identificativo,
                    motivo: n.motivo,
                })
            }
        }
    }

    /// Commits an accepted message: the acceptance receipt, the sender's copy, and for each
    /// recipient either its delivery, done here in the same transaction when the box is ours,
    /// or a relay queue item.
    ///
    /// Delivering our own boxes inline spares a queue round trip per recipient (an envelope
    /// copy in the queue, a claim and a second commit: most of the writer's work per message)
    /// and makes the "taken" mean "delivered" in the common case. It is optimistic like the
    /// worker: boxes are presumed active and the writer checks each as it stores; if one is
    /// unknown, disabled or full, the whole transaction is rolled back and committed again
    /// with every local recipient queued, so the worker answers each with its own outcome.
    async fn accettata(
        &self,
        a: accesso::Accettazione,
        identificativo: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let accesso::Accettazione {
            ricevuta,
            busta,
            letta,
            destinatari,
            mittente,
            eventi,
        } = a;
        let mut signed = self.firma.tutti(vec![ricevuta, busta]).await?.into_iter();
        let (ricevuta, busta) = match (signed.next(), signed.next()) {
            (Some(r), Some(b)) => (r, b),
            _ => return Err(Errore::Firma("signing returned too few messages".into())),
        };
        // One allocation for the Sent copy and every local box.
        let busta: Arc<[u8]> = busta.into();
        let locals: Vec<(String, StatoCasella)> = destinatari
            .iter()
            .map(|d| d.indirizzo.to_ascii_lowercase())
            .filter(|r| self.domini.locale(r))
            .map(|r| (r, StatoCasella::Attiva))
            .collect();
        let remote_certified = destinatari
            .iter()
            .any(|d| d.tipo == TipoDestinatario::Certificato && !self.domini.locale(&d.indirizzo));
        // Our own envelope as built (pec-core hands it back: nothing parses it again): the
        // local deliveries need it, and the 12 h / 24 h checks of remote certified recipients
        // keep its daticert.
        let daticert = match remote_certified {
            true => Some(letta.daticert.to_xml().ctx("our own daticert")?),
            false => None,
        };
        let a = Accettata {
            identificativo,
            mittente: &mittente,
            destinatari: &destinatari,
            eventi: &eventi,
            ricevuta: &ricevuta,
            busta: &busta,
            now,
            daticert: daticert.as_deref().map(str::as_bytes),
        };
        if !locals.is_empty() {
            let mut batch = a.batch(&self.domini, false)?;
            let env = Envelope {
                letta: &letta,
                bytes: &busta,
                sender: &mittente,
                id: identificativo,
            };
            let consegne = self
                .consegna
                .consegna(&mut batch, &env, &locals, now)
                .await?;
            if let Some(fresh) = self.consegna.commit_presunto(batch, &locals).await? {
                if fresh {
                    self.registro.annuncia(&eventi);
                    self.registro.annuncia(&consegne);
                    self.contatori.consegnati(locals.len());
                }
                if locals.len() < destinatari.len() {
                    self.lavoro.notify_one();
                }
                return Ok(());
            }
        }
        let batch = a.batch(&self.domini, true)?;
        self.registro.commit(batch, &[&eventi]).await?;
        self.lavoro.notify_one();
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
    busta: &'a Arc<[u8]>,
    now: DateTime<Utc>,
    /// The envelope's daticert.xml, when some recipient is certified and not ours: its
    /// 12 h / 24 h checks keep it to build their notices.
    daticert: Option<&'a [u8]>,
}

impl Accettata<'_> {
    /// The acceptance's own operations: the receipt to the sender, the envelope in the
    /// sender's Sent folder, a relay item per remote recipient (and a delivery item per local
    /// one when `queue_locals`), and the access point's log events.
    fn batch(&self, domini: &Domini, queue_locals: bool) -> Result<Batch> {
        let (id, now) = (self.identificativo, self.now);
        let mut batch = Batch::new();
        let sender = indirizzo(self.mittente)?;
        let per_sender = |cosa| Chiave::Casella {
            casella: sender.to_string(),
            identificativo: id.to_string(),
            cosa,
        };
        let chiave = per_sender(Cosa::Accettazione);
        batch.push(deposita(
            &sender,
            "INBOX",
            chiave,
            self.ricevuta.to_vec(),
            now,
        ));
        for d in self.destinatari {
            let recipient = d.indirizzo.to_ascii_lowercase();
            if !domini.locale(&recipient) {
                let spedizione = Spedizione {
                    destinatario: recipient.clone(),
                    mail_from: self.mittente.to_string(),
                    identificativo: id.to_string(),
                    busta: true,
                    accepted_ms: now.timestamp_millis(),
                    modello: self
                        .eventi
                        .iter()
                        .find(|e| matches!(e.evento, TipoEvento::BustaEmessa))
                        .map(|e| Box::new(e.clone())),
                };
                batch.push(inoltro::accoda(&spedizione, self.busta, now, None)?);
                if let (TipoDestinatario::Certificato, Some(xml)) = (&d.tipo, self.daticert) {
                    for op in scadenze::controlli(&recipient, self.mittente, id, xml, now)? {
                        batch.push(op);
                    }
                }
            } else if queue_locals {
                let recapito = Recapito {
                    destinatario: recipient,
                    mittente: self.mittente.to_string(),
                    identificativo: id.to_string(),
                };
                batch.push(PuntoConsegna::accoda(&recapito, self.busta, now)?);
            }
        }
        // The box's own copy of what it sent (IMAP "Sent").
        let chiave = per_sender(Cosa::Inviata);
        batch.push(deposita(&sender, "Sent", chiave, self.busta.clone(), now));
        registra(&mut batch, self.eventi, self.mittente);
        Ok(batch)
    }
}
