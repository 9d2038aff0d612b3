//! The session's view of the maildrop: the `INBOX` messages as they were at login, numbered
//! from 1, and which of them the client marked with DELE. No I/O: the session asks the
//! backend and applies [`Maildrop::deleted_uids`] at QUIT.

use crate::backend::FolderSnapshot;

/// One message of the maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The backend's UID (stable across sessions within the UIDVALIDITY).
    pub uid: u32,
    /// Octets as stored (POP3 sizes count the message before dot-stuffing).
    pub size: u64,
    /// Marked by DELE in this session.
    pub deleted: bool,
}

/// Why a message number names no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMessage {
    /// Zero or beyond the last message.
    OutOfRange,
    /// Marked deleted in this session (RFC 1939 §5: such messages may not be referenced).
    Deleted,
}

impl NoMessage {
    /// The text after `-ERR`.
    pub fn text(self) -> &'static str {
        match self {
            NoMessage::OutOfRange => "no such message",
            NoMessage::Deleted => "message already deleted",
        }
    }
}

/// The messages of one POP3 session.
#[derive(Debug, Clone)]
pub struct Maildrop {
    /// The authenticated box, as the backend named it.
    pub mailbox: String,
    uidvalidity: u32,
    slots: Vec<Slot>,
}

impl Maildrop {
    /// Numbers the snapshot's messages 1.. in UID order.
    pub fn new(mailbox: String, snapshot: FolderSnapshot) -> Self {
        let slots = snapshot
            .messages
            .into_iter()
            .map(|m| Slot {
                uid: m.uid,
                size: m.size,
                deleted: false,
            })
            .collect();
        Maildrop {
            mailbox,
            uidvalidity: snapshot.uidvalidity,
            slots,
        }
    }

    /// Count and total octets of the messages not marked deleted (STAT, greeting after login).
    pub fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(n, size), (_, s)| (n + 1, size + s.size))
    }

    /// The message numbered `n`, unless out of range or deleted.
    pub fn get(&self, n: u32) -> Result<&Slot, NoMessage> {
        let index = (n as usize).checked_sub(1).ok_or(NoMessage::OutOfRange)?;
        let slot = self.slots.get(index).ok_or(NoMessage::OutOfRange)?;
        if slot.deleted {
            return Err(NoMessage::Deleted);
        }
        Ok(slot)
    }

    /// Messages not marked deleted, with their numbers (LIST and UIDL without argument).
    pub fn live(&self) -> impl Iterator<Item = (u32, &Slot)> {
        (1u32..).zip(self.slots.iter()).filter(|(_, s)| !s.deleted)
    }

    /// The unique-id listing of RFC 1939 §7: `uidvalidity.uid`, stable across sessions and
    /// restarts as long as the backend keeps its UIDVALIDITY, at most 21 printable octets.
    pub fn unique_id(&self, slot: &Slot) -> String {
        format!("{}.{}", self.uidvalidity, slot.uid)
    }

    /// DELE: marks message `n`.
    pub fn dele(&mut self, n: u32) -> Result<(), NoMessage> {
        self.get(n)?;
        if let Some(slot) = (n as usize)
            .checked_sub(1)
            .and_then(|i| self.slots.get_mut(i))
        {
            slot.deleted = true;
        }
        Ok(())
    }

    /// RSET: unmarks every message.
    pub fn rset(&mut self) {
        for slot in &mut self.slots {
            slot.deleted = false;
        }
    }

    /// The UIDs to expunge in the UPDATE state.
    pub fn deleted_uids(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|s| s.deleted)
            .map(|s| s.uid)
            .collect()
    }
}
