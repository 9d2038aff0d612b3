//! The access point (PEC-SPEC §2.3, STYLE §2): scan, decide (pec-core), sign, commit, and
//! only then let the caller (SMTP submission, later the webmail and the API) answer "taken".
//!
//! Accepted: the ricevuta di accettazione to the sender, the envelope in the sender's Sent
//! folder, the log events, and for each recipient either its delivery, done here in the same
//! transaction when the box is ours, or a relay queue item with the 12 h / 24 h checks of a
//! certified remote recipient. Not accepted: the avviso di non accettazione (and the
//! quarantine copy when infected).

use crate::clock::Clock;
use crate::comune::Parti;
use crate::domini::Domini;
use crate::errore::{Contesto as _, Risultato as Result};
use crate::esecutore::Esecutore;
use crate::ids::Ids;
use crate::indice::Directory;
use crate::virus::{Punto, Scansione};
use chrono::{DateTime, Utc};
use pec_core::accesso::{self, Identificativi, Limiti, PuntoAccesso as Regole};
use pec_core::effetti::{self, Accettata};
use pec_core::{Provider, RiferimentoTemporale};
use std::sync::Arc;
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
    esecutore: Esecutore,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
    limiti: Limiti,
    scansione: Arc<Scansione>,
}

impl PuntoAccesso {
    /// Takes what it uses from the shared parts, and the scanner.
    pub(crate) fn new(p: &Parti, limiti: Limiti, scansione: Arc<Scansione>) -> Self {
        Self {
            esecutore: Esecutore::new(p),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
            limiti,
            scansione,
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

    /// [`PuntoAccesso::invia`] once the msgid is drawn: decide, then carry out the
    /// decision's effects (pec-core's `effetti::accesso`) in one transaction.
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
        let (decisione, esito) = match self.decide(&s, data, &ids, virus.as_deref())? {
            accesso::Esito::Accettato(a) => {
                let mut nuovo_id = || self.ids.next(now);
                let a = Accettata {
                    accettazione: a,
                    identificativo: &identificativo,
                    nuovo_id: &mut nuovo_id,
                    provider: &self.provider,
                };
                let d = self.domini.instrada(now, |r| effetti::accettata(a, r));
                let esito = Esito::Accettato {
                    identificativo: identificativo.clone(),
                };
                (d.ctx("access point")?, esito)
            }
            accesso::Esito::NonAccettato(n) => {
                let motivo = n.motivo.clone();
                let d = self.domini.instrada(now, |r| {
                    effetti::non_accettata(n, &identificativo, &s.data, r)
                });
                let esito = Esito::NonAccettato {
                    identificativo: identificativo.clone(),
                    motivo,
                };
                (d, esito)
            }
        };
        self.esecutore.esegui_tutto(decisione, now, None).await?;
        Ok(esito)
    }
}
