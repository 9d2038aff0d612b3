//! The quarantine of infected messages (PEC-SPEC §4.5, §4.10, §9.3; DPR 68/2005 art. 12).
//!
//! The folder `Quarantena` of the service box: each infected message stored as it arrived
//! (never altered), keyed by the SHA-256 of its bytes so a retried message is kept once. It
//! lives in the store, so it survives restarts and backups like every box, and the operator
//! reads it over IMAP with the service box's credentials (PEC-SPEC §9.3: the sender's
//! provider "analyses why its scanner missed it"). The virus name and the message's PEC msgid
//! are in the `virus-rilevato` event of the same transaction.
//!
//! * **Kept**: `[antivirus] quarantine_months` (30 by default, never fewer: the law's
//!   minimum, `pec_core::virus::fine_conservazione`), counted from when it was stored.
//! * **Read-only over IMAP**: expunging, appending, copying into, deleting or renaming the
//!   folder is refused (tagged NO), so no mail client of the service box can shorten the
//!   retention; flags (`\Seen`) may change.
//! * **Removed after**: [`run`] checks at start, every hour, and whenever the (adjustable)
//!   clock jumps; it expunges what is past its date and logs one line.

use super::submit::{put, tracing_line};
use super::{address, Gestore};
use anyhow::{Context, Result};
use pec_core::virus::{fine_conservazione, CONSERVAZIONE_MESI};
use pec_imap::BackendError;
use pec_store::{Batch, Operation, Store};
use std::sync::Arc;
use tokio::sync::watch;

/// The service box's folder of infected messages.
pub const QUARANTENA: &str = "Quarantena";

/// How often the purge looks for messages past their retention.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Gestore {
    /// Months the quarantine keeps a message.
    fn mesi_quarantena(&self) -> u32 {
        self.config
            .antivirus
            .as_ref()
            .map_or(CONSERVAZIONE_MESI, |a| a.quarantine_months)
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

    /// `Err` when an IMAP client would change the quarantine (module docs): `mailbox` is the
    /// session's box, `folder` the folder it names.
    pub(super) fn sola_lettura(&self, mailbox: &str, folder: &str) -> Result<(), BackendError> {
        if folder == QUARANTENA && mailbox.eq_ignore_ascii_case(&self.config.service_address) {
            return Err(BackendError::Refused(format!(
                "the quarantine is read-only: infected messages are kept {} months \
                 (DPR 68/2005 art. 12)",
                self.mesi_quarantena()
            )));
        }
        Ok(())
    }

    /// Removes the quarantined messages past their retention; returns how many.
    pub(super) async fn purga_quarantena(&self) -> Result<usize> {
        let service = address(&self.config.service_address)?;
        let Some(snapshot) = self.store.snapshot(&service, QUARANTENA).await? else {
            return Ok(0); // no quarantine yet
        };
        let (now, mesi) = (self.clock.now(), self.mesi_quarantena());
        let scaduti: Vec<u32> = snapshot
            .messages
            .iter()
            .filter(|m| fine_conservazione(m.internal_date, mesi) <= now)
            .map(|m| m.uid)
            .collect();
        if scaduti.is_empty() {
            return Ok(0);
        }
        let batch = Batch::new().with(Operation::Expunge {
            address: service,
            folder: QUARANTENA.to_string(),
            uids: scaduti.clone(),
        });
        self.store.commit(batch).await.context("quarantine purge")?;
        tracing_line(&format!(
            "quarantine: {} message(s) kept {mesi} months removed",
            scaduti.len()
        ));
        Ok(scaduti.len())
    }
}

/// Purges the quarantine at start, every [`PURGE_EVERY`] and when the clock jumps, until
/// shutdown. A failed purge is logged and tried again at the next turn.
pub(super) async fn run(g: Arc<Gestore>, mut stop: watch::Receiver<bool>) {
    let mut moves = g.clock.moves();
    loop {
        if let Err(e) = g.purga_quarantena().await {
            tracing_line(&format!("quarantine purge failed: {e:#}"));
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = moves.changed() => {}
        }
    }
}
