//! Batches: the outputs of one decision, applied in one transaction (STYLE §3).
//!
//! Invariants:
//! - A batch is all or nothing: if one operation fails, none of the batch is stored and
//!   [`crate::Store::commit`] returns that operation's error.
//! - Every operation that creates something carries an idempotency guard, so replaying a batch
//!   after a crash stores nothing twice: [`Operation::Enqueue`] with an existing key and
//!   [`Operation::PutMessage`] with an existing key are no-ops that report the original; queue
//!   transitions on an item that is no longer scheduled are no-ops. Log appends have no key of
//!   their own: give the whole batch a key ([`Batch::once`]) when it holds log lines and may be
//!   replayed.
//! - A body is durable when the transaction that references it commits: bodies up to
//!   [`INLINE_BODY_MAX`] bytes are rows of that very transaction, larger ones are fsynced blob
//!   files written before it.

use chrono::{DateTime, Utc};

use crate::model::{Address, BlobRef};
use crate::password::PasswordHash;

/// Bodies up to this many bytes are stored inline in the database, in the transaction of the
/// batch that carries them, so a whole group commit costs one fsync. Larger bodies become blob
/// files, each with its own fsyncs (of the file and of its folder) before the commit: for them
/// the copy dominates the fsync, and keeping them out of the database keeps the WAL small.
/// PEC messages and receipts are almost always far below this.
pub const INLINE_BODY_MAX: usize = 1024 * 1024;

/// A list of operations applied atomically, optionally guarded by a batch key.
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) key: Option<String>,
    pub(crate) ops: Vec<Operation>,
}

impl Batch {
    /// An empty batch without a batch key.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch that is applied at most once: if a batch with `key` was already
    /// committed, committing this one changes nothing and the receipt says `replayed`.
    pub fn once(key: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            ops: Vec::new(),
        }
    }

    /// Appends an operation.
    pub fn push(&mut self, op: Operation) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Appends an operation, builder style.
    pub fn with(mut self, op: Operation) -> Self {
        self.ops.push(op);
        self
    }

    /// The operations, in the order they are applied.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// One change to the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum Operation {
    /// Creates a mailbox with folders `INBOX` and `Sent`. Fails with
    /// [`crate::StoreError::MailboxExists`] if the address is taken.
    AddMailbox {
        /// The new address.
        address: Address,
        /// Its password, already hashed (hashing is slow: do it off the writer).
        password: PasswordHash,
        /// Quota in bytes; 0 means no limit.
        quota_bytes: u64,
    },
    /// Replaces a mailbox's password.
    SetPassword {
        /// The mailbox.
        address: Address,
        /// The new password, hashed.
        password: PasswordHash,
    },
    /// Changes a mailbox's quota (messages already stored stay, even above it).
    SetQuota {
        /// The mailbox.
        address: Address,
        /// Quota in bytes; 0 means no limit.
        quota_bytes: u64,
    },
    /// Enables or disables a mailbox.
    SetEnabled {
        /// The mailbox.
        address: Address,
        /// New state.
        enabled: bool,
    },
    /// Deletes a mailbox, its folders and its messages (their bodies stay, inline or as blobs).
    RemoveMailbox {
        /// The mailbox.
        address: Address,
    },
    /// Stores a message into a mailbox folder.
    PutMessage(NewMessage),
    /// Adds a queue item unless one with the same key exists.
    Enqueue(NewQueueItem),
    /// Marks a scheduled queue item done.
    CompleteQueueItem {
        /// The item's key.
        key: String,
    },
    /// Reschedules a scheduled queue item (see [`crate::backoff`]) and releases its claim.
    RetryQueueItem {
        /// The item's key.
        key: String,
        /// Not before this time.
        due: DateTime<Utc>,
        /// Why the attempt failed.
        error: String,
    },
    /// Gives a scheduled queue item up.
    FailQueueItem {
        /// The item's key.
        key: String,
        /// Why.
        error: String,
    },
    /// Appends one event line to the hash-chained log (PEC-SPEC §8).
    AppendLog(LogAppend),
}

/// A message body: bytes to store, or a blob already stored.
#[derive(Debug)]
pub enum Body {
    /// Raw bytes: up to [`INLINE_BODY_MAX`] they are stored inline in the batch's own
    /// transaction; above it `commit` writes and fsyncs them as a blob file first. Identical
    /// bodies are stored once either way.
    Bytes(Vec<u8>),
    /// A body already stored (the same receipt put in several boxes, for instance): a blob
    /// file from [`crate::SqliteStore::put_blob`], or a body an earlier commit stored.
    Stored(BlobRef),
}

/// Whether storing a message must respect the mailbox's state and quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Fail with `MailboxDisabled` / `MailboxFull` if the box cannot take it (a delivery).
    Enforce,
    /// Store regardless (a copy in the sender's Sent folder, a receipt the rules require).
    Force,
}

/// A message to store.
#[derive(Debug)]
pub struct NewMessage {
    /// Idempotency key, e.g. `box:<addr>:<pec-msgid>:<kind>`: storing a second message with the
    /// same key stores nothing and reports the first one's UID.
    pub key: String,
    /// The mailbox.
    pub mailbox: Address,
    /// The folder, created on first use (`INBOX` is case-insensitive).
    pub folder: String,
    /// The bytes.
    pub body: Body,
    /// IMAP INTERNALDATE.
    pub internal_date: DateTime<Utc>,
    /// Initial IMAP flags.
    pub flags: Vec<String>,
    /// Whether state and quota are checked.
    pub admission: Admission,
}

/// A queue item to add.
#[derive(Debug, Clone)]
pub struct NewQueueItem {
    /// Unique idempotency key, e.g. `deliver:<pec-msgid>:<recipient>`.
    pub key: String,
    /// What the worker must do.
    pub kind: String,
    /// Worker input.
    pub payload: Vec<u8>,
    /// Not before this time.
    pub due: DateTime<Utc>,
}

/// A log event to append.
#[derive(Debug, Clone)]
pub struct LogAppend {
    /// Event time (the same temporal reference as the receipts, PEC-SPEC §9.1).
    pub time: DateTime<Utc>,
    /// The event as one JSON line; these exact bytes are hashed.
    pub line: String,
    /// Message identifiers to find the event by (client msgid, PEC msgid, related receipts).
    pub msgids: Vec<String>,
    /// Original sender to find the event by.
    pub sender: Option<String>,
}

/// What one operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A mailbox operation was applied.
    MailboxChanged,
    /// The message is in the folder under this UID; `duplicate` when it was already there.
    MessageStored {
        /// Its UID.
        uid: u32,
        /// The folder's UIDVALIDITY.
        uidvalidity: u32,
        /// True if the key existed and nothing was stored.
        duplicate: bool,
    },
    /// The enqueue was applied (`created`) or the key existed (no-op).
    Enqueued {
        /// True if a new item was created.
        created: bool,
    },
    /// A queue transition was applied (`changed`) or the item was no longer scheduled.
    QueueUpdated {
        /// True if the item changed.
        changed: bool,
    },
    /// The event was appended at this sequence number.
    Logged {
        /// Its sequence number.
        seq: u64,
    },
}

/// Proof that a batch is durable: returned only after its transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReceipt {
    /// One outcome per operation, in order (empty when `replayed`).
    pub outcomes: Vec<Outcome>,
    /// True if the batch key had been committed before and nothing was applied.
    pub replayed: bool,
}
