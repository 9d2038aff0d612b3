//! The delivery point (PEC-SPEC §2.3 delivery point, §4.7, §4.8): the worker's step that puts
//! one queued envelope into a local recipient's box and answers the sender with the delivery
//! receipt, or the non-delivery notice (pec-core's `effetti::consegna` says where each goes).
//!
//! A step is one store transaction with the queue item's completion: a replay after a crash
//! stores nothing twice. Optimistic: the box is presumed active and the writer checks it as
//! it stores the envelope; only when it refuses (unknown, disabled, full) is the step decided
//! again with the box's real state. The common case costs no read.
//!
//! The access and receiving points deliver to our own boxes in their own transaction, with
//! the same builder.

use crate::clock::Clock;
use crate::comune::Parti;
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::esecutore::{Esecutore, Eseguito, Fine};
use crate::ids::Ids;
use crate::indice::Directory;
use pec_core::consegna::{BustaRicevuta, StatoCasella};
use pec_core::effetti::{self, Busta, Contenuto, Decisione};
use pec_core::lavoro;
use pec_core::Provider;
use std::sync::Arc;

/// The delivery point.
pub struct PuntoConsegna {
    esecutore: Esecutore,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
}

impl PuntoConsegna {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti) -> Self {
        Self {
            esecutore: Esecutore::new(p),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
        }
    }

    /// Delivers one queued envelope to one local recipient: the worker's step.
    pub(crate) async fn esegui(
        &self,
        chiave: &str,
        recapito: &lavoro::Recapito,
        busta: &[u8],
    ) -> Result<()> {
        // One copy out of the queue payload, shared by the check and the delivery.
        let busta: Arc<[u8]> = busta.into();
        let letta = self.busta_firmata(&busta).await.ctx("the envelope")?;
        let fine = Fine::Fatto(chiave.to_string());
        let mut stato = StatoCasella::Attiva;
        loop {
            let now = self.clock.now();
            let d = self.decidi(&letta, &busta, recapito, stato, now)?;
            match self.esecutore.esegui(d, now, Some(&fine)).await? {
                Eseguito::Fatto { .. } => return Ok(()),
                // Decided again with the box's real state: no delivery, so no refusal.
                Eseguito::Rifiutato(s) if stato == StatoCasella::Attiva => stato = s,
                Eseguito::Rifiutato(s) => {
                    return Err(Errore::Regola(format!(
                        "{}: refused again ({s:?})",
                        recapito.destinatario
                    )))
                }
            }
        }
    }

    /// The delivery's effects for the box in state `stato`.
    fn decidi(
        &self,
        letta: &BustaRicevuta,
        busta: &Arc<[u8]>,
        recapito: &lavoro::Recapito,
        stato: StatoCasella,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Decisione> {
        let b = Busta {
            letta,
            contenuto: Contenuto::Dati(busta.clone()),
            mittente: &recapito.mittente,
            identificativo: &recapito.identificativo,
        };
        let recapiti = [(recapito.destinatario.clone(), stato)];
        let mut d = Decisione::new(None);
        let mut nuovo_id = || self.ids.next(now);
        self.domini
            .instrada(now, |r| {
                effetti::consegna(&mut d, &b, &recapiti, &mut nuovo_id, &self.provider, r)
            })
            .ctx("delivery point")?;
        Ok(d)
    }

    /// A queued envelope read again from what its signature covers, as the receiving point
    /// read it (issue 12): never from a second MIME parse of the whole message. The
    /// signature was judged when the envelope arrived; here it only has to match.
    async fn busta_firmata(&self, raw: &Arc<[u8]>) -> Result<BustaRicevuta> {
        let verifier = self.indice.verifier();
        let (raw, now) = (raw.clone(), self.clock.now());
        tokio::task::spawn_blocking(move || {
            let v = verifier.verify(&raw, now)?;
            if !v.intact {
                return Err(Errore::Firma(
                    "the envelope's signature no longer matches it".into(),
                ));
            }
            let ins = pec_core::inspect::inspect_firmato(&raw, &v.content)?;
            Ok(BustaRicevuta::da_ispezione(ins)?)
        })
        .await
        .ctx("envelope check")?
    }
}
