//! Change notification per mailbox, for IMAP IDLE and NOOP: a counter that moves after every
//! committed batch that changed the mailbox (a delivery, a flag change, an expunge, another
//! session's APPEND), whoever committed it.
//!
//! Invariant: the counter moves only after the batch's commit returned, so a reader woken by
//! it reads the change. It may move for a batch that changed nothing visible (a duplicate
//! delivery): a wake-up costs a re-read, never a missed change.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::batch::{Batch, Operation};
use crate::model::Address;

/// The counters of the mailboxes someone watches.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    senders: Mutex<HashMap<Address, watch::Sender<u64>>>,
}

impl Watchers {
    /// A receiver of `address`'s counter.
    pub(crate) fn subscribe(&self, address: &Address) -> watch::Receiver<u64> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(address.clone())
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe()
    }

    /// The watched mailboxes `batch` may change; empty (and free) when no one watches.
    pub(crate) fn touched(&self, batch: &Batch) -> Vec<Address> {
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if senders.is_empty() {
            return Vec::new();
        }
        let mut touched: Vec<Address> = batch
            .ops
            .iter()
            .filter_map(mailbox_of)
            .filter(|a| senders.contains_key(*a))
            .cloned()
            .collect();
        touched.sort();
        touched.dedup();
        touched
    }

    /// Moves the counters of `addresses` (after their batch committed); forgets the mailboxes
    /// no one watches any more.
    pub(crate) fn notify(&self, addresses: &[Address]) {
        if addresses.is_empty() {
            return;
        }
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        for address in addresses {
            if let Some(tx) = senders.get(address) {
                if tx.receiver_count() == 0 {
                    senders.remove(address);
                } else {
                    tx.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
        }
    }
}

/// The mailbox whose content `op` changes, if any.
fn mailbox_of(op: &Operation) -> Option<&Address> {
    match op {
        Operation::PutMessage(m) => Some(&m.mailbox),
        Operation::RemoveMailbox { address }
        | Operation::CreateFolder { address, .. }
        | Operation::DeleteFolder { address, .. }
        | Operation::RenameFolder { address, .. }
        | Operation::SetSubscribed { address, .. }
        | Operation::SetFlags { address, .. }
        | Operation::Expunge { address, .. }
        | Operation::CopyMessages { address, .. }
        | Operation::MoveMessages { address, .. } => Some(address),
        Operation::AddMailbox { .. }
        | Operation::SetPassword { .. }
        | Operation::SetQuota { .. }
        | Operation::SetEnabled { .. }
        | Operation::SetTotp { .. }
        | Operation::UseTotpStep { .. }
        | Operation::Enqueue(_)
        | Operation::CompleteQueueItem { .. }
        | Operation::RetryQueueItem { .. }
        | Operation::FailQueueItem { .. }
        | Operation::AppendLog(_) => None,
    }
}
