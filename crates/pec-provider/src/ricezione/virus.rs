//! Viruses at the receiving point and on the sender side (PEC-SPEC §4.10, §4.11; the rules
//! are `pec_core::virus`): an infected valid envelope is answered and quarantined, never
//! delivered; a rilevazione virus about one of our envelopes becomes our user's avviso di
//! mancata consegna per virus.

use super::deposito::Ricevuta;
use super::PuntoRicezione;
use crate::comune::{deposita, indirizzo, registra};
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use chrono::{DateTime, Utc};
use pec_core::chiave::{Chiave, Cosa};
use pec_core::daticert::Daticert;
use pec_core::registro::Evento;
use pec_core::ricezione::EsitoRicezione;
use pec_core::{virus, RiferimentoTemporale};
use pec_store::Batch;

impl PuntoRicezione {
    /// A valid envelope that is infected (`EsitoRicezione::Infetta`): the presa in carico and
    /// the avvisi di rilevazione virus on their way to the sending provider's `mailReceipt`,
    /// the quarantine copy and the log, in one transaction; no delivery.
    pub(super) async fn busta_infetta(
        &self,
        esito: EsitoRicezione,
        raw: &[u8],
        now: DateTime<Utc>,
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
            return Err(Errore::Regola("not an infected envelope".into()));
        };
        let mut messages = vec![presa_in_carico];
        messages.extend(rilevazioni);
        let mut signed = self.firma.tutti(messages).await?.into_iter();
        let presa = signed.next().ctx("signing returned nothing")?;
        let id = busta.daticert.dati.identificativo.clone();
        let sender = busta.daticert.intestazione.mittente.clone();
        let b = Ricevuta {
            busta: &busta,
            presa: &presa,
            mail_receipt: &mail_receipt,
            destinatari: &destinatari,
            eventi: &eventi,
        };
        let mut batch = self.presa(&b, &id, &sender, now)?;
        batch.push(self.quarantena.operazione(raw, now));
        for (r, bytes) in destinatari.iter().zip(signed) {
            let cosa = Cosa::Virus(r.clone());
            batch.push(self.verso_gestore(&mail_receipt, &id, cosa, &bytes, now)?);
        }
        tracing::info!("inbound envelope {id}: virus {virus}, quarantined");
        self.registro.commit(batch, &[&eventi]).await?;
        self.lavoro.notify_one();
        Ok(())
    }

    /// Sender side: a valid rilevazione virus about one of our envelopes (already known to be
    /// ours) also gives the original sender the avviso di mancata consegna per virus
    /// (PEC-SPEC §4.11), added to `batch`; returns its log events.
    pub(super) async fn mancata_consegna_virus(
        &self,
        batch: &mut Batch,
        rilevazione: &Daticert,
        now: DateTime<Utc>,
    ) -> Result<Vec<Evento>> {
        let mittente = &rilevazione.intestazione.mittente;
        if !self.domini.locale(mittente) {
            tracing::warn!(
                "rilevazione virus about {}: sender {mittente} is not ours, no notice",
                rilevazione.dati.identificativo
            );
            return Ok(Vec::new());
        }
        let data = RiferimentoTemporale::from_utc(now);
        let id = self.ids.next(now);
        let m = virus::mancata_consegna(rilevazione, &self.provider, data, &id)
            .ctx("avviso di mancata consegna per virus")?;
        let avviso = self.firma.uno(m.avviso).await?;
        let sender = indirizzo(&m.mittente)?;
        let chiave = Chiave::Casella {
            casella: sender.to_string(),
            identificativo: rilevazione.dati.identificativo.clone(),
            cosa: Cosa::MancataConsegnaVirus(m.destinatario.to_ascii_lowercase()),
        };
        batch.push(deposita(&sender, "INBOX", chiave, avviso, now));
        registra(batch, &m.eventi, &m.mittente);
        Ok(m.eventi)
    }
}
